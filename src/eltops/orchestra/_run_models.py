"""Typed records of the run endpoints (start, status, task runs, logs), built once from the API's JSON.

Statuses are the spec's vocabularies (``PipelineRunStatus``, ``TaskRunStatus``); a run is over once its status is
one of ``FINAL_STATUSES``. Anything missing or mistyped in an answer is an :class:`~eltops.errors.ApiResponseError`
naming the field, so nothing downstream indexes a dict.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from eltops.errors import ApiResponseError

__all__ = [
    "FINAL_STATUSES",
    "OK_STATUSES",
    "LogTail",
    "PipelineRunState",
    "StartedPipeline",
    "TaskRunState",
]

FINAL_STATUSES = frozenset({"SUCCEEDED", "WARNING", "FAILED", "SKIPPED", "CANCELLED"})
OK_STATUSES = frozenset({"SUCCEEDED", "WARNING", "SKIPPED"})


def _text(body: Mapping[str, Any], name: str, what: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise ApiResponseError(f"Orchestra's {what} has no {name!r} (got {value!r})")
    return value


def _optional_text(body: Mapping[str, Any], name: str) -> str | None:
    value = body.get(name)
    return value if isinstance(value, str) and value else None


def _moment(body: Mapping[str, Any], name: str, what: str) -> datetime | None:
    value = body.get(name)
    if value is None:
        return None
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        raise ApiResponseError(f"Orchestra's {what} has a {name!r} that is not a timestamp: {value!r}") from None


def _object(body: object, what: str) -> Mapping[str, Any]:
    if not isinstance(body, dict):
        raise ApiResponseError(f"Orchestra answered the {what} with {type(body).__name__}, not an object")
    return body


@dataclass(frozen=True)
class StartedPipeline:
    """What the start endpoint answers (``StartPipelineResponse``)."""

    pipeline_run_id: str
    message: str | None

    @classmethod
    def from_api(cls, body: object) -> StartedPipeline:
        record = _object(body, "start request")
        return cls(_text(record, "pipelineRunId", "start answer"), _optional_text(record, "message"))


@dataclass(frozen=True)
class PipelineRunState:
    """One read of a pipeline run's status (``PipelineRunResponse``)."""

    id: str
    pipeline_id: str
    pipeline_name: str | None
    status: str
    message: str | None
    env_name: str | None
    branch: str | None
    commit: str | None
    created_at: datetime | None
    started_at: datetime | None
    completed_at: datetime | None

    @classmethod
    def from_api(cls, body: object) -> PipelineRunState:
        what = "pipeline run"
        record = _object(body, what)
        return cls(
            id=_text(record, "id", what),
            pipeline_id=_text(record, "pipelineId", what),
            pipeline_name=_optional_text(record, "pipelineName"),
            status=_text(record, "runStatus", what),
            message=_optional_text(record, "message"),
            env_name=_optional_text(record, "envName"),
            branch=_optional_text(record, "branch"),
            commit=_optional_text(record, "commit"),
            created_at=_moment(record, "createdAt", what),
            started_at=_moment(record, "startedAt", what),
            completed_at=_moment(record, "completedAt", what),
        )

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES


@dataclass(frozen=True)
class TaskRunState:
    """One task run of the pipeline run (``TaskRunResponse``), as last read."""

    id: str
    task_id: str
    task_name: str
    integration: str
    integration_job: str
    status: str
    message: str | None
    external_message: str | None
    platform_link: str | None
    started_at: datetime | None
    completed_at: datetime | None

    @classmethod
    def from_api(cls, body: object) -> TaskRunState:
        what = "task run"
        record = _object(body, what)
        return cls(
            id=_text(record, "id", what),
            task_id=_text(record, "taskId", what),
            task_name=_text(record, "taskName", what),
            integration=_text(record, "integration", what),
            integration_job=_text(record, "integrationJob", what),
            status=_text(record, "status", what),
            message=_optional_text(record, "message"),
            external_message=_optional_text(record, "externalMessage"),
            platform_link=_optional_text(record, "platformLink"),
            started_at=_moment(record, "startedAt", what),
            completed_at=_moment(record, "completedAt", what),
        )

    @property
    def failed(self) -> bool:
        return self.status == "FAILED"

    def duration_seconds(self, now: datetime) -> float | None:
        """How long it ran (until now while it runs); None before it started."""
        if self.started_at is None:
            return None
        end = self.completed_at or now
        return max(0.0, (end - self.started_at).total_seconds())


@dataclass(frozen=True)
class LogTail:
    """The end of a task run's log file: at most the bytes asked for, cut at a line start."""

    filename: str
    text: str
    cut_bytes: int  # bytes of the file before ``text`` that were left out
    total_bytes: int
