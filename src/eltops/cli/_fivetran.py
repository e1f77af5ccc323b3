"""``eltops fivetran [ACTION]``: the DataOps Fivetran orchestrator, driven by its variables or by flags."""

from __future__ import annotations

import shlex
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from eltops._deadline import Clock, Deadline, Sleep
from eltops.cli._app import AppContext, examples, pass_app, verbosity_options
from eltops.cli._lineage import lineage_settings, open_lineage, write_lineage_outputs
from eltops.cli._output import CiKind
from eltops.errors import ConfigError, ExitCode
from eltops.fivetran import (
    Action,
    FivetranSettings,
    FlagValues,
    IfSyncing,
    ListSettings,
    load_list_settings,
    load_settings,
)
from eltops.secrets import MASKER, EnvReader

if TYPE_CHECKING:  # the client, the history and rich are imported once the input is known to be good
    import httpx

    from eltops.cli._output import Output
    from eltops.fivetran import JobResult
    from eltops.history import HistoryRecorder
    from eltops.lineage import LineageSettings

_ACTIONS = [a.value for a in Action] + [a.value.lower().replace("_", "-") for a in Action] + ["list"]
LIST_TIMEOUT_SECONDS = 120.0


@click.command(
    context_settings={"show_default": True},
    short_help="Sync, test or re-sync Fivetran connections.",
    epilog=examples(
        "eltops fivetran                                       # from the DataOps variables (FIVETRAN_ACTION, ...)",
        "eltops fivetran list --group 'Demo Warehouse'",
        "eltops fivetran status --connector-id demo_shop",
        "eltops fivetran start --connector-id demo_shop,demo_ads --timeout 1800 --junit fivetran.xml",
        "eltops fivetran start --connector-id 'group:Demo Warehouse' --json",
        "eltops fivetran test --connector-id 'Demo Warehouse/billing_db'",
        "eltops fivetran force-resync --connector-id demo_shop --schema public --table orders,customers",
        "eltops fivetran resync --connector-id demo_shop --table public.orders",
        "eltops fivetran start --connector-id demo_shop --no-wait",
        "eltops fivetran wait --connector-id demo_shop --completed-after 2024-12-02T00:00:00Z",
    ),
)
@click.argument("action", required=False, metavar="[ACTION]", type=click.Choice(_ACTIONS, case_sensitive=False))
@click.option(
    "--connector-id",
    "--connection-id",
    "connector_ids",
    multiple=True,
    help="Connection id, <group name>/<connection name>, or group:<group name> for all of a group; repeat or "
    "comma-separate for several. Variable: CONNECTOR_ID.",
)
@click.option("--schema", help="Schema of the table(s) to re-sync (FORCE_RESYNC, RESYNC). Variable: SCHEMA.")
@click.option(
    "--table", help="Table(s) to re-sync, comma-separated; SCHEMA.TABLE for RESYNC across schemas. Variable: TABLE."
)
@click.option(
    "--if-syncing",
    type=click.Choice([p.value for p in IfSyncing], case_sensitive=False),
    help="What START does when the connection is already syncing. Variable: FIVETRAN_IF_SYNCING.  "
    "[default: wait-then-sync]",
)
@click.option(
    "--wait/--no-wait",
    default=None,
    help="--no-wait: trigger and exit 0 at once; the baselines go to the step outputs. Variable: FIVETRAN_WAIT.",
)
@click.option(
    "--completed-after",
    metavar="MOMENT",
    help="WAIT: for a sync that ends after this ISO-8601 moment. Variable: FIVETRAN_COMPLETED_AFTER.",
)
@click.option(
    "--skip-if-synced-within",
    metavar="DURATION",
    help="START: succeed without a sync when the last success is this recent (30m, 2h). "
    "Variable: FIVETRAN_SKIP_IF_SYNCED_WITHIN.",
)
@click.option(
    "--repair-setup",
    is_flag=True,
    default=None,
    help="Run the setup tests when the setup is broken or incomplete, and go on if that repairs it. "
    "Variable: FIVETRAN_REPAIR_SETUP.",
)
@click.option("--group", "group_name", metavar="NAME", help="list: only this group's connections.")
@click.option(
    "--timeout", type=float, help="Seconds the whole job may take. Variable: FIVETRAN_TIMEOUT.  [default: 300]"
)
@click.option(
    "--poll-interval",
    type=float,
    help="Seconds between status polls. Variable: FIVETRAN_POLL_INTERVAL.  [default: 10]",
)
@click.option("--api-url", help="Fivetran API base URL. Variable: FIVETRAN_API_URL.")
@click.option(
    "--dont-disable-sync",
    is_flag=True,
    default=None,
    help="Leave the connection's schedule as it is. Variable: FIVETRAN_DONT_DISABLE_SYNC.",
)
@click.option(
    "--unpause", is_flag=True, default=None, help="Resume a paused connection first. Variable: FIVETRAN_UNPAUSE."
)
@click.option(
    "--junit",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write a JUnit XML report here. Variable: FIVETRAN_JUNIT_REPORT.",
)
@click.option("--json", "json_output", is_flag=True, help="Print one machine-readable result object on stdout.")
@click.option(
    "--record-to",
    metavar="TARGET",
    help="Record this run in the warehouse's pipeline_runs/task_runs/operations. Variable: ELTOPS_WAREHOUSE.",
)
@verbosity_options
@pass_app
def fivetran(
    app: AppContext,
    action: str | None,
    connector_ids: tuple[str, ...],
    schema: str | None,
    table: str | None,
    if_syncing: str | None,
    wait: bool | None,
    completed_after: str | None,
    skip_if_synced_within: str | None,
    repair_setup: bool | None,
    group_name: str | None,
    timeout: float | None,
    poll_interval: float | None,
    api_url: str | None,
    dont_disable_sync: bool | None,
    unpause: bool | None,
    junit: Path | None,
    json_output: bool,
    record_to: str | None,
) -> int:
    """Check, sync, test or re-sync Fivetran connections, then wait for the outcome; or list them.

    With no arguments it reads the DataOps orchestrator's variables (FIVETRAN_ACTION, CONNECTOR_ID,
    FIVETRAN_API_KEY, FIVETRAN_API_SECRET, ...); ACTION is STATUS, START, TEST, FORCE_RESYNC, RESYNC or WAIT, and
    a flag beats its variable. `list` prints the groups and their connections. FIVETRAN_API_KEY and
    FIVETRAN_API_SECRET (no flags: secrets do not belong on a command line) may be DATAOPS_VAULT(PATH). Exit codes:
    0 success, 1 the operation failed, 2 bad input, 3 timed out, 4 API error. With OPENLINEAGE_URL (or
    OPENLINEAGE__TRANSPORT__TYPE, or an openlineage.yml) each sync is also sent as OpenLineage events.
    """
    if action is not None and action.lower() == "list":
        return _list(app, load_list_settings(app.env, api_url=api_url, group=group_name, json_output=json_output))
    if group_name is not None:
        raise ConfigError(
            "--group only applies to `eltops fivetran list`; select a group's connections with "
            "--connector-id group:<group name>"
        )
    flags = FlagValues(
        action=action,
        connector_ids=connector_ids,
        table=table,
        schema=schema,
        timeout=timeout,
        poll_interval=poll_interval,
        api_url=api_url,
        dont_disable_sync=dont_disable_sync,
        unpause=unpause,
        junit=junit,
        json_output=json_output,
        if_syncing=if_syncing,
        wait=wait,
        completed_after=completed_after,
        skip_if_synced_within=skip_if_synced_within,
        repair_setup=repair_setup,
    )
    settings = load_settings(app.env, flags)
    lineage = lineage_settings(app)
    # bound first: the job's time runs from here, so recording its start (a warehouse lock wait, a slow first
    # write) and opening the client count against FIVETRAN_TIMEOUT like every request and wait after them
    deadline = Deadline(settings.timeout, app.clock)
    recorder = _recorder(app, settings, record_to)
    job = run_job(app, settings, recorder, deadline, lineage=lineage)

    import orjson

    from eltops._junit import write_junit
    from eltops._step_outputs import write_step_outputs
    from eltops.fivetran import junit_cases, markdown_summary, result_to_json, step_outputs

    out = app.output
    if settings.json_output:
        out.result(orjson.dumps(MASKER.redact_data(result_to_json(job)), option=orjson.OPT_INDENT_2).decode())
    elif settings.action is Action.STATUS:
        _print_status(out, job)
    _print_summary(out, job)
    if settings.junit_path is not None:
        write_junit(settings.junit_path, suite=f"fivetran {settings.action.value}", cases=junit_cases(job))
    write_step_outputs(step_outputs(job), app.env)
    write_lineage_outputs(app, lineage)
    summary_file = app.env.get("GITHUB_STEP_SUMMARY")
    if summary_file:
        _append(Path(summary_file), MASKER.redact(markdown_summary(job)))
    if out.ci is CiKind.GITHUB:  # an annotation per failure; elsewhere its log line and summary row say it all
        for result in job.results:
            if not result.ok:
                out.error(f"{result.ref}: {result.outcome}: {result.message}", title=f"Fivetran {result.ref}")
    return int(job.exit_code)


