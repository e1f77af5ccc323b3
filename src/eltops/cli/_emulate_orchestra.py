"""``eltops emulate orchestra``: serve the Orchestra API emulator on loopback until Ctrl-C."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import click

from eltops.cli._app import examples, verbosity_options
from eltops.orchestra.emulator import BASE_PATH, DEFAULT_API_KEY, Volume


@click.command(
    short_help="Serve the Orchestra API emulator.",
    epilog=examples(
        "eltops emulate orchestra                       # http://127.0.0.1:8766/api/engine/public",
        "eltops emulate orchestra --port 0 --task-runs 200000 --days 30",
        "eltops emulate orchestra --rate-limit 60 --latency 0.2",
    ),
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback address to listen on.")
@click.option(
    "--port", type=click.IntRange(min=0, max=65535), default=8766, show_default=True, help="0 = any free port."
)
@click.option("--api-key", default=DEFAULT_API_KEY, show_default=True, help="The bearer token clients must send.")
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same history.")
@click.option(
    "--task-runs", type=click.IntRange(min=0), default=2000, show_default=True, help="How many task runs to serve."
)
@click.option(
    "--days", type=click.FloatRange(min=0, min_open=True), default=7.0, show_default=True, help="History length."
)
@click.option(
    "--rate-limit",
    type=click.IntRange(min=1),
    default=None,
    help="Answer 429 with Retry-After beyond this many requests per minute.  [default: no limit]",
)
@click.option(
    "--latency",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Seconds to wait before each answer.",
)
@click.option(
    "--pipelines",
    "pipelines_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="YAML file scripting the pipelines `orchestra run` can start (see docs/emulators.md).  [default: a demo set]",
)
@click.option(
    "--default-window",
    "default_windows",
    multiple=True,
    metavar="RESOURCE=HOURS",
    help="Serve RESOURCE (pipeline_runs, task_runs, operations) without time_from/time_to over the last HOURS "
    "instead of Orchestra's default (24 hours of task runs, 7 days of the others, since 2026-10), e.g. "
    "task_runs=168. Repeatable.",
)
@click.option(
    "--fault",
    "faults",
    multiple=True,
    metavar="SPEC",
    help="Serve faulty pages: RESOURCE:pad:FIELD:SIZE, RESOURCE:empty-page:PAGE or RESOURCE:value:FIELD:JSON "
    "(repeatable), e.g. task-runs:pad:message:4096.",
)
@verbosity_options
def orchestra_emulator(
    host: str,
    port: int,
    api_key: str,
    seed: int,
    task_runs: int,
    days: float,
    rate_limit: int | None,
    latency: float,
    pipelines_file: Path | None,
    default_windows: tuple[str, ...],
    faults: tuple[str, ...],
) -> None:
    """Serve Orchestra's pipeline_runs, task_runs, operations and assets endpoints, offline, with generated history."""
    from eltops._serve import make_loopback_server, serve_until_ctrl_c
    from eltops.orchestra.emulator import DEFAULT_PIPELINES, OrchestraEmulator, parse_fault
    from eltops.orchestra.emulator import load_pipelines as load_pipeline_scripts

    try:
        volume = Volume(task_runs=task_runs, days=days)
        pipelines = DEFAULT_PIPELINES if pipelines_file is None else load_pipeline_scripts(pipelines_file)
        emulator = OrchestraEmulator(
            api_key=api_key,
            seed=seed,
            volume=volume,
            rate_limit_per_minute=rate_limit,
            latency_seconds=latency,
            pipelines=pipelines,
            default_windows=_parse_default_windows(default_windows),
        )
        emulator.inject(*(parse_fault(spec) for spec in faults))
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    server = make_loopback_server(emulator.wsgi_app, host=host, port=port)

    def announce() -> None:
        shown_host = f"[{server.host}]" if ":" in str(server.host) else server.host
        url = f"http://{shown_host}:{server.port}{BASE_PATH}"
        click.echo(url)
        # the client's own limit (50 a minute) is for the real API; here it would only slow a load down
        client_limit = 0 if rate_limit is None else rate_limit
        click.echo(
            f"Orchestra emulator: {volume.pipeline_runs} pipeline runs, {volume.task_runs} task runs, "
            f"{volume.operations} operations over {days:g} days (seed {seed}). "
            f"Pipelines to start: {', '.join(p.alias for p in pipelines)}.\n"
            f"Point eltops at it with ORCHESTRA_API_URL={url} ORCHESTRA_API_KEY={api_key} "
            f"ORCHESTRA_RATE_LIMIT={client_limit}\nCtrl-C stops it.",
            err=True,
        )

    serve_until_ctrl_c(server, announce)
    click.echo("Orchestra emulator stopped.", err=True)


def _parse_default_windows(values: tuple[str, ...]) -> dict[str, timedelta]:
    windows: dict[str, timedelta] = {}
    for value in values:
        name, _, hours = value.partition("=")
        try:
            windows[name.strip()] = timedelta(hours=float(hours))
        except ValueError:
            raise click.BadParameter(
                f"{value!r}: use RESOURCE=HOURS, e.g. task_runs=24", param_hint="--default-window"
            ) from None
    return windows
