"""The orchestrator: one action (STATUS, START, TEST, FORCE_RESYNC, RESYNC, WAIT, CHECK) on a fleet, or TRANSFORM,
within one deadline. (CHECK's verdicts are in ``_check``, transformations in ``_transformations``.)

Two phases. First each connection is read, prepared and triggered (a bounded pool: the API calls are short).
Then one loop waits for all of them: per poll interval it reads each group's connection listing once
(``GET /v1/groups/{id}/connections``, every item carries ``succeeded_at``, ``failed_at`` and ``status``) instead
of one ``GET`` per connection, so waiting has no concurrency cap and costs one request per group per poll. A
connection alone in its group, or missing from its group's listing, is read directly. The first poll comes
``FIRST_POLL_SECONDS`` after the triggers, and the waits double from there up to the poll interval (1, 2, 4, 8, 10,
10 ... s with the default 10 s), so a sync that ends at once is seen in about a second, and a long one costs
``log2(interval)`` polls more than polling at the interval from the start (:func:`poll_waits`).

How a sync is known to be over (API-NOTES "Deciding that a sync finished"): read the connection right before the
trigger and keep ``max(succeeded_at, failed_at)`` as the baseline; the sync is over once either timestamp moves
strictly past it, and it succeeded when the newer of the two is ``succeeded_at``. ``sync_state`` is only used to
report progress and to notice a *rescheduled* sync, which under manual scheduling Fivetran never resumes by itself:
the orchestrator triggers it again at ``rescheduled_for``.

Time: the deadline is the client's (:attr:`FivetranClient.deadline`, bound when the job started, before its start
was recorded), so the orchestrator's waits and every request end at the same moment; ``wall_clock`` (epoch seconds)
only schedules the wait for ``rescheduled_for`` (the delay itself is taken on the API's clock, its ``Date``), and
``sleep`` is injected so tests run without waiting.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from typing import Protocol, TypeVar

import orjson

from eltops._deadline import Clock, Sleep
from eltops.errors import (
    ApiError,
    ApiStatusError,
    ConfigError,
    EltopsError,
    ExitCode,
    JobTimeout,
    RemoteOperationFailed,
)
from eltops.fivetran._client import Directory, FivetranClient, unknown_connection
from eltops.fivetran._models import Connection, SetupTest, SyncOutcome, format_timestamp
from eltops.fivetran._reasons import FailureReason, ReasonFinder
from eltops.fivetran._schedule import Schedule
from eltops.fivetran._settings import ALLOWABLE_TEST_STATUSES, Action, ConnectionRef, FivetranSettings, IfSyncing
from eltops.fivetran._transformations import TransformationResult, TransformationRunner, integrated_holds

log = logging.getLogger("eltops.fivetran")

MAX_CONCURRENT_TRIGGERS = 16
HEARTBEAT_SECONDS = 60.0  # a "still waiting" log line this often: what a CI log shows of a long wait
FleetProgress = Callable[[Sequence[tuple[str, str]], float], None]
"""Told after every poll: (connection, sync_state) of each connection still awaited, and seconds waited so far."""
LOW_BUDGET_FRACTION = 0.1  # below this share of X-Rate-Limit left, polls are spread over the rest of the hour
LOW_BUDGET_REQUESTS = 2000  # the same, when the API does not say its limit
RESTORE_GRACE_SECONDS = 5.0  # putting a schedule back may run this long past the job's deadline
MAX_SLOWDOWN = 10.0  # a budget-stretched poll interval is at most this many poll intervals (and at least 60 s)
FIRST_POLL_SECONDS = 1.0  # the first status read after a trigger; each next wait doubles, up to the poll interval


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

TRIGGERED = "triggered"  # FIVETRAN_WAIT=false: the sync was asked for, not waited for (exit 0)
SKIPPED = "skipped"  # FIVETRAN_SKIP_IF_SYNCED_WITHIN: fresh enough already (exit 0)
DECLINED = "declined"  # RESYNC answered 409: a running sync could not be completed (exit 1)


class JobCancelled(Exception):
    """The job was interrupted (Ctrl-C or SIGTERM) while waiting; not an EltopsError, so it is never a result."""


class _ExplainedFailure(RemoteOperationFailed):
    """A failure that carries Fivetran's reason for it."""

    def __init__(self, message: str, reason: FailureReason | None) -> None:
        super().__init__(message)
        self.reason = reason


class ResyncDeclined(RemoteOperationFailed):
    """Fivetran answered a re-sync with 409: a sync is running and could not be completed."""


