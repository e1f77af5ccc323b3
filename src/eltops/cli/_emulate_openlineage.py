"""``eltops emulate openlineage``: a lineage collector on loopback that checks every event against the spec."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import click

from eltops.cli._app import examples, verbosity_options

DEFAULT_PORT = 8767
log = logging.getLogger("eltops.lineage")


@click.command(
    short_help="Serve an OpenLineage collector that checks events.",
    epilog=examples(
        "eltops emulate openlineage                     # http://127.0.0.1:8767",
        "eltops emulate openlineage --port 0            # any free port",
        "eltops emulate openlineage --api-key ol-key    # require Authorization: Bearer ol-key",
    ),
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=DEFAULT_PORT,
    show_default=True,
    help="Port to listen on; 0 picks a free one.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback address to listen on.")
@click.option("--api-key", default=None, help="Require Authorization: Bearer <key> (as OPENLINEAGE_API_KEY sends).")
@verbosity_options
def openlineage_emulator(port: int, host: str, api_key: str | None) -> None:
    """Accept OpenLineage events on POST /api/v1/lineage, as Marquez does, and check each against the spec.

    A valid event is kept (201); an invalid one is answered 400 with each problem named (the field and what is
    wrong) and logged. GET /api/v1/lineage lists what was received, GET /api/v1/lineage/graph the jobs and
    datasets they describe. Prints the URL to set as OPENLINEAGE_URL, then serves until Ctrl-C.
    """
    from eltops._serve import make_loopback_server, serve_until_ctrl_c
    from eltops.lineage.receiver import LINEAGE_PATH, LineageReceiver

    receiver = LineageReceiver(api_key=api_key, on_event=_log_event)
    server = make_loopback_server(receiver, host=host, port=port)

    def announce() -> None:
        shown_host = f"[{server.host}]" if ":" in str(server.host) else server.host
        url = f"http://{shown_host}:{server.port}"
        click.echo(url)
        key_note = " OPENLINEAGE_API_KEY=<your --api-key>" if api_key else ""
        click.echo(
            f"OpenLineage receiver on {url}{LINEAGE_PATH}: each event is checked against the OpenLineage spec.\n"
            f"Point eltops (or dbt-ol) at it with OPENLINEAGE_URL={url}{key_note}; "
            f"see what arrived with GET {url}{LINEAGE_PATH}\nCtrl-C stops it.",
            err=True,
        )

    serve_until_ctrl_c(server, announce)
    click.echo(
        f"OpenLineage receiver stopped: {len(receiver.events)} event(s) accepted, {receiver.rejected} refused.",
        err=True,
    )


def _log_event(event: Any, problems: Sequence[str]) -> None:
    """One line per event: what was accepted, or each problem of what was refused."""
    if problems:
        log.warning("refused an event: %s", "; ".join(problems))
        return
    job = event.get("job") or {}
    outputs = event.get("outputs") or []
    log.info(
        "%s %s/%s (%d output%s)",
        event.get("eventType"),
        job.get("namespace"),
        job.get("name"),
        len(outputs),
        "" if len(outputs) == 1 else "s",
    )
