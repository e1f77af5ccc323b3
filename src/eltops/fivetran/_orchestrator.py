"""The orchestrator: one action (STATUS, START, TEST, FORCE_RESYNC) on one or more connections, within a deadline.

How a sync is known to be over (API-NOTES "Deciding that a sync finished"): read the connection right before the
trigger and keep ``max(succeeded_at, failed_at)`` as the baseline; the sync is over once either timestamp moves
strictly past it, and it succeeded when the newer of the two is ``succeeded_at``. ``sync_state`` is only used to
report progress and to notice a *rescheduled* sync, which under manual scheduling Fivetran never resumes by itself:
the orchestrator triggers it again at ``rescheduled_for``.

Time: ``clock`` (monotonic) measures the deadline, ``wall_clock`` (epoch seconds) is only compared with
``rescheduled_for``, and ``sleep`` is injected so tests run without waiting.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

from eltops._deadline import Clock, Deadline, Sleep
from eltops.errors import (
    ApiError,
    EltopsError,
    ExitCode,
    JobTimeout,
    RemoteOperationFailed,
)
from eltops.fivetran._client import FivetranClient
from eltops.fivetran._models import Connection, SetupTest, SyncOutcome, format_timestamp
from eltops.fivetran._settings import Action, ConnectionRef, FivetranSettings

log = logging.getLogger("eltops.fivetran")

MAX_CONCURRENT_CONNECTIONS = 16
HEARTBEAT_SECONDS = 60.0


# When connections end differently, the job's exit code is the most severe: an API error (we cannot tell what
# happened) over a definite failure over a timeout (a pipeline may choose to tolerate only timeouts).
OUTCOMES = {
    ExitCode.OK: "succeeded",
    ExitCode.REMOTE_FAILED: "failed",
    ExitCode.TIMEOUT: "timed out",
    ExitCode.CONFIG: "invalid",
    ExitCode.API: "API error",
}
"""How each exit code is said in summaries and recorded as an external status."""


class JobCancelled(Exception):
    """The job was interrupted (Ctrl-C or SIGTERM) while waiting; not an EltopsError, so it is never a result."""


_SEVERITY = [ExitCode.OK, ExitCode.TIMEOUT, ExitCode.REMOTE_FAILED, ExitCode.CONFIG, ExitCode.API]


@dataclass(frozen=True)
class ConnectionResult:
    """How the action ended for one connection."""

    ref: str
    connection_id: str | None
    exit_code: ExitCode
    message: str
    started_at: datetime
    finished_at: datetime
    connection: Connection | None = None
    setup_tests: tuple[SetupTest, ...] = ()

    @property
    def ok(self) -> bool:
        return self.exit_code is ExitCode.OK

    @property
    def outcome(self) -> str:
        return OUTCOMES[self.exit_code]

    @property
    def duration_seconds(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()


@dataclass(frozen=True)
class JobResult:
    action: Action
    results: tuple[ConnectionResult, ...]
    started_at: datetime
    finished_at: datetime

    @property
    def exit_code(self) -> ExitCode:
        return max((r.exit_code for r in self.results), key=_SEVERITY.index, default=ExitCode.OK)


def _now_utc(wall_clock: Clock) -> datetime:
    return datetime.fromtimestamp(wall_clock(), tz=UTC)


@dataclass
class Orchestrator:
    """Runs ``settings.action`` on every configured connection, concurrently, and reports each outcome."""

    client: FivetranClient
    settings: FivetranSettings
    clock: Clock = time.monotonic
    wall_clock: Clock = time.time
    sleep: Sleep | None = None  # None: wait on ``cancelled``, so cancel() interrupts every wait at once

    cancelled: threading.Event = field(default_factory=threading.Event)

    def cancel(self) -> None:
        """Stop every connection's wait at its next sleep or poll (the remote operations go on)."""
        self.cancelled.set()

    def wait(self, seconds: float) -> None:
        if self.cancelled.is_set():
            raise JobCancelled("cancelled")
        if self.sleep is not None:
            self.sleep(seconds)
        elif self.cancelled.wait(seconds):
            raise JobCancelled("cancelled")

    def run(self) -> JobResult:
        deadline = Deadline(self.settings.timeout, self.clock)
        started = _now_utc(self.wall_clock)
        refs = self.settings.connections
        if len(refs) == 1:
            results = [self._run_one(refs[0], deadline)]
        else:
            workers = min(len(refs), MAX_CONCURRENT_CONNECTIONS)
            pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fivetran")
            try:
                results = list(pool.map(lambda ref: self._run_one(ref, deadline), refs))
            except BaseException:
                # interrupted (Ctrl-C, SIGTERM): stop the workers' waits instead of waiting for their syncs
                self.cancel()
                raise
            finally:
                pool.shutdown(wait=True, cancel_futures=True)
        return JobResult(self.settings.action, tuple(results), started, _now_utc(self.wall_clock))

    # -- one connection -----------------------------------------------------------------------------------------

    def _run_one(self, ref: ConnectionRef, deadline: Deadline) -> ConnectionResult:
        return _ConnectionRun(self, ref, deadline).execute()


