"""Writing an orchestrator run into the warehouse as it happens: a RUNNING row when the job starts, the truth when
it ends — success, failure, timeout, crash or cancellation.

Every text and JSON value of a row is masked (:meth:`~eltops.secrets.SecretMasker.redact_data`) before it is
written: a setup-test message or an API error that echoes a credential never reaches the warehouse.

Recording never changes the job's outcome: when the warehouse cannot be opened or written, the recorder logs a
warning and the job keeps its own exit code. The warehouse is opened only for each write, never held during the
wait, so other jobs (and other eltops commands) can use the same DuckDB file in between.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from eltops._deadline import Clock
from eltops.fivetran import OUTCOMES, FivetranSettings, JobResult
from eltops.history._ci import CiRun
from eltops.history._records import (
    operations,
    pipeline_message,
    pipeline_run,
    pipeline_status,
    task_run,
    task_status,
)
from eltops.history._writer import GuardedWriter, TargetOpener, write_records
from eltops.orchestra import OPERATIONS, PIPELINE_RUNS, TASK_RUNS, TaskRun
from eltops.warehouse import Target

log = logging.getLogger("eltops.history")


@dataclass
class HistoryRecorder:
    """Records one ``eltops fivetran`` run (its CI pipeline, job and operations) into a warehouse target."""

    open_target: TargetOpener
    ci: CiRun
    settings: FivetranSettings
    wall_clock: Clock = time.time
    started_at: datetime = field(init=False)
    _writer: GuardedWriter = field(init=False)

    def __post_init__(self) -> None:
        self.started_at = self._now()
        self._writer = GuardedWriter(self.open_target)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.wall_clock(), tz=UTC)

    def started(self) -> None:
        """Write the pipeline run and the task run as RUNNING."""
        self._write("the start of this run", self._write_start)

    def finished(self, job: JobResult | None, *, error: BaseException | None = None, cancelled: bool = False) -> None:
        """Write how the run ended: from ``job`` when it completed, else from ``error`` or the cancellation."""
        self._write("the outcome of this run", lambda target: self._write_end(target, job, error, cancelled))

    def _write(self, what: str, action: Callable[[Target], None]) -> None:
        self._writer.write(what, action)

    def _write_start(self, target: Target) -> None:
        now = self._now()
        task = task_run(
            self.ci, self.settings, status="RUNNING", message="running", started_at=self.started_at, now=now
        )
        write_records(target, TASK_RUNS, [task])
        self._write_pipeline(target, now, task)

    def _write_end(self, target: Target, job: JobResult | None, error: BaseException | None, cancelled: bool) -> None:
        now = self._now()
        if job is not None and cancelled:  # interrupted: the connections known so far, those in flight CANCELLED
            status, message, external = task_status(None, cancelled=True), "cancelled while running", "cancelled"
            write_records(target, OPERATIONS, operations(self.ci, job))
        elif job is not None:
            status = task_status(job.exit_code)
            failed = [f"{r.ref}: {r.outcome}: {r.message}" for r in job.results if not r.ok]
            message = "; ".join(failed) if failed else "; ".join(f"{r.ref}: {r.message}" for r in job.results)
            external = OUTCOMES[job.exit_code]
            write_records(target, OPERATIONS, operations(self.ci, job))
        elif cancelled:
            status, message, external = task_status(None, cancelled=True), "cancelled while running", "cancelled"
        else:
            status = "FAILED"
            message = f"eltops stopped with an error: {type(error).__name__}: {error}" if error else "eltops stopped"
            external = "error"
        task = task_run(
            self.ci,
            self.settings,
            status=status,
            message=message,
            started_at=self.started_at,
            now=now,
            external_status=external,
            job=job,
        )
        write_records(target, TASK_RUNS, [task])
        self._write_pipeline(target, now, task)

    def _write_pipeline(self, target: Target, now: datetime, task: TaskRun) -> None:
        """The pipeline run's status sums up all its task runs in the warehouse, this job's and earlier ones';
        its message says which task failed and why."""
        run_id = self.ci.pipeline_run_id
        statuses = [str(s) for s in target.values(TASK_RUNS, "status", where="pipeline_run_id", equals=run_id)]
        earlier = target.values(PIPELINE_RUNS, "started_at", where="id", equals=run_id)
        started = min([self.started_at, *[s for s in earlier if isinstance(s, datetime)]])
        earlier_message = next(
            (str(m) for m in target.values(PIPELINE_RUNS, "message", where="id", equals=run_id) if m), None
        )
        status = pipeline_status(statuses)
        message = pipeline_message(
            statuses,
            task_name=task.task_name or self.ci.task_name,
            task_status=task.status or "",
            task_message=task.message or "",
            earlier=earlier_message,
        )
        write_records(
            target, PIPELINE_RUNS, [pipeline_run(self.ci, status=status, started_at=started, now=now, message=message)]
        )
