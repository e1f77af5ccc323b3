"""``eltops report``: write the run-history report for a warehouse."""

from __future__ import annotations

from pathlib import Path

import click

from eltops._paths import REPORT, output_file
from eltops.cli._app import AppContext, examples, pass_app, verbosity_options
from eltops.orchestra import parse_time
from eltops.secrets import EnvReader
from eltops.warehouse import open_when_free, parse_wait, parse_warehouse, warehouse_file


@click.command(
    context_settings={"show_default": True},
    short_help="Write the run-history HTML report.",
    epilog=examples(
        "eltops report                                     # ./eltops.duckdb -> ./report.html",
        "eltops report --from snowflake://prod --out history.html --since 2025-05-01",
    ),
)
@click.option(
    "--from",
    "source",
    metavar="TARGET",
    help="Warehouse to read. Variable: ELTOPS_WAREHOUSE.  [default: eltops.duckdb]",
)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("report.html"), help="HTML file.")
@click.option(
    "--force",
    is_flag=True,
    help="Replace an existing --out file that is not an earlier report of eltops (never the warehouse).",
)
@click.option("--since", metavar="DATE", help="Only runs created on or after this date or ISO-8601 time.")
@click.option(
    "--wait",
    type=float,
    metavar="SECONDS",
    help="When a load is writing the DuckDB file, wait this long for it. Variable: ELTOPS_WAREHOUSE_WAIT.  "
    "[default: 0]",
)
@verbosity_options
@pass_app
def report(app: AppContext, source: str | None, out: Path, force: bool, since: str | None, wait: float | None) -> None:
    """Write one self-contained HTML report of the run history: runs over time, durations, failures, operations."""
    env = EnvReader(app.env)
    spec = parse_warehouse(source, env, write=False)
    output_file(out, REPORT, force=force, protect=(warehouse_file(spec),))
    since_moment = parse_time(since, "--since") if since else None
    wait_seconds = parse_wait(env, wait)
    from eltops.report import write_report  # DuckDB and Plotly, once the input is known to be good

    data = open_when_free(
        lambda: write_report(spec, out, since=since_moment),
        wait_seconds=wait_seconds,
        hint="; run the report again once it has finished, or wait for it with --wait SECONDS",
    )
    head = data.headline
    if not (head.pipeline_runs or head.task_runs or head.operations):
        app.output.line(f"Wrote {out.resolve()}: no runs yet in {spec}; the page says how to load some")
        return
    app.output.line(
        f"Wrote {out.resolve()}: {head.pipeline_runs:,} pipeline runs, {head.task_runs:,} task runs, "
        f"{head.operations:,} operations from {spec}"
    )
