"""The emulated account: groups, connections and each connection's sync state machine.

Nothing here runs in the background. Every read or change first calls ``Connection.advance(now)``, which
replays what happened on the clock's timeline since the last look, so the moments recorded (a sync's
``succeeded_at``) are the moments things happened, not the moments someone asked.

A sync run goes::

    trigger ─▶ queued ("scheduled") ─▶ syncing ─▶ finished (succeeded_at or failed_at = finish moment)
                                         │   ▲
                                         ▼   │  auto: by itself at rescheduled_for
                                    rescheduled  manual: only a trigger at/after rescheduled_for
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from eltops.fivetran.emulator._script import ConnectionScript, FailureBurst, Outcome

SetupState = Literal["incomplete", "connected", "broken"]
ScheduleType = Literal["auto", "manual"]
Phase = Literal["queued", "syncing", "rescheduled"]

SETUP_STATES: tuple[SetupState, ...] = ("incomplete", "connected", "broken")
SCHEDULE_TYPES: tuple[ScheduleType, ...] = ("auto", "manual")
SYNC_FREQUENCIES = (1, 5, 15, 30, 60, 120, 180, 360, 480, 720, 1440)
FLEXIBLE_SCHEDULE_TYPES = ("INTERVAL", "TIME_OF_DAY", "CRON")
WEEKDAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")
DELAY_SENSITIVITIES = ("LOW", "NORMAL", "HIGH", "CUSTOM", "SYNC_FREQUENCY")
# minutes beyond its sync frequency after which a connection's data counts as delayed (update_state), per
# data_delay_sensitivity; CUSTOM uses data_delay_threshold alone and SYNC_FREQUENCY the connection's own frequency
# (Fivetran's "Data delay" notifications; Fivetran does not publish the three allowances: these are the emulator's,
# added to the frequency so that a daily connection is not "delayed" hours before its next sync is due)
_DELAY_MINUTES = {"LOW": 24 * 60, "NORMAL": 6 * 60, "HIGH": 60}
SECRET_MASK = "******"  # noqa: S105 - the mask, not a secret
_SECRET_WORDS = ("password", "secret", "token", "private_key", "api_key", "credentials")


def iso(ts: float) -> str:
    """Epoch seconds as Fivetran writes timestamps: ISO-8601 UTC with microseconds and ``Z``."""
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def zoneless_iso(ts: float) -> str:
    """Epoch seconds as a faulty answer writes them: UTC, to the second, with no zone."""
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")


def to_epoch(value: datetime | str | float | None) -> float | None:
    """A datetime, an ISO-8601 string or epoch seconds as epoch seconds (naive datetimes count as UTC)."""
    if value is None or isinstance(value, int | float):
        return value
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def mask_secrets(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` with every secret-looking value replaced by ``******``, as Fivetran renders it."""
    masked: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, dict):
            masked[key] = mask_secrets(value)
        elif any(word in key.lower() for word in _SECRET_WORDS) and value is not None:
            masked[key] = SECRET_MASK
        else:
            masked[key] = value
    return masked


# database engines by a word of their service names (first match wins): default port and update method, one the
# API definition allows for that engine (it defines none for SQL Server)
_DATABASES: tuple[tuple[str, int, str | None], ...] = (
    ("postgres", 5432, "WAL_PGOUTPUT"),  # in the 2024 and the 2026 definitions alike
    ("mysql", 3306, "BINLOG"),
    ("aurora", 3306, "BINLOG"),
    ("sql_server", 1433, None),
    ("oracle", 1521, "LOGMINER"),
)


