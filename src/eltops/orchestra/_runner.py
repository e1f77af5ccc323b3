"""``eltops orchestra run``: start an Orchestra pipeline, wait for it within a deadline, cancel it when told to stop.

The job: ``POST /pipelines/{id or alias}/start``, then every poll interval the run's ``/status`` and its
``/task_runs`` (each task's status change logged once) until the run's status is final. The run is cancelled
(``POST /pipeline_runs/{id}/cancel``) when the deadline passes (unless ``cancel_on_timeout`` is off) and when the
job itself is stopped: Ctrl-C (``KeyboardInterrupt``) or SIGTERM (``SystemExit``, see :mod:`eltops.cli`), which is
how GitLab and GitHub cancel a job. For every failed task the tail of its log is fetched for the job log.

Time: ``deadline`` is the job's, bound by the caller before anything that takes time (recording the job's start
counts against it); the cancel request and the log fetch get short deadlines of their own on its clock.
``wall_clock`` stamps the result, ``sleep`` is injected so tests run without waiting; without ``sleep`` the waits
are on ``cancelled``, so :meth:`PipelineRunner.cancel` ends them at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from eltops._deadline import Clock, Deadline, Sleep
from eltops.errors import ApiError, EltopsError, ExitCode, JobTimeout
from eltops.orchestra._client import OrchestraClient
from eltops.orchestra._run_models import LogTail, PipelineRunState, TaskRunState
from eltops.orchestra._run_settings import RunSettings

__all__ = [
    "CANCEL_GRACE_SECONDS",
    "FailedTaskLog",
    "PipelineRunner",
    "RunCancelled",
    "RunResult",
    "app_link",
]

log = logging.getLogger("eltops.orchestra")

CANCEL_GRACE_SECONDS = 10.0
"""How long the cancel request may take when the job is being stopped (CI kills a job a few seconds after SIGTERM)."""
LOG_FETCH_SECONDS = 30.0
HEARTBEAT_SECONDS = 60.0

Progress = Callable[[PipelineRunState, tuple[TaskRunState, ...], float], None]


class RunCancelled(Exception):
    """The job's wait was interrupted by :meth:`PipelineRunner.cancel`; not an EltopsError, so never a result."""


@dataclass(frozen=True)
class FailedTaskLog:
    """A failed task and the tail of its log (None with a note when there is none or it could not be read)."""

    task: TaskRunState
    tail: LogTail | None
    note: str | None = None


