"""How an ``eltops fivetran`` run is written as Orchestra-shaped history: the CI pipeline is the pipeline run,
the job is the task run, each connection's sync, test or resync is an operation.

Statuses use Orchestra's vocabularies. A timed-out sync is an operation in status UNKNOWN (it goes on in Fivetran,
its outcome is not known) and fails its task run; STATUS reads nothing that ran, so it records no operation.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import orjson

from eltops.errors import ExitCode
from eltops.fivetran import (
    Action,
    ConnectionResult,
    FivetranSettings,
    JobResult,
    TransformationResult,
    format_timestamp,
)
from eltops.history._ci import CiRun, stable_id
from eltops.orchestra import Operation, PipelineRun, TaskRun

INTEGRATION = "FIVETRAN"
FIVETRAN_DASHBOARD = "https://fivetran.com/dashboard/connectors/{id}"

_OPERATION_STATUS = {
    ExitCode.OK: "SUCCEEDED",
    ExitCode.REMOTE_FAILED: "FAILED",
    ExitCode.TIMEOUT: "UNKNOWN",
    ExitCode.CONFIG: "FAILED",
    ExitCode.API: "FAILED",
}


def task_status(exit_code: ExitCode | None, *, cancelled: bool = False) -> str:
    """The task run's status: RUNNING while unknown, CANCELLED when interrupted, else success or failure."""
    if cancelled:
        return "CANCELLED"
    if exit_code is None:
        return "RUNNING"
    return "SUCCEEDED" if exit_code is ExitCode.OK else "FAILED"


def pipeline_status(task_statuses: Iterable[str]) -> str:
    """A pipeline run's status from its task runs' statuses (the most telling one wins)."""
    statuses = set(task_statuses)
    for status in ("RUNNING", "FAILED", "CANCELLED", "WARNING"):
        if status in statuses:
            return status
    return "SUCCEEDED" if statuses else "CREATED"


def task_parameters(settings: FivetranSettings) -> dict[str, Any]:
    """The job's settings as recorded: everything that shapes the run, never a credential."""
    parameters: dict[str, Any] = {
        "action": settings.action.value,
        "connections": [str(c) for c in settings.connections],
        "timeout_seconds": settings.timeout,
        "poll_interval_seconds": settings.poll_interval,
        "disable_schedule": settings.disable_schedule,
        "unpause": settings.unpause,
        "api_url": settings.api_url,
    }
    more = settings.more
    if more.transformation_ids or more.then_transform:
        parameters["transformations"] = list(more.transformation_ids or more.then_transform)
        parameters["full_refresh"] = more.full_refresh
        parameters["allow_partial"] = more.allow_partial
    if settings.action is Action.CHECK:
        parameters["max_age_seconds"] = more.max_age
        parameters["wait_until_fresh"] = more.wait_until_fresh
    if settings.action is Action.FORCE_RESYNC:
        parameters["schema"] = settings.schema
        parameters["tables"] = list(settings.tables)
    if settings.action is Action.RESYNC:
        scope = settings.resync_scope
        parameters["scope"] = None if scope is None else {schema: list(tables) for schema, tables in scope.items()}
    if settings.action is Action.START:
        parameters["if_syncing"] = settings.if_syncing.value
        if settings.skip_if_synced_within is not None:
            parameters["skip_if_synced_within_seconds"] = settings.skip_if_synced_within
    if settings.action.triggers_sync:
        parameters["wait"] = settings.wait
    if settings.action is Action.WAIT and settings.completed_after is not None:
        parameters["completed_after"] = settings.completed_after.isoformat()
    return parameters


_PIPELINE_MESSAGES = {
    "RUNNING": "Pipeline run in progress",
    "SUCCEEDED": "Pipeline run succeeded",
    "FAILED": "Pipeline run failed",
    "CANCELLED": "Pipeline run cancelled",
    "CREATED": "Pipeline run created",
}
_TROUBLE = {"FAILED": "failed", "CANCELLED": "was cancelled"}


def pipeline_message(
    statuses: Iterable[str], *, task_name: str, task_status: str, task_message: str, earlier: str | None
) -> str:
    """What a person reading the pipeline run needs: which task made it fail or stop, and why.

    ``statuses`` are all its task runs' statuses. When this job's task run failed or was cancelled, it explains
    the pipeline run; otherwise the explanation an earlier job wrote stays as long as a task run is still in
    trouble; otherwise the pipeline's status in words.
    """
    seen = set(statuses)
    if task_status in _TROUBLE:
        return f"Task '{task_name}' {_TROUBLE[task_status]}: {task_message}"
    if earlier and earlier.startswith("Task '") and seen & _TROUBLE.keys():
        return earlier
    return _PIPELINE_MESSAGES.get(pipeline_status(seen), "")


def pipeline_run(
    ci: CiRun, *, status: str, started_at: datetime, now: datetime, message: str | None = None
) -> PipelineRun:
    return PipelineRun(
        id=ci.pipeline_run_id,
        pipeline_id=ci.pipeline_id,
        pipeline_name=ci.pipeline_name,
        env_name=ci.env_name,
        run_status=status,
        message=message,
        created_at=started_at,
        updated_at=now,
        started_at=started_at,
        completed_at=None if status == "RUNNING" else now,
        branch=ci.branch,
        commit=ci.commit,
    )


