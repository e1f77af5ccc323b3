"""CHECK: a freshness and health gate over connections that triggers nothing and changes nothing.

A connection passes when its setup is connected, it is not paused, its ``status.update_state`` is not
``delayed``, its newest finished sync succeeded, and that success is at most the age limit old: ``FIVETRAN_MAX_AGE``,
or else its own ``sync_frequency`` plus :func:`default_margin` of it. Ages are measured on the API's clock (the
``Date`` header of the answer that carried the connection), never the runner's.

Reads: a ``group:<name>`` costs the groups listing and one listing of the group (its items carry everything
needed), whatever the group's size; a connection named by id is read with its own ``GET``. With
``FIVETRAN_WAIT_UNTIL_FRESH`` the connections that a sync can make pass (stale, delayed, last sync failed) are read
again every poll interval, one listing per group, until they pass or the deadline comes; broken and paused ones
fail at once (no sync mends them).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from eltops.errors import EltopsError, ExitCode, JobTimeout
from eltops.fivetran._models import Connection, SyncOutcome, format_timestamp

if TYPE_CHECKING:
    from eltops.fivetran._orchestrator import Orchestrator, _ConnectionRun

__all__ = ["FRESH", "NOT_FRESH", "Verdict", "default_margin", "format_age", "judge"]

log = logging.getLogger("eltops.fivetran")

FRESH = "fresh"
NOT_FRESH = "not fresh"
UNKNOWN_FREQUENCY_MINUTES = 1440  # a connection that does not say its sync frequency: daily, Fivetran's slowest
MIN_MARGIN_SECONDS = 15 * 60.0


def default_margin(frequency_seconds: float) -> float:
    """How much older than its sync frequency a last success may be: half the frequency, at least 15 minutes.

    A sync takes time and Fivetran starts scheduled syncs with some slack; a connection synced every 6 h is stale
    after 9 h, one synced every 15 min after 30 min.
    """
    return max(MIN_MARGIN_SECONDS, frequency_seconds / 2)


def format_age(seconds: float) -> str:
    """``2h05m``, ``12m``, ``40s``."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f}s"
    minutes = int(seconds // 60)
    hours, minutes = divmod(minutes, 60)
    if hours >= 48:
        return f"{hours // 24}d{hours % 24:02d}h"
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m"


@dataclass(frozen=True)
class Verdict:
    """Why a connection passes or fails; ``mendable``: only things a sync can mend (stale, delayed, failed)."""

    passed: bool
    reasons: tuple[str, ...]
    mendable: bool
    summary: str


def judge(connection: Connection, *, now: datetime, max_age: float | None) -> Verdict:
    """The verdict on one connection at ``now`` (the API's clock) with the age limit ``max_age`` (None: its own)."""
    hard: list[str] = []
    soft: list[str] = []
    if connection.setup_is_broken:
        hard.append(f"setup is {connection.setup_state}")
    if connection.is_paused:
        hard.append("paused")
    if connection.update_state == "delayed":
        soft.append("update_state is delayed (Fivetran says its data is late)")
    if connection.last_outcome is SyncOutcome.FAILED:
        soft.append(f"last sync failed at {format_timestamp(connection.failed_at)}")
    limit, basis = _limit(connection, max_age)
    succeeded = connection.succeeded_at
    if succeeded is None:
        soft.append("never synced successfully")
        age_text = "no successful sync"
    else:
        age = (now - succeeded).total_seconds()
        age_text = (
            f"last success {format_age(age)} ago ({format_timestamp(succeeded)}), limit {format_age(limit)} {basis}"
        )
        if age > limit:
            soft.append(f"stale: {age_text}")
    reasons = tuple(hard + soft)
    if not reasons:
        return Verdict(True, (), False, f"fresh: {age_text}")
    return Verdict(False, reasons, not hard, "; ".join(reasons))


def _limit(connection: Connection, max_age: float | None) -> tuple[float, str]:
    if max_age is not None:
        return max_age, "(FIVETRAN_MAX_AGE)"
    minutes = connection.sync_frequency or UNKNOWN_FREQUENCY_MINUTES
    frequency = minutes * 60.0
    said = "its" if connection.sync_frequency else "an assumed daily"
    manual = "; it is on a manual schedule, so set FIVETRAN_MAX_AGE" if connection.is_manual else ""
    return frequency + default_margin(frequency), f"({said} sync frequency {format_age(frequency)} + margin{manual})"


class FreshnessCheck:
    """CHECK over the orchestrator's resolved connections, ending each with a result."""

    def __init__(self, orchestrator: Orchestrator) -> None:
        self.o = orchestrator
        self.client = orchestrator.client
        self.settings = orchestrator.settings

    def run(self, runs: Sequence[_ConnectionRun]) -> None:
        """Judge every run's connection (read it if the listing did not carry it); wait for mendable ones if asked."""
        for run in runs:
            if run.connection is None:
                try:
                    run.connection = self.client.get_connection(run.connection_id)
                except JobTimeout:
                    raise
                except EltopsError as exc:
                    run.fail(exc)
        waiting = [run for run in runs if run.result is None and not self._settle(run, final=False)]
        if waiting:
            self._wait(waiting)

    def _now(self) -> datetime:
        api_now = self.client.watch.api_now
        if api_now is None:
            log.warning("Fivetran sent no Date header: measuring ages on this runner's clock")
            from eltops.fivetran._orchestrator import _now_utc

            return _now_utc(self.o.wall_clock)
        return api_now

    def _settle(self, run: _ConnectionRun, *, final: bool) -> bool:
        """Judge ``run``; True when it has its result (it passed, failed for good, or this is the last look)."""
        assert run.connection is not None
        verdict = judge(run.connection, now=self._now(), max_age=self.settings.more.max_age)
        if verdict.passed:
            run.finish(ExitCode.OK, verdict.summary, label=FRESH)
            return True
        if not self.settings.more.wait_until_fresh or not verdict.mendable:
            run.finish(ExitCode.REMOTE_FAILED, verdict.summary, label=NOT_FRESH)
            return True
        if final:
            run.finish(
                ExitCode.TIMEOUT,
                f"still not fresh after waiting {self.settings.timeout:g} s (FIVETRAN_WAIT_UNTIL_FRESH): "
                f"{verdict.summary}",
            )
            return True
        run.info("not fresh yet (%s): waiting for a sync (FIVETRAN_WAIT_UNTIL_FRESH)", verdict.summary)
        return False

    def _wait(self, runs: list[_ConnectionRun]) -> None:
        deadline = self.client.deadline
        from eltops.fivetran._orchestrator import _FleetWait

        reader = _FleetWait(self.o, runs)
        try:
            while runs:
                remaining = deadline.remaining()
                if remaining <= 0:
                    raise JobTimeout("deadline")
                self.o.wait(min(self.settings.poll_interval, remaining))
                reader.read(runs, lambda run, current: _take(run, current))
                runs = [run for run in runs if run.result is None and not self._settle(run, final=False)]
        except JobTimeout:
            for run in runs:
                if run.result is None:
                    self._settle(run, final=True)


def _take(run: _ConnectionRun, current: Connection) -> None:
    run.connection = current
