"""``--every``: run a job at a fixed interval until Ctrl-C, on an injected clock and sleep.

The interval is measured from the start of one run to the start of the next: a run that takes 4 minutes of a
15-minute interval is followed by an 11-minute wait, one that takes longer by none. A run that fails with an
:class:`~eltops.errors.EltopsError` is reported and the next one still comes (the exit code, when Ctrl-C stops
the loop, is that of the last run). Ctrl-C while waiting stops the loop cleanly; during a run it reaches the
caller, as it would without ``--every``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from eltops._deadline import Clock, Sleep
from eltops.errors import EltopsError

__all__ = ["Every"]


@dataclass(frozen=True, kw_only=True)
class Every:
    """A schedule: every ``seconds``, measured on ``clock``, waiting with ``sleep`` (both injectable)."""

    seconds: float
    clock: Clock = time.monotonic
    sleep: Sleep = time.sleep

    def run(
        self,
        job: Callable[[bool], None],
        *,
        failed: Callable[[EltopsError], None],
        waiting: Callable[[float], None],
        stopped: Callable[[], None],
    ) -> int:
        """Call ``job(first)`` at each interval until Ctrl-C while waiting; the exit code of the last run.

        ``failed`` hears of a run's error, ``waiting`` of each wait (in seconds) before it starts, ``stopped`` of
        the Ctrl-C that ended the loop.
        """
        exit_code = 0
        first = True
        while True:
            started = self.clock()
            try:
                job(first)
                exit_code = 0
            except EltopsError as exc:
                failed(exc)
                exit_code = int(exc.exit_code)
            first = False
            wait = max(0.0, self.seconds - (self.clock() - started))
            try:
                waiting(wait)
                self.sleep(wait)
            except KeyboardInterrupt:
                stopped()
                return exit_code
