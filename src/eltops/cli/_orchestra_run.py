"""``eltops orchestra run [PIPELINE]``: start an Orchestra pipeline from CI and wait for it within a deadline."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click
import orjson

from eltops._deadline import Clock, Deadline, Sleep
from eltops._junit import write_junit
from eltops._step_outputs import write_step_outputs
from eltops.cli._app import AppContext, examples, pass_app, verbosity_options
from eltops.cli._lineage import lineage_settings, open_lineage, write_lineage_outputs
from eltops.cli._output import CiKind, Output
from eltops.orchestra import RunFlags, RunSettings, run_settings
from eltops.secrets import MASKER, EnvReader

if TYPE_CHECKING:  # the client (httpx), the job and rich are imported once the input is known to be good
    import httpx

    from eltops.history import RunRecorder
    from eltops.lineage import LineageSession, LineageSettings, OrchestraRunLineage
    from eltops.orchestra import (
        OperationAsset,
        OrchestraClient,
        PipelineRunner,
        PipelineRunState,
        RunResult,
        TaskRunState,
    )

_STYLES = {"SUCCEEDED": "green", "WARNING": "yellow", "SKIPPED": "yellow", "RUNNING": "cyan"}


@click.command(
    context_settings={"show_default": True},
    short_help="Start a pipeline and wait for it.",
    epilog=examples(
        "eltops orchestra run nightly_marts --timeout 1800 --junit orchestra.xml",
        "eltops orchestra run nightly_marts --environment staging --task-ids dbt_build",
        'eltops orchestra run nightly_marts --run-inputs \'{"date": "2025-05-01"}\' --poll-interval 5',
        "eltops orchestra run nightly_marts --no-wait",
    ),
)
@click.argument("pipeline", required=False)
@click.option("--environment", help="Orchestra environment name or id. Variable: ORCHESTRA_ENVIRONMENT.")
@click.option(
    "--task-ids",
    multiple=True,
    help="Run only these task ids (comma-separated or repeated). Variable: ORCHESTRA_TASK_IDS.",
)
@click.option(
    "--run-inputs", help='Run inputs as a JSON object, e.g. \'{"date": "2025-05-01"}\'. Variable: ORCHESTRA_RUN_INPUTS.'
)
@click.option(
    "--retry-from-failed",
    is_flag=True,
    default=None,
    help="Retry from the failed tasks. Variable: ORCHESTRA_RETRY_FROM_FAILED.",
)
@click.option(
    "--continue-downstream",
    is_flag=True,
    default=None,
    help="With --task-ids: also run what is downstream of them. Variable: ORCHESTRA_CONTINUE_DOWNSTREAM.",
)
@click.option("--branch", help="Git branch. Variable: ORCHESTRA_BRANCH.  [default: the CI's]")
@click.option("--commit", help="Git commit. Variable: ORCHESTRA_COMMIT.  [default: the CI's, unless a branch is given]")
@click.option(
    "--ci-run-id", help="CI run id. Variable: ORCHESTRA_CI_RUN_ID.  [default: CI_PIPELINE_ID / GITHUB_RUN_ID]"
)
@click.option(
    "--wait/--no-wait",
    default=None,
    help="Wait for the run to end, or only start it. Variable: ORCHESTRA_WAIT.  [default: wait]",
)
@click.option(
    "--timeout", type=float, help="Seconds the whole job may take. Variable: ORCHESTRA_TIMEOUT.  [default: 3600]"
)
@click.option(
    "--poll-interval", type=float, help="Seconds between polls. Variable: ORCHESTRA_POLL_INTERVAL.  [default: 10]"
)
@click.option(
    "--cancel-on-timeout/--no-cancel-on-timeout",
    default=None,
    help="Cancel the run when the deadline passes. Variable: ORCHESTRA_CANCEL_ON_TIMEOUT.  "
    "[default: cancel-on-timeout]",
)
@click.option(
    "--fail-on-warning",
    is_flag=True,
    default=None,
    help="Exit 1 on WARNING or SKIPPED. Variable: ORCHESTRA_FAIL_ON_WARNING.",
)
@click.option(
    "--log-tail-bytes",
    type=int,
    help="Bytes of each failed task's log to show. Variable: ORCHESTRA_LOG_TAIL_BYTES.  [default: 16384]",
)
@click.option("--api-url", help="Orchestra API base URL. Variable: ORCHESTRA_API_URL.")
@click.option(
    "--junit",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write a JUnit XML report. Variable: ORCHESTRA_JUNIT_REPORT.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Replace an existing --junit file that is not an earlier JUnit report of eltops.",
)
@click.option("--json", "json_output", is_flag=True, help="Print one machine-readable result object on stdout.")
@click.option("--record-to", metavar="TARGET", help="Record this job in the warehouse. Variable: ELTOPS_WAREHOUSE.")
@verbosity_options
@pass_app
def run(
    app: AppContext,
    pipeline: str | None,
    environment: str | None,
    task_ids: tuple[str, ...],
    run_inputs: str | None,
    retry_from_failed: bool | None,
    continue_downstream: bool | None,
    branch: str | None,
    commit: str | None,
    ci_run_id: str | None,
    wait: bool | None,
    timeout: float | None,
    poll_interval: float | None,
    cancel_on_timeout: bool | None,
    fail_on_warning: bool | None,
    log_tail_bytes: int | None,
    api_url: str | None,
    junit: Path | None,
    force: bool,
    json_output: bool,
    record_to: str | None,
) -> int:
    """Start an Orchestra pipeline (id or alias) and wait for it; cancel it when the job is stopped or times out.

    PIPELINE defaults to ORCHESTRA_PIPELINE; a flag beats its variable. The key is ORCHESTRA_API_KEY (no flag;
    DATAOPS_VAULT(PATH) works). Exit codes: 0 succeeded (also WARNING or
    SKIPPED, with a warning), 1 failed or cancelled, 2 bad input, 3 timed out, 4 API error. With OPENLINEAGE_URL
    (or OPENLINEAGE__TRANSPORT__TYPE, or an openlineage.yml) the run and its tasks are sent as OpenLineage events.
    """
    flags = RunFlags(
        pipeline=pipeline,
        environment=environment,
        task_ids=task_ids,
        run_inputs=run_inputs,
        retry_from_failed=retry_from_failed,
        continue_downstream=continue_downstream,
        branch=branch,
        commit=commit,
        ci_run_id=ci_run_id,
        wait=wait,
        timeout=timeout,
        poll_interval=poll_interval,
        cancel_on_timeout=cancel_on_timeout,
        fail_on_warning=fail_on_warning,
        log_tail_bytes=log_tail_bytes,
        api_url=api_url,
        junit=junit,
        json_output=json_output,
        force=force,
    )
    env = EnvReader(app.env)
    settings = run_settings(env, flags)
    lineage = lineage_settings(app)
    # bound first: recording the job's start (a warehouse lock wait, a slow first write) counts against the timeout
    deadline = Deadline(settings.timeout, app.clock)
    recorder = _recorder(app, env, settings, record_to)
    result = run_job(app, settings, recorder, deadline, lineage=lineage)
    _report(app, app.output, settings, result)
    write_lineage_outputs(app, lineage)
    return int(result.exit_code)


def run_job(
    app: AppContext,
    settings: RunSettings,
    recorder: RunRecorder | None,
    deadline: Deadline,
    *,
    transport: httpx.BaseTransport | None = None,
    wall_clock: Clock = time.time,
    sleep: Sleep | None = None,
    lineage: LineageSettings | None = None,
) -> RunResult:
    """Record the start, start the pipeline and wait for it, record how it ended: all of it within ``deadline``.

    The caller binds ``deadline`` before anything that takes time. With ``lineage`` the pipeline run and each task
    run are emitted as the polls see them, the rest at the end within the lineage budget. ``transport``,
    ``wall_clock`` and ``sleep`` are for tests.
    """
    from eltops.orchestra import OrchestraClient, PipelineRunner

    out = app.output
    if recorder is not None:
        recorder.started()
    status = _ProgressLine(out) if out.colour and settings.wait else None
    runner: PipelineRunner | None = None
    session = open_lineage(app, lineage)
    try:
        with OrchestraClient.create(
            api_url=settings.orchestra.api_url,
            api_key=settings.orchestra.api_key,
            rate_limit_per_minute=settings.orchestra.rate_limit_per_minute,
            transport=transport,
        ) as client:
            observer = _run_lineage(app, session, settings, client)
            hooks = [h for h in (status.update if status else None, observer.progress if observer else None) if h]

            def progress(state: PipelineRunState, tasks: tuple[TaskRunState, ...], elapsed: float) -> None:
                for hook in hooks:
                    hook(state, tasks, elapsed)

            runner = PipelineRunner(
                client,
                settings,
                deadline,
                wall_clock=wall_clock,
                sleep=sleep,
                progress=progress if hooks else None,
            )
            ended: BaseException | None = None
            try:
                with out.section("orchestra_run", f"Orchestra run: {settings.pipeline}"):
                    try:
                        result = runner.run()
                    finally:
                        if status is not None:
                            status.stop()
            except BaseException as exc:
                ended = exc
                if observer is not None and runner.run_id is not None:
                    now = datetime.fromtimestamp(wall_clock(), tz=UTC)
                    observer.started(runner.run_id, now)
                    if isinstance(exc, KeyboardInterrupt | SystemExit):
                        observer.stopped(now)
                    else:
                        observer.failed(now, str(exc) or type(exc).__name__)
                raise
            finally:
                if observer is not None and ended is None:
                    observer.finished(result)
                if session is not None:  # within the client: the last task events may still read their assets
                    session.close(cancelled=isinstance(ended, KeyboardInterrupt | SystemExit))
    except (KeyboardInterrupt, SystemExit):
        if recorder is not None:
            recorder.finished(None, run_id=runner.run_id if runner else None, cancelled=True)
        _write_outputs(app, runner.run_id if runner else None, "CANCELLING", settings)
        raise
    except BaseException as exc:
        if session is not None:
            session.close()  # when the client could not even be made: nothing was queued
        if recorder is not None:
            recorder.finished(None, run_id=runner.run_id if runner else None, error=exc)
        raise
    if recorder is not None:
        recorder.finished(result)
    return result


ASSETS_SECONDS = 10.0
"""How long reading one task run's assets for lineage may take (on the lineage thread, within its budget)."""


