"""Runs still open at the last load and older than the listings serve are re-read by id, so they end in the
warehouse as they ended in Orchestra (Orchestra's tools say task runs are listed for 7 days only, since 2026-10).

The emulator here lists pipeline runs and task runs for the last 7 days only (``listing_retention``) and answers
``/pipeline_runs/{id}/status`` and ``/pipeline_runs/{id}/task_runs`` for a run of any age, as Orchestra does.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import httpx
import pytest

from eltops._serve import serve_in_thread
from eltops.orchestra.emulator import OrchestraEmulator, Volume
from eltops.orchestra.emulator._runs import PipelineScript, TaskScript
from tests.orchestra._support import API_KEY, Clock, Served

LONG = PipelineScript("long_backfill", "Long backfill", (TaskScript("backfill", "Backfill", "PYTHON", 8 * 86_400),))
WEEK = timedelta(days=7)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """History from 16 to 10 days ago, and more appearing as the clock moves on (it starts 10 days back)."""
    clock = Clock(now=datetime.now(UTC) - timedelta(days=10))
    emulator = OrchestraEmulator(
        api_key=API_KEY,
        seed=7,
        volume=Volume(task_runs=400, days=6),
        now=clock,
        anchor=clock.now,
        future_days=10,
        pipelines=(LONG,),
        listing_retention={"pipeline_runs": WEEK, "task_runs": WEEK},
    )
    with serve_in_thread(emulator.wsgi_app) as server:
        yield Served(emulator, server, clock, tmp_path)


def stored(db: Path, sql: str, *params: str) -> list[tuple[object, ...]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql, list(params)).fetchall()


def test_a_run_open_at_the_last_load_ends_as_it_ended_after_ageing_out_of_the_listings(served: Served) -> None:
    """A run open for 8 days: the next load, 9 days on, reads it and its task runs by id and stores them finished."""
    key = {"Authorization": f"Bearer {API_KEY}"}
    started = httpx.post(f"{served.api_url}/pipelines/long_backfill/start", headers=key, json={})
    assert started.status_code == 200, started.text
    run_id = started.json()["pipelineRunId"]
    since = (served.clock.now - timedelta(days=1)).isoformat()
    assert served.load("pipeline-runs", "task-runs", "--since", since).code == 0
    db = served.tmp / "eltops.duckdb"
    assert stored(db, "SELECT run_status FROM pipeline_runs WHERE id = ?", run_id) in ([("CREATED",)], [("RUNNING",)])

    served.clock.advance(timedelta(days=9))
    window = {"time_from": (served.clock.now - WEEK).isoformat(), "time_to": served.clock.now.isoformat()}
    listed = httpx.get(f"{served.api_url}/pipeline_runs", params={"pipeline_run_ids": run_id, **window}, headers=key)
    assert listed.json()["total"] == 0, "the listings no longer serve the run: only a by-id read can"
    before = served.emulator.request_count
    run = served.load("pipeline-runs", "task-runs")
    assert run.code == 0, run.stderr
    assert "older than the listings serve, read by id" in run.stderr
    paths = [r.path for r in served.requests_since(before)]
    assert any(p.endswith(f"/pipeline_runs/{run_id}/status") for p in paths)
    assert any(p.endswith(f"/pipeline_runs/{run_id}/task_runs") for p in paths)
    assert stored(db, "SELECT run_status FROM pipeline_runs WHERE id = ?", run_id) == [("SUCCEEDED",)]
    assert stored(db, "SELECT status FROM task_runs WHERE pipeline_run_id = ?", run_id) == [("SUCCEEDED",)]
    open_runs = "SELECT count(*) FROM pipeline_runs WHERE run_status IN ('CREATED', 'QUEUED', 'RUNNING', 'CANCELLING')"
    open_before_now = stored(db, open_runs + " AND created_at < ?", (served.clock.now - WEEK).isoformat())
    assert open_before_now == [(0,)], "every run open at the first load was read to its end"