def run_job(
    app: AppContext,
    settings: FivetranSettings,
    recorder: HistoryRecorder | None,
    deadline: Deadline,
    *,
    transport: httpx.BaseTransport | None = None,
    wall_clock: Clock = time.time,
    sleep: Sleep | None = None,
    lineage: LineageSettings | None = None,
) -> JobResult:
    """Record the start, run the orchestrator, record how it ended: all of it within ``deadline``.

    The caller binds ``deadline`` before anything that takes time; the client carries it to every request and the
    orchestrator waits within the same one. With ``lineage`` each sync's run events go out as they happen and the
    rest are sent at the end, within the lineage budget. ``transport``, ``wall_clock`` and ``sleep`` are for tests.
    """
    from eltops.fivetran import FivetranClient, Orchestrator

    refs = ", ".join(str(r) for r in settings.connections)
    if recorder is not None:
        recorder.started()
    orchestrator: Orchestrator | None = None
    session = open_lineage(app, lineage)
    observer = None
    try:
        with (
            FivetranClient.create(
                api_url=settings.api_url,
                api_key=settings.api_key,
                api_secret=settings.api_secret,
                deadline=deadline,
                transport=transport,
            ) as client,
            app.output.section(
                f"fivetran_{settings.action.value.lower()}", f"Fivetran {settings.action.value}: {refs}"
            ),
        ):
            if session is not None:
                from eltops.lineage import FivetranLineage

                # a WAIT given FIVETRAN_BASELINE continues the runs the triggering job started
                continued = frozenset(settings.baselines) if settings.completed_after is None else frozenset()
                observer = FivetranLineage(session, client, continued=continued)
            orchestrator = Orchestrator(client, settings, wall_clock=wall_clock, sleep=sleep, observer=observer)
            app.interrupt_note = lambda: _interrupt_note(settings)
            stopped = False
            try:
                job = orchestrator.run()
            except (KeyboardInterrupt, SystemExit):
                stopped = True
                if observer is not None:
                    from datetime import UTC, datetime

                    now = datetime.fromtimestamp(wall_clock(), tz=UTC)
                    observer.abort_open(now, "eltops was stopped while waiting; the sync goes on in Fivetran")
                raise
            finally:
                if session is not None:  # within the client: the last events may still read what syncs write
                    session.close(cancelled=stopped)
    except (KeyboardInterrupt, SystemExit):
        if recorder is not None:
            recorder.finished(orchestrator.interrupted_result() if orchestrator else None, cancelled=True)
        raise
    except BaseException as exc:
        if recorder is not None:
            recorder.finished(None, error=exc)
        raise
    if recorder is not None:
        recorder.finished(job)
    return job