def _run_lineage(
    app: AppContext, session: LineageSession | None, settings: RunSettings, client: OrchestraClient
) -> OrchestraRunLineage | None:
    """The run's lineage, its task runs' outputs read through ``client`` (each call within a short deadline)."""
    if session is None:
        return None
    from eltops.lineage import OrchestraRunLineage

    def assets(task_run_id: str) -> tuple[OperationAsset, ...]:
        return client.task_run_assets(task_run_id, Deadline(ASSETS_SECONDS, app.clock))

    return OrchestraRunLineage(session, settings.pipeline, assets=assets)


def _report(app: AppContext, out: Output, settings: RunSettings, result: RunResult) -> None:
    from eltops.orchestra import run_junit_cases, run_markdown_summary, run_to_json

    if result.task_runs:
        _print_tasks(out, result)
    for found in result.failed_logs:
        task = found.task
        with out.section(f"orchestra_log_{task.task_id}", f"Log of failed task {task.task_name}"):
            if found.tail is not None:
                if found.tail.cut_bytes:
                    out.line(
                        f"[… {found.tail.cut_bytes:,} of {found.tail.total_bytes:,} bytes cut: this is the end of "
                        f"{found.tail.filename}; the whole log is in Orchestra]"
                    )
                for line in found.tail.text.splitlines():
                    out.line(line)
            else:
                out.line(f"[{found.note}]")
        if task.platform_link:
            out.line(f"{task.task_name}: {task.platform_link}")
        failed = f"task {task.task_name} ({task.integration}) failed: {task.message or 'no message'}"
        if out.ci is CiKind.GITHUB:  # an annotation per failed task; elsewhere the run's one Error: line ends it
            out.error(failed, title=f"Orchestra {result.pipeline_name}: {task.task_name}")
        else:
            out.line(failed)
    out.line(f"Orchestra run {result.run_id}: {result.status} — {result.message}")
    out.line(f"  {result.link}")
    if result.warning is not None:
        if out.ci is CiKind.GITHUB:
            out.stderr.write(f"::warning title=Orchestra {result.pipeline_name}::{MASKER.redact(result.warning)}\n")
        else:
            out.line(f"Warning: {result.warning}")
    if result.exit_code:
        out.error(f"Orchestra {result.pipeline_name}: {result.message}", title=f"Orchestra {result.pipeline_name}")
    if settings.json_output:
        out.result(orjson.dumps(run_to_json(result), option=orjson.OPT_INDENT_2).decode())
    if settings.junit_path is not None:
        write_junit(settings.junit_path, suite=f"orchestra {result.pipeline}", cases=run_junit_cases(result))
    summary_file = app.env.get("GITHUB_STEP_SUMMARY")
    if summary_file:
        from eltops._paths import append_output

        append_output(Path(summary_file), MASKER.redact(run_markdown_summary(result)), "the step summary")
    _write_outputs(app, result.run_id, result.status, settings, link=result.link)


