"""A DuckDB file held by another process: a clear message naming the process, and a bounded wait for it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from eltops.errors import JobTimeout
from eltops.warehouse import DuckDbTarget, WarehouseBusy, open_when_free
from eltops.warehouse._lock import HolderMark


class Clock:
    """A monotonic clock that moves only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


HOLD = "import duckdb, sys; con = duckdb.connect(sys.argv[1]); print('held', flush=True); sys.stdin.read()"


HOLD_AS_ELTOPS = (
    "import sys; from pathlib import Path; from eltops.warehouse import DuckDbTarget; "
    "t = DuckDbTarget(Path(sys.argv[1])); print('held', flush=True); sys.stdin.read(); t.close()"
)


def _hold(db: Path, code: str) -> subprocess.Popen[str]:
    """A process running ``code`` that opens ``db`` for writing and keeps it until its stdin closes."""
    holder = subprocess.Popen(
        [sys.executable, "-c", code, str(db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "held"
    return holder


# the holder's command line mentions eltops (its file lies in a folder named so, as in a clone named eltops) or not
@pytest.fixture(params=["plain", "eltops"])
def held(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[Path, subprocess.Popen[str]]]:
    """A DuckDB file opened for writing by another (non-eltops) process, until the test lets it go."""
    folder = tmp_path / request.param
    folder.mkdir()
    db = folder / "busy.duckdb"
    holder = _hold(db, HOLD)
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


def test_an_eltops_holder_is_named_so(tmp_path: Path) -> None:
    """A file held by eltops' own DuckDbTarget in another process is "another eltops process", and its mark goes."""
    db = tmp_path / "busy.duckdb"
    holder = _hold(db, HOLD_AS_ELTOPS)
    try:
        assert HolderMark(db).pid() == holder.pid
        with pytest.raises(WarehouseBusy) as caught:
            DuckDbTarget(db)
        assert str(caught.value) == f"another eltops process (PID {holder.pid}) is writing to {db}"
    finally:
        assert holder.stdin is not None
        holder.stdin.close()  # the holder closes its target and ends
        holder.wait()
    assert not HolderMark(db).path.exists()


def test_a_mark_left_by_a_killed_eltops_does_not_name_another_holder(tmp_path: Path) -> None:
    """After an eltops holder is killed (its mark stays), a non-eltops process holding the file is not "eltops"."""
    db = tmp_path / "busy.duckdb"
    killed = _hold(db, HOLD_AS_ELTOPS)
    killed.kill()
    killed.wait()
    assert HolderMark(db).pid() == killed.pid  # kill -9 leaves the mark behind
    holder = _hold(db, HOLD)
    try:
        with pytest.raises(WarehouseBusy) as caught:
            DuckDbTarget(db)
        assert str(caught.value) == f"another process (PID {holder.pid}) is writing to {db}"
    finally:
        holder.kill()
        holder.wait()


def test_opening_replaces_a_stale_mark_and_closing_removes_it(tmp_path: Path) -> None:
    """A mark naming a process that no longer holds the file is replaced by this process's, then removed at close."""
    db = tmp_path / "history.duckdb"
    HolderMark(db).path.write_text("999999999\n")
    target = DuckDbTarget(db)
    assert HolderMark(db).pid() == os.getpid()
    target.close()
    assert not HolderMark(db).path.exists()
