"""Typed records for the Fivetran JSON the orchestrator reads, built once at the edge by ``from_api``.

Decoding is strict where a wrong type would change what the orchestrator does: a boolean must be a JSON boolean
(``"false"`` is a string, and truthy), a text field a string, a timestamp an ISO-8601 string. Anything else is an
:class:`~eltops.errors.ApiResponseError` (exit 4) naming the field and the type it had, never a guess. Missing
fields and ``null`` read as their empty value, as before. Timestamps without a zone are read as UTC (Fivetran's
timestamps are UTC), so they compare with zoned ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any, TypeVar

from eltops.errors import ApiResponseError

_SHOWN_CHARACTERS = 80  # how much of a bad value an error message quotes
_K = TypeVar("_K")


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN_CHARACTERS else f"{text[:_SHOWN_CHARACTERS]}... ({len(text)} characters)"


def parse_timestamp(value: Any, *, field: str) -> datetime | None:
    """Fivetran's ISO-8601 UTC timestamps (``2024-12-01T15:43:29.013729Z``) as aware datetimes; None stays None.

    A timestamp without a zone (``2024-12-01T15:43:29``) is read as UTC.
    """
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ApiResponseError(f"Fivetran sent {field}={_shown(value)}, which is not a timestamp")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        # an offset that puts the moment outside datetime's range in UTC cannot be compared: refuse it here
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise ApiResponseError(f"Fivetran sent {field}={_shown(value)}, which is not an ISO-8601 timestamp") from None
    return moment


def _flag(data: Mapping[str, Any], key: str, *, field: str) -> bool:
    """A JSON boolean; missing or null is False; anything else (``"false"``, ``0``) is an API error."""
    value = data.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ApiResponseError(
            f"Fivetran sent {field}={_shown(value)} ({type(value).__name__}), which is not a JSON boolean "
            "(true or false)"
        )
    return value


def _text(data: Mapping[str, Any], key: str, *, field: str, default: str = "") -> str:
    """A JSON string; missing, null or empty is ``default``; any other type is an API error."""
    value = data.get(key)
    if value is None or value == "":
        return default
    if not isinstance(value, str):
        raise ApiResponseError(f"Fivetran sent {field}={_shown(value)} ({type(value).__name__}), which is not a string")
    return value


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
    # the schedule, read leniently (a value of another type reads as absent): kept and sent back, and
    # sync_frequency (minutes between scheduled syncs) is CHECK's default age limit
    sync_frequency: int | None = None
    daily_sync_time: str | None = None
    flexible_schedule: Mapping[str, Any] | None = None  # ``schedule``: cron, interval or time of day

    @classmethod
    def from_api(cls, data: Any) -> Connection:
        if not isinstance(data, Mapping) or not isinstance(data.get("id"), str) or not data["id"]:
            raise ApiResponseError("Fivetran answered with a connection object that has no id")
        raw_status = data.get("status")
        if raw_status is not None and not isinstance(raw_status, Mapping):
            raise ApiResponseError(f"Fivetran sent status={_shown(raw_status)}, which is not an object")
        status: Mapping[str, Any] = raw_status or {}
        return cls(
            id=data["id"],
            group_id=_text(data, "group_id", field="group_id"),
            service=_text(data, "service", field="service"),
            name=_text(data, "schema", field="schema"),
            schedule_type=_text(data, "schedule_type", field="schedule_type"),
            paused=_flag(data, "paused", field="paused"),
            succeeded_at=parse_timestamp(data.get("succeeded_at"), field="succeeded_at"),
            failed_at=parse_timestamp(data.get("failed_at"), field="failed_at"),
            setup_state=_text(status, "setup_state", field="status.setup_state"),
            sync_state=_text(status, "sync_state", field="status.sync_state"),
            update_state=_text(status, "update_state", field="status.update_state"),
            is_historical_sync=_flag(status, "is_historical_sync", field="status.is_historical_sync"),
            rescheduled_for=parse_timestamp(status.get("rescheduled_for"), field="status.rescheduled_for"),
            notices=_notices(status),
            raw=data,
            sync_frequency=_minutes(data.get("sync_frequency")),
            daily_sync_time=_lenient(data.get("daily_sync_time"), str) or None,
            flexible_schedule=_lenient(data.get("schedule"), dict) or None,
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
            raise ApiResponseError(f"Fivetran sent a setup test result that is not an object: {_shown(data)}")
        return cls(
            title=_text(data, "title", field="setup_tests[].title", default="(untitled)"),
            status=_text(data, "status", field="setup_tests[].status", default="UNKNOWN"),
            message=_text(data, "message", field="setup_tests[].message"),
        )

    @property
    def passed(self) -> bool:
        """Only PASSED passes; WARNING, SKIPPED, JOB_FAILED and anything unknown do not."""
        return self.status.upper() == "PASSED"

    def accepted_by(self, allow: frozenset[str]) -> bool:
        """Not passed, but of a status the user accepts (FIVETRAN_TEST_ALLOW: WARNING, SKIPPED)."""
        return not self.passed and self.status.upper() in allow


@dataclass(frozen=True)
class Group:
    id: str
    name: str

    @classmethod
    def from_api(cls, data: Any) -> Group:
        if not isinstance(data, Mapping) or not isinstance(data.get("id"), str):
            raise ApiResponseError("Fivetran answered with a group object that has no id")
        return cls(id=data["id"], name=_text(data, "name", field="group.name"))


def _lenient(value: Any, kind: type[_K]) -> _K | None:
    """``value`` when it is a ``kind`` (a bool is no int), else None."""
    if isinstance(value, bool) and kind is not bool:
        return None
    return value if isinstance(value, kind) else None


def _minutes(value: Any) -> int | None:
    """A positive whole number of minutes, else None (read leniently, as the other schedule fields)."""
    minutes = _lenient(value, int)
    return minutes if minutes is not None and minutes > 0 else None


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


@dataclass(frozen=True)
class SyncRecord:
    """One sync of ``GET /v1/connections/{id}/sync-history`` ("Retrieve Connection Sync History").

    Fivetran's page names ``sync_id``, ``status`` and ``reason`` and describes the start and end as "UTC timestamps
    ... null if the sync has not started"; their member names are read as ``start_time``/``end_time`` (the query's
    words) or ``started_at``/``ended_at``/``finished_at``, whichever the answer uses (README, design notes).
    """

    sync_id: str
    status: str
    reason: str
    started_at: datetime | None
    ended_at: datetime | None

    @classmethod
    def from_api(cls, data: Any) -> SyncRecord:
        if not isinstance(data, Mapping):
            raise ApiResponseError(f"Fivetran sent a sync history record that is not an object: {_shown(data)}")
        return cls(
            sync_id=_text(data, "sync_id", field="sync_id"),
            status=_text(data, "status", field="status"),
            reason=_text(data, "reason", field="reason"),
            started_at=_first_moment(data, ("start_time", "started_at", "start"), field="start_time"),
            ended_at=_first_moment(data, ("end_time", "ended_at", "finished_at", "end"), field="end_time"),
        )

    @property
    def failed(self) -> bool:
        """FAILURE, FAILURE_WITH_TASK, FAILED, failed...: any status that says the sync failed."""
        return "FAIL" in self.status.upper()


@dataclass(frozen=True)
class ActiveError:
    """One of a connection's active errors (``GET /v1/connections/{id}/errors``, REST API changelog, Nov 2026).

    ``type`` is machine-readable (``reconnect``, ``unknown_sync_failure``, ``sync_warning``), ``title`` and ``reason``
    are short, ``message`` is plain text "with remediation guidance".
    """

    type: str
    title: str
    reason: str
    message: str

    @classmethod
    def from_api(cls, data: Any) -> ActiveError:
        if not isinstance(data, Mapping):
            raise ApiResponseError(f"Fivetran sent a connection error that is not an object: {_shown(data)}")
        return cls(
            type=_text(data, "type", field="errors[].type"),
            title=_text(data, "title", field="errors[].title"),
            reason=_text(data, "reason", field="errors[].reason"),
            message=_text(data, "message", field="errors[].message"),
        )


def _first_moment(data: Mapping[str, Any], keys: tuple[str, ...], *, field: str) -> datetime | None:
    for key in keys:
        if data.get(key) is not None:
            return parse_timestamp(data[key], field=field)
    return None
