"""Turning a :class:`JobResult` into what people and CI systems read: a summary, JSON, JUnit, a step summary."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from eltops._junit import JUnitCase
from eltops.errors import ExitCode
from eltops.fivetran._models import SyncOutcome, format_timestamp
from eltops.fivetran._orchestrator import OUTCOMES, SKIPPED, ConnectionResult, JobResult
from eltops.fivetran._settings import Action, format_baselines
from eltops.fivetran._transformations import TransformationResult


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else format_timestamp(moment)


def result_to_json(job: JobResult) -> dict[str, Any]:
    """One machine-readable object for ``--json``."""
    return {
        "action": job.action.value,
        "ok": job.exit_code is ExitCode.OK,
        "exit_code": int(job.exit_code),
        "started_at": _iso(job.started_at),
        "finished_at": _iso(job.finished_at),
        "connections": [_connection_json(r) for r in job.results],
        **({"transformations": [_transformation_json(t) for t in job.transformations]} if _transforms(job) else {}),
    }


def _transforms(job: JobResult) -> bool:
    return job.action is Action.TRANSFORM or bool(job.transformations)


def _transformation_json(result: TransformationResult) -> dict[str, Any]:
    t = result.transformation
    return {
        "transformation_id": result.transformation_id,
        "name": t.name if t else None,
        "type": t.type if t else None,
        "outcome": result.outcome,
        "exit_code": int(result.exit_code),
        "message": result.message,
        "status": result.status,
        "output_models": list(result.output_models),
        "last_started_at": _iso(t.last_started_at) if t else None,
        "last_ended_at": _iso(t.last_ended_at) if t else None,
        "baseline": _iso(result.baseline),
        "started_at": _iso(result.started_at),
        "finished_at": _iso(result.finished_at),
        "duration_seconds": round(result.duration_seconds, 3),
    }


def synced(job: JobResult) -> list[ConnectionResult]:
    """The connections whose awaited sync succeeded in this job (not skipped, not only triggered)."""
    if not job.action.waits_for_sync:
        return []
    return [
        r
        for r in job.results
        if r.ok
        and r.label is None
        and r.connection is not None
        and r.connection.finished_since(r.baseline)
        and r.connection.last_outcome is SyncOutcome.SUCCEEDED
    ]


def _connection_json(result: ConnectionResult) -> dict[str, Any]:
    conn = result.connection
    body: dict[str, Any] = {
        "ref": result.ref,
        "connection_id": result.connection_id,
        "outcome": result.outcome,
        "exit_code": int(result.exit_code),
        "message": result.message,
        "started_at": _iso(result.started_at),
        "finished_at": _iso(result.finished_at),
        "duration_seconds": round(result.duration_seconds, 3),
        "succeeded_at": _iso(conn.succeeded_at) if conn else None,
        "failed_at": _iso(conn.failed_at) if conn else None,
        "sync_state": conn.sync_state if conn else None,
        "setup_state": conn.setup_state if conn else None,
        "baseline": _iso(result.baseline),
        "reason": result.reason.reason if result.reason else None,
        "remediation": result.reason.remediation or None if result.reason else None,
    }
    if result.previous_schedule is not None:
        body["previous_schedule"] = {**result.previous_schedule.to_json(), "restored": result.schedule_restored}
    if result.setup_tests:
        body["setup_tests"] = [{"title": t.title, "status": t.status, "message": t.message} for t in result.setup_tests]
    return body


def _sync_end(job: JobResult, result: ConnectionResult) -> datetime | None:
    """When the sync this job saw ended: the awaited one for actions that wait, the newest one otherwise."""
    conn = result.connection
    if conn is None:
        return None
    if job.action.waits_for_sync and not conn.finished_since(result.baseline):
        return None
    return conn.last_finished_at


def step_outputs(job: JobResult) -> dict[str, str]:
    """The CI step outputs: the job's outcome, each connection's as JSON, and the baselines a WAIT job needs.

    ``FIVETRAN_BASELINE`` is named so that a GitLab dotenv report hands it to a later ``WAIT`` job as it is.
    """
    per_connection = {
        (r.connection_id or r.ref): {
            "outcome": r.outcome,
            "exit_code": int(r.exit_code),
            "sync_end": _iso(_sync_end(job, r)),
            "succeeded_at": _iso(r.connection.succeeded_at) if r.connection else None,
            "failed_at": _iso(r.connection.failed_at) if r.connection else None,
            "baseline": _iso(r.baseline),
            "reason": str(r.reason) if r.reason else None,
            **(
                {"previous_schedule": {**r.previous_schedule.to_json(), "restored": r.schedule_restored}}
                if r.previous_schedule is not None
                else {}
            ),
        }
        for r in job.results
    }
    outputs = {
        "ELTOPS_FIVETRAN_ACTION": job.action.value,
        "ELTOPS_FIVETRAN_OUTCOME": OUTCOMES[job.exit_code],
        "ELTOPS_FIVETRAN_EXIT_CODE": str(int(job.exit_code)),
    }
    if job.action.waits_for_sync:
        baselines = {
            r.connection_id: r.baseline
            for r in job.results
            if r.connection_id is not None and r.connection is not None and (r.ok or job.action is Action.WAIT)
        }
        if baselines:
            outputs["FIVETRAN_BASELINE"] = format_baselines(baselines)
    if job.action.waits_for_sync:  # what a later dbt job selects on: the schemas that got new data
        landed = synced(job)
        outputs["ELTOPS_FIVETRAN_SCHEMAS"] = ",".join(dict.fromkeys(r.connection.name for r in landed if r.connection))
        outputs["ELTOPS_FIVETRAN_SYNCED"] = ",".join(r.connection_id or r.ref for r in landed)
    if job.action is Action.CHECK:
        outputs["ELTOPS_FIVETRAN_FRESH"] = ",".join(r.connection_id or r.ref for r in job.results if r.ok)
        outputs["ELTOPS_FIVETRAN_STALE"] = ",".join(r.connection_id or r.ref for r in job.results if not r.ok)
    outputs["ELTOPS_FIVETRAN_RESULTS"] = orjson.dumps(per_connection).decode()
    if _transforms(job):
        per_transformation = {
            t.transformation_id: {
                "outcome": t.outcome,
                "exit_code": int(t.exit_code),
                "status": t.status,
                "output_models": list(t.output_models),
                "last_ended_at": _iso(t.transformation.last_ended_at) if t.transformation else None,
            }
            for t in job.transformations
        }
        outputs["ELTOPS_FIVETRAN_TRANSFORMATIONS"] = orjson.dumps(per_transformation).decode()
        models = [m for t in job.transformations if t.ok for m in t.output_models]
        outputs["ELTOPS_FIVETRAN_MODELS"] = ",".join(dict.fromkeys(models))
    return outputs


def summary_rows(job: JobResult) -> list[tuple[str, str, str, str]]:
    """(connection, outcome, duration, message) for the summary table."""
    rows = [(r.ref, r.outcome, f"{r.duration_seconds:.1f} s", r.message) for r in job.results]
    return rows + [
        (f"transformation {t.transformation_id}", t.outcome, f"{t.duration_seconds:.1f} s", t.message)
        for t in job.transformations
    ]


def markdown_summary(job: JobResult) -> str:
    """A GitHub step summary (``$GITHUB_STEP_SUMMARY``)."""
    lines = [
        f"### Fivetran {job.action.value}: {'succeeded' if job.exit_code is ExitCode.OK else 'failed'}",
        "",
        "| connection | outcome | duration | message |",
        "|---|---|---|---|",
    ]
    for ref, outcome, duration, message in summary_rows(job):
        cell = message.replace("|", "\\|")
        lines.append(f"| `{ref}` | {outcome} | {duration} | {cell} |")
    return "\n".join(lines) + "\n"


_MEANING = {"JOB_FAILED": " (the setup test job itself failed)"}


def junit_cases(job: JobResult) -> list[JUnitCase]:
    """One case per setup test for TEST; one case per connection for every other action."""
    cases: list[JUnitCase] = []
    for result in job.results:
        classname = f"fivetran.{job.action.value.lower()}.{result.connection_id or result.ref}"
        if job.action is Action.TEST and result.setup_tests:
            for test in result.setup_tests:
                said = f"{test.status}{_MEANING.get(test.status.upper(), '')}: {test.message}".rstrip(": ")
                accepted = test.accepted_by(job.test_allow)
                cases.append(
                    JUnitCase(
                        name=test.title,
                        classname=classname,
                        failure=None if test.passed or accepted else said,
                        output=f"{said} (accepted: FIVETRAN_TEST_ALLOW)" if accepted else "",
                    )
                )
            continue
        failed = result.exit_code is ExitCode.REMOTE_FAILED
        skipped = result.ok and result.label == SKIPPED  # fresh enough: no sync was needed
        cases.append(
            JUnitCase(
                name=result.ref,
                classname=classname,
                seconds=result.duration_seconds,
                failure=result.message if failed else None,
                error=result.message if not result.ok and not failed else None,
                output=result.message if result.ok else "",
                skipped=result.message if skipped else None,
            )
        )
    for transformation in job.transformations:
        failed = transformation.exit_code is ExitCode.REMOTE_FAILED
        cases.append(
            JUnitCase(
                name=transformation.transformation_id,
                classname=f"fivetran.transform.{transformation.transformation_id}",
                seconds=transformation.duration_seconds,
                failure=transformation.message if failed else None,
                error=transformation.message if not transformation.ok and not failed else None,
                output=transformation.message if transformation.ok else "",
            )
        )
    return cases
