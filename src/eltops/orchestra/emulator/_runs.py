"""Pipelines the emulator can start, and the runs it started: they move with its clock and can be cancelled.

A scripted pipeline lists its tasks in order; each task runs for ``seconds`` and ends in ``outcome`` (or never
ends, with ``seconds: null``). A failed or cancelled task skips the tasks after it. Cancelling a run moves its
unfinished tasks and the run through CANCELLING (for ``CANCEL_SECONDS``) to CANCELLED.

Starting a pipeline again with the ``ciRunId`` of an earlier run of it restarts that run (same id, a new attempt),
which is what Orchestra says a re-run CI job does ("When re-running a GitHub workflow, we will aim to restart the
underlying Orchestra pipeline run", orchestra-hq/run-pipeline's README); with ``retryFromFailed`` the tasks that
succeeded keep their result.

The scenario file (``eltops emulate orchestra --pipelines FILE``)::

    pipelines:
      - alias: nightly_marts            # what the start endpoint accepts besides the id
        name: Nightly marts
        tasks:
          - id: sync_shop
            name: Sync shop
            integration: FIVETRAN       # one of FIVETRAN, AIRBYTE_CLOUD, DBT_CORE, SNOWFLAKE, PYTHON
            seconds: 20
            outcome: SUCCEEDED          # SUCCEEDED, WARNING, FAILED or SKIPPED
            attempts: 1                 # more: the earlier attempts failed (listed with include_superseded=true)
            log: |                      # the task's log file (optional)
              synced 12 tables
            asset: RAW.SHOP.ORDERS      # the table its operation reports (assetExternalId; optional)
            rows: 1200                  # the operation's rowsAffected (optional)
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from eltops.orchestra.emulator._catalog import KINDS
from eltops.orchestra.emulator._generate import SECOND, iso
from eltops.orchestra.emulator._ids import UuidCodec

__all__ = [
    "CANCEL_SECONDS",
    "DEFAULT_PIPELINES",
    "PipelineScript",
    "RunBook",
    "StartRequest",
    "StartedRun",
    "TaskScript",
    "load_pipelines",
]

START_SECONDS = 1.0  # from start request to the first task running
CANCEL_SECONDS = 2.0  # how long a cancelled run stays CANCELLING
OUTCOMES = ("SUCCEEDED", "WARNING", "FAILED", "SKIPPED")
_STARTED_PIPELINE_KIND = 20
_STARTED_RUN_KIND = 21
_STARTED_TASK_KIND = 22
_STARTED_OPERATION_KIND = 23
_START_KIND = 24
_SUPERSEDED_TASK_KIND = 25
_NEVER = 1 << 62
_FINAL = {"SUCCEEDED", "WARNING", "FAILED", "SKIPPED", "CANCELLED"}


@dataclass(frozen=True)
class TaskScript:
    """One task of a scripted pipeline."""

    id: str
    name: str
    integration: str = "PYTHON"
    seconds: float | None = 10.0  # None: never ends
    outcome: str = "SUCCEEDED"
    log: str | None = None
    asset: str | None = None  # the operation's assetExternalId (the table it wrote)
    rows: int | None = None  # the operation's rowsAffected
    attempts: int = 1
    """How many times the task runs: each attempt before the last failed and was retried. Orchestra lists those
    earlier (superseded) attempts as task runs of their own only when asked (``include_superseded=true``)."""

    def __post_init__(self) -> None:
        if self.rows is not None and (isinstance(self.rows, bool) or not isinstance(self.rows, int) or self.rows < 0):
            raise ValueError(f"task {self.id}: rows must be a whole number >= 0")
        if self.attempts < 1:
            raise ValueError(f"task {self.id}: attempts must be 1 or more")
        if self.integration not in KINDS:
            raise ValueError(f"task {self.id}: integration must be one of {', '.join(KINDS)}")
        if self.outcome not in OUTCOMES:
            raise ValueError(f"task {self.id}: outcome must be one of {', '.join(OUTCOMES)}")
        if self.seconds is not None and self.seconds < 0:
            raise ValueError(f"task {self.id}: seconds must be >= 0 (or null: never ends)")


@dataclass(frozen=True)
class PipelineScript:
    """A pipeline the emulator can start, by its alias or its id."""

    alias: str
    name: str
    tasks: tuple[TaskScript, ...]


DEFAULT_PIPELINES = (
    PipelineScript(
        "nightly_marts",
        "Nightly marts",
        (
            TaskScript("sync_shop", "Sync shop", "FIVETRAN", 20, log="sync of shop_db started\n12 tables synced\n"),
            TaskScript("dbt_build_marts", "dbt build marts", "DBT_CORE", 30, log="Done. PASS=24 WARN=0 ERROR=0\n"),
        ),
    ),
    PipelineScript(
        "broken_marts",
        "Broken marts",
        (
            TaskScript("sync_crm", "Sync CRM", "FIVETRAN", 10, log="12 tables synced\n"),
            TaskScript(
                "dbt_build_finance",
                "dbt build finance",
                "DBT_CORE",
                15,
                "FAILED",
                log="Running with dbt=1.8.2\n"
                + "".join(f"model {i} of 24 OK\n" for i in range(1, 24))
                + "Database Error in model fct_orders: column 'customer_id' does not exist\n",
            ),
            TaskScript("publish", "Publish features", "PYTHON", 5),
        ),
    ),
    PipelineScript(
        "warn_marts",
        "Marts with warnings",
        (TaskScript("dbt_test_marts", "dbt test marts", "DBT_CORE", 10, "WARNING", log="WARN=2\n"),),
    ),
    PipelineScript(
        "endless",
        "Endless backfill",
        (TaskScript("backfill", "Backfill events", "PYTHON", None, log="backfilling...\n"),),
    ),
)


def load_pipelines(path: Path) -> tuple[PipelineScript, ...]:
    """The pipelines of a scenario file; ValueError naming what is wrong."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"cannot read the pipelines file {path}: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("pipelines"), list):
        raise ValueError(f"{path}: expected a mapping with a 'pipelines' list")
    pipelines = []
    for item in document["pipelines"]:
        if not isinstance(item, dict) or not isinstance(item.get("alias"), str):
            raise ValueError(f"{path}: every pipeline needs an 'alias'")
        tasks = []
        for task in item.get("tasks") or []:
            if not isinstance(task, dict) or not isinstance(task.get("id"), str):
                raise ValueError(f"{path}: pipeline {item['alias']}: every task needs an 'id'")
            seconds = task.get("seconds", 10.0)
            tasks.append(
                TaskScript(
                    id=task["id"],
                    name=str(task.get("name") or task["id"]),
                    integration=str(task.get("integration") or "PYTHON"),
                    seconds=None if seconds is None else float(seconds),
                    outcome=str(task.get("outcome") or "SUCCEEDED"),
                    log=None if task.get("log") is None else str(task["log"]),
                    asset=None if task.get("asset") is None else str(task["asset"]),
                    rows=task.get("rows"),
                    attempts=_attempts(path, item["alias"], task),
                )
            )
        if not tasks:
            raise ValueError(f"{path}: pipeline {item['alias']} has no tasks")
        pipelines.append(PipelineScript(item["alias"], str(item.get("name") or item["alias"]), tuple(tasks)))
    return tuple(pipelines)


