"""``eltops emulate fivetran``: serve the Fivetran API emulator on loopback until Ctrl-C."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from eltops.cli._app import examples, verbosity_options
from eltops.fivetran.emulator import DEFAULT_API_KEY, DEFAULT_API_SECRET

if TYPE_CHECKING:
    from eltops.fivetran.emulator import PathFamilies

DEFAULT_PORT = 8765


@click.command(
    short_help="Serve the Fivetran API emulator.",
    epilog=examples(
        "eltops emulate fivetran                        # the demo account on http://127.0.0.1:8765",
        "eltops emulate fivetran --port 0               # any free port",
        "eltops emulate fivetran --scenario my-connections.yml --paths connectors",
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
@click.option("--api-key", default=DEFAULT_API_KEY, show_default=True, help="The API key clients must send.")
@click.option("--api-secret", default=DEFAULT_API_SECRET, show_default=True, help="The API secret clients must send.")
@click.option(
    "--scenario",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="YAML/JSON file with the groups, connections and scripts to serve.  [default: a built-in demo]",
)
@click.option(
    "--paths",
    type=click.Choice(["both", "connections", "connectors"]),
    default="both",
    show_default=True,
    help="Which URL family answers: /v1/connections, /v1/connectors, or both.",
)
@verbosity_options
def fivetran_emulator(
    port: int, host: str, api_key: str, api_secret: str, scenario: Path | None, paths: PathFamilies
) -> None:
    """Serve an emulated Fivetran REST API on loopback, to test pipelines offline.

    Prints the base URL to set as FIVETRAN_API_URL, then serves until Ctrl-C. Without --scenario it serves a
    demo: demo_shop (on a cron schedule) succeeds, demo_crm fails and says why, demo_billing is broken until
    its setup tests run, demo_ads gets rescheduled once, demo_paused is paused; the transformations demo_marts
    succeeds, demo_finance fails, demo_ads_report partially succeeds, demo_crm_models runs after demo_crm's syncs
    (integrated schedule).
    """
    from eltops._serve import make_loopback_server, serve_until_ctrl_c
    from eltops.fivetran.emulator import DEMO_SCENARIO, FivetranEmulator

    emulator = FivetranEmulator.from_scenario(
        scenario if scenario is not None else DEMO_SCENARIO, api_key=api_key, api_secret=api_secret, paths=paths
    )
    server = make_loopback_server(emulator.wsgi_app, host=host, port=port)

    def announce() -> None:
        shown_host = f"[{server.host}]" if ":" in str(server.host) else server.host
        url = f"http://{shown_host}:{server.port}"
        click.echo(url)
        secret_hint = api_secret if api_secret == DEFAULT_API_SECRET else "<your --api-secret>"
        click.echo(
            f"Fivetran emulator serving {len(emulator.connection_ids)} connection(s) "
            f"({', '.join(emulator.connection_ids)}) on {url}, path families: {paths}.\n"
            f"Point eltops at it with FIVETRAN_API_URL={url} FIVETRAN_API_KEY={api_key} "
            f"FIVETRAN_API_SECRET={secret_hint}\nCtrl-C stops it.",
            err=True,
        )

    serve_until_ctrl_c(server, announce)
    click.echo("Fivetran emulator stopped.", err=True)
