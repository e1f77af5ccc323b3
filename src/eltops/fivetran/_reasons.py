"""Why a sync failed, in Fivetran's own words: its sync history record and the connection's active errors.

Only a failure costs requests, and a few at most: one window of the sync history (from the job's baseline to now,
at most 7 days: "Retrieve Connection Sync History"), at most ``MAX_HISTORY_PAGES`` pages of it, and at most
``MAX_ERROR_PAGES`` pages of the active errors (``GET /v1/connections/{id}/errors``, REST API changelog, November
2026), all within ``REASON_SECONDS`` and never past the job's deadline. These endpoints are newer than many
accounts' API (the errors one is in private preview): any failure of theirs (a 404 or 410, a timeout, a page loop,
an answer that is not what the docs say) leaves the reason unknown, said once per job at INFO, and never changes a
connection's outcome. An endpoint that answers 404 or 410, or fails twice, is not asked again in the job.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from eltops.errors import ApiStatusError, EltopsError
from eltops.fivetran._client import FivetranClient
from eltops.fivetran._models import ActiveError, Connection, SyncRecord

log = logging.getLogger("eltops.fivetran")

REASON_SECONDS = 10.0
"""At most this long for each of the two look-ups of one connection's reason (never past the job's deadline)."""
MAX_HISTORY_PAGES = 3
MAX_ERROR_PAGES = 2
MAX_ERRORS_SAID = 3
HISTORY_WINDOW = timedelta(days=7)  # Fivetran's limit on a sync history window
MAX_FAILURES = 2  # an endpoint that failed this often (or answered 404/410 once) is not asked again in this job
MATCH_SLACK = timedelta(minutes=2)  # a record ending this close to failed_at is that failure
_GONE = (404, 410)  # the endpoint does not exist for this account or API version
_T = TypeVar("_T")


@dataclass(frozen=True)
class FailureReason:
    """What Fivetran says went wrong (``reason``) and, when it says, what to do about it (``remediation``)."""

    reason: str
    remediation: str = ""

    def __str__(self) -> str:
        return f"{self.reason} (what to do: {self.remediation})" if self.remediation else self.reason


class ReasonFinder:
    """Finds the reasons of one job's failures; remembers which endpoints are missing, and says so only once."""

    def __init__(self, client: FivetranClient) -> None:
        self.client = client
        self._failures: dict[str, int] = {}
        self._said = False
        self._lock = threading.Lock()

    def for_sync(self, connection: Connection, baseline: datetime | None) -> FailureReason | None:
        """Why the sync that failed at ``connection.failed_at`` (after ``baseline``) failed, if Fivetran says."""
        failed_at = connection.failed_at
        if failed_at is None:
            return None
        record = self._ask("sync-history", connection.id, lambda: self._record(connection.id, failed_at, baseline))
        errors = self._ask(
            "errors",
            connection.id,
            lambda: self.client.connection_errors(connection.id, within=REASON_SECONDS, max_pages=MAX_ERROR_PAGES),
        )
        return _combine(record, errors or [])

    def for_setup(self, connection: Connection) -> FailureReason | None:
        """The reason a connection's setup is broken: its active errors, if Fivetran says."""
        errors = self._ask(
            "errors",
            connection.id,
            lambda: self.client.connection_errors(connection.id, within=REASON_SECONDS, max_pages=MAX_ERROR_PAGES),
        )
        return _combine(None, errors or [])

    def _record(self, connection_id: str, failed_at: datetime, baseline: datetime | None) -> SyncRecord | None:
        api_now = self.client.watch.api_now
        end = max(api_now or failed_at, failed_at) + timedelta(seconds=1)
        start = max(baseline or failed_at - timedelta(hours=1), end - HISTORY_WINDOW)
        start = min(start, failed_at - timedelta(seconds=1))
        records = self.client.sync_history(
            connection_id,
            start=start,
            end=end,
            within=REASON_SECONDS,
            max_pages=MAX_HISTORY_PAGES,
        )
        return _the_failure(records, failed_at)

    def _ask(self, endpoint: str, connection_id: str, call: Callable[[], _T]) -> _T | None:
        """``call``, or None when the endpoint is missing or answers anything but what its docs say."""
        with self._lock:
            if self._failures.get(endpoint, 0) >= MAX_FAILURES:
                return None
        try:
            return call()
        except EltopsError as exc:
            gone = isinstance(exc, ApiStatusError) and exc.status_code in _GONE
            with self._lock:
                self._failures[endpoint] = MAX_FAILURES if gone else self._failures.get(endpoint, 0) + 1
            self._say(f"Fivetran's {endpoint} endpoint did not say why ({exc})", connection_id)
        return None

    def _say(self, what: str, connection_id: str) -> None:
        with self._lock:
            if self._said:
                log.debug("%s: %s", connection_id, what)
                return
            self._said = True
        log.info("%s: %s; the failure is reported without its reason", connection_id, what)


def _the_failure(records: list[SyncRecord], failed_at: datetime) -> SyncRecord | None:
    """The failed record that ended at ``failed_at`` (within ``MATCH_SLACK``), else the newest failed one."""
    failed = [r for r in records if r.failed]
    if not failed:
        return None
    near = [r for r in failed if r.ended_at is not None and abs(r.ended_at - failed_at) <= MATCH_SLACK]
    if near:
        return min(near, key=lambda r: abs((r.ended_at or failed_at) - failed_at))
    dated = [r for r in failed if r.ended_at is not None]
    return max(dated, key=lambda r: r.ended_at or failed_at) if dated else failed[-1]


def _combine(record: SyncRecord | None, errors: list[ActiveError]) -> FailureReason | None:
    """The sync's reason (else the first error's), and the errors' remediation text."""
    said = [e for e in errors if e.reason or e.title or e.message][:MAX_ERRORS_SAID]
    reason = _line(record.reason) if record is not None else ""
    if not reason and said:
        first = said[0]
        title, why = _line(first.title), _line(first.reason)
        reason = f"{title}: {why}" if title and why else why or title
    remediation = " ".join(_sentence(e.message) for e in said if e.message)
    if not reason and not remediation:
        return None
    return FailureReason(reason or "Fivetran lists an active error", remediation)


def _line(text: str) -> str:
    """``text`` on one line (a reason goes into log lines, table cells and annotations), without a final period."""
    return " ".join(text.split()).rstrip(".")


def _sentence(text: str) -> str:
    text = " ".join(text.split())
    return text if text.endswith((".", "!", "?")) else f"{text}."
