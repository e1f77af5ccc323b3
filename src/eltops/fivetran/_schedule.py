"""A connection's schedule as it was before eltops set it to manual: kept, said, and put back on request.

Fivetran schedules a connection by ``sync_frequency`` (minutes) with ``daily_sync_time`` when that is 1440, or by a
flexible ``schedule`` (``INTERVAL``/``TIME_OF_DAY``/``CRON``) that "takes precedence over sync_frequency and
daily_sync_time" and must not be combined with ``schedule_type: manual`` ("Create a Connection", Sync schedule
precedence). Setting ``manual`` therefore loses a flexible schedule; this keeps all of it, so that
``FIVETRAN_RESTORE_SCHEDULE`` (or a person, from the step outputs and the run history) can put it back with one
PATCH that sets ``schedule_type: auto`` together with it, never ``manual`` with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from eltops.fivetran._models import Connection


@dataclass(frozen=True)
class Schedule:
    """``schedule_type``, ``sync_frequency``, ``daily_sync_time`` and the flexible ``schedule``, as sent."""

    schedule_type: str
    sync_frequency: int | None = None
    daily_sync_time: str | None = None
    flexible: Mapping[str, Any] | None = field(default=None, hash=False)

    @classmethod
    def of(cls, connection: Connection) -> Schedule:
        flexible = connection.flexible_schedule
        return cls(
            schedule_type=connection.schedule_type or "auto",
            sync_frequency=connection.sync_frequency,
            daily_sync_time=connection.daily_sync_time,
            flexible=dict(flexible) if flexible else None,
        )

    def describe(self) -> str:
        """``auto, cron 0 */2 * * *``, ``auto, every 360 minutes``, ``auto, daily at 03:00`` ..."""
        return f"{self.schedule_type}, {self._when()}"

    def _when(self) -> str:
        flexible = self.flexible
        if flexible is not None:
            kind = str(flexible.get("schedule_type", "")).upper()
            days = flexible.get("days_of_week")
            on = f" on {', '.join(map(str, days))}" if isinstance(days, list) and days else ""
            if kind == "CRON":
                return f"cron {' | '.join(map(str, flexible.get('cron') or []))}"
            if kind == "INTERVAL":
                return f"every {flexible.get('interval')} minutes{on}"
            if kind == "TIME_OF_DAY":
                return f"at {flexible.get('time_of_day')}{on}"
            return f"schedule {orjson.dumps(dict(flexible)).decode()}"
        if self.sync_frequency == 1440:
            return f"daily at {self.daily_sync_time or '00:00'}"
        if self.sync_frequency is not None:
            return f"every {self.sync_frequency} minutes"
        return "Fivetran's default frequency"

    def restore_body(self) -> dict[str, Any]:
        """The PATCH that puts this schedule back (no setup tests: they would alert and may change state).

        A flexible schedule is sent without ``sync_frequency``/``daily_sync_time``: it "takes precedence" over them,
        and Fivetran rejects some combinations of those, so the fewest fields that restore it are sent."""
        body: dict[str, Any] = {"schedule_type": self.schedule_type, "run_setup_tests": False}
        if self.flexible is not None:  # it takes precedence over the frequency, so it alone is sent back
            body["schedule"] = dict(self.flexible)
            return body
        if self.sync_frequency is not None:
            body["sync_frequency"] = self.sync_frequency
        if self.sync_frequency == 1440 and self.daily_sync_time:
            body["daily_sync_time"] = self.daily_sync_time
        return body

    def to_json(self) -> dict[str, Any]:
        """For the step outputs and the run history: what to PATCH back by hand, and how it reads."""
        return {"describe": self.describe(), "patch": self.restore_body()}
