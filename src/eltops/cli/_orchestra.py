"""``eltops orchestra get|load``: one raw page of Orchestra run metadata, or an incremental load into a warehouse."""

from __future__ import annotations

import logging
import shlex
import threading
import time
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING

import click
import orjson

from eltops.cli._app import AppContext, examples, pass_app, verbosity_options
from eltops.cli._lineage import lineage_settings, open_lineage, write_lineage_outputs
from eltops.cli._orchestra_run import run as run_command
from eltops.load import Every, Loader, LoadResult, LoadSettings, QuietProgress, ResourceResult, load_settings
from eltops.orchestra import (
    DEFAULT_BATCH_ROWS,
    MAX_PAGE_SIZE,
    RESOURCES,
    TASK_RUNS,
    LoadPlan,
    PageQuery,
    Resource,
    orchestra_settings,
    page_query,
    parse_filters,
    parse_resources,
    parse_window,
)
from eltops.secrets import EnvReader
from eltops.warehouse import Target, WriteCounts, open_target, open_when_free

if TYPE_CHECKING:  # the client (httpx) and rich are imported once the input is known to be good
    from rich.progress import TaskID

    from eltops.cli._output import Output
    from eltops.lineage import LineageSettings
    from eltops.orchestra import OrchestraClient

log = logging.getLogger("eltops.orchestra")

_RESOURCE_NAMES = [r.name for r in RESOURCES]
_WAIT_HINT = "; load again once it has finished, or wait for it with --wait SECONDS (ELTOPS_WAREHOUSE_WAIT)"


@click.group(
    short_help="Orchestra: run pipelines, read and load run history.",
    epilog=examples(
        "eltops orchestra run nightly_marts --timeout 1800",
        "eltops orchestra get pipeline-runs --status FAILED",
        "eltops orchestra load --to eltops.duckdb",
    ),
)
@verbosity_options
def orchestra() -> None:
    """Orchestra: run a pipeline from CI, read run metadata pages, or load them into DuckDB or Snowflake.

    Needs ORCHESTRA_API_KEY (a DATAOPS_VAULT(...) reference works); ORCHESTRA_API_URL picks another base URL.
    Exit codes: 0 success, 1 warehouse error (also: another process is writing the DuckDB file), 2 bad input
    (before any request), 3 --wait ran out while another process was writing the file, 4 API error.
    """


orchestra.add_command(run_command)