@dataclass(frozen=True)
class RunResult:
    """How the run ended, or how far it got by the deadline."""

    pipeline: str
    run_id: str
    link: str
    status: str
    exit_code: ExitCode
    message: str
    started_at: datetime
    finished_at: datetime
    run: PipelineRunState | None = None
    task_runs: tuple[TaskRunState, ...] = ()
    failed_logs: tuple[FailedTaskLog, ...] = ()
    cancel_requested: bool = False
    warning: str | None = None

    @property
    def pipeline_name(self) -> str:
        return self.run.pipeline_name if self.run is not None and self.run.pipeline_name else self.pipeline

    @property
    def duration_seconds(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()


def app_link(api_url: str, run_id: str) -> str:
    """The run's page in the Orchestra app (what Orchestra's own GitHub action links to)."""
    base = api_url.removesuffix("/").removesuffix("/public").removesuffix("/api/engine")
    return f"{base}/pipeline-runs/{run_id}/lineage"


def _now(wall_clock: Clock) -> datetime:
    return datetime.fromtimestamp(wall_clock(), tz=UTC)


@dataclass
class PipelineRunner:
    """Starts ``settings.pipeline`` and waits for it; see the module docstring."""

    client: OrchestraClient
    settings: RunSettings
    deadline: Deadline
    wall_clock: Clock = time.time
    sleep: Sleep | None = None
    progress: Progress | None = None
    cancelled: threading.Event = field(default_factory=threading.Event)
    run_id: str | None = field(default=None, init=False)
    """The run this job started, once it has (the recorder and the step outputs read it)."""

    def cancel(self) -> None:
        """End the wait at its next sleep (the CLI's signal handlers need nothing else)."""
        self.cancelled.set()

    def run(self) -> RunResult:
        settings = self.settings
        deadline = self.deadline
        started_at = _now(self.wall_clock)
        started = self.client.start_pipeline(settings.pipeline, settings.start_body(), deadline)
        self.run_id = run_id = started.pipeline_run_id
        link = app_link(settings.orchestra.api_url, run_id)
        log.info("started pipeline %s: run %s (%s)", settings.pipeline, run_id, link)
        if not settings.wait:
            return RunResult(
                settings.pipeline,
                run_id,
                link,
                "CREATED",
                ExitCode.OK,
                "started; not waiting for it (--no-wait)",
                started_at,
                _now(self.wall_clock),
            )
        try:
            state, tasks = self._wait(run_id, deadline)
        except (KeyboardInterrupt, SystemExit, RunCancelled):
            self._cancel_remote(run_id, "this job was stopped")
            raise
        if state is None or not state.is_final:
            return self._timed_out(run_id, link, started_at, state, tasks)
        code, message, warning = self._judge(state)
        failed_logs = self._failed_logs(run_id, tasks)
        return RunResult(
            settings.pipeline,
            run_id,
            link,
            state.status,
            code,
            message,
            started_at,
            _now(self.wall_clock),
            state,
            tasks,
            failed_logs,
            warning=warning,
        )

    # -- waiting --------------------------------------------------------------------------------------------

    def _wait(self, run_id: str, deadline: Deadline) -> tuple[PipelineRunState | None, tuple[TaskRunState, ...]]:
        """Poll until the run's status is final, or the deadline passes (then the last state read)."""
        state: PipelineRunState | None = None
        tasks: tuple[TaskRunState, ...] = ()
        seen: dict[str, str] = {}
        last_status = "CREATED"
        quiet = 0.0
        while True:
            remaining = deadline.remaining()
            if remaining <= 0:
                return state, tasks
            self._pause(min(self.settings.poll_interval, remaining))
            quiet += self.settings.poll_interval
            try:
                state = self.client.run_status(run_id, deadline)
                tasks = self.client.run_task_runs(run_id, deadline)
            except JobTimeout:
                return state, tasks
            for task in tasks:
                if seen.get(task.id) != task.status:
                    before = seen.get(task.id)
                    detail = f": {task.message}" if task.failed and task.message else ""
                    change = f"{before} → {task.status}" if before else task.status
                    log.info("task %s (%s): %s%s", task.task_name, task.integration, change, detail)
                    seen[task.id] = task.status
                    quiet = 0.0
            if state.status != last_status:
                log.info("run %s: %s → %s", run_id, last_status, state.status)
                last_status, quiet = state.status, 0.0
            elif quiet >= HEARTBEAT_SECONDS:
                log.info("run %s still %s after %.0f s", run_id, state.status, deadline.elapsed())
                quiet = 0.0
            if self.progress is not None:
                self.progress(state, tasks, deadline.elapsed())
            if state.is_final:
                return state, tasks

    def _pause(self, seconds: float) -> None:
        if self.cancelled.is_set():
            raise RunCancelled("cancelled")
        if self.sleep is not None:
            self.sleep(seconds)
        elif self.cancelled.wait(seconds):
            raise RunCancelled("cancelled")

    # -- outcomes -------------------------------------------------------------------------------------------

    def _judge(self, state: PipelineRunState) -> tuple[ExitCode, str, str | None]:
        """(exit code, message, warning line) for a final status."""
        detail = f": {state.message}" if state.message else ""
        if state.status == "SUCCEEDED":
            return ExitCode.OK, f"the run succeeded{detail}", None
        if state.status in ("WARNING", "SKIPPED"):
            what = "ended with warnings" if state.status == "WARNING" else "was skipped"
            if self.settings.fail_on_warning:
                return ExitCode.REMOTE_FAILED, f"the run {what}{detail} (failing: --fail-on-warning)", None
            note = " (likely the pipeline's concurrency limit)" if state.status == "SKIPPED" else ""
            warning = f"the run {what}{note}; the job succeeds (--fail-on-warning / ORCHESTRA_FAIL_ON_WARNING to fail)"
            return ExitCode.OK, f"the run {what}{detail}", warning
        return ExitCode.REMOTE_FAILED, f"the run {state.status.lower()}{detail}", None

    def _timed_out(
        self,
        run_id: str,
        link: str,
        started_at: datetime,
        state: PipelineRunState | None,
        tasks: tuple[TaskRunState, ...],
    ) -> RunResult:
        timeout = f"{self.settings.timeout:g} s"
        last = state.status if state is not None else "CREATED"
        if self.settings.cancel_on_timeout:
            cancelled = self._cancel_remote(run_id, f"the deadline ({timeout}) passed")
            outcome = "eltops cancelled it" if cancelled else "eltops could not cancel it, so it may go on in Orchestra"
            message = f"the run did not finish within {timeout} (last status {last}); {outcome}"
        else:
            cancelled = False
            message = (
                f"the run did not finish within {timeout} (last status {last}); it goes on in Orchestra "
                "(ORCHESTRA_CANCEL_ON_TIMEOUT=false). Raise ORCHESTRA_TIMEOUT to wait longer"
            )
        log.error("%s", message)
        return RunResult(
            self.settings.pipeline,
            run_id,
            link,
            last,
            ExitCode.TIMEOUT,
            message,
            started_at,
            _now(self.wall_clock),
            state,
            tasks,
            cancel_requested=cancelled,
        )

    def _cancel_remote(self, run_id: str, reason: str) -> bool:
        """Ask Orchestra to cancel the run, within a short deadline of its own; say what happened."""
        log.warning("%s: cancelling Orchestra run %s", reason, run_id)
        try:
            self.client.cancel_run(run_id, Deadline(CANCEL_GRACE_SECONDS, self.deadline.clock))
        except (EltopsError, OSError) as exc:
            log.error("could not cancel Orchestra run %s (it may go on): %s", run_id, exc)
            return False
        except (KeyboardInterrupt, SystemExit):
            log.error("interrupted again while cancelling Orchestra run %s (it may go on)", run_id)
            return False
        log.warning("cancel requested: Orchestra run %s is CANCELLING", run_id)
        return True

    def _failed_logs(self, run_id: str, tasks: tuple[TaskRunState, ...]) -> tuple[FailedTaskLog, ...]:
        """The tail of each failed task's log; a log that cannot be read is a note, never the job's outcome."""
        deadline = Deadline(LOG_FETCH_SECONDS, self.deadline.clock)
        found = []
        for task in tasks:
            if not task.failed:
                continue
            if self.settings.log_tail_bytes == 0:
                found.append(FailedTaskLog(task, None, "logs not fetched (ORCHESTRA_LOG_TAIL_BYTES=0)"))
                continue
            try:
                tail = self.client.log_tail(run_id, task.id, self.settings.log_tail_bytes, deadline)
            except (ApiError, JobTimeout) as exc:
                found.append(FailedTaskLog(task, None, f"could not fetch its log: {exc}"))
                continue
            found.append(FailedTaskLog(task, tail, None if tail is not None else "Orchestra holds no log for it"))
        return tuple(found)