def _interrupt_note(settings: FivetranSettings) -> str:
    """What a person should know when the job is stopped while it waits."""
    if settings.action in (Action.STATUS, Action.TEST):
        return "nothing was left running"
    ids = ",".join(str(r) for r in settings.connections)
    return (
        f"eltops stopped waiting; a sync it started goes on in Fivetran (it cannot be cancelled through the API). "
        f"See it with: eltops fivetran status --connector-id {shlex.quote(ids)}, or wait for it with "
        f"eltops fivetran wait --connector-id {shlex.quote(ids)}"
    )


def _list(app: AppContext, settings: ListSettings) -> int:
    """``eltops fivetran list``: every group (or one) with its connections, as a table or as JSON on stdout."""
    import orjson

    from eltops.fivetran import Directory, FivetranClient, format_timestamp

    with FivetranClient.create(
        api_url=settings.api_url,
        api_key=settings.api_key,
        api_secret=settings.api_secret,
        deadline=Deadline(LIST_TIMEOUT_SECONDS),
    ) as client:
        directory = Directory(client)
        groups = [directory.group(settings.group)] if settings.group else directory.groups()
        listing = [(group, directory.group_connections(group)) for group in groups]
    if settings.json_output:
        payload = [
            {
                "id": group.id,
                "name": group.name,
                "connections": [
                    {
                        "id": c.id,
                        "name": c.name,
                        "service": c.service,
                        "schedule_type": c.schedule_type,
                        "paused": c.paused,
                        "setup_state": c.setup_state,
                        "sync_state": c.sync_state,
                        "succeeded_at": None if c.succeeded_at is None else format_timestamp(c.succeeded_at),
                        "failed_at": None if c.failed_at is None else format_timestamp(c.failed_at),
                    }
                    for c in connections
                ],
            }
            for group, connections in listing
        ]
        app.output.result(orjson.dumps(payload, option=orjson.OPT_INDENT_2).decode())
        return int(ExitCode.OK)
    header = ("group", "id", "name", "service", "schedule", "paused", "setup", "last success", "last failure")
    rows = [
        (
            group.name,
            c.id,
            c.name,
            c.service,
            c.schedule_type,
            "yes" if c.is_paused else "no",
            c.setup_state,
            format_timestamp(c.succeeded_at),
            format_timestamp(c.failed_at),
        )
        for group, connections in listing
        for c in connections
    ]
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(f"{cell:<{w}}" for cell, w in zip(row, widths, strict=True)).rstrip() for row in [header, *rows]]
    empty = [f"{group.name} ({group.id}): no connections" for group, connections in listing if not connections]
    app.output.result("\n".join(lines + empty))
    return int(ExitCode.OK)