@orchestra.command(
    context_settings={"show_default": True},
    short_help="Print one raw page of run metadata.",
    epilog=examples(
        "eltops orchestra get pipeline-runs",
        "eltops orchestra get task-runs --page 2 --per-page 50 --status FAILED",
        "eltops orchestra get task-runs --since 2025-05-01 --until 2025-05-07",
        "eltops orchestra get operations --operation-type INGESTION,TEST",
        "eltops orchestra get assets --asset-type TABLE --database-name ANALYTICS",
    ),
)
@click.argument("resource", type=click.Choice(_RESOURCE_NAMES, case_sensitive=False))
@click.option("--page", type=int, default=1, help="Page number, from 1.")
@click.option("--page-size", "--per-page", "page_size", type=int, default=MAX_PAGE_SIZE, help="Records per page.")
@click.option("--since", "--time-from", "since", help="Window start (date or ISO-8601); needs --until.")
@click.option("--until", "--time-to", "until", help="Window end, at most 7 days after --since.")
@click.option(
    "--status",
    help="Statuses, comma-separated. pipeline-runs: CREATED, RUNNING, SUCCEEDED, WARNING, FAILED, SKIPPED, CANCELLING, "
    "CANCELLED; task-runs: those and QUEUED; operations (one): SUCCEEDED, WARNING, FAILED, SKIPPED, CANCELLED, "
    "REUSED, UNKNOWN.",
)
@click.option("--pipeline-ids", help="Pipeline ids, comma-separated (pipeline-runs, task-runs).")
@click.option("--pipeline-run-ids", help="Pipeline run ids, comma-separated (pipeline-runs).")
@click.option("--environments", help="Environment ids, comma-separated (pipeline-runs).")
@click.option("--integration", help="Integration, e.g. FIVETRAN (task-runs, operations).")
@click.option("--task-run-ids", help="Task run ids, comma-separated (task-runs).")
@click.option(
    "--operation-type",
    help="Operation types, comma-separated (operations): INGESTION, MATERIALISATION, TEST, TRIGGER, QUERY, ... "
    "(Orchestra's OperationType).",
)
@click.option("--external-id", help="External id (operations).")
@click.option("--task-run-id", help="Task run id (operations).")
@click.option("--asset-type", help="Asset types, comma-separated (assets): TABLE, VIEW, DATASET, ...")
@click.option("--asset-ids", help="Asset ids, comma-separated (assets).")
@click.option("--database-name", help="Database name (assets).")
@click.option("--schema-name", help="Schema name (assets).")
@click.option("--api-url", help="Orchestra API base URL. Variable: ORCHESTRA_API_URL.")
@verbosity_options
@pass_app
def get(
    app: AppContext,
    /,
    resource: str,
    page: int,
    page_size: int,
    since: str | None,
    until: str | None,
    api_url: str | None,
    **filters: str | None,
) -> None:
    """Print one page of RESOURCE (pipeline-runs, task-runs, operations or assets) as the API sends it.

    The window asked for goes to stderr first: without --since/--until it is the API's default (for task runs
    the last 24 hours since Orchestra's 2026-10 change, for the others 7 days; assets have no time filter).
    """
    chosen = parse_resources([resource])[0]
    query = page_query(chosen, page, page_size, parse_window(since, until), parse_filters(chosen, filters))
    settings = orchestra_settings(EnvReader(app.env), api_url=api_url, rate_limit=0)
    from eltops.orchestra import OrchestraClient

    app.output.line(f"asked for {query.describe()}{_default_window_note(query)}")
    with OrchestraClient.create(api_url=settings.api_url, api_key=settings.api_key, retry=settings.retry) as client:
        body = client.get_body(query)
    try:
        app.output.result(orjson.dumps(orjson.loads(body), option=orjson.OPT_INDENT_2).decode())
    except orjson.JSONDecodeError:
        app.output.result(body.decode("utf-8", errors="replace"))


def _default_window_note(query: PageQuery) -> str:
    """What the API serves when no window is named (its choice, and it changed: task runs were 7 days)."""
    if query.window is not None or not query.resource.windowed:
        return ""
    served = "the last 24 hours since 2026-10, 7 days before" if query.resource is TASK_RUNS else "the last 7 days"
    return f": Orchestra's own, {served} (name one with --since and --until)"