def task_run(
    ci: CiRun,
    settings: FivetranSettings,
    *,
    status: str,
    message: str,
    started_at: datetime,
    now: datetime,
    external_status: str | None = None,
    job: JobResult | None = None,
) -> TaskRun:
    """The job as a task run; with ``job`` (it completed) the resolved connection ids, and the link to the
    connection that did not succeed (the one a person has to look at), else to the first."""
    results = job.results if job is not None else ()
    ids = [r.connection_id or r.ref for r in results] or [str(c) for c in settings.connections]
    ids = ids or list(settings.more.transformation_ids)  # TRANSFORM names transformations, not connections
    failed = [r.connection_id for r in results if not r.ok and r.connection_id]
    first = failed[0] if failed else next((r.connection_id for r in results if r.connection_id), None)
    if first is None:
        first = next((c.id for c in settings.connections if c.id), None)
    return TaskRun(
        id=ci.task_run_id,
        pipeline_run_id=ci.pipeline_run_id,
        task_name=ci.task_name,
        task_id=stable_id("task", ci.pipeline_name, ci.task_name),
        pipeline_id=ci.pipeline_id,
        integration=INTEGRATION,
        integration_job=settings.action.value,
        status=status,
        message=message,
        external_status=external_status,
        external_message=_fivetran_words(results),
        platform_link=FIVETRAN_DASHBOARD.format(id=first) if first else None,
        task_parameters=task_parameters(settings),
        run_parameters=ci.parameters(),
        connection_id=",".join(ids),
        number_of_attempts=ci.attempt,
        created_at=started_at,
        updated_at=now,
        started_at=started_at,
        completed_at=None if status == "RUNNING" else now,
    )


def _fivetran_words(results: Iterable[ConnectionResult]) -> str | None:
    """What Fivetran itself said (its ``status.tasks`` and ``status.warnings``), per connection; None when silent."""
    said = [
        f"{r.connection_id or r.ref}: {'; '.join(r.connection.notices)}"
        for r in results
        if r.connection is not None and r.connection.notices
    ]
    return " | ".join(said) or None


_VERBS = {
    Action.START: "sync",
    Action.TEST: "setup tests",
    Action.FORCE_RESYNC: "resync",
    Action.STATUS: "status",
    Action.CHECK: "freshness check",
}


def operations(ci: CiRun, job: JobResult) -> list[Operation]:
    """One operation per connection for START, TEST and FORCE_RESYNC; none for STATUS."""
    if job.action is Action.STATUS:
        return []
    done = [_operation(ci, job.action, result) for result in job.results]
    return done + [_transformation_operation(ci, result) for result in job.transformations]


def _transformation_operation(ci: CiRun, result: TransformationResult) -> Operation:
    """A transformation's run (TRANSFORM, or FIVETRAN_THEN_TRANSFORM after the syncs) as a TRANSFORMATION operation."""
    t = result.transformation
    detail = None
    if t is not None:
        detail = (
            f"name={t.name}; type={t.type}; status={t.status}; "
            f"last_started_at={format_timestamp(t.last_started_at, missing='null')}; "
            f"last_ended_at={format_timestamp(t.last_ended_at, missing='null')}; "
            f"output_models={','.join(t.output_model_names)}"
        )
    external_id = result.transformation_id
    return Operation(
        id=stable_id("operation", ci.task_run_id, f"transformation:{external_id}"),
        pipeline_run_id=ci.pipeline_run_id,
        task_run_id=ci.task_run_id,
        inserted_at=result.finished_at,
        message=result.message,
        operation_name=f"transform {external_id}",
        operation_status="CANCELLED" if result.label == "cancelled" else _OPERATION_STATUS[result.exit_code],
        operation_type="TRANSFORMATION",
        external_status=t.status if t is not None else None,
        external_detail=detail,
        external_id=external_id,
        integration=INTEGRATION,
        integration_job=Action.TRANSFORM.value,
        started_at=result.started_at,
        completed_at=result.finished_at,
        dependencies=[],
        operation_duration=round(result.duration_seconds, 3),
        rows_affected=None,
    )


def _operation(ci: CiRun, action: Action, result: ConnectionResult) -> Operation:
    connection = result.connection
    external_id = result.connection_id or result.ref
    detail = None
    if connection is not None:
        succeeded = format_timestamp(connection.succeeded_at, missing="null")
        failed = format_timestamp(connection.failed_at, missing="null")
        detail = (
            f"service={connection.service}; schema={connection.name}; group_id={connection.group_id}; "
            f"sync_state={connection.sync_state}; setup_state={connection.setup_state}; "
            f"succeeded_at={succeeded}; failed_at={failed}"
        )
        if connection.notices:
            detail += "; fivetran says: " + "; ".join(connection.notices)
    if result.previous_schedule is not None:  # what this job replaced with manual, to put back by hand if need be
        restored = {True: "put back", False: "NOT put back", None: "left manual"}[result.schedule_restored]
        schedule = orjson.dumps(result.previous_schedule.restore_body()).decode()
        detail = f"{detail + '; ' if detail else ''}previous schedule ({restored}): {schedule}"
    return Operation(
        id=stable_id("operation", ci.task_run_id, external_id),
        pipeline_run_id=ci.pipeline_run_id,
        task_run_id=ci.task_run_id,
        inserted_at=result.finished_at,
        message=result.message,
        # the connection, as external_id names it
        operation_name=f"{_VERBS.get(action, action.value.lower())} {external_id}",
        operation_status="CANCELLED" if result.label == "cancelled" else _OPERATION_STATUS[result.exit_code],
        operation_type="TEST" if action in (Action.TEST, Action.CHECK) else "INGESTION",
        external_status=connection.sync_state if connection is not None else None,
        external_detail=detail,
        external_id=external_id,
        integration=INTEGRATION,
        integration_job=action.value,
        started_at=result.started_at,
        completed_at=result.finished_at,
        dependencies=[],
        operation_duration=round(result.duration_seconds, 3),
        rows_affected=None,
    )
