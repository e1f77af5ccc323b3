"""Typed records for the Fivetran JSON the orchestrator reads, built once at the edge by ``from_api``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from eltops.errors import ApiResponseError


def parse_timestamp(value: Any, *, field: str) -> datetime | None:
    """Fivetran's ISO-8601 UTC timestamps (``2024-12-01T15:43:29.013729Z``) as aware datetimes; None stays None."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ApiResponseError(f"Fivetran sent {field}={value!r}, which is not a timestamp")
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ApiResponseError(f"Fivetran sent {field}={value!r}, which is not an ISO-8601 timestamp") from None


def format_timestamp(moment: datetime | None, *, missing: str = "never") -> str:
    """An aware datetime in Fivetran's own form (``...Z``); ``missing`` when there is none."""
    return missing if moment is None else moment.isoformat().replace("+00:00", "Z")


class SyncOutcome(Enum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True)
class Connection:
    """A Fivetran connection (connector) as ``GET /v1/connections/{id}`` describes it."""

    id: str
    group_id: str
    service: str
    name: str
    schedule_type: str
    paused: bool
    succeeded_at: datetime | None
    failed_at: datetime | None
    setup_state: str
    sync_state: str
    update_state: str
    is_historical_sync: bool
    rescheduled_for: datetime | None
    notices: tuple[str, ...]  # Fivetran's own words: status.tasks then status.warnings, "code: message"
    raw: Mapping[str, Any]

    @classmethod
    def from_api(cls, data: Any) -> Connection:
        if not isinstance(data, Mapping) or not isinstance(data.get("id"), str):
            raise ApiResponseError("Fivetran answered with a connection object that has no id")
        status: Mapping[str, Any] = data["status"] if isinstance(data.get("status"), Mapping) else {}
        return cls(
            id=data["id"],
            group_id=str(data.get("group_id") or ""),
            service=str(data.get("service") or ""),
            name=str(data.get("schema") or ""),
            schedule_type=str(data.get("schedule_type") or ""),
            paused=bool(data.get("paused")),
            succeeded_at=parse_timestamp(data.get("succeeded_at"), field="succeeded_at"),
            failed_at=parse_timestamp(data.get("failed_at"), field="failed_at"),
            setup_state=str(status.get("setup_state") or ""),
            sync_state=str(status.get("sync_state") or ""),
            update_state=str(status.get("update_state") or ""),
            is_historical_sync=bool(status.get("is_historical_sync")),
            rescheduled_for=parse_timestamp(status.get("rescheduled_for"), field="status.rescheduled_for"),
            notices=_notices(status),
            raw=data,
        )

    @property
    def last_finished_at(self) -> datetime | None:
        """When the newest finished sync ended (success or failure); the baseline for the next one."""
        moments = [m for m in (self.succeeded_at, self.failed_at) if m is not None]
        return max(moments) if moments else None

    @property
    def last_outcome(self) -> SyncOutcome | None:
        """Whether the newest finished sync succeeded or failed; None if none ever finished."""
        if self.last_finished_at is None:
            return None
        if self.failed_at is not None and (self.succeeded_at is None or self.failed_at > self.succeeded_at):
            return SyncOutcome.FAILED
        return SyncOutcome.SUCCEEDED

    def finished_since(self, baseline: datetime | None) -> bool:
        """True once a sync ended strictly after ``baseline`` (an API timestamp read before the trigger)."""
        last = self.last_finished_at
        return last is not None and (baseline is None or last > baseline)

    @property
    def is_syncing(self) -> bool:
        return self.sync_state == "syncing"

    @property
    def is_rescheduled(self) -> bool:
        return self.sync_state == "rescheduled"

    @property
    def is_paused(self) -> bool:
        return self.paused or self.sync_state == "paused"

    @property
    def setup_is_broken(self) -> bool:
        return self.setup_state in ("broken", "incomplete")

    @property
    def is_manual(self) -> bool:
        return self.schedule_type == "manual"


@dataclass(frozen=True)
class SetupTest:
    """One setup test result from ``POST /v1/connections/{id}/test``."""

    title: str
    status: str
    message: str

    @classmethod
    def from_api(cls, data: Any) -> SetupTest:
        if not isinstance(data, Mapping):
            raise ApiResponseError(f"Fivetran sent a setup test result that is not an object: {data!r}")
        return cls(
            title=str(data.get("title") or "(untitled)"),
            status=str(data.get("status") or "UNKNOWN"),
            message=str(data.get("message") or ""),
        )

    @property
    def passed(self) -> bool:
        """Only PASSED passes; WARNING, SKIPPED, JOB_FAILED and anything unknown do not."""
        return self.status.upper() == "PASSED"


@dataclass(frozen=True)
class Group:
    id: str
    name: str

    @classmethod
    def from_api(cls, data: Any) -> Group:
        if not isinstance(data, Mapping) or not isinstance(data.get("id"), str):
            raise ApiResponseError("Fivetran answered with a group object that has no id")
        return cls(id=data["id"], name=str(data.get("name") or ""))


def _notices(status: Mapping[str, Any]) -> tuple[str, ...]:
    """``status.tasks`` (what needs doing) and ``status.warnings`` as ``code: message`` lines."""
    found: list[str] = []
    for key in ("tasks", "warnings"):
        items = status.get(key)
        for item in items if isinstance(items, list) else []:
            if isinstance(item, Mapping) and (item.get("message") or item.get("code")):
                code, message = str(item.get("code") or ""), str(item.get("message") or "")
                found.append(f"{code}: {message}" if code and message else code or message)
    return tuple(found)