@orchestra.command(
    context_settings={"show_default": True},
    short_help="Load run metadata into the warehouse, incrementally.",
    epilog=examples(
        "eltops orchestra load                                   # all four tables into ./eltops.duckdb",
        "eltops orchestra load assets                            # the assets table alone (read whole)",
        "eltops orchestra load task-runs --since 2025-01-01 --to snowflake://prod/ANALYTICS/ORCHESTRA",
        "eltops orchestra load --every 15m                       # keep loading; Ctrl-C stops between loads",
        "eltops orchestra load --rate-limit 0                    # no client-side limit (an emulator)",
    ),
)
@click.argument("resources", nargs=-1, metavar="[RESOURCES]...")
@click.option("--to", "to", help="Target: a DuckDB path, duckdb:///path or snowflake://... Variable: ELTOPS_WAREHOUSE.")
@click.option(
    "--since",
    help="Read from this date or ISO-8601 time (a backfill, in 7-day windows). Once loads have run, the load goes "
    "on from where they got to, with a warning; --full-refresh --since DATE reads again from DATE.",
)
@click.option("--full-refresh", is_flag=True, help="Ignore the saved load state: re-read from --since (or 7 days).")
@click.option("--every", help="Keep loading at this interval (15m, 1h, 90s) until stopped.")
@click.option(
    "--rate-limit",
    type=float,
    help="Requests per minute, 0 for no limit. Variable: ORCHESTRA_RATE_LIMIT.  [default: 50]",
)
@click.option("--api-url", help="Orchestra API base URL. Variable: ORCHESTRA_API_URL.")
@click.option(
    "--batch-rows",
    type=click.IntRange(min=1),
    default=DEFAULT_BATCH_ROWS,
    help="Rows per warehouse transaction.",
)
@click.option(
    "--wait",
    type=float,
    metavar="SECONDS",
    help="When another process is writing the DuckDB file, wait this long for it (0: fail at once). "
    "Variable: ELTOPS_WAREHOUSE_WAIT.  [default: 0]",
)
@click.option("--json", "json_output", is_flag=True, help="Print the load summary as JSON on stdout.")
@verbosity_options
@pass_app
def load(
    app: AppContext,
    resources: tuple[str, ...],
    to: str | None,
    since: str | None,
    full_refresh: bool,
    every: str | None,
    rate_limit: float | None,
    api_url: str | None,
    batch_rows: int,
    wait: float | None,
    json_output: bool,
) -> int:
    """Load RESOURCES (pipeline-runs task-runs operations assets; all when none) into the warehouse, incrementally.

    Tables pipeline_runs, task_runs, operations and assets are merged on id; the load state lives in the warehouse
    (table eltops_load_state). The first load reads the last 7 days, or from --since; assets, which have no time
    filter, are read whole each time. A warehouse an older eltops wrote gains the new columns in place. With
    OPENLINEAGE_URL (or OPENLINEAGE__TRANSPORT__TYPE, or an openlineage.yml) each load is sent as OpenLineage events.
    """
    settings = load_settings(
        EnvReader(app.env),
        resources=resources,
        to=to,
        since=since,
        full_refresh=full_refresh,
        every=every,
        rate_limit=rate_limit,
        api_url=api_url,
        batch_rows=batch_rows,
        wait=wait,
        json_output=json_output,
    )
    lineage = lineage_settings(app)
    out = app.output
    orchestra_cfg = settings.orchestra
    from eltops.orchestra import OrchestraClient

    client = OrchestraClient.create(
        api_url=orchestra_cfg.api_url,
        api_key=orchestra_cfg.api_key,
        rate_limit_per_minute=orchestra_cfg.rate_limit_per_minute,
        concurrency=orchestra_cfg.concurrency,
        retry=orchestra_cfg.retry,
    )
    with client:
        if settings.every_seconds is None:
            result = _load_once(app, client, settings, settings.since, settings.full_refresh, lineage)
            _report(out, result, json_output=settings.json_output)
            _say_resumed(out, result, since, to=to, api_url=api_url)
            write_lineage_outputs(app, lineage)
            return 0
        return _load_every(app, client, settings, lineage, since_text=since, to=to, api_url=api_url)


def _load_once(
    app: AppContext,
    client: OrchestraClient,
    settings: LoadSettings,
    since: datetime | None,
    full_refresh: bool,
    lineage: LineageSettings | None = None,
) -> LoadResult:
    """One load; the warehouse is open only while it runs (so others can use a DuckDB file between loads).

    With ``lineage`` the load is a run whose outputs are the tables it wrote, sent once it ends (within the budget).
    """
    session = open_lineage(app, lineage)
    started = _utc_now()
    result: LoadResult | None = None
    error: BaseException | None = None
    try:
        target = open_when_free(
            lambda: open_target(settings.target), wait_seconds=settings.wait_seconds, hint=_WAIT_HINT
        )
        try:
            result = _load_into(app, client, target, settings, since, full_refresh)
            return result
        finally:
            target.close()
    except BaseException as exc:
        error = exc
        raise
    finally:
        if session is not None:
            from eltops.lineage import load_events

            tables = [(r.table, r.inserted + r.updated) for r in (result.resources if result is not None else [])]
            for event in load_events(
                session,
                settings.target,
                started=started,
                ended=_utc_now(),
                tables=tables,
                error=None if error is None else (str(error) or type(error).__name__),
            ):
                session.emit(event)
            session.close(cancelled=isinstance(error, KeyboardInterrupt | SystemExit))


def _utc_now() -> datetime:
    return datetime.now(tz=UTC)