def _attempts(path: Path, alias: str, task: dict[str, Any]) -> int:
    attempts = task.get("attempts", 1)
    if isinstance(attempts, bool) or not isinstance(attempts, int):
        raise ValueError(
            f"{path}: pipeline {alias}: task {task['id']}: attempts must be a whole number, got {attempts!r}"
        )
    return attempts


@dataclass(frozen=True)
class StartRequest:
    """The parts of a start request's body the emulator acts on."""

    branch: str | None = None
    commit: str | None = None
    environment: str | None = None
    ci_run_id: str | None = None
    task_ids: tuple[str, ...] | None = None
    run_inputs: Mapping[str, Any] | None = None
    retry_from_failed: bool = False


@dataclass
class _TaskPlan:
    """When one task of one attempt starts and ends (microseconds), and how it ends."""

    script: TaskScript
    index: int
    start: int
    end: int | None  # None: never
    outcome: str  # SUCCEEDED, WARNING, FAILED, SKIPPED (not run)


@dataclass
class StartedRun:
    """A pipeline run the emulator started."""

    index: int
    pipeline: PipelineScript
    pipeline_id: str
    request: StartRequest
    created: int
    attempt: int = 1
    tasks: list[_TaskPlan] = field(default_factory=list)
    cancelled_at: int | None = None

    def plan(self, now: int, keep: Mapping[str, _TaskPlan] | None = None) -> None:
        """Lay the tasks out from ``now``: in order, a failure skips the rest; ``keep`` holds tasks not to re-run."""
        self.created, self.cancelled_at, self.tasks = now, None, []
        moment: int | None = now + int(START_SECONDS * SECOND)
        blocked_at: int | None = None  # when a failure upstream skips the rest
        chosen = set(self.request.task_ids) if self.request.task_ids else None
        for position, script in enumerate(self.pipeline.tasks):
            kept = (keep or {}).get(script.id)
            if kept is not None:
                self.tasks.append(kept)
            elif chosen is not None and script.id not in chosen:
                self.tasks.append(_TaskPlan(script, position, now, now, "SKIPPED"))
            elif blocked_at is not None:
                self.tasks.append(_TaskPlan(script, position, blocked_at, blocked_at, "SKIPPED"))
            elif moment is None:  # after a task that never ends: waits forever
                self.tasks.append(_TaskPlan(script, position, _NEVER, None, "SKIPPED"))
            else:
                end = None if script.seconds is None else moment + int(script.seconds * SECOND)
                self.tasks.append(_TaskPlan(script, position, moment, end, script.outcome))
                if script.outcome == "FAILED":
                    blocked_at = end
                moment = end

    def has_started(self, task: _TaskPlan, now: int) -> bool:
        """Whether the task ran (or runs) at ``now``: not skipped, begun, and not cancelled before it began."""
        cancel = self.cancelled_at
        return task.outcome != "SKIPPED" and task.start <= now and (cancel is None or task.start <= cancel)

    def task_status(self, task: _TaskPlan, now: int) -> str:
        cancel = self.cancelled_at
        if task.end is not None and task.end <= now and (cancel is None or task.end <= cancel):
            return task.outcome
        if cancel is not None and cancel <= now:
            if not self.has_started(task, cancel):
                return "CANCELLED"
            return "CANCELLING" if now < cancel + int(CANCEL_SECONDS * SECOND) else "CANCELLED"
        if task.outcome == "SKIPPED" or now < task.start:
            return "QUEUED" if now >= self.created + int(START_SECONDS * SECOND) else "CREATED"
        return "RUNNING"

    def task_ended(self, task: _TaskPlan, now: int) -> int | None:
        status = self.task_status(task, now)
        if status not in _FINAL:
            return None
        if status == "CANCELLED":
            assert self.cancelled_at is not None
            ran = self.has_started(task, self.cancelled_at)
            return self.cancelled_at + (int(CANCEL_SECONDS * SECOND) if ran else 0)
        return task.end

    def status(self, now: int) -> str:
        statuses = [self.task_status(t, now) for t in self.tasks]
        if (
            self.cancelled_at is not None
            and self.cancelled_at <= now
            and any(s in ("CANCELLING", "CANCELLED") for s in statuses)
        ):
            return "CANCELLING" if "CANCELLING" in statuses else "CANCELLED"
        if any(s not in _FINAL for s in statuses):
            begun = any(self.has_started(t, now) for t in self.tasks)
            return "RUNNING" if begun else "CREATED"
        for status in ("FAILED", "CANCELLED", "WARNING"):
            if status in statuses:
                return status
        return "SKIPPED" if all(s == "SKIPPED" for s in statuses) else "SUCCEEDED"

    def ended(self, now: int) -> int | None:
        if self.status(now) not in _FINAL:
            return None
        return max([e for t in self.tasks if (e := self.task_ended(t, now)) is not None] or [self.created])