class SyncObserver(Protocol):
    """Told when a sync this job awaits begins (triggered, or joined) and how each such connection ended.

    eltops' lineage is one (:mod:`eltops.lineage`). Its calls come from the orchestrator's threads, must return at
    once, and whatever they raise is logged and ignored: an observer never changes a job's outcome.
    """

    def sync_started(self, connection: Connection, baseline: datetime | None, at: datetime) -> None: ...

    def sync_ended(self, result: ConnectionResult) -> None: ...


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
    baseline: datetime | None = None  # the sync awaited (or to await later) is one that ends strictly after this
    label: str | None = None  # an outcome of its own (triggered, skipped, declined); else the exit code's
    reason: FailureReason | None = None  # why it failed, in Fivetran's words, when Fivetran says
    previous_schedule: Schedule | None = None  # the schedule this job replaced with manual
    schedule_restored: bool | None = None  # FIVETRAN_RESTORE_SCHEDULE: put back (True), could not be (False)

    @property
    def ok(self) -> bool:
        return self.exit_code is ExitCode.OK

    @property
    def outcome(self) -> str:
        return self.label or OUTCOMES[self.exit_code]

    @property
    def duration_seconds(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()


@dataclass(frozen=True)
class JobResult:
    action: Action
    results: tuple[ConnectionResult, ...]
    started_at: datetime
    finished_at: datetime
    transformations: tuple[TransformationResult, ...] = ()  # TRANSFORM's, or FIVETRAN_THEN_TRANSFORM's
    test_allow: frozenset[str] = frozenset()  # setup-test statuses accepted (FIVETRAN_TEST_ALLOW)

    @property
    def exit_code(self) -> ExitCode:
        codes = [r.exit_code for r in self.results] + [t.exit_code for t in self.transformations]
        return max(codes, key=_SEVERITY.index, default=ExitCode.OK)


def poll_waits(poll_interval: float) -> Iterator[float]:
    """The waits before each poll: ``FIRST_POLL_SECONDS``, then doubling, capped at ``poll_interval``, for ever."""
    wait = min(FIRST_POLL_SECONDS, poll_interval)
    while True:
        yield wait
        wait = min(wait * 2, poll_interval)


def _now_utc(wall_clock: Clock) -> datetime:
    return datetime.fromtimestamp(wall_clock(), tz=UTC)


_T = TypeVar("_T")


@dataclass
class Orchestrator:
    """Runs ``settings.action`` on every configured connection and reports each outcome, within the client's deadline.

    ``poll_by_group=False`` polls each connection with its own ``GET`` (the benchmark's comparison).
    """

    client: FivetranClient
    settings: FivetranSettings
    wall_clock: Clock = time.time
    sleep: Sleep | None = None  # None: wait on ``cancelled``, so cancel() interrupts every wait at once
    poll_by_group: bool = True
    progress: FleetProgress | None = None  # told each awaited connection's sync state after every poll (a live line)
    observer: SyncObserver | None = None

    cancelled: threading.Event = field(default_factory=threading.Event)
    reasons: ReasonFinder = field(init=False, repr=False)
    _runs: list[_ConnectionRun | ConnectionResult] = field(default_factory=list, init=False, repr=False)
    _restored: dict[str, bool] = field(default_factory=dict, init=False, repr=False)
    _restore_started: bool = field(default=False, init=False, repr=False)
    _started: datetime | None = field(default=None, init=False, repr=False)
    _transformer: TransformationRunner | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.reasons = ReasonFinder(self.client)

    def interrupted_result(self) -> JobResult | None:
        """After an interruption (Ctrl-C, SIGTERM): each connection's result so far, the unfinished ones cancelled.

        A connection still awaited ends ``cancelled`` (its sync goes on in Fivetran), so the run history keeps an
        operation for every sync in flight. None when the interruption came before any connection was known.
        """
        transformed = self._transformer.interrupted_results() if self._transformer is not None else ()
        if self._started is None or not (self._runs or transformed):
            return None
        now = _now_utc(self.wall_clock)
        results = []
        for slot in self._runs:
            if isinstance(slot, ConnectionResult):
                results.append(slot)
            elif slot.result is not None:
                results.append(slot.result)
            else:
                results.append(
                    ConnectionResult(
                        ref=slot.ref,
                        connection_id=slot.connection_id,
                        exit_code=ExitCode.TIMEOUT,  # like a timeout: eltops stopped waiting, the sync goes on
                        message="cancelled while waiting: the sync goes on in Fivetran",
                        started_at=slot.started_at,
                        finished_at=now,
                        connection=slot.connection,
                        setup_tests=slot.setup_tests,
                        baseline=slot.baseline,
                        label="cancelled",
                        previous_schedule=slot.previous_schedule,
                    )
                )
        results = [replace(r, schedule_restored=self._restored.get(r.connection_id or "")) for r in results]
        return JobResult(
            self.settings.action,
            tuple(results),
            self._started,
            now,
            transformations=transformed,
            test_allow=self.settings.test_allow,
        )

    def restore_schedules(self) -> None:
        """FIVETRAN_RESTORE_SCHEDULE: put back every schedule this job replaced, at once (in parallel), each within
        the job's deadline plus ``RESTORE_GRACE_SECONDS``; a failure is a warning, never a different outcome."""
        if not self.settings.restore_schedule or self._restore_started:
            return
        self._restore_started = True
        runs = [slot for slot in self._runs if isinstance(slot, _ConnectionRun) and slot.previous_schedule]

        def restore(run: _ConnectionRun) -> None:
            restored = run.restore_schedule()
            if restored is not None:
                self._restored[run.connection_id] = restored

        self._each(runs, restore, cancel_on_error=False)

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
        """Run the action on every connection; with FIVETRAN_RESTORE_SCHEDULE, put back the schedules it replaced
        when it ends, however it ends (a timeout, an error, Ctrl-C, SIGTERM)."""
        started = self._started = _now_utc(self.wall_clock)
        action, more = self.settings.action, self.settings.more
        if action is Action.TRANSFORM:
            transformer = self._transformations()
            transformer.check(more.transformation_ids)  # an unknown id is exit 2 before anything runs
            done = transformer.run(more.transformation_ids)
            return JobResult(action, (), started, _now_utc(self.wall_clock), transformations=done)
        then: TransformationRunner | None = None
        if more.then_transform:
            then = self._transformations()
            then.check(more.then_transform)
        try:
            slots = self._runs = self._resolve()
            runs = [slot for slot in slots if isinstance(slot, _ConnectionRun)]
            if action is Action.CHECK:
                from eltops.fivetran._check import FreshnessCheck

                FreshnessCheck(self).run(runs)
            else:
                self._each(runs, lambda run: run.prepare())
                waiting = [run for run in runs if run.result is None]
                if waiting:
                    _FleetWait(self, waiting).run()
        except BaseException:
            self.restore_schedules()
            raise
        self.restore_schedules()
        results = [slot if isinstance(slot, ConnectionResult) else slot.final() for slot in slots]
        results = [replace(r, schedule_restored=self._restored.get(r.connection_id or "")) for r in results]
        done = self._then_transform(then, tuple(results)) if then is not None else ()
        return JobResult(
            action,
            tuple(results),
            started,
            _now_utc(self.wall_clock),
            transformations=done,
            test_allow=self.settings.test_allow,
        )

    def _transformations(self) -> TransformationRunner:
        more = self.settings.more
        self._transformer = TransformationRunner(
            self.client,
            wait=self.wait,
            poll_interval=self.settings.poll_interval,
            timeout=self.settings.timeout,
            full_refresh=more.full_refresh,
            allow_partial=more.allow_partial,
            wall_clock=self.wall_clock,
        )
        return self._transformer

    def _then_transform(
        self, transformer: TransformationRunner, results: tuple[ConnectionResult, ...]
    ) -> tuple[TransformationResult, ...]:
        """FIVETRAN_THEN_TRANSFORM: run the transformations once every sync succeeded; else none, saying why."""
        ids = self.settings.more.then_transform
        failed = [r for r in results if not r.ok]
        if not failed:
            log.info("every sync succeeded: running transformation(s) %s", ", ".join(ids))
            return transformer.run(ids)
        code = max((r.exit_code for r in failed), key=_SEVERITY.index)
        names = ", ".join(r.ref for r in failed)
        message = f"not run: {len(failed)} sync(s) did not succeed ({names}), so no transformation ran"
        log.error("%s", message)
        now = _now_utc(self.wall_clock)
        return tuple(TransformationResult(tid, code, message, now, now, label="not run") for tid in dict.fromkeys(ids))

    def _each(self, items: Sequence[_T], work: Callable[[_T], None], *, cancel_on_error: bool = True) -> None:
        """``work`` on every item: inline for one, on a bounded pool for several (short API calls, no waits)."""
        if len(items) <= 1:
            for item in items:
                work(item)
            return
        pool = ThreadPoolExecutor(max_workers=min(len(items), MAX_CONCURRENT_TRIGGERS), thread_name_prefix="fivetran")
        try:
            list(pool.map(work, items))
        except BaseException:
            if cancel_on_error:
                self.cancel()  # interrupted (Ctrl-C, SIGTERM): the other workers stop at their next wait
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _resolve(self) -> list[_ConnectionRun | ConnectionResult]:
        """One run per connection (ids, ``<group>/<name>``, every connection of ``group:<name>``), in order.

        Names are resolved with one listing of the groups and one of each group named; the listing's item is the
        connection's first read. A reference that cannot be resolved becomes its own result.
        """
        directory = Directory(self.client)
        slots: list[_ConnectionRun | ConnectionResult] = []
        seen: set[str] = set()
        for ref in self.settings.connections:
            started = _now_utc(self.wall_clock)
            try:
                found = self._lookup(directory, ref)
            except EltopsError as exc:
                log.error("%s: %s", ref, exc)
                slots.append(
                    ConnectionResult(str(ref), None, exc.exit_code, str(exc), started, _now_utc(self.wall_clock))
                )
                continue
            for label, connection_id, connection in found:
                if connection_id not in seen:
                    seen.add(connection_id)
                    slots.append(_ConnectionRun(self, label, connection_id, connection))
        return slots

    @staticmethod
    def _lookup(directory: Directory, ref: ConnectionRef) -> list[tuple[str, str, Connection | None]]:
        if ref.id is not None:
            return [(ref.id, ref.id, None)]
        assert ref.group_name is not None
        if ref.connection_name is None:
            group = directory.group(ref.group_name)
            connections = directory.group_connections(group)
            if not connections:
                raise ConfigError(f"group {ref.group_name!r} has no connections")
            log.info("%s: %d connections", ref, len(connections))
            return [(c.id, c.id, c) for c in connections]
        connection = directory.connection(ref.group_name, ref.connection_name)
        log.info("%s: is connection %s", ref, connection.id)
        return [(str(ref), connection.id, connection)]


class _ConnectionRun:
    """One connection's action: its last read, what is awaited, and (once known) how it ended."""

    def __init__(
        self,
        orchestrator: Orchestrator,
        ref: str,
        connection_id: str,
        connection: Connection | None,
    ) -> None:
        self.o = orchestrator
        self.client = orchestrator.client
        self.settings = orchestrator.settings
        self.ref = ref
        self.deadline = orchestrator.client.deadline
        self.connection_id = connection_id
        self.connection = connection
        self.setup_tests: tuple[SetupTest, ...] = ()
        self.started_at = _now_utc(orchestrator.wall_clock)
        self.baseline: datetime | None = None
        self.then_sync = False  # FIVETRAN_IF_SYNCING=wait-then-sync: once the running sync ends, trigger ours
        self.retrigger_at: float | None = None  # wall-clock moment to trigger a rescheduled sync again
        self.resume_at: datetime | None = None  # the same moment as Fivetran said it (rescheduled_for)
        self.last_state = connection.sync_state if connection else ""
        self.behind: str | None = None  # the integrated transformation its sync waited behind, when one did
        self.result: ConnectionResult | None = None
        self.previous_schedule: Schedule | None = None  # what _make_schedule_manual replaced
        self.observed = False  # the observer was told this connection's sync started

    def _tell(self, call: Callable[[], None]) -> None:
        try:
            call()
        except Exception:
            log.debug("%s: the sync observer failed", self.ref, exc_info=True)

    def _started_sync(self) -> None:
        observer = self.o.observer
        if observer is not None and self.connection is not None and not self.observed:
            self.observed = True
            connection, baseline, at = self.connection, self.baseline, _now_utc(self.o.wall_clock)
            self._tell(lambda: observer.sync_started(connection, baseline, at))

    def info(self, message: str, *args: object) -> None:
        log.info(f"{self.ref}: {message}", *args)

    # -- endings ------------------------------------------------------------------------------------------------

    def finish(
        self, code: ExitCode, message: str, *, label: str | None = None, reason: FailureReason | None = None
    ) -> None:
        if self.behind is not None:
            message += f" (the sync waited behind transformation {self.behind}, on an integrated schedule)"
        if code is not ExitCode.OK:
            log.error("%s: %s", self.ref, message)
        self.result = ConnectionResult(
            ref=self.ref,
            connection_id=self.connection_id,
            exit_code=code,
            message=message,
            started_at=self.started_at,
            finished_at=_now_utc(self.o.wall_clock),
            connection=self.connection,
            setup_tests=self.setup_tests,
            baseline=self.baseline,
            label=label,
            reason=reason,
            previous_schedule=self.previous_schedule,
        )
        observer, result = self.o.observer, self.result
        if observer is not None and self.observed:
            self._tell(lambda: observer.sync_ended(result))

    def fail(self, exc: EltopsError) -> None:
        reason = exc.reason if isinstance(exc, _ExplainedFailure) else None
        self.finish(exc.exit_code, str(exc), label=DECLINED if isinstance(exc, ResyncDeclined) else None, reason=reason)

    def _no_wait(self) -> str:
        """How the user said not to wait: ``--no-wait``, or the variable."""
        source = self.settings.source("FIVETRAN_WAIT")
        return source if source.startswith("--") else "FIVETRAN_WAIT=false"

    def time_out(self) -> None:
        state = self.connection.sync_state if self.connection else "unknown"
        self.fail(
            JobTimeout(
                f"the sync did not finish within {self.settings.timeout:g} s (last sync_state: {state}); it goes "
                "on in Fivetran, which has no API to cancel it. "
                f"Raise {self.settings.source('FIVETRAN_TIMEOUT')} to wait longer"
            )
        )

    def final(self) -> ConnectionResult:
        assert self.result is not None, "every run ends with a result"
        return self.result

    def guarded(self, step: Callable[[], None]) -> None:
        """Run one step; an EltopsError ends this connection (a timeout ends the whole wait: it is re-raised)."""
        try:
            step()
        except JobTimeout:
            raise
        except EltopsError as exc:
            self.fail(exc)

    # -- phase 1: read, prepare, trigger --------------------------------------------------------------------------

    def prepare(self) -> None:
        try:
            self._prepare()
        except EltopsError as exc:
            self.fail(exc)

    def _prepare(self) -> None:
        if self.connection is None:
            try:
                self.connection = self.client.get_connection(self.connection_id)
            except ApiStatusError as exc:
                if exc.status_code == 404 and (exc.api_code or "").startswith("NotFound_"):
                    raise unknown_connection(Directory(self.client), self.connection_id) from None
                raise
            self.last_state = self.connection.sync_state
        action = self.settings.action
        if action is Action.WAIT:
            self._prepare_wait()
            return
        if self.settings.disable_schedule:
            self._make_schedule_manual()
        if action is Action.STATUS:
            self.finish(
                ExitCode.OK,
                f"status read: setup {self.connection.setup_state}, sync {self.connection.sync_state}"
                + (f", data {self.connection.update_state.replace('_', ' ')}" if self.connection.update_state else ""),
            )
            return
        if action is Action.TEST:
            self.finish(ExitCode.OK, self._run_setup_tests())
            return
        self._check_can_sync()
        if action is Action.START and self._fresh_enough():
            return
        self.baseline = self.connection.last_finished_at
        self._trigger()
        self._started_sync()
        if not self.settings.wait:
            self.finish(
                ExitCode.OK,
                f"{'sync' if action is Action.START else 're-sync'} asked for, not waited for ({self._no_wait()}); "
                f"a WAIT job waits for {_after(self.baseline)}",
                label=TRIGGERED,
            )

    def _prepare_wait(self) -> None:
        assert self.connection is not None
        known, moment = self.settings.wait_baseline(self.connection_id)
        if not known:
            raise ConfigError(
                f"FIVETRAN_BASELINE has no entry for {self.connection_id}; set FIVETRAN_COMPLETED_AFTER, or pass "
                "the baseline of the job that triggered it"
            )
        self.baseline = moment
        self.info("waiting for %s", _after(moment))
        self._started_sync()
        self.observe(self.connection)

    def _make_schedule_manual(self) -> None:
        """Switch to manual scheduling, only when needed (each PATCH alerts the customer); warn if it fails.

        What it replaces is kept (``previous_schedule``) and said, so that it can be put back. Only
        ``schedule_type`` is sent: never ``manual`` together with a flexible ``schedule`` (Fivetran's docs).
        """
        assert self.connection is not None
        if self.connection.is_manual:
            return
        previous = self.previous_schedule = Schedule.of(self.connection)  # kept first: an interrupted PATCH may
        try:  # have reached Fivetran, and putting back an unchanged schedule does no harm
            self.connection = self.client.modify_connection(
                self.connection.id,
                {"schedule_type": "manual", "run_setup_tests": False},
            )
        except ApiError as exc:
            self.previous_schedule = None  # refused: nothing was replaced
            log.warning("%s: could not set schedule_type to manual, going on: %s", self.ref, exc)
            return
        then = (
            "it is put back when the job ends (FIVETRAN_RESTORE_SCHEDULE)"
            if self.settings.restore_schedule
            else "to put it back when the job ends, set FIVETRAN_RESTORE_SCHEDULE=1"
        )
        self.info(
            "schedule_type set to manual (set FIVETRAN_DONT_DISABLE_SYNC to leave the schedule as it is), "
            "replacing %s; %s",
            previous.describe(),
            then,
        )

    def restore_schedule(self) -> bool | None:
        """Put back the schedule this job replaced: True when done, False (a warning saying what to restore by hand)
        when it could not be, None when there was nothing to put back."""
        previous = self.previous_schedule
        if previous is None:
            return None
        try:
            self.client.modify_connection_late(self.connection_id, previous.restore_body(), grace=RESTORE_GRACE_SECONDS)
        except EltopsError as exc:
            log.warning(
                "%s: could not put the schedule back (%s); restore it by hand in Fivetran: %s, i.e. PATCH "
                "/v1/connections/%s with %s",
                self.ref,
                exc,
                previous.describe(),
                self.connection_id,
                orjson.dumps(previous.restore_body()).decode(),
            )
            return False
        self.info("schedule put back: %s (FIVETRAN_RESTORE_SCHEDULE)", previous.describe())
        return True

    def _run_setup_tests(self) -> str:
        """Every documented status has its outcome: PASSED passes; FAILED and JOB_FAILED (the test job itself failed)
        fail; WARNING and SKIPPED fail unless FIVETRAN_TEST_ALLOW accepts them; an unknown status fails."""
        assert self.connection is not None
        self.connection, self.setup_tests = self.client.run_setup_tests(self.connection.id)
        allow = self.settings.test_allow
        for test in self.setup_tests:
            detail = f": {test.message}" if test.message and not test.passed else ""
            note = " (accepted: FIVETRAN_TEST_ALLOW)" if test.accepted_by(allow) else ""
            self.info("%-10s %s%s%s", test.status, test.title, detail, note)
        failed = [t for t in self.setup_tests if not t.passed and not t.accepted_by(allow)]
        accepted = [t for t in self.setup_tests if t.accepted_by(allow)]
        passed = len(self.setup_tests) - len(failed) - len(accepted)
        summary = f"{passed} passed, " + (
            f"{len(accepted)} accepted ({', '.join(sorted({t.status.upper() for t in accepted}))}), "
            if accepted
            else ""
        )
        summary += f"{len(failed)} failed"
        if failed:
            allowable = sorted({t.status.upper() for t in failed} & set(ALLOWABLE_TEST_STATUSES))
            hint = (
                f"; to accept {' and '.join(allowable)}, set FIVETRAN_TEST_ALLOW={','.join(allowable)} (--allow)"
                if allowable
                else ""
            )
            raise RemoteOperationFailed(f"setup tests: {summary} — {_listing(failed)}{hint}")
        return f"setup tests: {summary}"

    def _check_can_sync(self) -> None:
        assert self.connection is not None
        if self.connection.is_paused:
            if not self.settings.unpause:
                raise RemoteOperationFailed(
                    "the connection is paused, so a sync would never run; resume it in Fivetran, or let eltops "
                    "do it with --unpause (FIVETRAN_UNPAUSE=1)"
                )
            self.connection = self.client.modify_connection(self.connection.id, {"paused": False})
            self.info("unpaused")
        if self.connection.setup_is_broken:
            if self.settings.repair_setup:
                self._repair_setup()
                return
            reason = self.o.reasons.for_setup(self.connection)
            why = f" ({reason})" if reason is not None else ""
            raise _ExplainedFailure(
                f"the connection's setup is {self.connection.setup_state}{why}, so a sync cannot succeed; run the "
                "setup tests (FIVETRAN_ACTION=TEST) to see what is wrong and fix it in Fivetran, or let eltops "
                "run them first with --repair-setup (FIVETRAN_REPAIR_SETUP=1)",
                reason,
            )

    def _repair_setup(self) -> None:
        """Run the setup tests, which re-evaluate the setup; go on when they leave it connected."""
        assert self.connection is not None
        state = self.connection.setup_state
        self.info("setup is %s: running the setup tests to repair it (FIVETRAN_REPAIR_SETUP)", state)
        self.connection, self.setup_tests = self.client.run_setup_tests(self.connection.id)
        if self.connection.setup_is_broken:
            failed = [t for t in self.setup_tests if not t.passed and not t.accepted_by(self.settings.test_allow)]
            detail = f": {_listing(failed)}" if failed else ""
            raise RemoteOperationFailed(
                f"the connection's setup is {self.connection.setup_state} and running the setup tests did not "
                f"repair it{detail}; fix it in Fivetran"
            )
        self.info("the setup tests repaired the setup (%s → %s)", state, self.connection.setup_state)

    def _fresh_enough(self) -> bool:
        """FIVETRAN_SKIP_IF_SYNCED_WITHIN: succeed without a sync when the last success is that recent.

        Measured on the API's clock (the ``Date`` of its answers), never the runner's.
        """
        within = self.settings.skip_if_synced_within
        if within is None:
            return False
        assert self.connection is not None
        now = self.client.watch.api_now
        succeeded = self.connection.succeeded_at
        if now is None:
            log.warning("%s: Fivetran sent no Date header, so the last sync's age is unknown; syncing", self.ref)
            return False
        if succeeded is None:
            return False
        age = (now - succeeded).total_seconds()
        if age > within:
            self.info("last successful sync %.0f s ago, more than %g s: syncing", age, within)
            return False
        self.baseline = self.connection.last_finished_at
        self.finish(
            ExitCode.OK,
            f"fresh enough: the last sync succeeded at {format_timestamp(succeeded)}, {max(age, 0):.0f} s ago by "
            f"Fivetran's clock ({self.settings.source('FIVETRAN_SKIP_IF_SYNCED_WITHIN')} is {within:g} s); no sync "
            "triggered",
            label=SKIPPED,
        )
        return True

    def _trigger(self) -> None:
        assert self.connection is not None
        action = self.settings.action
        if action is Action.FORCE_RESYNC:
            assert self.settings.schema is not None
            self.client.resync_tables(self.connection_id, self.settings.schema, self.settings.tables)
            self.info("re-sync of %s.%s triggered", self.settings.schema, ",".join(self.settings.tables))
        elif action is Action.RESYNC:
            self._resync()
        elif not self.connection.is_syncing:
            # force=false: should a schedule start a sync between the read and now, it is not thrown away
            self.client.trigger_sync(self.connection_id, force=False)
            self.info("sync triggered")
        else:
            self._already_syncing()

    def _already_syncing(self) -> None:
        policy = self.settings.if_syncing
        if policy is IfSyncing.RESTART:
            self.client.trigger_sync(self.connection_id, force=True)
            self.info("already syncing: stopped that sync and started again (FIVETRAN_IF_SYNCING=restart)")
        elif policy is IfSyncing.WAIT:
            self.info("already syncing: waiting for that sync (FIVETRAN_IF_SYNCING=wait)")
        elif self.settings.wait:
            self.then_sync = True
            self.info("already syncing: waiting for that sync to end, then syncing again (FIVETRAN_IF_SYNCING)")
        else:
            self.info(
                f"already syncing: not waiting ({self._no_wait()}), so no second sync follows it; the running "
                "sync is the one a WAIT job sees"
            )

    def _resync(self) -> None:
        scope = self.settings.resync_scope
        try:
            self.client.resync(self.connection_id, scope)
        except ApiStatusError as exc:
            if exc.status_code != 409:
                raise
            raise ResyncDeclined(
                "Fivetran declined the re-sync (409): a sync is running and could not be completed first. Nothing "
                "was re-synced; run RESYNC again once that sync has ended"
            ) from None
        what = "historical re-sync of the whole connection"
        if scope is not None:
            what = "historical re-sync of " + ", ".join(f"{s}.{t}" for s, tables in scope.items() for t in tables)
        self.info("%s triggered", what)

    # -- phase 2: what a poll shows ---------------------------------------------------------------------------------

    def observe(self, current: Connection) -> None:
        """Take in a fresh read of the connection: finished, rescheduled, paused, or still going."""
        self.connection = current
        if current.finished_since(self.baseline):
            self._conclude(current)
            return
        if current.sync_state != self.last_state:
            self.info("sync_state %s → %s", self.last_state or "unknown", current.sync_state)
            self.last_state = current.sync_state
        if current.is_rescheduled and current.is_manual:
            self._plan_retrigger(current)
        elif current.is_paused:
            raise RemoteOperationFailed("the connection is paused, so the awaited sync will not end")

    def _conclude(self, finished: Connection) -> None:
        if self.then_sync:
            self.info(
                "the sync that was running ended at %s; now syncing again", format_timestamp(finished.last_finished_at)
            )
            self.then_sync = False
            self.baseline = finished.last_finished_at
            self.client.trigger_sync(self.connection_id, force=False)
            return
        self.info(
            "final status: sync_state=%s setup_state=%s succeeded_at=%s failed_at=%s",
            finished.sync_state,
            finished.setup_state,
            format_timestamp(finished.succeeded_at),
            format_timestamp(finished.failed_at),
        )
        if finished.last_outcome is SyncOutcome.FAILED:
            reason = self.o.reasons.for_sync(finished, self.baseline)
            why = f": {reason}" if reason is not None else " (see the connection's logs in Fivetran)"
            self.finish(
                ExitCode.REMOTE_FAILED, f"the sync failed at {format_timestamp(finished.failed_at)}{why}", reason=reason
            )
        else:
            self.finish(ExitCode.OK, f"the sync succeeded at {format_timestamp(finished.succeeded_at)}")

    def _plan_retrigger(self, current: Connection) -> None:
        """Under manual scheduling a rescheduled sync only resumes when triggered again at ``rescheduled_for``."""
        resume_at = current.rescheduled_for
        if resume_at is None or self.retrigger_at is not None:
            return
        # how long until then by the API's clock (its Date header), where the API says; else by the runner's
        api_now = self.client.watch.api_now
        delay = (resume_at - api_now).total_seconds() if api_now else resume_at.timestamp() - self.o.wall_clock()
        if delay >= self.deadline.remaining():
            self.fail(
                JobTimeout(
                    f"Fivetran rescheduled the sync (the source's API quota ran out) to resume at "
                    f"{format_timestamp(resume_at)}, which is after this job's deadline ({self.settings.timeout:g} "
                    "s). Under manual scheduling it will not resume by itself: run this job again after that "
                    f"moment, or raise {self.settings.source('FIVETRAN_TIMEOUT')}"
                )
            )
            return
        self.info("rescheduled by Fivetran until %s; triggering it again then", format_timestamp(resume_at))
        self.resume_at = resume_at
        self.retrigger_at = self.o.wall_clock() + max(0.0, delay)

    def retrigger_due(self, wall: float) -> bool:
        """Once ``rescheduled_for`` has come, by the API's clock or (failing that) by the runner's estimate."""
        if self.retrigger_at is None:
            return False
        api_now = self.client.watch.api_now
        return wall >= self.retrigger_at or (
            api_now is not None and self.resume_at is not None and api_now >= self.resume_at
        )

    def retrigger(self) -> None:
        self.retrigger_at = self.resume_at = None
        self.client.trigger_sync(self.connection_id, force=False)
        self.info("sync triggered again after the reschedule")


class _FleetWait:
    """The one loop that waits for every triggered connection: a listing per group per poll, one deadline."""

    def __init__(self, orchestrator: Orchestrator, runs: list[_ConnectionRun]) -> None:
        self.o = orchestrator
        self.client = orchestrator.client
        self.poll_interval = orchestrator.settings.poll_interval
        self.runs = runs
        self.deadline = orchestrator.client.deadline
        self.slowed_to: float | None = None
        self.next_heartbeat = HEARTBEAT_SECONDS
        self.holds_looked_for = False
        self.waits = poll_waits(self.poll_interval)

    def run(self) -> None:
        try:
            self._report()
            while self.runs:
                self._sleep()
                wall = self.o.wall_clock()
                for run in self.runs:
                    if run.retrigger_due(wall):
                        run.guarded(run.retrigger)
                        self.waits = poll_waits(self.poll_interval)  # a new sync: look again soon
                self._poll([run for run in self.runs if run.result is None])
                self.runs = [run for run in self.runs if run.result is None]
                self._look_for_holds()
                self._report()
                self._heartbeat()
        except JobTimeout:
            for run in self.runs:
                if run.result is None:
                    run.time_out()

    def _look_for_holds(self) -> None:
        """Once per job, when a triggered sync is still queued a poll later: is an integrated transformation
        holding it? (Fivetran does not sync a connection while a transformation on an integrated schedule that
        reads it runs.) One listing of the transformations; a listing that fails only costs this note."""
        if self.holds_looked_for or not self.o.settings.action.triggers_sync:
            return
        queued = [
            run
            for run in self.runs
            if run.connection is not None and run.connection.sync_state == "scheduled" and not run.then_sync
        ]
        if not queued:
            return
        self.holds_looked_for = True
        holds = integrated_holds(self.client, [run.connection_id for run in queued])
        for run in queued:
            for transformation in holds.get(run.connection_id, ()):
                run.behind = transformation.id
                run.info(
                    "the sync waits behind transformation %s (%s), which is %s on an integrated schedule: "
                    "Fivetran starts the sync once it ends",
                    transformation.id,
                    transformation.name,
                    transformation.status,
                )

    def _sleep(self) -> None:
        interval = self._interval()
        backoff = next(self.waits)
        wait = interval if self.slowed_to is not None else min(backoff, interval)  # a low budget: no quick reads
        retriggers = [run.retrigger_at for run in self.runs if run.retrigger_at is not None]
        if retriggers:
            wait = min(wait, max(0.0, min(retriggers) - self.o.wall_clock()))
        remaining = self.deadline.remaining()
        if remaining <= 0:
            raise JobTimeout("deadline")
        self.o.wait(min(wait, remaining))

    def _groups(self, runs: list[_ConnectionRun]) -> tuple[dict[str, list[_ConnectionRun]], list[_ConnectionRun]]:
        """(group id → runs polled through its listing, runs read one by one)."""
        by_group: dict[str, list[_ConnectionRun]] = {}
        for run in runs:
            group_id = run.connection.group_id if run.connection is not None else ""
            by_group.setdefault(group_id, []).append(run)
        listed = {g: members for g, members in by_group.items() if g and len(members) > 1 and self.o.poll_by_group}
        single = [run for g, members in by_group.items() if g not in listed for run in members]
        return listed, single

    def _poll(self, runs: list[_ConnectionRun]) -> None:
        self.read(runs, _ConnectionRun.observe)

    def read(self, runs: list[_ConnectionRun], take: Callable[[_ConnectionRun, Connection], None]) -> None:
        """A fresh read of every run's connection handed to ``take``: a listing per group, a GET for the rest."""
        listed, single = self._groups(runs)
        for group_id, members in listed.items():
            try:
                listing = {c.id: c for c in self.client.group_connections(group_id)}
            except JobTimeout:
                raise
            except EltopsError as exc:
                for run in members:
                    run.fail(exc)
                continue
            for run in members:
                current = listing.get(run.connection_id)
                if current is None:
                    run.info("is no longer in its group's listing; reading it directly")
                    single.append(run)
                else:
                    run.guarded(partial(take, run, current))
        for run in single:
            run.guarded(partial(_read_directly, run, take))

    def _interval(self) -> float:
        """The poll interval, stretched when the account's request budget runs low (``X-Rate-Limit-Remaining``)."""
        budget = self.client.watch.budget
        poll = self.poll_interval
        if budget is None:
            return poll
        low = LOW_BUDGET_FRACTION * budget.limit if budget.limit else LOW_BUDGET_REQUESTS
        if budget.remaining >= low:
            if self.slowed_to is not None:
                log.info("Fivetran's request budget has recovered: polling every %g s again", poll)
                self.slowed_to = None
            return poll
        listed, single = self._groups(self.runs)
        per_poll = len(listed) + len(single)
        stretched = 3600.0 * per_poll / max(budget.remaining, 1)
        interval = min(max(poll, stretched), max(poll * MAX_SLOWDOWN, 60.0))
        if self.slowed_to is None or abs(interval - self.slowed_to) > 0.25 * self.slowed_to:
            of = f" of {budget.limit}" if budget.limit else ""
            log.warning(
                "Fivetran's rate limit leaves %d%s requests this hour: polling every %.0f s instead of %g s so "
                "the account does not run dry",
                budget.remaining,
                of,
                interval,
                poll,
            )
            self.slowed_to = interval
        return interval

    def _report(self) -> None:
        """Tell the live line (if any) which connections are still awaited, in which state, after how long."""
        if self.o.progress is not None:
            states = [(run.ref, run.connection.sync_state if run.connection else "unknown") for run in self.runs]
            self.o.progress(states, self.deadline.elapsed())

    def _heartbeat(self) -> None:
        if not self.runs or self.deadline.elapsed() < self.next_heartbeat:
            return
        self.next_heartbeat = self.deadline.elapsed() + HEARTBEAT_SECONDS
        states = Counter(run.connection.sync_state if run.connection else "unknown" for run in self.runs)
        summary = ", ".join(f"{n} {state}" for state, n in sorted(states.items()))
        log.info(
            "still waiting for %d connection(s) after %.0f s: %s", len(self.runs), self.deadline.elapsed(), summary
        )


def _read_directly(run: _ConnectionRun, take: Callable[[_ConnectionRun, Connection], None]) -> None:
    take(run, run.client.get_connection(run.connection_id))


def _after(baseline: datetime | None) -> str:
    if baseline is None:
        return "its first sync to end (none has yet)"
    return f"a sync that ends after {format_timestamp(baseline)}"


def _listing(tests: Sequence[SetupTest]) -> str:
    return "; ".join(
        f"{t.title} [{t.status}{_MEANING.get(t.status.upper(), '')}]{': ' + t.message if t.message else ''}"
        for t in tests
    )


_MEANING = {"JOB_FAILED": ": the test job itself failed"}
