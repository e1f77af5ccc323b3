"""``eltops fivetran [ACTION]``: the DataOps Fivetran orchestrator, driven by its variables or by flags."""

from __future__ import annotations

import shlex
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from eltops._deadline import Clock, Deadline, Sleep
from eltops.cli._app import AppContext, examples, pass_app, verbosity_options
from eltops.cli._lineage import lineage_settings, open_lineage, write_lineage_outputs
from eltops.cli._output import CiKind
from eltops.errors import ConfigError, ExitCode
from eltops.fivetran import (
    DEFAULT_API_URL,
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
    from eltops.fivetran import JobResult, Orchestrator
    from eltops.history import HistoryRecorder
    from eltops.lineage import LineageSettings

_ACTIONS = [a.value for a in Action] + [a.value.lower().replace("_", "-") for a in Action] + ["list"]
LIST_TIMEOUT_SECONDS = 120.0
_Command = TypeVar("_Command", bound=Callable[..., Any])


def action_options(command: _Command) -> _Command:
    """The options of TRANSFORM, CHECK and FIVETRAN_THEN_TRANSFORM, one per row of the settings table."""
    from eltops.fivetran import ACTION_SETTINGS

    for row in reversed(ACTION_SETTINGS):
        help_text = f"{row.meaning} Variable: {row.variable}."
        if row.switch:
            option = click.option(row.flag, row.name, is_flag=True, default=None, help=help_text)
        else:
            option = click.option(row.flag, row.name, metavar=row.metavar, help=help_text)
        command = option(command)
    return command


MAX_NAMES_ON_LINE = 3
EPOCH = "1970-01-01T00:00:00Z"  # --completed-after for a connection that never synced: any sync end is after it


@click.command(
    context_settings={"show_default": True},
    short_help="Sync, test or re-sync Fivetran connections.",
    epilog=examples(
        "eltops fivetran                                       # from the DataOps variables (FIVETRAN_ACTION, ...)",
        "eltops fivetran list --group 'Demo Warehouse'",
        "eltops fivetran status --connector-id demo_shop",
        "eltops fivetran start --connector-id demo_shop,demo_ads --timeout 1800 --junit fivetran.xml",
        "eltops fivetran start --connector-id 'group:Demo Warehouse' --json",
        "eltops fivetran test --connector-id 'Demo Warehouse/billing_db' --allow WARNING",
        "eltops fivetran start --connector-id demo_shop --restore-schedule",
        "eltops fivetran force-resync --connector-id demo_shop --schema public --table orders,customers",
        "eltops fivetran resync --connector-id demo_shop --table public.orders",
        "eltops fivetran start --connector-id demo_shop --no-wait",
        "eltops fivetran wait --connector-id demo_shop --completed-after 2024-12-02T00:00:00Z",
        "eltops fivetran transform --transformation-id demo_marts --timeout 1800",
        "eltops fivetran start --connector-id demo_shop --then-transform demo_marts",
        "eltops fivetran check --connector-id 'group:Demo Warehouse' --max-age 2h --junit freshness.xml",
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
@click.option(
    "--allow",
    "test_allow",
    metavar="STATUSES",
    help="Setup-test statuses to accept instead of failing: WARNING, SKIPPED or both, comma-separated (FAILED and "
    "JOB_FAILED always fail). Variable: FIVETRAN_TEST_ALLOW.",
)
@click.option(
    "--restore-schedule",
    is_flag=True,
    default=None,
    help="Put back the schedule eltops replaced with manual when the job ends, however it ends. "
    "Variable: FIVETRAN_RESTORE_SCHEDULE.",
)
@click.option("--group", "group_name", metavar="NAME", help="list: only this group's connections.")
@click.option(
    "--timeout", type=float, help="Seconds the whole job may take. Variable: FIVETRAN_TIMEOUT.  [default: 300]"
)
@click.option(
    "--poll-interval",
    type=float,
    help=(
        "Seconds between status polls at most (the first comes 1 s after a trigger, then the waits double up to "
        "this). Variable: FIVETRAN_POLL_INTERVAL.  [default: 10]"
    ),
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
@click.option(
    "--force",
    is_flag=True,
    help="Replace an existing --junit file that is not an earlier JUnit report of eltops.",
)
@click.option("--json", "json_output", is_flag=True, help="Print one machine-readable result object on stdout.")
@click.option(
    "--record-to",
    metavar="TARGET",
    help="Record this run in the warehouse's pipeline_runs/task_runs/operations. Variable: ELTOPS_WAREHOUSE.",
)
@action_options
@verbosity_options
@pass_app
def fivetran(
    app: AppContext,
    /,
    action: str | None,
    connector_ids: tuple[str, ...],
    schema: str | None,
    table: str | None,
    if_syncing: str | None,
    wait: bool | None,
    completed_after: str | None,
    skip_if_synced_within: str | None,
    repair_setup: bool | None,
    test_allow: str | None,
    restore_schedule: bool | None,
    group_name: str | None,
    timeout: float | None,
    poll_interval: float | None,
    api_url: str | None,
    dont_disable_sync: bool | None,
    unpause: bool | None,
    junit: Path | None,
    force: bool,
    json_output: bool,
    record_to: str | None,
    **action_flags: str | bool | None,
) -> int:
    """Check, sync, test or re-sync Fivetran connections, then wait for the outcome; or list them.

    With no arguments it reads the DataOps orchestrator's variables (FIVETRAN_ACTION, CONNECTOR_ID,
    FIVETRAN_API_KEY, FIVETRAN_API_SECRET, ...); ACTION is STATUS, START, TEST, FORCE_RESYNC, RESYNC, WAIT,
    TRANSFORM (run Fivetran transformations) or CHECK (a freshness gate that triggers nothing), and a flag beats
    its variable. `list` prints the groups and their connections. FIVETRAN_API_KEY and
    FIVETRAN_API_SECRET (no flags: secrets do not belong on a command line) may be DATAOPS_VAULT(PATH); without the
    secret, FIVETRAN_API_KEY may be the base64 of key:secret, as Fivetran's CLI takes it. Exit codes:
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
        action_flags=action_flags,
        force=force,
        test_allow=test_allow,
        restore_schedule=restore_schedule,
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
        for done in job.transformations:
            if not done.ok:
                name = f"transformation {done.transformation_id}"
                out.error(f"{name}: {done.outcome}: {done.message}", title=f"Fivetran {name}")
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

    refs = ", ".join([str(r) for r in settings.connections] + list(settings.more.transformation_ids))
    if recorder is not None:
        recorder.started()
    orchestrator: Orchestrator | None = None
    live = WaitLine(app.output) if app.output.colour and settings.action.waits_for_sync and settings.wait else None
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
            orchestrator = Orchestrator(
                client,
                settings,
                wall_clock=wall_clock,
                sleep=sleep,
                progress=live.update if live else None,
                observer=observer,
            )
            started = orchestrator
            app.interrupt_note = lambda: _interrupt_note(settings, started)
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
        if live is not None:
            live.stop()
        if recorder is not None:
            recorder.finished(orchestrator.interrupted_result() if orchestrator else None, cancelled=True)
        raise
    except BaseException as exc:
        if live is not None:
            live.stop()
        if recorder is not None:
            recorder.finished(None, error=exc)
        raise
    if live is not None:
        live.stop()
    if recorder is not None:
        recorder.finished(job)
    return job


class WaitLine:
    """One live line on a terminal while syncs are awaited (as ``orchestra run`` has): how many, their sync states,
    the seconds waited (the job's clock). Outside a terminal the orchestrator's heartbeat log line says the same
    every minute."""

    def __init__(self, out: Output) -> None:
        from rich.status import Status

        self._status = Status("waiting for Fivetran…", console=out.console())
        self._status.start()

    def update(self, states: Sequence[tuple[str, str]], elapsed: float) -> None:
        from rich.markup import escape

        if not states:
            self._status.update("done")
            return
        counts = Counter(state for _, state in states)
        summary = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
        names = ", ".join(ref for ref, _ in states[:MAX_NAMES_ON_LINE])
        more = f" and {len(states) - MAX_NAMES_ON_LINE} more" if len(states) > MAX_NAMES_ON_LINE else ""
        noun = "connection" if len(states) == 1 else "connections"
        self._status.update(
            escape(MASKER.redact(f"waiting for {len(states)} {noun} ({summary}) · {elapsed:.0f}s · {names}{more}"))
        )

    def stop(self) -> None:
        self._status.stop()


def _interrupt_note(settings: FivetranSettings, orchestrator: Orchestrator) -> str:
    """What a person should know when the job is stopped while it waits: commands that work as printed."""
    if settings.action in (Action.STATUS, Action.TEST, Action.CHECK):
        return "nothing was left running"
    if settings.action is Action.TRANSFORM:
        return "eltops cancelled the transformation runs it had started (each one's result is in the log above)"
    then = "; a transformation it had started was cancelled" if settings.more.then_transform else ""
    return (
        "eltops stopped waiting; a sync it started goes on in Fivetran (it cannot be cancelled through the API). "
        + "; ".join(follow_up_commands(settings, orchestrator.interrupted_result()))
        + then
    )


def follow_up_commands(settings: FivetranSettings, job: JobResult | None) -> list[str]:
    """``See it with `eltops fivetran status ...``` and, per baseline, ``wait for it with `eltops fivetran wait
    --connector-id ... --completed-after ...```: what to run after an interrupted wait, each command runnable as
    printed (with the same variables for the credentials)."""
    from eltops.fivetran import format_timestamp

    api = "" if settings.api_url == DEFAULT_API_URL else f" --api-url {shlex.quote(settings.api_url)}"
    results = job.results if job is not None else ()
    known = [r for r in results if r.connection_id is not None and r.connection is not None]
    awaited = [r for r in known if not r.ok]
    ids = [str(r.connection_id) for r in known] or [str(r) for r in settings.connections]
    lines = [f"see it with `eltops fivetran status --connector-id {shlex.quote(','.join(ids))}{api}`"]
    by_baseline: dict[str, list[str]] = {}
    for result in awaited:
        # the sync to wait for ends strictly after the baseline; a connection that never synced: any end will do
        moment = format_timestamp(result.baseline) if result.baseline is not None else EPOCH
        by_baseline.setdefault(moment, []).append(str(result.connection_id))
    for moment, connection_ids in by_baseline.items():
        lines.append(
            f"wait for it with `eltops fivetran wait --connector-id {shlex.quote(','.join(connection_ids))} "
            f"--completed-after {moment}{api}`"
        )
    return lines


def _list(app: AppContext, settings: ListSettings) -> int:
    """``eltops fivetran list``: every group (or one) with its connections, as a table or as JSON on stdout."""
    import orjson

    from eltops.fivetran import Directory, FivetranClient, Schedule, format_timestamp

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
                        "schedule": Schedule.of(c).describe(),
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
            "manual" if c.is_manual else Schedule.of(c).describe().removeprefix("auto, "),
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
    from eltops.warehouse import open_target, parse_warehouse, warehouse_file

    spec = parse_warehouse(record_to, EnvReader(app.env), required=False)
    if spec is None:
        return None
    from eltops._paths import JUNIT, not_the_warehouse

    not_the_warehouse(settings.junit_path, warehouse_file(spec), JUNIT)
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
            style = "green" if outcome in ("succeeded", "triggered", "skipped", "fresh") else "red"
            table.add_row(
                escape(MASKER.redact(ref)), f"[{style}]{outcome}[/]", duration, escape(MASKER.redact(message))
            )
        out.console().print(table)
        return
    width = max((len(r[0]) for r in rows), default=0)
    outcome_width = max([10, *(len(r[1]) for r in rows)])
    for ref, outcome, duration, message in rows:
        out.line(f"{ref:<{width}}  {outcome:<{outcome_width}} {duration:>9}  {message}")
    if job.exit_code is not ExitCode.OK and len(rows) > 1:
        counts = [
            (sum(1 for r in job.results if not r.ok), len(job.results), "connections"),
            (sum(1 for t in job.transformations if not t.ok), len(job.transformations), "transformations"),
        ]
        said = " and ".join(f"{failed} of {total} {what}" for failed, total, what in counts if total)
        out.line(f"{said} did not succeed")


def _append(path: Path, text: str) -> None:
    from eltops._paths import append_output

    append_output(path, text, "the step summary")  # a courtesy; it never changes the job's outcome