def _load_into(
    app: AppContext,
    client: OrchestraClient,
    target: Target,
    settings: LoadSettings,
    since: datetime | None,
    full_refresh: bool,
) -> LoadResult:
    out = app.output
    resources = settings.resources
    interactive = out.stderr.isatty() and app.env.get("TERM") != "dumb" and not app.env.get("CI")
    names = " ".join(r.name for r in resources)
    with out.section("orchestra_load", f"Orchestra load: {names}"):
        limit = settings.orchestra.rate_limit_per_minute
        note = f" · limited to {limit:g} requests/min (--rate-limit)" if limit else ""
        progress: _Bars | _Lines = _Bars(out, note=note) if interactive else _Lines()
        again = _load_command(settings)
        app.interrupt_note = lambda: _committed_note(progress.committed, target, again)
        with progress:
            loader = Loader(client, target, progress=progress, batch_rows=settings.batch_rows)
            return loader.load(resources, since=since, full_refresh=full_refresh)


def _load_command(settings: LoadSettings) -> str:
    """``eltops orchestra load`` of the same resources into the same DuckDB file, runnable as printed (a Snowflake
    target is named the way this one was: by the variable)."""
    from eltops.warehouse import warehouse_file

    names = "".join(f" {r.name}" for r in settings.resources) if len(settings.resources) < 3 else ""
    path = warehouse_file(settings.target)
    return f"eltops orchestra load{names}" + (f" --to {shlex.quote(str(path))}" if path is not None else "")


def _committed_note(committed: dict[str, WriteCounts], target: Target, again: str) -> str:
    """What an interrupted load leaves behind: the batches committed so far, and that the next load resumes."""
    done = ", ".join(f"{name} {c.inserted:,} new and {c.updated:,} updated rows" for name, c in committed.items())
    kept = f"committed to {target.description} before it stopped: {done}" if done else "no batch was committed yet"
    return f"{kept}; the next load (`{again}`) resumes where this one stopped, with no duplicate rows"


def _load_every(
    app: AppContext,
    client: OrchestraClient,
    settings: LoadSettings,
    lineage: LineageSettings | None = None,
    *,
    since_text: str | None = None,
    to: str | None = None,
    api_url: str | None = None,
) -> int:
    """Load at each interval until Ctrl-C (``--since`` and ``--full-refresh`` apply to the first load only)."""
    assert settings.every_seconds is not None
    out = app.output

    def load(first: bool) -> None:
        since, full_refresh = (settings.since, settings.full_refresh) if first else (None, False)
        result = _load_once(app, client, settings, since, full_refresh, lineage)
        _report(out, result, json_output=settings.json_output)
        if first:
            _say_resumed(out, result, since_text, to=to, api_url=api_url)

    return Every(seconds=settings.every_seconds, clock=app.clock, sleep=app.sleep).run(
        load,
        failed=lambda exc: out.error(f"this load failed and the next one will retry: {exc}"),
        waiting=lambda wait: out.line(f"next load in {_duration(wait)} (Ctrl-C stops)"),
        stopped=lambda: out.line("stopped between loads"),
    )


def _say_resumed(out: Output, result: LoadResult, since: str | None, *, to: str | None, api_url: str | None) -> None:
    """A warning when ``--since`` asked for earlier than earlier loads got to: the saved cursor won (so an
    interrupted backfill resumes); the command that re-reads from ``--since`` instead, runnable as printed."""
    resumed = [r for r in result.resources if r.resumed_from is not None]
    if not resumed or since is None:
        return
    names = " ".join(r.resource.name for r in resumed)
    flags = "".join(f" {flag} {shlex.quote(value)}" for flag, value in (("--to", to), ("--api-url", api_url)) if value)
    where = ", ".join(f"{r.table} from {r.resumed_from.isoformat()}" for r in resumed if r.resumed_from is not None)
    out.line(
        f"Warning: --since {since} is earlier than where earlier loads got to, so this load went on from there "
        f"({where}), as an interrupted backfill resumes. To read everything again from {since}, run "
        f"`eltops orchestra load {names} --full-refresh --since {shlex.quote(since)}{flags}`"
    )


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.0f} s"


