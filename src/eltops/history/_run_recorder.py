"""Recording an ``eltops orchestra run`` job, the way the Fivetran jobs record themselves.

The CI pipeline is the pipeline run and the job is the task run (integration ``ORCHESTRA``, job ``RUN_PIPELINE``),
as for ``eltops fivetran``; the Orchestra pipeline run the job started is its operation, with that run's id as
``external_id``, so it joins the row ``eltops orchestra load`` later writes for the run (``pipeline_runs.id``).
Recording never changes the job's outcome: a warehouse that cannot be opened or written is a warning.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from eltops._deadline import Clock
from eltops.errors import ExitCode
from eltops.history._ci import CiRun, stable_id
from eltops.history._records import pipeline_run, pipeline_status
from eltops.history._writer import GuardedWriter, write_records
from eltops.orchestra import OPERATIONS, PIPELINE_RUNS, TASK_RUNS, Operation, RunResult, RunSettings, TaskRun, app_link
from eltops.warehouse import Target

__all__ = ["INTEGRATION", "INTEGRATION_JOB", "RunRecorder", "run_task_parameters"]

log = logging.getLogger("eltops.history")

INTEGRATION = "ORCHESTRA"
INTEGRATION_JOB = "RUN_PIPELINE"
_OPERATION_STATUS = {
    "SUCCEEDED": "SUCCEEDED",
    "WARNING": "WARNING",
    "SKIPPED": "SKIPPED",
    "FAILED": "FAILED",
    "CANCELLED": "CANCELLED",
}


def run_task_parameters(settings: RunSettings) -> dict[str, Any]:
    """What shapes the run, as recorded: never the key, and only the names of the run inputs."""
    return {
        "pipeline": settings.pipeline,
        "environment": settings.environment,
        "task_ids": list(settings.task_ids),
        "run_input_names": sorted(settings.run_inputs or {}),
        "retry_from_failed": settings.retry_from_failed,
        "continue_downstream": settings.continue_downstream,
        "ci_run_id": settings.ci_run_id,
        "wait": settings.wait,
        "timeout_seconds": settings.timeout,
        "poll_interval_seconds": settings.poll_interval,
        "cancel_on_timeout": settings.cancel_on_timeout,
        "fail_on_warning": settings.fail_on_warning,
        "api_url": settings.orchestra.api_url,
    }


@dataclass
class RunRecorder:
    """Records one ``eltops orchestra run`` (its CI pipeline, the job, the Orchestra run) into a warehouse."""

    open_target: Callable[[], Target]
    ci: CiRun
    settings: RunSettings
    wall_clock: Clock = time.time
    started_at: datetime = field(init=False)
    _writer: GuardedWriter = field(init=False)

    def __post_init__(self) -> None:
        self.started_at = self._now()
        self._writer = GuardedWriter(self.open_target)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.wall_clock(), tz=UTC)

    def started(self) -> None:
        """The pipeline run and the job as RUNNING."""
        self._write("the start of this run", lambda target: self._write_rows(target, "RUNNING", "running", None))

    def finished(
        self,
        result: RunResult | None,
        *,
        run_id: str | None = None,
        error: BaseException | None = None,
        cancelled: bool = False,
    ) -> None:
        """How the job ended: from ``result``, else from ``error`` or the cancellation (``run_id``: what it started)."""
        if result is not None:
            status = "SUCCEEDED" if result.exit_code is ExitCode.OK else "FAILED"
            message = result.message
        elif cancelled:
            status, message = "CANCELLED", "cancelled while running"
        else:
            status = "FAILED"
            message = f"eltops stopped with an error: {error}" if error is not None else "eltops stopped"
        self._write(
            "the outcome of this run",
            lambda target: self._write_rows(target, status, message, result, run_id, cancelled),
        )

    def _write(self, what: str, action: Callable[[Target], None]) -> None:
        self._writer.write(what, action)

    def _write_rows(
        self,
        target: Target,
        status: str,
        message: str,
        result: RunResult | None,
        run_id: str | None = None,
        cancelled: bool = False,
    ) -> None:
        now = self._now()
        run_id = result.run_id if result is not None else run_id
        final = status != "RUNNING"
        external = result.status if result is not None else ("CANCELLED" if cancelled else None)
        task = TaskRun(
            id=self.ci.task_run_id,
            pipeline_run_id=self.ci.pipeline_run_id,
            task_name=self.ci.task_name,
            task_id=stable_id("task", self.ci.pipeline_name, self.ci.task_name),
            pipeline_id=self.ci.pipeline_id,
            integration=INTEGRATION,
            integration_job=INTEGRATION_JOB,
            status=status,
            message=message,
            external_status=external,
            external_message=message if final else None,
            platform_link=app_link(self.settings.orchestra.api_url, run_id) if run_id else None,
            task_parameters=run_task_parameters(self.settings),
            run_parameters=self.ci.parameters(),
            connection_id=self.settings.pipeline,
            number_of_attempts=self.ci.attempt,
            created_at=self.started_at,
            updated_at=now,
            started_at=self.started_at,
            completed_at=now if final else None,
        )
        write_records(target, TASK_RUNS, [task])
        if run_id and final:
            write_records(target, OPERATIONS, [self._operation(run_id, message, now, result, cancelled)])
        statuses = [
            str(s) for s in target.values(TASK_RUNS, "status", where="pipeline_run_id", equals=self.ci.pipeline_run_id)
        ]
        earlier = target.values(PIPELINE_RUNS, "started_at", where="id", equals=self.ci.pipeline_run_id)
        started = min([self.started_at, *[s for s in earlier if isinstance(s, datetime)]])
        write_records(
            target,
            PIPELINE_RUNS,
            [pipeline_run(self.ci, status=pipeline_status(statuses), started_at=started, now=now)],
        )

    def _operation(
        self, run_id: str, message: str, now: datetime, result: RunResult | None, cancelled: bool
    ) -> Operation:
        """The Orchestra run as this job's operation; UNKNOWN when the job ended before the run did."""
        status = "CANCELLED" if cancelled else "UNKNOWN"
        if result is not None:
            status = _OPERATION_STATUS.get(result.status, "CANCELLED" if result.cancel_requested else "UNKNOWN")
        return Operation(
            id=stable_id("operation", self.ci.task_run_id, run_id),
            pipeline_run_id=self.ci.pipeline_run_id,
            task_run_id=self.ci.task_run_id,
            inserted_at=now,
            message=message,
            operation_name=f"run {result.pipeline_name if result is not None else self.settings.pipeline}",
            operation_status=status,
            operation_type="TRIGGER",
            external_status=result.status if result is not None else None,
            external_detail=result.run.message if result is not None and result.run is not None else None,
            external_id=run_id,
            integration=INTEGRATION,
            integration_job=INTEGRATION_JOB,
            started_at=self.started_at,
            completed_at=now,
            dependencies=[],
            operation_duration=round((now - self.started_at).total_seconds(), 3),
            rows_affected=None,
        )
