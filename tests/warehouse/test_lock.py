"""A DuckDB file held by another process: a clear message naming the process, and a bounded wait for it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from eltops.errors import JobTimeout
from eltops.warehouse import DuckDbTarget, WarehouseBusy, open_when_free


class Clock:
    """A monotonic clock that moves only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


HOLD = "import duckdb, sys; con = duckdb.connect(sys.argv[1]); print('held', flush=True); sys.stdin.read()"


@pytest.fixture
def held(tmp_path: Path) -> Iterator[tuple[Path, subprocess.Popen[str]]]:
    """A DuckDB file opened for writing by another (non-eltops) process, until the test lets it go."""
    db = tmp_path / "busy.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "held"
    yield db, holder
    holder.kill()
    holder.wait()


def test_a_busy_file_names_the_process_holding_it(held: tuple[Path, subprocess.Popen[str]]) -> None:
    """Opening a file another process writes raises WarehouseBusy naming that process and the file."""
    db, holder = held
    with pytest.raises(WarehouseBusy) as caught:
        DuckDbTarget(db)
    assert str(caught.value) == f"another process (PID {holder.pid}) is writing to {db}"
    assert caught.value.pid == holder.pid


def test_without_a_wait_it_fails_at_once_with_the_hint(held: tuple[Path, subprocess.Popen[str]]) -> None:
    """With no wait the first WarehouseBusy is raised at once, its message ending with how to wait."""
    db, _ = held
    clock = Clock()
    with pytest.raises(WarehouseBusy, match=r"is writing to .*busy\.duckdb; use --wait$"):
        open_when_free(lambda: DuckDbTarget(db), wait_seconds=0, clock=clock, sleep=clock.sleep, hint="; use --wait")
    assert clock.now == 0


def test_waiting_opens_the_file_once_the_other_process_lets_go(
    held: tuple[Path, subprocess.Popen[str]], caplog: pytest.LogCaptureFixture
) -> None:
    """A wait polls every half second (fake clock) and opens the file as soon as the holder has ended."""
    db, holder = held
    clock = Clock()

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        if clock.now >= 2:  # the other process finishes after two seconds
            holder.kill()
            holder.wait()

    target = open_when_free(lambda: DuckDbTarget(db), wait_seconds=60, clock=clock, sleep=sleep)
    target.close()
    assert clock.now == 2
    assert [r.getMessage() for r in caplog.records if "waiting" in r.getMessage()] == [
        f"another process (PID {holder.pid}) is writing to {db}; waiting up to 60 s for it to finish"
    ]


def test_a_wait_that_runs_out_is_a_timeout(held: tuple[Path, subprocess.Popen[str]]) -> None:
    """When the other process still holds the file at the end of the wait, the error is JobTimeout (exit 3)."""
    db, holder = held
    clock = Clock()
    with pytest.raises(JobTimeout, match=rf"another process \(PID {holder.pid}\) was still writing to .* after 5 s"):
        open_when_free(lambda: DuckDbTarget(db), wait_seconds=5, clock=clock, sleep=clock.sleep)
    assert clock.now == 5
