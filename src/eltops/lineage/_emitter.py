"""The emitter: events go out on a thread of their own, so lineage never slows the job, within a budget at the end.

``emit`` only queues (an event, or a function that makes one, so that gathering what an event says, such as a
connection's tables, happens off the job's path too). One worker sends them in order. ``close`` waits for what is
left at most ``budget`` seconds (each request then gets no more than what remains of it) and gives up on the rest:
lineage can add at most the budget to a job's run time, and never changes its outcome or exit code.

A collector that is down (unreachable, timing out, answering 5xx) is not tried again for the rest of the job: its
events are counted and dropped at once. Whatever went wrong is said in one warning, at close. Every event passes
the secrets masker before it leaves.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from eltops._deadline import Clock
from eltops.lineage._transport import DeliveryError, Transport
from eltops.secrets import MASKER

__all__ = ["EmitReport", "Emitter", "EventSource"]

log = logging.getLogger("eltops.lineage")

EventSource = Callable[[], "dict[str, Any] | None"]


@dataclass(frozen=True)
class EmitReport:
    """How emission went: events sent, not sent, and the first problem (None when all went out)."""

    sent: int
    failed: int
    problem: str | None


_STOP = object()


class Emitter:
    """Sends events through ``transport`` on a daemon thread; see the module docstring."""

    def __init__(self, transport: Transport, *, budget: float, clock: Clock = time.monotonic) -> None:
        self.transport = transport
        self.budget = budget
        self._clock = clock
        self._queue: queue.Queue[object] = queue.Queue()
        self._lock = threading.Lock()
        self._sent = 0
        self._failed = 0
        self._problem: str | None = None
        self._down = False
        self._closing_at: float | None = None  # the moment the close budget runs out, once closing
        self._closed = False
        self._worker = threading.Thread(target=self._work, name="eltops-lineage", daemon=True)
        self._worker.start()

    def emit(self, event: dict[str, Any] | EventSource) -> None:
        """Queue an event (or a function returning one, or None for nothing); never blocks, never raises."""
        if not self._closed:
            self._queue.put(event)

    def close(self) -> EmitReport:
        """Send what is queued within the budget, then report; logs one warning if anything was not sent."""
        if self._closed:
            return self.report()
        self._closed = True
        with self._lock:
            self._closing_at = self._clock() + self.budget
        self._queue.put(_STOP)
        self._worker.join(timeout=self.budget)
        if self._worker.is_alive():
            # the event in hand and those behind it: the queue holds them less that one, plus the stop mark
            self._fail(max(1, self._queue.qsize()), f"the lineage budget of {self.budget:g} s ran out")
        else:
            self.transport.close()
        report = self.report()
        if report.failed:
            log.warning(
                "OpenLineage: %d of %d event(s) not delivered to %s: %s (the job's outcome is unchanged)",
                report.failed,
                report.failed + report.sent,
                self.transport.where,
                report.problem,
            )
        elif report.sent:
            log.info("OpenLineage: %d event(s) sent to %s", report.sent, self.transport.where)
        return report

    def report(self) -> EmitReport:
        with self._lock:
            return EmitReport(self._sent, self._failed, self._problem)

    # -- the worker ---------------------------------------------------------------------------------------------

    def _fail(self, count: int, problem: str) -> None:
        with self._lock:
            self._failed += count
            if self._problem is None:
                self._problem = problem

    def _time_left(self) -> float | None:
        with self._lock:
            closing_at = self._closing_at
        return None if closing_at is None else closing_at - self._clock()

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            try:
                self._handle(item)
            except Exception as exc:  # a bug in making an event must never reach the job
                log.debug("lineage event not made", exc_info=True)
                self._fail(1, f"could not make an event: {type(exc).__name__}: {exc}")

    def _handle(self, item: object) -> None:
        if self._down:
            self._fail(1, "the collector was down")
            return
        event = item() if callable(item) else item
        if event is None:
            return
        assert isinstance(event, dict)
        body = MASKER.redact_json_bytes(orjson.dumps(event))
        left = self._time_left()
        timeout = self.transport.timeout or 1.0
        if left is not None:
            if left <= 0:
                self._fail(1, f"the lineage budget of {self.budget:g} s ran out")
                return
            timeout = min(timeout, left)
        try:
            self.transport.send(body, timeout=timeout)
        except DeliveryError as exc:
            if exc.collector_down:
                self._down = True
            self._fail(1, str(exc))
            return
        with self._lock:
            self._sent += 1
