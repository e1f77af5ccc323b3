"""Two eltops commands on one DuckDB file, as users meet it: the second says who is writing, and can wait for it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.orchestra._support import SMALL, Served, count, make_served


@pytest.fixture
def slow(tmp_path: Path) -> Iterator[Served]:
    """The emulator answering each request after 0.3 s, so a load holds its DuckDB file for several seconds."""
    yield from make_served(tmp_path, volume=SMALL, latency_seconds=0.3)


def _while_a_load_runs(slow: Served, wait_until: Callable[..., None], *second: str) -> tuple[int, str, int]:
    """Start a load, run ``second`` (an eltops command) while it holds the file; (exit code, stderr, first's pid)."""
    db = slow.tmp / "eltops.duckdb"
    first = slow.start("orchestra", "load", "--to", str(db))
    try:
        wait_until(lambda: slow.emulator.request_count > 0 or first.poll() is not None, 60)
        assert first.poll() is None, "the first load is still running"
        run = slow.run(*second, env=slow.env(ORCHESTRA_RATE_LIMIT="0"))
        assert first.wait(timeout=120) == 0
    finally:
        first.kill()
        first.wait()
    return run.code, run.stderr, first.pid


@pytest.mark.parametrize(
    ("second", "hint"),
    [
        (("orchestra", "load"), "load again once it has finished, or wait for it with --wait SECONDS"),
        (("report",), "run the report again once it has finished, or wait for it with --wait SECONDS"),
    ],
    ids=["load", "report"],
)
def test_a_second_command_says_which_eltops_process_is_writing(
    slow: Served, wait_until: Callable[..., None], second: tuple[str, ...], hint: str
) -> None:
    """A load or report started during a load fails at once (exit 1) naming the eltops process and the file."""
    code, stderr, pid = _while_a_load_runs(slow, wait_until, *second)
    assert code == 1, stderr
    assert f"another eltops process (PID {pid}) is writing to {slow.tmp / 'eltops.duckdb'}; {hint}" in stderr
    assert "Conflicting lock" not in stderr
    assert "Traceback" not in stderr


def test_a_second_load_with_wait_loads_after_the_first(slow: Served, wait_until: Callable[..., None]) -> None:
    """With --wait the second load says it waits, then loads once the first has finished: no duplicate row."""
    code, stderr, pid = _while_a_load_runs(slow, wait_until, "orchestra", "load", "--wait", "120")
    assert code == 0, stderr
    assert f"another eltops process (PID {pid}) is writing to" in stderr
    assert "waiting up to 120 s for it to finish" in stderr
    rows, ids = count(slow.tmp / "eltops.duckdb", "task_runs")
    assert rows == ids == SMALL.task_runs