def _recorder(app: AppContext, settings: FivetranSettings, record_to: str | None) -> HistoryRecorder | None:
    """A recorder when a warehouse is named (checked now, before any API call), else None."""
    from eltops.warehouse import open_target, parse_warehouse

    spec = parse_warehouse(record_to, EnvReader(app.env), required=False)
    if spec is None:
        return None
    from eltops.history import HistoryRecorder, detect_ci_run

    ci = detect_ci_run(app.env, job_label=f"fivetran {settings.action.value}")
    return HistoryRecorder(lambda: open_target(spec), ci, settings)


def _print_status(out: Output, job: JobResult) -> None:
    """STATUS prints the connection's ``data`` object (an array of them for several connections) and nothing else."""
    import orjson

    objects = [dict(r.connection.raw) for r in job.results if r.connection is not None and r.ok]
    if not objects:
        return
    payload = objects[0] if len(job.results) == 1 else objects
    out.result(orjson.dumps(MASKER.redact_data(payload), option=orjson.OPT_INDENT_2).decode())


def _print_summary(out: Output, job: JobResult) -> None:
    from eltops.fivetran import summary_rows

    rows = summary_rows(job)
    if out.colour:
        from rich.markup import escape
        from rich.table import Table

        table = Table(title=f"Fivetran {job.action.value}", title_justify="left")
        for column in ("connection", "outcome", "duration", "message"):
            table.add_column(column)
        for ref, outcome, duration, message in rows:
            style = "green" if outcome in ("succeeded", "triggered", "skipped") else "red"
            table.add_row(
                escape(MASKER.redact(ref)), f"[{style}]{outcome}[/]", duration, escape(MASKER.redact(message))
            )
        out.console().print(table)
        return
    width = max(len(r[0]) for r in rows)
    for ref, outcome, duration, message in rows:
        out.line(f"{ref:<{width}}  {outcome:<10} {duration:>9}  {message}")
    if job.exit_code is not ExitCode.OK and len(rows) > 1:
        failed = sum(1 for r in job.results if not r.ok)
        out.line(f"{failed} of {len(rows)} connections did not succeed")


def _append(path: Path, text: str) -> None:
    try:
        with path.open("a", encoding="utf-8") as handle:
            handle.write(text)
    except OSError:
        pass  # a step summary is a courtesy; it never changes the job's outcome
