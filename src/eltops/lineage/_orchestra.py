"""Lineage of ``eltops orchestra run`` and ``eltops orchestra load``.

``run``: the pipeline run is a job of its own (``orchestra.{pipeline}``, its run id Orchestra's pipeline run id,
a UUID) under eltops' parent, and each task run a child of it (``orchestra.{pipeline}.{task id}``, run id the task
run's). Events follow what the runner sees at each poll (:meth:`OrchestraRunLineage.progress`): START when a task
has started, COMPLETE / FAIL / ABORT when its status is final; the pipeline run ends with the job's result
(COMPLETE, FAIL, or ABORT at the deadline or when the job is stopped). A task run's outputs are the tables its
operations name (``assetExternalId``, with ``rowsAffected``) when ``ELTOPS_LINEAGE_ORCHESTRA_NAMESPACE`` says which
datasource they live in (Orchestra does not): one ``GET /operations?task_run_id=...`` per finished task run.

``load``: eltops' own job ``eltops.orchestra_load.{database}``, its outputs the warehouse tables it wrote with
the rows it inserted or updated (the outputStatistics facet).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from eltops.errors import EltopsError, ExitCode
from eltops.fivetran import DestinationTable
from eltops.lineage._emitter import EventSource
from eltops.lineage._events import Dataset, EventType, JobKind
from eltops.lineage._naming import warehouse_namer
from eltops.lineage._session import LineageSession, as_run_id
from eltops.lineage._settings import RunRef
from eltops.orchestra import OperationAsset, PipelineRunState, RunResult, TaskRunState
from eltops.warehouse import DuckDbSpec, TargetSpec

__all__ = ["LOAD", "PIPELINE", "TASK", "OrchestraRunLineage", "load_events"]

log = logging.getLogger("eltops.lineage")

PIPELINE = JobKind("ORCHESTRA", "PIPELINE")
TASK = JobKind("ORCHESTRA", "TASK")
LOAD = JobKind("ELTOPS", "LOAD")

_TASK_ENDINGS = {
    "SUCCEEDED": EventType.COMPLETE,
    "WARNING": EventType.COMPLETE,
    "SKIPPED": EventType.COMPLETE,
    "FAILED": EventType.FAIL,
    "CANCELLED": EventType.ABORT,
}


def _now() -> datetime:
    return datetime.now(tz=UTC)


OPERATIONS_SETTLE_SECONDS = 2.0
"""Orchestra records a task run's operations after the task run ends (its emulator a second after; Orchestra
publishes no bound), so a completed task run whose operations are read at once may have none yet: it is read once
more this long after (on the emitter's thread, within the lineage budget). The API's clock is not this machine's,
so the wait is not judged from the task run's end time."""


class OrchestraRunLineage:
    """Follows one pipeline run through the runner's progress calls, then its result."""

    def __init__(
        self,
        session: LineageSession,
        pipeline: str,
        *,
        assets: Callable[[str], Sequence[OperationAsset]] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """``assets(task run id)`` reads what a task run's operations wrote; with the session's
        ``orchestra_namespace`` they are the task run's outputs (read on the emitter's thread, whose wait for
        operations still being recorded is ``sleep``)."""
        self.session = session
        self._sleep = sleep
        self.pipeline = pipeline
        self.assets = assets if session.settings.orchestra_namespace else None
        self._lock = threading.Lock()
        self._run: RunRef | None = None
        self._tasks: dict[str, tuple[RunRef, EventType]] = {}  # task run id -> its run, the last event sent

    def _pipeline_run(self, run_id: str) -> RunRef:
        if self._run is None:
            self._run = self.session.job(f"orchestra.{self.pipeline}", as_run_id(run_id))
        return self._run

    def started(self, run_id: str, at: datetime) -> None:
        """The pipeline run was started (or, with no earlier call, first seen)."""
        with self._lock:
            if self._run is not None:
                return
            run = self._pipeline_run(run_id)
        self.session.emit(self.session.event(EventType.START, run, PIPELINE, at))

    def progress(self, state: PipelineRunState, tasks: tuple[TaskRunState, ...], elapsed: float) -> None:
        """The runner's progress hook: each poll's run state and task runs."""
        self.started(state.id, state.started_at or state.created_at or _now())
        self._tasks_seen(tasks)

    def _tasks_seen(self, tasks: Sequence[TaskRunState]) -> None:
        with self._lock:
            parent = self._run
        if parent is None:
            return
        for task in tasks:
            run = self.session.job(f"orchestra.{self.pipeline}.{task.task_id}", as_run_id(task.id))
            sent = self._tasks.get(task.id, (run, None))[1]
            ending = _TASK_ENDINGS.get(task.status)
            if sent is None and (task.started_at is not None or ending is not None):
                at = task.started_at or task.completed_at or _now()
                self.session.emit(self.session.event(EventType.START, run, TASK, at, parent=parent))
                sent = EventType.START
                self._tasks[task.id] = (run, sent)
            if ending is not None and sent is EventType.START:
                error = (task.message or task.status.lower()) if ending is not EventType.COMPLETE else None
                at = task.completed_at or _now()
                self.session.emit(self._task_end(ending, run, parent, at, error, task.id))
                self._tasks[task.id] = (run, ending)

    def _task_end(
        self, ending: EventType, run: RunRef, parent: RunRef, at: datetime, error: str | None, task_run_id: str
    ) -> EventSource:
        def make() -> dict[str, Any]:
            return self.session.event(
                ending, run, TASK, at, parent=parent, error=error, outputs=self._outputs(task_run_id, ending)
            )

        return make

    def _outputs(self, task_run_id: str, ending: EventType) -> tuple[Dataset, ...]:
        """The tables the task run's operations name, in the configured namespace; none when unknown.

        A completed task run with no operation yet is read once more :data:`OPERATIONS_SETTLE_SECONDS` later."""
        namespace = self.session.settings.orchestra_namespace
        if self.assets is None or namespace is None:
            return ()
        try:
            found = self.assets(task_run_id)
            if not found and ending is EventType.COMPLETE:
                self._sleep(OPERATIONS_SETTLE_SECONDS)
                found = self.assets(task_run_id)
        except EltopsError as exc:
            log.info(
                "lineage: could not read what task run %s wrote, so its event names no tables: %s", task_run_id, exc
            )
            return ()
        return tuple(Dataset(namespace, a.asset_external_id, row_count=a.rows_affected) for a in found)

    def finished(self, result: RunResult) -> None:
        """The job's result: the last task states, then the pipeline run's end (none for --no-wait)."""
        self.started(result.run_id, result.started_at)
        self._tasks_seen(result.task_runs)
        with self._lock:
            run = self._run
        if run is None or (result.exit_code is ExitCode.OK and result.run is None):
            return  # --no-wait: the run goes on in Orchestra, which ends it
        if result.exit_code is ExitCode.OK:
            event_type, error = EventType.COMPLETE, None
        elif result.exit_code is ExitCode.TIMEOUT or result.status == "CANCELLED":
            event_type, error = EventType.ABORT, result.message
        else:
            event_type, error = EventType.FAIL, result.message
        self._abort_open_tasks(result.finished_at, "the pipeline run ended before this task did")
        self.session.emit(self.session.event(event_type, run, PIPELINE, result.finished_at, error=error))

    def stopped(self, at: datetime) -> None:
        """The job was stopped (eltops asked Orchestra to cancel the run): what is open ends ABORT."""
        self._end_open(at, EventType.ABORT, "eltops was stopped and cancelled the run")

    def failed(self, at: datetime, message: str) -> None:
        """The job ended on an error (an API error while waiting): the run ends FAIL with it, its open tasks ABORT."""
        self._end_open(at, EventType.FAIL, message)

    def _end_open(self, at: datetime, event_type: EventType, message: str) -> None:
        with self._lock:
            run = self._run
        if run is None:
            return
        self._abort_open_tasks(at, message)
        self.session.emit(self.session.event(event_type, run, PIPELINE, at, error=message))

    def _abort_open_tasks(self, at: datetime, reason: str) -> None:
        with self._lock:
            parent = self._run
            still_open = [(task_id, run) for task_id, (run, sent) in self._tasks.items() if sent is EventType.START]
        assert parent is not None
        for task_id, run in still_open:
            self._tasks[task_id] = (run, EventType.ABORT)
            self.session.emit(self.session.event(EventType.ABORT, run, TASK, at, parent=parent, error=reason))


def load_events(
    session: LineageSession,
    target: TargetSpec,
    *,
    started: datetime,
    ended: datetime,
    tables: Sequence[tuple[str, int]],
    error: str | None = None,
) -> list[dict[str, Any]]:
    """The START and the end (COMPLETE with the tables written, or FAIL) of one ``eltops orchestra load``.

    ``tables``: (table name, rows inserted or updated) of each table the load wrote.
    """
    namer, schema = warehouse_namer(target)
    database = namer.database or "warehouse"
    run = session.job(f"eltops.orchestra_load.{database}", as_run_id(str(uuid.uuid4())))
    upper = not isinstance(target, DuckDbSpec)
    outputs = [
        Dataset(
            namer.namespace, namer.name(DestinationTable(schema, table.upper() if upper else table)), row_count=rows
        )
        for table, rows in tables
    ]
    end = EventType.COMPLETE if error is None else EventType.FAIL
    return [
        session.event(EventType.START, run, LOAD, started),
        session.event(end, run, LOAD, ended, outputs=outputs, error=error),
    ]