def check_schedule(schedule: Any) -> dict[str, Any]:
    """A flexible connection ``schedule`` checked as Fivetran checks it (ValueError naming what is wrong), as stored.

    ``{"schedule_type": "INTERVAL", "interval": 90}``, ``{"schedule_type": "TIME_OF_DAY", "time_of_day": "03:30",
    "days_of_week": ["MONDAY"]}`` or ``{"schedule_type": "CRON", "cron": ["0 */2 * * *"]}``: the shape of the 2026
    definition's schedule objects (``TransformationSchedule``), which "Create a Connection" lets take precedence over
    ``sync_frequency`` and ``daily_sync_time``.
    """
    if not isinstance(schedule, dict):
        raise ValueError("schedule must be an object with a schedule_type")
    kind = schedule.get("schedule_type")
    if kind not in FLEXIBLE_SCHEDULE_TYPES:
        raise ValueError(f"schedule.schedule_type must be one of {', '.join(FLEXIBLE_SCHEDULE_TYPES)}, not {kind!r}")
    allowed = {"schedule_type", "interval", "cron", "days_of_week", "time_of_day"}
    unknown = sorted(set(schedule) - allowed)
    if unknown:
        raise ValueError(f"schedule has unknown field(s) {', '.join(unknown)}")
    interval, cron = schedule.get("interval"), schedule.get("cron")
    days, time_of_day = schedule.get("days_of_week"), schedule.get("time_of_day")
    if kind == "INTERVAL" and not _day_minutes(interval):
        raise ValueError("an INTERVAL schedule needs interval: minutes between 1 and 1440")
    if kind == "CRON" and (
        not isinstance(cron, list) or not cron or not all(isinstance(c, str) and len(c.split()) == 5 for c in cron)
    ):
        raise ValueError("a CRON schedule needs cron: a list of five-field cron expressions")
    if kind == "TIME_OF_DAY" and not (
        isinstance(time_of_day, str)
        and len(time_of_day) == 5
        and time_of_day[2] == ":"
        and time_of_day[:2].isdigit()
        and time_of_day[:2] < "24"
        and time_of_day[3:] in ("00", "30")
    ):
        raise ValueError("a TIME_OF_DAY schedule needs time_of_day: HH:00 or HH:30")
    if days is not None and (
        not isinstance(days, list) or len(set(days)) != len(days) or not set(days) <= set(WEEKDAYS)
    ):
        raise ValueError(f"schedule.days_of_week must list distinct days of {', '.join(WEEKDAYS)}")
    return {key: value for key, value in schedule.items() if value is not None}