def _write_outputs(
    app: AppContext, run_id: str | None, status: str, settings: RunSettings, *, link: str | None = None
) -> None:
    if run_id is None:
        return
    from eltops.orchestra import app_link

    outputs = {
        "ORCHESTRA_PIPELINE_RUN_ID": run_id,
        "ORCHESTRA_RUN_STATUS": status,
        "ORCHESTRA_RUN_LINK": link or app_link(settings.orchestra.api_url, run_id),
    }
    write_step_outputs(outputs, app.env)


def _print_tasks(out: Output, result: RunResult) -> None:
    from eltops.orchestra import task_rows

    rows = task_rows(result)
    if out.colour:
        from rich.markup import escape
        from rich.table import Table

        table = Table(title=f"Orchestra {escape(result.pipeline_name)}", title_justify="left")
        for column in ("task", "integration", "status", "duration", "message"):
            table.add_column(column)
        for name, integration, status, duration, message in rows:
            style = _STYLES.get(status, "red")
            table.add_row(
                escape(MASKER.redact(name)),
                integration,
                f"[{style}]{status}[/]",
                duration,
                escape(MASKER.redact(message)),
            )
        out.console().print(table)
        return
    width = max(len(r[0]) for r in rows)
    integration_width = max(len(r[1]) for r in rows)
    for name, integration, status, duration, message in rows:
        out.line(f"{name:<{width}}  {integration:<{integration_width}}  {status:<10} {duration:>7}  {message}")


