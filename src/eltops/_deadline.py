"""A deadline that bounds a whole job: every HTTP timeout, retry sleep and poll sleep is cut to fit it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

Clock = Callable[[], float]
Sleep = Callable[[float], None]


@dataclass
class Deadline:
    """The moment, on ``clock``, after which the job gives up; ``seconds=None`` means never."""

    seconds: float | None
    clock: Clock = time.monotonic
    started: float = field(init=False)

    def __post_init__(self) -> None:
        self.started = self.clock()

    def remaining(self) -> float:
        """Seconds left (``inf`` without a deadline, never negative)."""
        if self.seconds is None:
            return float("inf")
        return max(0.0, self.started + self.seconds - self.clock())

    @property
    def expired(self) -> bool:
        return self.remaining() <= 0.0

    def elapsed(self) -> float:
        return self.clock() - self.started


NO_DEADLINE = Deadline(None)
