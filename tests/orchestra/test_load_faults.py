"""Faulty answers served by the emulator (large records, inconsistent windows, odd values, long Retry-After),
loaded by the real ``eltops orchestra load`` over a socket: each loads correctly or fails clearly, never half."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from eltops.orchestra.emulator import EmptyPage, Fault, PadField, SetValue, Volume
from eltops.orchestra.emulator._model import Resource as EmulatedResource
from tests.orchestra._support import SMALL, Served, count, make_served, rows

TASK_RUNS = EmulatedResource.TASK_RUNS


def _state(db: Path, resource: str) -> datetime | None:
    """The saved load cursor of ``resource`` (None when there is none)."""
    with duckdb.connect(str(db), read_only=True) as con:
        found = con.execute("SELECT cursor FROM eltops_load_state WHERE resource = ?", [resource]).fetchall()
    return found[0][0] if found else None


def _served(tmp_path: Path, volume: Volume, *faults: Fault) -> Iterator[Served]:
    for served in make_served(tmp_path, volume=volume):
        served.emulator.inject(*faults)
        yield served


@pytest.mark.parametrize(
    ("volume", "size"),
    [
        (SMALL, 4096),  # six pages of 100 records with a 4 KB message: 400 KB pages
        (Volume(task_runs=150, days=6), 100_000),  # pages of 10 MB
    ],
    ids=["4KB-messages", "10MB-page"],
)
def test_large_records_load_completely(tmp_path: Path, volume: Volume, size: int) -> None:
    """Pages of large records load every row with the message intact (no DuckDB out-of-memory)."""
    for served in _served(tmp_path, volume, PadField(TASK_RUNS, "message", size)):
        run = served.load("task-runs")
        assert run.code == 0, run.stderr
        db = served.tmp / "eltops.duckdb"
        total = volume.task_runs
        assert count(db, "task_runs") == (total, total)
        with duckdb.connect(str(db), read_only=True) as con:
            assert con.execute("SELECT min(length(message)), max(length(message)) FROM task_runs").fetchone() == (
                size,
                size,
            )


def test_a_page_too_large_is_read_again_in_smaller_pages(tmp_path: Path) -> None:
    """A 40 MB page (100 records of 400 KB) is read again as two pages of 50: every row loads, none twice."""
    for served in _served(tmp_path, Volume(task_runs=100, days=6), PadField(TASK_RUNS, "message", 400_000)):
        run = served.load("task-runs")
        assert run.code == 0, run.stderr
        assert re.search(
            r"task-runs page 1 \(window .*\): 40\.\d MB of JSON, over the 32 MB bound; reading it "
            r"again as 2 pages of 50",
            run.stderr,
        )
        assert "Out of Memory" not in run.stderr
        assert count(served.tmp / "eltops.duckdb", "task_runs") == (100, 100)
        sizes = [r.query["page_size"] for r in served.emulator.requests if r.path.endswith("/task_runs")]
        assert sizes == ["100", "50", "50"]


def test_a_window_that_never_agrees_fails_and_keeps_the_cursor(tmp_path: Path) -> None:
    """Page 2 always empty while total counts it: exit 4 naming resource, window and page; rows and cursor unchanged."""
    for served in make_served(tmp_path, volume=SMALL):
        db = served.tmp / "eltops.duckdb"
        first = served.load("task-runs")
        assert first.code == 0, first.stderr
        cursor, before = _state(db, "task-runs"), rows(db, "task_runs")
        served.emulator.inject(EmptyPage(TASK_RUNS, 2))
        since = (served.clock.now - timedelta(days=7)).date().isoformat()
        run = served.load("task-runs", "--full-refresh", "--since", since)
        assert run.code == 4, run.stderr
        assert "task-runs page 2 (window " in run.stderr
        assert re.search(
            r"with 0 records where its total of \d+ says 100, after reading the window 3 times", run.stderr
        )
        assert "inserted" not in run.stderr.split("\n")[-2], "no success summary"
        assert _state(db, "task-runs") == cursor
        assert rows(db, "task_runs") == before


@pytest.mark.parametrize(
    ("literal", "expected"),
    [
        ("2.5", "numberOfAttempts should be an integer, got 2.5"),
        ("-9223372036854775809", "numberOfAttempts is out of range for a 64-bit integer"),
        ("9223372036854775808", "numberOfAttempts is out of range for a 64-bit integer, got 9223372036854775808"),
        ("123456789012345678901234567890", "numberOfAttempts is out of range for a 64-bit integer"),
        ('"many"', "numberOfAttempts should be an integer, got 'many'"),
    ],
)
def test_odd_numbers_fail_naming_resource_page_and_field(tmp_path: Path, literal: str, expected: str) -> None:
    """A fractional or out-of-range count is exit 4 naming resource, page and field: no traceback, nothing stored."""
    for served in _served(tmp_path, SMALL, SetValue(TASK_RUNS, "numberOfAttempts", literal)):
        run = served.load("task-runs")
        assert run.code == 4, run.stderr
        assert "task-runs page " in run.stderr
        assert expected in run.stderr
        assert "Traceback" not in run.stderr
        assert count(served.tmp / "eltops.duckdb", "task_runs") == (0, 0)
        assert _state(served.tmp / "eltops.duckdb", "task-runs") is None


def test_a_future_timestamp_is_stored_but_never_becomes_the_cursor(tmp_path: Path) -> None:
    """createdAt 9999-12-31 is logged as implausible and stored; the cursor stays the newest real creation time."""
    future = '"9999-12-31T23:59:59Z"'
    for served in _served(tmp_path, SMALL, SetValue(TASK_RUNS, "createdAt", future)):
        db = served.tmp / "eltops.duckdb"
        run = served.load("task-runs")
        assert run.code == 0, run.stderr
        assert "later than the API's clock" in run.stderr
        assert "9999-12-31T23:59:59+00:00" in run.stderr
        cursor = _state(db, "task-runs")
        with duckdb.connect(str(db), read_only=True) as con:
            newest_real = con.execute("SELECT max(created_at) FROM task_runs WHERE year(created_at) < 9999").fetchone()
            future_rows = con.execute("SELECT count(*) FROM task_runs WHERE year(created_at) = 9999").fetchone()
        assert future_rows == (SMALL.task_runs // 100,), "one record a page is stored as sent"
        assert newest_real is not None
        assert cursor == newest_real[0]
        assert cursor <= datetime.now(UTC)


def test_a_long_retry_after_is_capped_and_logged(served: Served) -> None:
    """Retry-After: 3600 is waited for ORCHESTRA_RETRY_AFTER_MAX seconds at most, and the log says how long and why."""
    served.emulator.fail_next(status=429, count=1, retry_after=3600)
    run = served.load("pipeline-runs", ORCHESTRA_RETRY_AFTER_MAX="0")
    assert run.code == 0, run.stderr
    assert "in 0.0 s (the server asked for 3600 s with Retry-After; waiting at most 0 s)" in run.stderr


@pytest.mark.parametrize("value", ["-1", "soon", "100000"])
def test_a_bad_retry_after_cap_is_exit_2(served: Served, value: str) -> None:
    """ORCHESTRA_RETRY_AFTER_MAX that is not seconds from 0 to a day is exit 2 before any request."""
    run = served.load("pipeline-runs", ORCHESTRA_RETRY_AFTER_MAX=value)
    assert run.code == 2, run.stderr
    assert "ORCHESTRA_RETRY_AFTER_MAX" in run.stderr
    assert served.emulator.request_count == 0


def test_api_errors_name_resource_window_and_page(served: Served) -> None:
    """An API refusal names the resource, the page and the window it was reading, then what the API said."""
    run = served.load("pipeline-runs", ORCHESTRA_API_KEY="wrong-key-123")
    assert run.code == 4, run.stderr
    assert re.search(r"reading pipeline-runs page 1 \(window [^)]+\): Orchestra at \S+ answered GET", run.stderr)
    assert "HTTP 401" in run.stderr
