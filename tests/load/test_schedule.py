"""``--every``'s schedule on a fake clock and sleep: intervals from start to start, failures, Ctrl-C."""

from __future__ import annotations

import pytest

from eltops.errors import ConfigError, EltopsError, JobTimeout
from eltops.load import Every, parse_interval


class Timeline:
    """A clock that moves only when a job takes time or the schedule sleeps; Ctrl-C after ``stop_after`` waits."""

    def __init__(self, durations: list[float], *, stop_after: int, failures: dict[int, EltopsError] | None = None):
        self.now = 0.0
        self.durations = durations
        self.stop_after = stop_after
        self.failures = failures or {}
        self.starts: list[tuple[float, bool]] = []
        self.waits: list[float] = []
        self.events: list[str] = []

    def job(self, first: bool) -> None:
        run = len(self.starts)
        self.starts.append((self.now, first))
        self.now += self.durations[run]
        if run in self.failures:
            raise self.failures[run]

    def sleep(self, seconds: float) -> None:
        if len(self.waits) == self.stop_after:
            raise KeyboardInterrupt
        self.waits.append(seconds)
        self.now += seconds

    def run(self, every: float) -> int:
        return Every(seconds=every, clock=lambda: self.now, sleep=self.sleep).run(
            self.job,
            failed=lambda exc: self.events.append(f"failed: {exc}"),
            waiting=lambda wait: self.events.append(f"wait {wait:g}"),
            stopped=lambda: self.events.append("stopped"),
        )


@pytest.mark.parametrize(
    ("durations", "waits"),
    [([0, 0, 0], [60, 60]), ([15, 45, 0], [45, 15]), ([90, 60, 0], [0, 0])],
    ids=["instant", "part-of-the-interval", "longer-than-the-interval"],
)
def test_the_interval_runs_from_start_to_start(durations: list[float], waits: list[float]) -> None:
    """Each wait is the interval less the run's duration (never negative); only the first run is ``first``."""
    timeline = Timeline(durations, stop_after=2)
    assert timeline.run(60) == 0
    assert timeline.waits == waits
    assert [first for _, first in timeline.starts] == [True, False, False]
    assert timeline.events[-1] == "stopped"


@pytest.mark.parametrize(
    ("failures", "code"),
    [({0: JobTimeout("slow")}, 0), ({2: JobTimeout("slow")}, 3), ({1: ConfigError("bad"), 2: JobTimeout("t")}, 3)],
    ids=["an-early-failure-then-success", "the-last-run-failed", "two-failures"],
)
def test_a_failed_run_is_reported_and_the_next_still_comes(failures: dict[int, EltopsError], code: int) -> None:
    """A run's error is reported, the schedule goes on, and Ctrl-C exits with the last run's code."""
    timeline = Timeline([1, 1, 1], stop_after=2, failures=failures)
    assert timeline.run(10) == code
    assert len(timeline.starts) == 3
    assert sum(event.startswith("failed: ") for event in timeline.events) == len(failures)


def test_ctrl_c_during_a_run_reaches_the_caller() -> None:
    """Ctrl-C while a load runs is not swallowed by the schedule (the CLI reports what was committed)."""

    def job(first: bool) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        Every(seconds=10, clock=lambda: 0.0, sleep=lambda s: None).run(
            job, failed=lambda exc: None, waiting=lambda w: None, stopped=lambda: None
        )


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("15m", 900), ("15", 900), ("1h", 3600), ("1.5 hr", 5400), ("1d", 86400), ("10 S", 10)],
)
def test_intervals_parse(text: str, seconds: float) -> None:
    """``--every`` takes seconds, minutes (the default unit), hours and days."""
    assert parse_interval(text) == seconds


@pytest.mark.parametrize(("text", "message"), [("9s", "at least 10 seconds"), ("soon", "15m, 1h or 90s")])
def test_bad_intervals_are_config_errors(text: str, message: str) -> None:
    """An interval too short or not a duration is refused, naming --every."""
    with pytest.raises(ConfigError, match=message):
        parse_interval(text)
