"""Every attempt of a retried task is loaded: Orchestra hides the superseded attempts from its task-run listing
unless asked (``include_superseded``, 2026-10), and eltops asks on every task-run request."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import duckdb
import httpx
import pytest

from eltops.orchestra.emulator._runs import PipelineScript, TaskScript
from tests.orchestra._support import API_KEY, SMALL, Served, make_served

RETRIED = PipelineScript("flaky", "Flaky sync", (TaskScript("sync", "Sync", "FIVETRAN", 60, attempts=3),))


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    yield from make_served(tmp_path, volume=SMALL, pipelines=(RETRIED,))


def test_every_attempt_of_a_retried_task_is_loaded(served: Served) -> None:
    """A task that ran three times: the listing shows one without the parameter; the load stores all three."""
    key = {"Authorization": f"Bearer {API_KEY}"}
    started = httpx.post(f"{served.api_url}/pipelines/flaky/start", headers=key, json={})
    assert started.status_code == 200, started.text
    run_id = started.json()["pipelineRunId"]
    served.clock.advance(timedelta(minutes=5))
    window = {"time_from": (served.clock.now - timedelta(days=1)).isoformat(), "time_to": served.clock.now.isoformat()}
    plain = httpx.get(f"{served.api_url}/task_runs", params=window, headers=key).json()["results"]
    assert [r["numberOfAttempts"] for r in plain if r["pipelineRunId"] == run_id] == [3]
    before = served.emulator.request_count
    run = served.load("task-runs")
    assert run.code == 0, run.stderr
    listings = [r for r in served.requests_since(before) if r.path.endswith("/task_runs")]
    assert listings
    assert all(r.query.get("include_superseded") == "true" for r in listings)
    with duckdb.connect(str(served.tmp / "eltops.duckdb"), read_only=True) as con:
        attempts = con.execute(
            "SELECT status, number_of_attempts FROM task_runs WHERE pipeline_run_id = ? ORDER BY number_of_attempts",
            [run_id],
        ).fetchall()
    assert attempts == [("FAILED", 1), ("FAILED", 2), ("SUCCEEDED", 3)]