class _ProgressLine:
    """One live line on a terminal: the run's status, tasks done, time waited."""

    def __init__(self, out: Output) -> None:
        from rich.status import Status

        self._status = Status("starting…", console=out.console())
        self._status.start()

    def update(self, state: PipelineRunState, tasks: tuple[TaskRunState, ...], elapsed: float) -> None:
        done = sum(1 for t in tasks if t.completed_at is not None)
        from rich.markup import escape

        running = ", ".join(t.task_name for t in tasks if t.status == "RUNNING")
        detail = f" · running: {running}" if running else ""
        self._status.update(
            escape(MASKER.redact(f"{state.status} · {done}/{len(tasks)} tasks done · {elapsed:.0f}s{detail}"))
        )

    def stop(self) -> None:
        self._status.stop()


def _recorder(app: AppContext, env: EnvReader, settings: RunSettings, record_to: str | None) -> RunRecorder | None:
    """A recorder when a warehouse is named (checked now, before any request), else None."""
    from eltops.warehouse import open_target, parse_warehouse, warehouse_file

    spec = parse_warehouse(record_to, env, required=False)
    if spec is None:
        return None
    from eltops._paths import JUNIT, not_the_warehouse

    not_the_warehouse(settings.junit_path, warehouse_file(spec), JUNIT)
    from eltops.history import RunRecorder, detect_ci_run

    ci = detect_ci_run(app.env, job_label=f"orchestra run {settings.pipeline}")
    return RunRecorder(lambda: open_target(spec), ci, settings)
