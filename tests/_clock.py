"""A clock tests move by hand, for the Orchestra emulator (and whatever follows it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

NOW = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)


class Clock:
    """Returns the current moment, which only moves when ``advance`` is called."""

    def __init__(self, start: datetime = NOW) -> None:
        self.current = start

    def __call__(self) -> datetime:
        return self.current

    def advance(self, **kwargs: float) -> None:
        self.current += timedelta(**kwargs)