def _report(out: Output, result: LoadResult, *, json_output: bool) -> None:
    if json_output:
        out.result(orjson.dumps(result.to_json(), option=orjson.OPT_INDENT_2).decode())
    headers = ("table", "read", "inserted", "updated", "unchanged", "requests", "seconds")
    rows = [
        (
            r.table,
            f"{r.rows_read:,}",
            f"{r.inserted:,}",
            f"{r.updated:,}",
            f"{r.unchanged:,}",
            f"{r.requests:,}",
            f"{r.seconds:.1f}",
        )
        for r in result.resources
    ]
    if out.colour:
        from rich.table import Table

        table = Table(title=f"Loaded into {result.target}", title_justify="left")
        for header in headers:
            table.add_column(header, justify="left" if header == "table" else "right")
        for row in rows:
            table.add_row(*row)
        out.console().print(table)
        return
    out.line(f"Loaded into {result.target}:")
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    for cells in (headers, *rows):
        padded = [c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))]
        out.line("  ".join(padded))


class _Lines(QuietProgress):
    """Progress as plain log lines (CI logs, pipes): one per batch written and per resource."""

    def __init__(self) -> None:
        self.committed: dict[str, WriteCounts] = {}  # per resource: what the batches committed so far wrote

    def __enter__(self) -> _Lines:
        return self

    def __exit__(self, *exc_info: object) -> None:
        pass

    def written(self, resource: Resource, counts: WriteCounts) -> None:
        self.committed[resource.name] = self.committed.get(resource.name, WriteCounts()) + counts
        log.info(
            "%s: batch merged (%d inserted, %d updated, %d unchanged)",
            resource,
            counts.inserted,
            counts.updated,
            counts.unchanged,
        )

    def finished(self, result: ResourceResult) -> None:
        log.info(
            "%s: %d rows read in %d requests, %.1f s",
            result.resource,
            result.rows_read,
            result.requests,
            result.seconds,
        )


def pages_text(count: int) -> str:
    """``1 page``, ``0 pages``, ``1,234 pages``."""
    return f"{count:,} page{'' if count == 1 else 's'}"


class _Bars:
    """A rich progress bar per resource: rows read of the rows the API announced, pages, rate."""

    def __init__(self, out: Output, *, note: str = "") -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            TextColumn("{task.description:<14}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("rows · {task.fields[pages_text]} · {task.fields[rate]} rows/s" + note.replace("[", "\\[")),
            TimeElapsedColumn(),
            console=out.console(),
            transient=False,
        )
        self.committed: dict[str, WriteCounts] = {}  # per resource: what the batches committed so far wrote
        self._tasks: dict[str, TaskID] = {}
        self._started: dict[str, float] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> _Bars:
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def started(self, plan: LoadPlan) -> None:
        with self._lock:
            self._tasks[plan.resource.name] = self._progress.add_task(
                plan.resource.name, total=0, pages=0, pages_text=pages_text(0), rate=0
            )
            self._started[plan.resource.name] = time.monotonic()

    def expect(self, resource: Resource, rows: int) -> None:
        with self._lock:
            task = self._tasks[resource.name]
            current = self._progress.tasks[task].total or 0
            self._progress.update(task, total=current + rows)

    def fetched(self, resource: Resource, pages: int, rows: int) -> None:
        with self._lock:
            task = self._tasks[resource.name]
            state = self._progress.tasks[task]
            done = state.completed + rows
            elapsed = max(1e-6, time.monotonic() - self._started[resource.name])
            self._progress.update(
                task,
                completed=done,
                total=max(state.total or 0, done),
                pages=state.fields["pages"] + pages,
                pages_text=pages_text(state.fields["pages"] + pages),
                rate=f"{done / elapsed:,.0f}",
            )

    def written(self, resource: Resource, counts: WriteCounts) -> None:
        with self._lock:
            self.committed[resource.name] = self.committed.get(resource.name, WriteCounts()) + counts

    def finished(self, result: ResourceResult) -> None:
        with self._lock:
            task = self._tasks[result.resource.name]
            state = self._progress.tasks[task]
            self._progress.update(task, total=state.completed)