_MESSAGES = {
    "CREATED": "Pipeline run created",
    "RUNNING": "Pipeline run in progress",
    "SUCCEEDED": "Pipeline run succeeded",
    "WARNING": "Pipeline run completed with warnings",
    "FAILED": "Pipeline run failed",
    "SKIPPED": "Pipeline run skipped",
    "CANCELLING": "Cancellation requested",
    "CANCELLED": "Pipeline run cancelled by user",
}
_TASK_MESSAGES = {
    "QUEUED": "Waiting for upstream tasks",
    "RUNNING": "Task running",
    "SUCCEEDED": "Task succeeded",
    "WARNING": "Task completed with warnings",
    "SKIPPED": "Skipped: an upstream task did not succeed or it was not selected",
    "CANCELLING": "Cancellation requested",
    "CANCELLED": "Task cancelled by user",
}


APP_URL = "https://app.getorchestra.io"


class RunBook:
    """The scripted pipelines and every run started from them, rendered as the API's JSON records."""

    def __init__(self, pipelines: Sequence[PipelineScript], *, seed: int, account_id: str) -> None:
        aliases = [p.alias for p in pipelines]
        if len(set(aliases)) != len(aliases):
            raise ValueError("pipeline aliases must be unique")
        self.ids = UuidCodec(seed)
        self.account_id = account_id
        # where the run and task pages are: the emulator's own address once a request has named it (the emulator
        # serves ``/pipeline-runs/{id}/lineage`` as the app does), so every link it hands out resolves
        self.app_url = APP_URL
        self.pipelines = tuple(pipelines)
        self.pipeline_ids = {p.alias: self.ids.encode(_STARTED_PIPELINE_KIND, i) for i, p in enumerate(pipelines)}
        self.environment_id = self.ids.encode(_STARTED_PIPELINE_KIND, 1 << 40)
        self._runs: list[StartedRun] = []
        self._starts = 0
        self._lock = threading.Lock()

    def find_pipeline(self, id_or_alias: str) -> PipelineScript | None:
        for pipeline in self.pipelines:
            if id_or_alias in (pipeline.alias, self.pipeline_ids[pipeline.alias]):
                return pipeline
        return None

    def start(self, pipeline: PipelineScript, request: StartRequest, now: int) -> tuple[str, StartedRun]:
        """Start (or, for a known ``ciRunId``, restart) a run; returns the start's own id and the run."""
        with self._lock:
            self._starts += 1
            start_id = self.ids.encode(_START_KIND, self._starts)
            if request.ci_run_id:
                for run in self._runs:
                    if run.pipeline is pipeline and run.request.ci_run_id == request.ci_run_id:
                        if run.status(now) in _FINAL:
                            keep = None
                            if request.retry_from_failed:
                                keep = {
                                    t.script.id: t
                                    for t in run.tasks
                                    if run.task_status(t, now) in ("SUCCEEDED", "WARNING")
                                }
                            run.request, run.attempt = request, run.attempt + 1
                            run.plan(now, keep)
                        return start_id, run
            run = StartedRun(len(self._runs), pipeline, self.pipeline_ids[pipeline.alias], request, now)
            run.plan(now)
            self._runs.append(run)
            return start_id, run

    def run(self, run_id: str) -> StartedRun | None:
        decoded = self.ids.decode(run_id)
        if decoded is None or decoded[0] != _STARTED_RUN_KIND:
            return None
        with self._lock:
            return self._runs[decoded[1]] if decoded[1] < len(self._runs) else None

    def cancel(self, run: StartedRun, now: int) -> None:
        """Ask a run to stop; a run already over (or already cancelling) is left as it is."""
        with self._lock:
            if run.cancelled_at is None and run.status(now) not in _FINAL:
                run.cancelled_at = now

    def runs(self) -> list[StartedRun]:
        with self._lock:
            return list(self._runs)

    def task_run_id(self, run: StartedRun, position: int) -> str:
        return self.ids.encode(_STARTED_TASK_KIND, run.index * 1024 + position)

    def find_task(self, run: StartedRun, task_run_id: str) -> _TaskPlan | None:
        for task in run.tasks:
            if self.task_run_id(run, task.index) == task_run_id:
                return task
        return None

    # -- the JSON records -----------------------------------------------------------------------------------

    def run_id(self, run: StartedRun) -> str:
        return self.ids.encode(_STARTED_RUN_KIND, run.index)

    def pipeline_run(self, run: StartedRun, now: int) -> dict[str, Any]:
        status = run.status(now)
        ended = run.ended(now)
        started = [t.start for t in run.tasks if run.has_started(t, now)]
        request = run.request
        return {
            "id": self.run_id(run),
            "pipelineId": run.pipeline_id,
            "pipelineName": run.pipeline.name,
            "accountId": self.account_id,
            "envId": self.environment_id,
            "envName": request.environment or "production",
            "runStatus": status,
            "hasAnomalies": False if ended is not None else None,
            "anomalies": None,
            "triggeredBy": [
                {
                    "triggerType": "WEBHOOK",
                    "runTaskIds": list(request.task_ids) if request.task_ids else None,
                }
            ],
            "childPipelineRuns": [],
            "message": _MESSAGES[status],
            "pipelineVersionNumber": None,
            "createdAt": iso(run.created),
            "updatedAt": iso(min(now, ended) if ended is not None else now),
            "completedAt": iso(ended) if ended is not None else None,
            "startedAt": iso(min(started)) if started else None,
            "branch": request.branch,
            "commit": request.commit,
            "gitLink": None,
            "data": None,
        }

    def task_run(self, run: StartedRun, task: _TaskPlan, now: int) -> dict[str, Any]:
        status = run.task_status(task, now)
        ended = run.task_ended(task, now)
        kind = KINDS[task.script.integration]
        started = run.has_started(task, now)
        run_id = self.run_id(run)
        task_run_id = self.task_run_id(run, task.index)
        message = _TASK_MESSAGES.get(status)
        if status == "FAILED":
            message = f"{task.script.name} failed: {kind.failure_message}"
        return {
            "id": task_run_id,
            "pipelineRunId": run_id,
            "taskName": task.script.name,
            "taskId": task.script.id,
            "accountId": self.account_id,
            "pipelineId": run.pipeline_id,
            "integration": kind.integration,
            "integrationJob": kind.job,
            "status": status,
            "message": message,
            "externalStatus": kind.external_statuses.get(status) if started else None,
            "externalMessage": kind.failure_message if status == "FAILED" else None,
            "taskParameters": {},
            "runParameters": dict(run.request.run_inputs or {}),
            "connectionId": f"{kind.integration.lower()}_prod",
            "computeResourceId": None,
            "platformLink": (
                f"{self.app_url}/pipeline-runs/{run_id}/lineage?taskRunId={task_run_id}" if started else None
            ),
            "numberOfAttempts": max(task.script.attempts, run.attempt) if started else 0,
            "matrixParent": False,
            "matrixParentId": None,
            "createdAt": iso(run.created),
            "updatedAt": iso(ended if ended is not None else now),
            "completedAt": iso(ended) if ended is not None else None,
            "startedAt": iso(task.start) if started else None,
            "dependsOn": [run.tasks[task.index - 1].script.id] if task.index else [],
        }

    def operation(self, run: StartedRun, task: _TaskPlan, now: int) -> dict[str, Any] | None:
        """The one operation a finished task reports (inserted a second after it ended), else None."""
        status = run.task_status(task, now)
        ended = run.task_ended(task, now)
        if status not in ("SUCCEEDED", "WARNING", "FAILED") or ended is None or ended + SECOND > now:
            return None
        kind = KINDS[task.script.integration]
        duration = round((ended - task.start) / SECOND, 3)
        return {
            "id": self.ids.encode(_STARTED_OPERATION_KIND, run.index * 1024 + task.index),
            "accountId": self.account_id,
            "pipelineRunId": self.run_id(run),
            "taskRunId": self.task_run_id(run, task.index),
            "insertedAt": iso(ended + SECOND),
            "message": f"Operation {status.lower()}",
            "operationName": task.script.name,
            "operationStatus": status,
            "operationType": "OPERATION",
            "externalStatus": kind.external_statuses.get(status, status.lower()),
            "externalDetail": kind.failure_message if status == "FAILED" else None,
            "externalId": f"{run.pipeline.alias}:{task.script.id}",
            "integration": kind.integration,
            "integrationJob": kind.job,
            "startedAt": iso(task.start),
            "completedAt": iso(ended),
            "dependencies": [],
            "operationDuration": duration,
            "rowsAffected": task.script.rows,
            "cost": None,
            "credits": None,
            "creditsLabel": None,
            "currency": None,
            "finalCostAmount": None,
            "rawCostAmount": None,
            "rawCostLabel": None,
            "finalCostCurrency": None,
            "rawCostIntegration": None,
            "rawCostUnits": None,
            "assetExternalId": task.script.asset,
            "meta": {"task_id": task.script.id},
            "tags": None,
            "canRerun": False,
        }

    def superseded(self, run: StartedRun, task: _TaskPlan, now: int) -> list[dict[str, Any]]:
        """The earlier attempts of a task that was retried: failed task runs of their own, once the last one began."""
        if task.script.attempts == 1 or not run.has_started(task, now):
            return []
        final = self.task_run(run, task, now)
        kind = KINDS[task.script.integration]
        records = []
        for attempt in range(1, task.script.attempts):
            record_id = self.ids.encode(_SUPERSEDED_TASK_KIND, (run.index * 1024 + task.index) * 64 + attempt)
            records.append(
                {
                    **final,
                    "id": record_id,
                    "status": "FAILED",
                    "message": f"{task.script.name} attempt {attempt} failed: {kind.failure_message}; retried",
                    "externalStatus": kind.external_statuses.get("FAILED"),
                    "externalMessage": kind.failure_message,
                    "numberOfAttempts": attempt,
                    "updatedAt": iso(task.start),
                    "completedAt": iso(task.start),
                    "startedAt": iso(task.start),
                    "platformLink": None,
                }
            )
        return records

    def listing(self, resource: str, now: int, *, include_superseded: bool = False) -> list[dict[str, Any]]:
        """Every record of ``resource`` from the started runs that exists at ``now``, newest first (task runs'
        superseded attempts only when ``include_superseded``, as Orchestra lists them since 2026-10)."""
        records: list[dict[str, Any]] = []
        for run in reversed(self.runs()):
            if resource == "pipeline_runs":
                records.append(self.pipeline_run(run, now))
            elif resource == "task_runs":
                for t in reversed(run.tasks):
                    records.append(self.task_run(run, t, now))
                    if include_superseded:
                        records.extend(self.superseded(run, t, now))
            else:
                operations = (self.operation(run, t, now) for t in reversed(run.tasks))
                records.extend(op for op in operations if op is not None)
        return records

    def log_text(self, run: StartedRun, task: _TaskPlan, now: int) -> str | None:
        """The log file of a task that has started, None before it starts or when it has no log."""
        if task.script.log is None or not run.has_started(task, now):
            return None
        return task.script.log