class _ConnectionRun:
    """The state of one connection's action: which id, the last connection read, and how it ended."""

    def __init__(self, orchestrator: Orchestrator, ref: ConnectionRef, deadline: Deadline) -> None:
        self.o = orchestrator
        self.client = orchestrator.client
        self.settings = orchestrator.settings
        self.ref = ref
        self.deadline = deadline
        self.connection_id = ref.id
        self.connection: Connection | None = None
        self.setup_tests: tuple[SetupTest, ...] = ()
        self.started_at = _now_utc(orchestrator.wall_clock)

    def info(self, message: str, *args: object) -> None:
        log.info(f"{self.ref}: {message}", *args)

    def execute(self) -> ConnectionResult:
        try:
            message = self._act()
            code = ExitCode.OK
        except EltopsError as exc:
            message, code = str(exc), exc.exit_code
            log.error("%s: %s", self.ref, message)
        return ConnectionResult(
            ref=str(self.ref),
            connection_id=self.connection_id,
            exit_code=code,
            message=message,
            started_at=self.started_at,
            finished_at=_now_utc(self.o.wall_clock),
            connection=self.connection,
            setup_tests=self.setup_tests,
        )

    def _act(self) -> str:
        connection_id = self._resolve_id()
        self.connection = self.client.get_connection(connection_id, deadline=self.deadline)
        if self.settings.disable_schedule:
            self._make_schedule_manual()
        action = self.settings.action
        if action is Action.STATUS:
            return f"status read: setup {self.connection.setup_state}, sync {self.connection.sync_state}"
        if action is Action.TEST:
            return self._run_setup_tests()
        return self._sync_and_wait()

    def _resolve_id(self) -> str:
        if self.ref.id is not None:
            return self.ref.id
        assert self.ref.group_name is not None
        assert self.ref.connection_name is not None
        self.connection_id = self.client.find_connection(
            self.ref.group_name, self.ref.connection_name, deadline=self.deadline
        )
        self.info("is connection %s", self.connection_id)
        return self.connection_id

    def _make_schedule_manual(self) -> None:
        """Switch to manual scheduling, only when needed (each PATCH alerts the customer); warn if it fails."""
        assert self.connection is not None
        if self.connection.is_manual:
            return
        try:
            self.connection = self.client.modify_connection(
                self.connection.id,
                {"schedule_type": "manual", "run_setup_tests": False},
                deadline=self.deadline,
            )
            self.info("schedule_type set to manual (FIVETRAN_DONT_DISABLE_SYNC keeps it as it is)")
        except ApiError as exc:
            log.warning("%s: could not set schedule_type to manual, going on: %s", self.ref, exc)

    # -- TEST ---------------------------------------------------------------------------------------------------

    def _run_setup_tests(self) -> str:
        assert self.connection is not None
        self.connection, self.setup_tests = self.client.run_setup_tests(self.connection.id, deadline=self.deadline)
        for test in self.setup_tests:
            detail = f": {test.message}" if test.message and not test.passed else ""
            self.info("%-7s %s%s", test.status, test.title, detail)
        failed = [t for t in self.setup_tests if not t.passed]
        summary = f"{len(self.setup_tests) - len(failed)} passed, {len(failed)} failed"
        if failed:
            listing = "; ".join(f"{t.title} [{t.status}]{': ' + t.message if t.message else ''}" for t in failed)
            raise RemoteOperationFailed(f"setup tests: {summary} — {listing}")
        return f"setup tests: {summary}"

    # -- START / FORCE_RESYNC -----------------------------------------------------------------------------------

    def _sync_and_wait(self) -> str:
        assert self.connection is not None
        self._check_can_sync()
        connection_id = self.connection.id
        baseline = self.connection.last_finished_at
        if self.settings.action is Action.FORCE_RESYNC:
            assert self.settings.schema is not None
            self.client.resync_tables(connection_id, self.settings.schema, self.settings.tables, deadline=self.deadline)
            self.info("re-sync of %s.%s triggered", self.settings.schema, ",".join(self.settings.tables))
        else:
            self.client.trigger_sync(connection_id, deadline=self.deadline)
            self.info("sync triggered")
        finished = self._wait_until_finished(baseline)
        self.connection = finished
        self.info(
            "final status: sync_state=%s setup_state=%s succeeded_at=%s failed_at=%s",
            finished.sync_state,
            finished.setup_state,
            format_timestamp(finished.succeeded_at),
            format_timestamp(finished.failed_at),
        )
        if finished.last_outcome is SyncOutcome.FAILED:
            raise RemoteOperationFailed(
                f"the sync failed at {format_timestamp(finished.failed_at)} (see the connection's logs in Fivetran)"
            )
        return f"the sync succeeded at {format_timestamp(finished.succeeded_at)}"

    def _check_can_sync(self) -> None:
        assert self.connection is not None
        if self.connection.is_paused:
            if not self.settings.unpause:
                raise RemoteOperationFailed(
                    "the connection is paused, so a sync would never run; resume it in Fivetran, or let eltops "
                    "do it with --unpause (FIVETRAN_UNPAUSE=1)"
                )
            self.connection = self.client.modify_connection(
                self.connection.id, {"paused": False}, deadline=self.deadline
            )
            self.info("unpaused")
        if self.connection.setup_is_broken:
            raise RemoteOperationFailed(
                f"the connection's setup is {self.connection.setup_state}, so a sync cannot succeed; run the "
                "setup tests (FIVETRAN_ACTION=TEST) to see what is wrong and fix it in Fivetran"
            )

    def _wait_until_finished(self, baseline: datetime | None) -> Connection:
        assert self.connection is not None
        connection_id = self.connection.id
        last_state = self.connection.sync_state
        waited_since_heartbeat = 0.0
        while True:
            self._sleep(self.settings.poll_interval)
            waited_since_heartbeat += self.settings.poll_interval
            try:
                current = self.client.get_connection(connection_id, deadline=self.deadline)
            except JobTimeout:
                raise self._timeout() from None
            self.connection = current
            if current.finished_since(baseline):
                return current
            if current.sync_state != last_state:
                self.info("sync_state %s → %s", last_state, current.sync_state)
                last_state = current.sync_state
            elif waited_since_heartbeat >= HEARTBEAT_SECONDS:
                self.info("still %s after %.0f s", current.sync_state, self.deadline.elapsed())
                waited_since_heartbeat = 0.0
            if current.is_rescheduled and current.is_manual:
                self._trigger_again_when_rescheduled(current)
            elif current.is_paused:
                raise RemoteOperationFailed("the connection was paused while the sync was awaited")

    def _trigger_again_when_rescheduled(self, current: Connection) -> None:
        """Under manual scheduling a rescheduled sync only resumes when triggered again at ``rescheduled_for``."""
        resume_at = current.rescheduled_for
        if resume_at is None:
            return
        wait = resume_at.timestamp() - self.o.wall_clock()
        if wait >= self.deadline.remaining():
            resume = format_timestamp(resume_at)
            raise JobTimeout(
                f"Fivetran rescheduled the sync (the source's API quota ran out) to resume at {resume}, "
                f"which is after this job's deadline ({self.settings.timeout:g} s). Under manual scheduling it "
                "will not resume by itself: run this job again after that moment, or raise FIVETRAN_TIMEOUT"
            )
        self.info("rescheduled by Fivetran until %s; triggering it again then", format_timestamp(resume_at))
        if wait > 0:
            self.o.wait(wait)
        self.client.trigger_sync(current.id, deadline=self.deadline)
        self.info("sync triggered again after the reschedule")

    def _sleep(self, seconds: float) -> None:
        remaining = self.deadline.remaining()
        if remaining <= 0:
            raise self._timeout()
        self.o.wait(min(seconds, remaining))

    def _timeout(self) -> JobTimeout:
        state = self.connection.sync_state if self.connection else "unknown"
        return JobTimeout(
            f"the sync did not finish within {self.settings.timeout:g} s (last sync_state: {state}); it goes "
            "on in Fivetran, which has no API to cancel it. Raise FIVETRAN_TIMEOUT to wait longer"
        )