def _day_minutes(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 1440


def default_config(service: str, schema: str) -> dict[str, Any]:
    """A plausible config for a connection nobody gave one (database-like for database services)."""
    for word, port, update_method in _DATABASES:
        if word in service:
            config: dict[str, Any] = {
                "host": f"{schema}.db.example.internal",
                "port": port,
                "database": schema,
                "user": "fivetran",
                "password": "emulated-password",
                "connection_type": "Directly",
            }
            if update_method is not None:
                config["update_method"] = update_method
            return config
    return {"schema": schema, "api_key": "emulated-api-key"}


class ApiProblem(Exception):
    """An error answer: HTTP status, Fivetran ``code`` and ``message``, and extra headers."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


@dataclass
class Group:
    id: str
    name: str
    created_at: float
    destination: dict[str, Any] | None = None  # service, region, config... (None: the demo Snowflake destination)

    def render(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "created_at": iso(self.created_at)}

    def render_destination(self) -> dict[str, Any]:
        """``GET /v1/destinations/{id}``'s ``data``: a group and its destination share their id (1:1)."""
        given = dict(self.destination or {})
        config = {**DEFAULT_DESTINATION_CONFIG, **dict(given.pop("config", None) or {})}
        return {
            "id": self.id,
            "group_id": self.id,
            "service": "snowflake",
            "region": "GCP_US_EAST4",
            "time_zone_offset": "0",
            "setup_status": "CONNECTED",
            **given,
            "config": mask_secrets(config),
        }


DEFAULT_DESTINATION_CONFIG: dict[str, Any] = {
    "host": "eltopsdemo-emulator.snowflakecomputing.com",
    "port": 443,
    "database": "RAW",
    "auth": "PASSWORD",
    "user": "FIVETRAN_USER",
    "password": "emulated-destination-password",
}
"""The destination a group has when its scenario names none: Snowflake (organization eltopsdemo, account emulator)."""


@dataclass
class Run:
    """One triggered sync, with its timings fixed when it was triggered."""

    phase: Phase
    phase_started_at: float
    queue_seconds: float
    segments_left: list[float]  # syncing time still to do, one entry per part between reschedules
    reschedule_wait_seconds: float
    outcome: Outcome
    historical: bool
    rescheduled_for: float | None = None
    resume_not_before: float = 0.0
    triggered_at: float = 0.0  # a PATCH to schedule_type auto at this moment lets it resume by itself


@dataclass(frozen=True)
class SyncRecord:
    """One finished sync as the sync history lists it."""

    sync_id: str
    started_at: float
    ended_at: float
    outcome: Outcome
    reason: str

    def render(self) -> dict[str, Any]:
        return {
            "sync_id": self.sync_id,
            "start_time": iso(self.started_at),
            "end_time": iso(self.ended_at),
            "status": "SUCCESSFUL" if self.outcome == "success" else "FAILURE",
            "reason": self.reason or None,
        }


@dataclass
class BurstCounter:
    burst: FailureBurst
    remaining: int


@dataclass
class Connection:
    id: str
    group_id: str
    schema: str
    service: str
    schedule_type: ScheduleType
    paused: bool
    setup_state: SetupState
    created_at: float
    succeeded_at: float | None
    failed_at: float | None
    tables: dict[str, list[str]] | None
    config: dict[str, Any]
    script: ConnectionScript
    sync_frequency: int = 360
    daily_sync_time: str = "00:00"
    pause_after_trial: bool = False
    data_delay_sensitivity: str = "NORMAL"
    data_delay_threshold: int = 0
    service_version: int = 1
    connected_by: str = "emulator_user"
    schedule: dict[str, Any] | None = None  # a flexible schedule: it takes precedence over sync_frequency
    run: Run | None = None
    pending_historical: bool = False  # a resync asked while paused, or a historical sync that failed
    bursts: list[BurstCounter] = field(default_factory=list)
    # the account's integrated transformations (emulator._transformations): how long a queued sync waits behind
    # one that runs, and what a successful sync starts
    hold: Callable[[str, float], float | None] | None = field(default=None, repr=False)
    on_success: Callable[[str, float], None] | None = field(default=None, repr=False)
    history: list[SyncRecord] = field(default_factory=list)
    seen_at: float = 0.0  # the clock at the last advance: update_state is judged then

    def __post_init__(self) -> None:
        self.reset_bursts()

    def reset_bursts(self) -> None:
        self.bursts = [BurstCounter(burst, burst.count) for burst in self.script.failures]

    def take_burst(self, method: str, path: str) -> FailureBurst | None:
        """Consume one answer from the first scripted failure burst that matches this request, if any."""
        for counter in self.bursts:
            if counter.remaining > 0 and counter.burst.matches(method, path):
                counter.remaining -= 1
                return counter.burst
        return None

    # --- the state machine -------------------------------------------------------------------------

    def advance(self, now: float) -> None:
        """Replay the run's timeline up to ``now``: queue → syncing → (rescheduled → syncing)* → finished."""
        self.seen_at = max(self.seen_at, now)
        while (run := self.run) is not None:
            if run.phase == "queued":
                end = run.phase_started_at + run.queue_seconds
                held = self.hold(self.id, end) if self.hold is not None else None
                end = max(end, held or end)  # an integrated transformation that runs holds the sync queued
                if now < end:
                    return
                if self.setup_state != "connected":  # a broken or incomplete setup fails at once
                    self._finish(run, "failure", at=end)
                else:
                    run.phase, run.phase_started_at = "syncing", end
            elif run.phase == "syncing":
                end = run.phase_started_at + run.segments_left[0]
                if now < end:
                    return
                run.segments_left.pop(0)
                if run.segments_left:
                    run.phase, run.phase_started_at = "rescheduled", end
                    run.rescheduled_for = end + run.reschedule_wait_seconds
                else:
                    self._finish(run, run.outcome, at=end)
            else:  # rescheduled: only auto scheduling resumes by itself
                assert run.rescheduled_for is not None
                resume_at = max(run.rescheduled_for, run.resume_not_before)
                if self.schedule_type == "manual" or now < resume_at:
                    return
                run.phase, run.phase_started_at, run.rescheduled_for = "syncing", resume_at, None

    def _finish(self, run: Run, outcome: Outcome, *, at: float) -> None:
        reason = "" if outcome == "success" else self.script.failure_reason
        if outcome == "failure" and self.setup_state != "connected" and not reason:
            reason = f"The connection's setup is {self.setup_state}"
        self.history.append(SyncRecord(f"{self.id}-{len(self.history) + 1}", run.triggered_at, at, outcome, reason))
        if outcome == "success":
            self.succeeded_at = at
            self.pending_historical = False
            if self.on_success is not None:
                self.on_success(self.id, at)
        else:
            self.failed_at = at
            self.pending_historical = run.historical
        self.run = None

    def _new_run(self, now: float, *, historical: bool) -> Run:
        script = self.script
        parts = script.reschedules + 1
        return Run(
            phase="queued",
            phase_started_at=now,
            queue_seconds=script.queue_seconds,
            segments_left=[script.sync_seconds / parts] * parts,
            reschedule_wait_seconds=script.reschedule_wait_seconds,
            outcome=script.outcome,
            historical=historical or self.pending_historical,
            triggered_at=now,
        )

    def trigger(self, now: float, *, force: bool, historical: bool = False) -> None:
        """``POST {c}/sync`` (and resyncs): start, restart, resume or leave the run, as Fivetran does."""
        self.advance(now)
        if self.paused:  # accepted, but nothing runs until the connection is unpaused
            self.pending_historical = self.pending_historical or historical
            return
        run = self.run
        if run is None:
            self.run = self._new_run(now, historical=historical)
        elif run.phase == "rescheduled":
            assert run.rescheduled_for is not None
            if now >= run.rescheduled_for:  # the source's quota is back: the rest of the run goes on
                run.phase, run.phase_started_at, run.rescheduled_for = "queued", now, None
            run.historical = run.historical or historical
        elif historical:  # a resync during a run lets the running one complete, as a historical sync
            run.historical = True
        elif force:  # force stops the running sync and starts it again
            self.run = self._new_run(now, historical=run.historical)

    def set_paused(self, now: float, paused: bool) -> None:
        self.advance(now)
        if paused and self.run is not None:  # pausing stops the running sync; it leaves no result
            self.pending_historical = self.pending_historical or self.run.historical
            self.run = None
        self.paused = paused

    def set_schedule_type(self, now: float, schedule_type: ScheduleType) -> None:
        self.advance(now)
        if schedule_type == "auto" and self.schedule_type == "manual" and self.run is not None:
            self.run.resume_not_before = now
        self.schedule_type = schedule_type
        if schedule_type == "manual":  # manual and a flexible schedule do not combine: the schedule goes
            self.schedule = None

    def active_errors(self) -> list[dict[str, Any]]:
        """The scripted errors while the last sync failed or the setup is not connected, else none."""
        last_failed = self.failed_at is not None and (self.succeeded_at is None or self.failed_at > self.succeeded_at)
        if not (last_failed or self.setup_state != "connected"):
            return []
        since = iso(self.failed_at if last_failed and self.failed_at is not None else self.created_at)
        return [error.to_json(since) for error in self.script.errors]

    def update_state(self, rescheduled: bool) -> str:
        """``delayed`` when rescheduled, when the last sync failed, or when the data is older than the connection's
        data delay threshold allows; else ``on_schedule``."""
        last_failed = self.failed_at is not None and (self.succeeded_at is None or self.failed_at > self.succeeded_at)
        if rescheduled or last_failed:
            return "delayed"
        if self.paused or self.schedule_type == "manual" or self.succeeded_at is None:
            return "on_schedule"  # nothing is scheduled, so nothing can be late
        if self.data_delay_sensitivity == "CUSTOM":
            minutes = self.data_delay_threshold
        elif self.data_delay_sensitivity == "SYNC_FREQUENCY":
            minutes = self.sync_frequency
        elif self.data_delay_sensitivity in _DELAY_MINUTES:
            minutes = self.sync_frequency + _DELAY_MINUTES[self.data_delay_sensitivity]
        else:
            minutes = 0
        late = minutes > 0 and self.seen_at - self.succeeded_at > minutes * 60
        return "delayed" if late else "on_schedule"

    def run_setup_tests(self, now: float) -> None:
        self.advance(now)
        if self.script.repair_on_test:
            self.setup_state = "connected"

    # --- rendering ------------------------------------------------------------------------------------

    def sync_state(self) -> str:
        if self.paused:
            return "paused"
        if self.run is None or self.run.phase == "queued":
            return "scheduled"
        return "syncing" if self.run.phase == "syncing" else "rescheduled"

    def render(self) -> dict[str, Any]:
        """The connection object as ``GET {c}`` returns it in ``data`` (call ``advance`` first), with the script's
        faults (zone-less timestamps, overrides) applied."""
        rendered = self._render()
        script = self.script
        for name in script.zoneless_timestamps:
            where, _, key = name.rpartition(".")
            holder = rendered[where] if where else rendered
            moment = holder.get(key)
            if isinstance(moment, str):
                holder[key] = zoneless_iso(to_epoch(moment.replace("Z", "+00:00")) or 0.0)
        for name, value in script.overrides.items():
            where, _, key = name.rpartition(".")
            holder = rendered.setdefault(where, {}) if where else rendered
            if isinstance(holder, dict):
                holder[key] = value
        return rendered

    def _render(self) -> dict[str, Any]:
        run = self.run
        rescheduled_for = run.rescheduled_for if run is not None and not self.paused else None
        status: dict[str, Any] = {
            "setup_state": self.setup_state,
            "schema_status": "ready",
            "sync_state": self.sync_state(),
            "update_state": self.update_state(rescheduled_for is not None),
            "is_historical_sync": run.historical if run is not None else self.pending_historical,
            "tasks": [],
            "warnings": [],
        }
        if rescheduled_for is not None:
            status["rescheduled_for"] = iso(rescheduled_for)
        rendered: dict[str, Any] = {
            "id": self.id,
            "group_id": self.group_id,
            "service": self.service,
            "service_version": self.service_version,
            "schema": self.schema,
            "connected_by": self.connected_by,
            "created_at": iso(self.created_at),
            "succeeded_at": None if self.succeeded_at is None else iso(self.succeeded_at),
            "failed_at": None if self.failed_at is None else iso(self.failed_at),
            "paused": self.paused,
            "pause_after_trial": self.pause_after_trial,
            "sync_frequency": self.sync_frequency,
            "schedule_type": self.schedule_type,
            "data_delay_sensitivity": self.data_delay_sensitivity,
            "data_delay_threshold": self.data_delay_threshold,
            "status": status,
            "config": mask_secrets(self.config),
            "source_sync_details": {},
        }
        if self.sync_frequency == 1440:  # Fivetran returns it only for daily syncs
            rendered["daily_sync_time"] = self.daily_sync_time
        if self.schedule is not None:
            rendered["schedule"] = dict(self.schedule)
        return rendered

    def destination_schema(self, source_schema: str) -> str:
        """Where a source schema lands: a database connection's schemas under its prefix (``shop_db_public``),
        any other connection's one schema as the connection's destination schema (Fivetran's naming, as its
        schema config's ``name_in_destination`` says)."""
        if any(word in self.service for word, _, _ in _DATABASES):
            return f"{self.schema}_{source_schema}"
        return self.schema

    def render_schemas(self) -> dict[str, Any]:
        """The schema config as ``GET {c}/schemas`` returns it in ``data``."""
        schemas: dict[str, Any] = {}
        for schema_name, tables in (self.tables or {}).items():
            schemas[schema_name] = {
                "name_in_destination": self.destination_schema(schema_name),
                "enabled": True,
                "tables": {
                    table: {
                        "name_in_destination": table,
                        "enabled": True,
                        "sync_mode": "SOFT_DELETE",
                        "enabled_patch_settings": {"allowed": True},
                        "supports_columns_config": True,  # required by the 2026 definition
                        "supports_history_mode": True,
                        "columns": {},
                    }
                    for table in tables
                },
            }
        return {"enable_new_by_default": True, "schema_change_handling": "ALLOW_ALL", "schemas": schemas}
