"""Deterministic run history: record i of each resource is a pure function of (seed, i, now).

Layout (all times are integer microseconds since the epoch, UTC):

- Pipeline run i is created at ``start + i * step + jitter(i)`` with ``jitter < step / 2``, so creation times
  strictly increase with the index and a time window maps to an index range by binary search.
- Its task runs ``i*T .. i*T+T-1`` are created a few milliseconds after it, in order, and run one after the
  other (each depends on the previous one); a failure or cancellation skips the rest.
- Task run j has operations ``j*O .. j*O+O-1``. An operation is inserted (``insertedAt``) a few seconds after its
  task run finished, so it is never visible while its task runs. ``insertedAt`` is therefore not monotone in
  the index, but it lies within ``operation_lag`` of its task run's ``createdAt``, which is.
- Whether a record is visible, and the status of a run, depend on ``now``: a run is RUNNING (or CREATED/QUEUED)
  until its completion moment, then final.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from eltops.orchestra.emulator._catalog import (
    ENVIRONMENTS,
    FEATURE_BRANCHES,
    OperationTemplate,
    PipelineDefinition,
    TaskDefinition,
    build_pipelines,
)
from eltops.orchestra.emulator._ids import Draws, UuidCodec, hash_of
from eltops.orchestra.emulator._model import Resource, Volume

SECOND = 1_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# id kinds besides the three resources (which use Resource values 1..3)
PIPELINE_KIND = _PIPELINE = 10
ENVIRONMENT_KIND = _ENVIRONMENT = 11
_ACCOUNT = 12
_USER = 13
_ANOMALY = 14

_START_DELAY = (SECOND // 2, 5 * SECOND)
_QUEUE_DELAY = (SECOND // 5, 5 * SECOND)
_INGEST_DELAY = (SECOND, 3 * SECOND)
_RUN_BUDGET = 40 * 60 * SECOND  # the tasks of one pipeline run take at most this long together
_FINISH_DELAY = (SECOND // 2, 3 * SECOND // 2)
_CANCEL_WINDOW = 3 * SECOND
_OPERATION_SPACING = 1000  # operations of one task are inserted 1 ms apart


def to_micros(moment: datetime) -> int:
    """Microseconds since the epoch of an aware datetime (naive ones are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * SECOND + delta.microseconds


def iso(micros: int) -> str:
    """The API's timestamp format, e.g. ``2025-05-01T11:16:44.841252+00:00``."""
    return (_EPOCH + timedelta(microseconds=micros)).isoformat(timespec="microseconds")


def _iso_or_none(micros: int | None) -> str | None:
    return None if micros is None else iso(micros)


class TaskTimeline(NamedTuple):
    """The moments a task run passes through; ``None`` for a moment it never reaches.

    (A NamedTuple, like ``PipelineTimeline``: built thousands of times per second, and frozen dataclasses are
    several times slower to construct.)
    """

    created: int
    ready: int | None  # its upstream finished: QUEUED from here
    started: int | None
    cancel_requested: int | None
    ended: int  # final status from here (also the moment a skipped task was skipped)
    final: str
    attempts: int
    inserted: int  # its operations are inserted from here on, 1 ms apart

    def status(self, now: int) -> str:
        if now >= self.ended:
            return self.final
        if self.cancel_requested is not None and now >= self.cancel_requested:
            return "CANCELLING"
        if self.started is not None and now >= self.started:
            return "RUNNING"
        if self.ready is not None and now >= self.ready:
            return "QUEUED"
        return "CREATED"

    def updated(self, now: int) -> int:
        latest = self.created
        for moment in (self.ready, self.started, self.cancel_requested, self.ended):
            if moment is not None and latest < moment <= now:
                latest = moment
        return latest


class PipelineTimeline(NamedTuple):
    """One pipeline run's whole life, derived from (seed, index)."""

    run_index: int
    pipeline: PipelineDefinition
    environment: int
    created: int
    started: int | None
    cancel_requested: int | None
    ended: int
    final: str
    tasks: tuple[TaskTimeline, ...]
    failed_task: int | None
    version: int
    trigger: int
    anomaly_percent: int

    def status(self, now: int) -> str:
        if now >= self.ended:
            return self.final
        if self.cancel_requested is not None and now >= self.cancel_requested:
            return "CANCELLING"
        if self.started is not None and now >= self.started:
            return "RUNNING"
        return "CREATED"

    def updated(self, now: int) -> int:
        latest = self.created
        for moment in (self.started, self.cancel_requested, self.ended):
            if moment is not None and latest < moment <= now:
                latest = moment
        for task in self.tasks:
            latest = max(latest, task.updated(now))
        return latest


def _task_outcome(draws: Draws) -> tuple[str, int]:
    """(final status, attempts) of a task that runs."""
    roll = draws.unit()
    if roll < 0.885:
        return "SUCCEEDED", 2 if draws.unit() < 0.03 else 1
    if roll < 0.935:
        return "WARNING", 1
    if roll < 0.99:
        return "FAILED", 2 if draws.unit() < 0.5 else 1
    return "CANCELLED", 1


class Dataset:
    """The emulated workspace's history; cheap to query record by record, never materialised."""

    def __init__(self, *, seed: int, volume: Volume, anchor: datetime, future_days: float) -> None:
        if future_days < 0:
            raise ValueError("future_days must be >= 0")
        self.seed = seed
        self.volume = volume
        self.ids = UuidCodec(seed)
        self.pipelines = build_pipelines(seed, volume.tasks_per_pipeline_run, volume.operations_per_task_run)
        self.account_id = self.ids.encode(_ACCOUNT, 0)
        self.pipeline_ids = tuple(self.ids.encode(_PIPELINE, p.index) for p in self.pipelines)
        self.environment_ids = tuple(self.ids.encode(_ENVIRONMENT, e) for e in range(len(ENVIRONMENTS)))
        self.start = to_micros(anchor) - int(volume.days * 86_400 * SECOND)
        span = int((volume.days + future_days) * 86_400 * SECOND)
        self.pipeline_run_count = volume.pipeline_runs
        self.task_run_count = volume.task_runs
        self.operation_count = volume.operations
        self.step = span // max(self.pipeline_run_count, 1)
        tasks = volume.tasks_per_pipeline_run
        if self.pipeline_run_count and self.step < 2 * (tasks + 1):
            raise ValueError("too many runs for the time span: spread them over more days")
        self.task_spacing = max(1, min(20_000, self.step // (2 * (tasks + 1))))
        self.operation_lag = (
            _START_DELAY[1]
            + tasks * (_QUEUE_DELAY[1] + self.task_spacing + SECOND)
            + _RUN_BUDGET
            + SECOND
            + _INGEST_DELAY[1]
            + volume.operations_per_task_run * _OPERATION_SPACING
        )
        # the longest a pipeline run can take from creation to its final status
        self.settle_time = self.operation_lag + _FINISH_DELAY[1]
        self.timeline: Callable[[int], PipelineTimeline] = functools.lru_cache(maxsize=2048)(self._timeline)

    # ----------------------------------------------------------------- counts and the time axis

    def count(self, resource: Resource) -> int:
        if resource is Resource.PIPELINE_RUNS:
            return self.pipeline_run_count
        if resource is Resource.TASK_RUNS:
            return self.task_run_count
        return self.operation_count

    def pipeline_created(self, i: int) -> int:
        half = self.step // 2
        jitter = hash_of(self.seed, 0x7177E2, i) % half if half else 0
        return self.start + i * self.step + jitter

    def task_created(self, j: int) -> int:
        tasks = self.volume.tasks_per_pipeline_run
        return self.pipeline_created(j // tasks) + (j % tasks + 1) * self.task_spacing

    def anchor_time(self, resource: Resource, index: int) -> int:
        """A time that increases with the index, at most ``lag(resource)`` before the window timestamp."""
        if resource is Resource.PIPELINE_RUNS:
            return self.pipeline_created(index)
        if resource is Resource.TASK_RUNS:
            return self.task_created(index)
        return self.task_created(index // self.volume.operations_per_task_run)

    def lag(self, resource: Resource) -> int:
        return self.operation_lag if resource is Resource.OPERATIONS else 0

    def window_time(self, resource: Resource, index: int) -> int:
        """The timestamp the time window filters on: createdAt, or insertedAt for operations."""
        if resource is Resource.OPERATIONS:
            return self.operation_inserted(index)
        return self.anchor_time(resource, index)

    def first_anchor_at_least(self, resource: Resource, moment: int) -> int:
        """The smallest index whose anchor time is >= moment (the count if none)."""
        low, high = 0, self.count(resource)
        while low < high:
            middle = (low + high) // 2
            if self.anchor_time(resource, middle) < moment:
                low = middle + 1
            else:
                high = middle
        return low

    # ----------------------------------------------------------------- the life of a pipeline run

    def _timeline(self, i: int) -> PipelineTimeline:
        tasks_per_run = self.volume.tasks_per_pipeline_run
        draws = Draws(self.seed, 0x9196, i)
        pipeline = self.pipelines[draws.below(len(self.pipelines))]
        created = self.pipeline_created(i)
        count = min(tasks_per_run, self.task_run_count - i * tasks_per_run)
        task_created = [created + (p + 1) * self.task_spacing for p in range(count)]
        env_roll = draws.below(10)
        environment = 0 if env_roll < 7 else (1 if env_roll < 9 else 2)
        version = pipeline.first_version + (i * pipeline.versions) // max(self.pipeline_run_count, 1)
        trigger = draws.below(100)
        anomaly_roll = draws.below(100)
        if draws.unit() < 0.005:  # skipped: a previous run of the pipeline is still going
            skipped_at = task_created[-1] + SECOND if count else created + SECOND
            skipped = tuple(
                TaskTimeline(c, None, None, None, skipped_at, "SKIPPED", 0, skipped_at + _INGEST_DELAY[0])
                for c in task_created
            )
            return PipelineTimeline(
                i, pipeline, environment, created, None, None, skipped_at, "SKIPPED", skipped, None, version, 0, 0
            )
        started = created + draws.between(*_START_DELAY)
        durations = []
        for p in range(count):
            kind = pipeline.tasks[p].kind
            low, high = kind.min_seconds * SECOND, kind.max_seconds * SECOND
            # mostly short, now and then long: the square skews towards the low end
            durations.append(low + int((high - low) * draws.unit() ** 2))
        total = sum(durations)
        if total > _RUN_BUDGET:
            durations = [max(SECOND, d * _RUN_BUDGET // total) for d in durations]
        timelines: list[TaskTimeline] = []
        ready: int = started
        failed_task: int | None = None
        cancel_requested: int | None = None
        outcomes = [_task_outcome(draws) for _ in range(count)]
        ingest = [draws.between(*_INGEST_DELAY) for _ in range(count)]
        for p in range(count):
            if failed_task is not None:
                skipped_at = max(ready, task_created[p]) + SECOND // 2
                timelines.append(
                    TaskTimeline(task_created[p], None, None, None, skipped_at, "SKIPPED", 0, skipped_at + ingest[p])
                )
                continue
            start = max(ready, task_created[p]) + draws.between(*_QUEUE_DELAY)
            end = start + durations[p]
            final, attempts = outcomes[p]
            task_cancel: int | None = None
            if final == "CANCELLED":
                task_cancel = end - min(_CANCEL_WINDOW, durations[p] // 2)
                cancel_requested = task_cancel
            if final in ("FAILED", "CANCELLED"):
                failed_task = p
            timelines.append(
                TaskTimeline(task_created[p], ready, start, task_cancel, end, final, attempts, end + ingest[p])
            )
            ready = end
        finals = {t.final for t in timelines}
        final = next(
            (s for s in ("FAILED", "CANCELLED", "WARNING") if s in finals),
            "SUCCEEDED",
        )
        ended = max((t.ended for t in timelines), default=started) + draws.between(*_FINISH_DELAY)
        anomaly = 1 + anomaly_roll if anomaly_roll < 4 and final in ("SUCCEEDED", "WARNING") else 0
        return PipelineTimeline(
            i,
            pipeline,
            environment,
            created,
            started,
            cancel_requested,
            ended,
            final,
            tuple(timelines),
            failed_task,
            version,
            trigger,
            anomaly,
        )

    def task_timeline(self, j: int) -> tuple[PipelineTimeline, TaskTimeline, TaskDefinition]:
        tasks = self.volume.tasks_per_pipeline_run
        run = self.timeline(j // tasks)
        return run, run.tasks[j % tasks], run.pipeline.tasks[j % tasks]

    def operation_inserted(self, k: int) -> int:
        per_task = self.volume.operations_per_task_run
        _, task, _ = self.task_timeline(k // per_task)
        return task.inserted + (k % per_task) * _OPERATION_SPACING

    # ----------------------------------------------------------------- the fields filters look at

    def pipeline_run_status(self, i: int, now: int) -> str:
        return self.timeline(i).status(now)

    def pipeline_run_pipeline(self, i: int) -> int:
        return self.timeline(i).pipeline.index

    def pipeline_run_environment(self, i: int) -> int:
        return self.timeline(i).environment

    def task_run_status(self, j: int, now: int) -> str:
        return self.task_timeline(j)[1].status(now)

    def task_run_pipeline(self, j: int) -> int:
        return self.task_timeline(j)[0].pipeline.index

    def task_run_integration(self, j: int) -> str:
        return self.task_timeline(j)[2].kind.integration

    def operation_status(self, k: int) -> str:
        """An operation's status never changes: it only becomes visible once its task run is final."""
        per_task = self.volume.operations_per_task_run
        _, task, definition = self.task_timeline(k // per_task)
        position = k % per_task
        final = task.final
        if final == "SKIPPED":
            return "SKIPPED"
        last = position == per_task - 1
        if final in ("FAILED", "CANCELLED", "WARNING") and last:
            return final
        roll = hash_of(self.seed, 0x0B57, k) % 100
        if definition.kind.integration == "DBT_CORE" and roll < 8:
            return "REUSED"
        if definition.kind.integration == "PYTHON" and roll < 2:
            return "UNKNOWN"
        return "SUCCEEDED"

    def operation_type(self, k: int) -> str:
        return self._operation_template(k).operation_type

    def operation_integration(self, k: int) -> str:
        return self.task_timeline(k // self.volume.operations_per_task_run)[2].kind.integration

    def operation_external_id(self, k: int) -> str:
        template = self._operation_template(k)
        if template.external_id is not None:
            return template.external_id
        h = f"{hash_of(self.seed, 0x5E0F, k):016x}{hash_of(self.seed, 0x5E10, k):016x}"
        return f"01{h[:6]}-{h[6:10]}-{h[10:14]}-0000-{h[14:26]}"

    def _operation_template(self, k: int) -> OperationTemplate:
        per_task = self.volume.operations_per_task_run
        return self.task_timeline(k // per_task)[2].operations[k % per_task]

    # ----------------------------------------------------------------- the JSON records

    def pipeline_run(self, i: int, now: int) -> dict[str, Any]:
        run = self.timeline(i)
        status = run.status(now)
        ids = self.ids
        run_id = ids.encode(Resource.PIPELINE_RUNS, i)
        environment = ENVIRONMENTS[run.environment]
        if environment == "production":
            branch = "main"
        elif environment == "staging":
            branch = "staging"
        else:
            branch = FEATURE_BRANCHES[i % len(FEATURE_BRANCHES)]
        commit = self._commit(run.pipeline.index, run.version)
        final = now >= run.ended
        anomalies: dict[str, Any] | None = None
        if final and run.anomaly_percent:
            observed = (run.ended - run.created) // SECOND
            threshold = max(1, observed * 100 // (100 + run.anomaly_percent * 10))
            anomalies = {
                ids.encode(_ANOMALY, i): {
                    "type": "pipeline_duration_above_baseline",
                    "data": {
                        "type": "pipeline_duration_above_baseline",
                        "percentage_above_baseline": min(100, run.anomaly_percent * 10),
                        "threshold_seconds": threshold,
                        "compared_runs": 20,
                        "observed_seconds": observed,
                    },
                }
            }
        return {
            "id": run_id,
            "pipelineId": self.pipeline_ids[run.pipeline.index],
            "pipelineName": run.pipeline.name,
            "accountId": self.account_id,
            "envId": self.environment_ids[run.environment],
            "envName": environment,
            "runStatus": status,
            "hasAnomalies": (anomalies is not None) if final else None,
            "anomalies": anomalies,
            "triggeredBy": [self._trigger(run)],
            "childPipelineRuns": [],
            "message": self._pipeline_message(run, status),
            "pipelineVersionNumber": run.version,
            "createdAt": iso(run.created),
            "updatedAt": iso(run.updated(now)),
            "completedAt": iso(run.ended) if final else None,
            "startedAt": _iso_or_none(run.started if run.started is not None and now >= run.started else None),
            "branch": branch,
            "commit": commit,
            "gitLink": f"https://github.com/acme-data/orchestra-pipelines/commit/{commit}",
            "data": None,
        }

    @functools.lru_cache(maxsize=256)  # noqa: B019 - a few hundred short strings, freed with the dataset
    def _commit(self, pipeline: int, version: int) -> str:
        """The git commit a version of a pipeline was deployed from."""
        digits = f"{hash_of(self.seed, pipeline, version, 1):016x}{hash_of(self.seed, pipeline, version, 2):016x}"
        return digits + f"{hash_of(self.seed, pipeline, version, 3):016x}"[:8]

    def _trigger(self, run: PipelineTimeline) -> dict[str, Any]:
        if run.trigger < 82:
            name, cron = run.pipeline.schedule
            return {
                "triggerType": "SCHEDULED",
                "scheduleName": name,
                "scheduleCron": cron,
                "scheduleTimezone": "UTC",
            }
        if run.trigger < 95:
            return {"triggerType": "MANUAL", "userId": self.ids.encode(_USER, run.trigger % 4)}
        return {"triggerType": "WEBHOOK"}

    @staticmethod
    def _pipeline_message(run: PipelineTimeline, status: str) -> str:
        if status == "FAILED" and run.failed_task is not None:
            task = run.pipeline.tasks[run.failed_task]
            return f"Task '{task.name}' failed: {task.kind.failure_message}"
        return {
            "CREATED": "Pipeline run created",
            "RUNNING": "Pipeline run in progress",
            "SUCCEEDED": "Pipeline run succeeded",
            "WARNING": "Pipeline run completed with warnings",
            "SKIPPED": "Pipeline run skipped: a previous run of this pipeline is still in progress",
            "CANCELLING": "Cancellation requested",
            "CANCELLED": "Pipeline run cancelled by user",
        }.get(status, "Pipeline run failed")

    def task_run(self, j: int, now: int) -> dict[str, Any]:
        run, task, definition = self.task_timeline(j)
        status = task.status(now)
        ids = self.ids
        run_id = ids.encode(Resource.PIPELINE_RUNS, run.run_index)
        task_run_id = ids.encode(Resource.TASK_RUNS, j)
        kind = definition.kind
        started = task.started is not None and now >= task.started
        final = now >= task.ended
        external_status = kind.external_statuses.get(status) if started else None
        if status == "CANCELLED" or status == "CANCELLING":
            external_status = "cancelled"
        return {
            "id": task_run_id,
            "pipelineRunId": run_id,
            "taskName": definition.name,
            "taskId": definition.task_id,
            "accountId": self.account_id,
            "pipelineId": self.pipeline_ids[run.pipeline.index],
            "integration": kind.integration,
            "integrationJob": kind.job,
            "status": status,
            "message": self._task_message(status, definition, run),
            "externalStatus": external_status,
            "externalMessage": kind.failure_message if status == "FAILED" else None,
            "taskParameters": definition.parameters,
            "runParameters": {"full_refresh": False} if kind.integration == "DBT_CORE" else {},
            "connectionId": definition.connection_id,
            "computeResourceId": None,
            "platformLink": self._platform_link(definition, run_id, task_run_id, j) if started else None,
            "numberOfAttempts": (task.attempts if final else 1) if started else 0,
            "matrixParent": False,
            "matrixParentId": None,
            "createdAt": iso(task.created),
            "updatedAt": iso(task.updated(now)),
            "completedAt": iso(task.ended) if final else None,
            "startedAt": iso(task.started) if started and task.started is not None else None,
            "dependsOn": list(definition.depends_on),
        }

    @staticmethod
    def _task_message(status: str, definition: TaskDefinition, run: PipelineTimeline) -> str | None:
        if status == "FAILED":
            return definition.kind.failure_message
        if status == "SKIPPED":
            if run.final == "SKIPPED":
                return "Skipped: the pipeline run was skipped"
            return "Skipped: an upstream task did not succeed"
        return {
            "CREATED": None,
            "QUEUED": "Waiting for upstream tasks",
            "RUNNING": "Task running",
            "SUCCEEDED": "Task succeeded",
            "WARNING": "Task completed with warnings",
            "CANCELLING": "Cancellation requested",
            "CANCELLED": "Task cancelled by user",
        }.get(status)

    def _platform_link(self, definition: TaskDefinition, run_id: str, task_run_id: str, j: int) -> str:
        parameters = definition.parameters
        integration = definition.kind.integration
        if integration == "FIVETRAN":
            return f"https://fivetran.com/dashboard/connectors/{parameters['connector_id']}/status"
        if integration == "AIRBYTE_CLOUD":
            workspace = self.ids.encode(_ACCOUNT, 1)
            return f"https://cloud.airbyte.com/workspaces/{workspace}/connections/{parameters['connection_id']}/status"
        if integration == "SNOWFLAKE":
            query = self.operation_external_id(j * self.volume.operations_per_task_run)
            return f"https://app.snowflake.com/acme/xy12345/#/compute/history/queries/{query}/detail"
        return f"https://app.getorchestra.io/pipeline-runs/{run_id}/lineage?taskRunId={task_run_id}"

    def operation(self, k: int) -> dict[str, Any]:
        per_task = self.volume.operations_per_task_run
        j, position = divmod(k, per_task)
        run, task, definition = self.task_timeline(j)
        template = definition.operations[position]
        kind = definition.kind
        status = self.operation_status(k)
        ran = task.started is not None
        started = completed = None
        duration: float | None = None
        if task.started is not None:
            slot = (task.ended - task.started) // per_task
            started = task.started + position * slot
            completed = started + slot
            duration = round(slot / SECOND, 3)
        rows: int | None = None
        if ran and template.counts_rows and status in ("SUCCEEDED", "WARNING"):
            rows = hash_of(self.seed, 0x2085, k) % 250_000
        credits = round(duration * 0.0003, 6) if kind.billed_in_credits and duration is not None else None
        cost = round(credits * 3.0, 6) if credits is not None else None
        detail = None
        if status in ("FAILED", "CANCELLED", "WARNING"):
            detail = kind.failure_message if status == "FAILED" else f"Operation {status.lower()}"
        return {
            "id": self.ids.encode(Resource.OPERATIONS, k),
            "accountId": self.account_id,
            "pipelineRunId": self.ids.encode(Resource.PIPELINE_RUNS, run.run_index),
            "taskRunId": self.ids.encode(Resource.TASK_RUNS, j),
            "insertedAt": iso(task.inserted + position * _OPERATION_SPACING),
            "message": detail or f"{template.operation_type.title()} {status.lower()}",
            "operationName": template.name,
            "operationStatus": status,
            "operationType": template.operation_type,
            "externalStatus": kind.external_statuses.get(status, status.lower()) if ran else None,
            "externalDetail": detail,
            "externalId": self.operation_external_id(k),
            "integration": kind.integration,
            "integrationJob": kind.job,
            "startedAt": _iso_or_none(started),
            "completedAt": _iso_or_none(completed),
            "dependencies": list(template.dependencies),
            "operationDuration": duration,
            "rowsAffected": rows,
            "cost": cost,
            "credits": credits,
            "creditsLabel": "Snowflake credits" if credits is not None else None,
            "currency": "USD" if cost is not None else None,
            "finalCostAmount": cost,
            "rawCostAmount": credits,
            "rawCostLabel": "credits" if credits is not None else None,
            "finalCostCurrency": "USD" if cost is not None else None,
            "rawCostIntegration": "SNOWFLAKE" if credits is not None else None,
            "rawCostUnits": "Credits" if credits is not None else None,
            "assetExternalId": template.asset_external_id,
            "meta": {"task_id": definition.task_id},
            "tags": list(template.tags) or None,
            "canRerun": kind.integration == "DBT_CORE" and status in ("FAILED", "SKIPPED"),
        }
