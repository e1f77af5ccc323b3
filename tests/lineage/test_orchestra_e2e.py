"""End to end: the real ``eltops orchestra run`` and ``load`` against the Orchestra emulator, lineage to a receiver."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from eltops._serve import serve_in_thread
from eltops.orchestra.emulator import OrchestraEmulator, PipelineScript, TaskScript, Volume
from tests.lineage.conftest import Receiving, assert_valid
from tests.orchestra.test_run_e2e import API_KEY, PIPELINES, FastClock, Served

WITH_ASSETS = PipelineScript(
    "finance",
    "Finance marts",
    (
        TaskScript("build", "dbt build finance", "DBT_CORE", 20, asset="ANALYTICS.FINANCE.FCT_ORDERS", rows=1200),
        TaskScript("notify", "Notify", "PYTHON", 5),
    ),
)

GITHUB = {
    "GITHUB_ACTIONS": "true",
    "GITHUB_REPOSITORY": "owner/repo",
    "GITHUB_RUN_ID": "99",
    "GITHUB_WORKFLOW": "elt",
    "GITHUB_JOB": "marts",
}


@pytest.fixture
def orchestra(tmp_path: Path) -> Iterator[Served]:
    emulator = OrchestraEmulator(
        api_key=API_KEY,
        seed=3,
        volume=Volume(task_runs=40, days=1),
        now=FastClock(),
        pipelines=(*PIPELINES, WITH_ASSETS),
    )
    with serve_in_thread(emulator.wsgi_app) as server:
        yield Served(emulator, server, tmp_path)


def _runs(events: list[dict[str, object]]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for event in events:
        found.setdefault(event["job"]["name"], []).append(event["eventType"])  # type: ignore[index]
    return found


def test_pipeline_run_is_the_parent_of_its_task_runs(orchestra: Served, receiving: Receiving) -> None:
    """The pipeline run is a job under the CI job; each task run is its child; run ids are Orchestra's UUIDs."""
    result = orchestra.run("orchestra", "run", "nightly", env=orchestra.env(OPENLINEAGE_URL=receiving.url, **GITHUB))
    assert result.code == 0, result.stderr
    events = receiving.events()
    for event in events:
        assert_valid(event)
    assert _runs(events) == {
        "orchestra.nightly": ["START", "COMPLETE"],
        "orchestra.nightly.sync": ["START", "COMPLETE"],
        "orchestra.nightly.build": ["START", "COMPLETE"],
    }
    pipeline = next(e for e in events if e["job"]["name"] == "orchestra.nightly")
    (orchestra_run,) = orchestra.emulator.runbook.runs()
    assert pipeline["run"]["runId"] == orchestra.emulator.runbook.run_id(orchestra_run)
    assert pipeline["run"]["facets"]["parent"]["job"]["name"] == "github.owner.repo.elt.marts"
    for task in (e for e in events if e["job"]["name"].startswith("orchestra.nightly.")):
        parent = task["run"]["facets"]["parent"]
        assert parent["run"]["runId"] == pipeline["run"]["runId"]
        assert parent["root"]["job"]["name"] == "github.owner.repo.elt"


def test_a_failed_task_and_run_are_fail(orchestra: Served, receiving: Receiving) -> None:
    """A failed task run ends FAIL with its message, and so does the pipeline run; exit 1 as without lineage."""
    result = orchestra.run("orchestra", "run", "broken", env=orchestra.env(OPENLINEAGE_URL=receiving.url))
    assert result.code == 1
    runs = _runs(receiving.events())
    assert runs["orchestra.broken"] == ["START", "FAIL"]
    assert runs["orchestra.broken.build"] == ["START", "FAIL"]
    for event in receiving.events():
        assert_valid(event)


def test_timeout_is_abort(orchestra: Served, receiving: Receiving) -> None:
    """A run still going at the deadline ends ABORT (eltops cancels it); exit 3 as without lineage."""
    result = orchestra.run(
        "orchestra", "run", "endless", env=orchestra.env(OPENLINEAGE_URL=receiving.url, ORCHESTRA_TIMEOUT="2")
    )
    assert result.code == 3
    runs = _runs(receiving.events())
    assert runs["orchestra.endless"] == ["START", "ABORT"]
    assert runs["orchestra.endless.backfill"] == ["START", "ABORT"]


def test_sigterm_aborts_what_is_open(orchestra: Served, receiving: Receiving) -> None:
    """Stopping the job (SIGTERM, as CI cancels) sends ABORT for the pipeline run within the short budget."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "eltops", "orchestra", "run", "endless"],
        env=orchestra.env(OPENLINEAGE_URL=receiving.url),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=orchestra.tmp,
    )
    deadline = time.monotonic() + 30
    while not receiving.events() and time.monotonic() < deadline:
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=30)
    runs = _runs(receiving.events())
    assert runs["orchestra.endless"][-1] == "ABORT"


def test_load_writes_its_tables(orchestra: Served, receiving: Receiving) -> None:
    """`eltops orchestra load` is eltops' own job whose outputs are the warehouse tables it wrote, with row counts."""
    result = orchestra.run(
        "orchestra",
        "load",
        "--to",
        "duckdb:///" + str(orchestra.tmp / "wh.duckdb"),
        env=orchestra.env(OPENLINEAGE_URL=receiving.url),
    )
    assert result.code == 0, result.stderr
    events = receiving.events()
    assert [e["eventType"] for e in events] == ["START", "COMPLETE"]
    for event in events:
        assert_valid(event)
    complete = events[1]
    assert complete["job"]["name"] == "eltops.orchestra_load.wh"
    outputs = {o["name"]: o for o in complete["outputs"]}
    assert set(outputs) == {"wh.main.pipeline_runs", "wh.main.task_runs", "wh.main.operations", "wh.main.assets"}
    assert {o["namespace"] for o in outputs.values()} == {f"duckdb://{orchestra.tmp / 'wh.duckdb'}"}
    assert outputs["wh.main.task_runs"]["outputFacets"]["outputStatistics"]["rowCount"] > 0


def test_an_api_error_while_waiting_is_fail(orchestra: Served, receiving: Receiving) -> None:
    """An API error that ends the job while it waits (exit 4) ends the pipeline run FAIL, naming the error."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "eltops", "orchestra", "run", "endless"],
        env=orchestra.env(OPENLINEAGE_URL=receiving.url),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=orchestra.tmp,
    )
    deadline = time.monotonic() + 30
    while not receiving.events() and time.monotonic() < deadline:
        time.sleep(0.05)
    orchestra.emulator.fail_next(400, count=1000)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 4, stderr
    events = receiving.events()
    runs = _runs(events)
    assert runs["orchestra.endless"] == ["START", "FAIL"]
    failed = next(e for e in events if e["job"]["name"] == "orchestra.endless" and e["eventType"] == "FAIL")
    assert "HTTP 400" in failed["run"]["facets"]["errorMessage"]["message"]
    for event in events:
        assert_valid(event)


@pytest.mark.parametrize("namespace", [None, "snowflake://acme-prod"])
def test_task_outputs_are_the_assets_of_its_operations(
    orchestra: Served, receiving: Receiving, namespace: str | None
) -> None:
    """With ELTOPS_LINEAGE_ORCHESTRA_NAMESPACE a task run's outputs are its operations' assets (with their rows),
    read with one /operations request per task run (two when none is recorded yet); without it, none and no such
    request."""
    extra = {"ELTOPS_LINEAGE_ORCHESTRA_NAMESPACE": namespace} if namespace else {}
    result = orchestra.run("orchestra", "run", "finance", env=orchestra.env(OPENLINEAGE_URL=receiving.url, **extra))
    assert result.code == 0, result.stderr
    events = receiving.events()
    for event in events:
        assert_valid(event)
    build = next(e for e in events if e["job"]["name"] == "orchestra.finance.build" and e["eventType"] == "COMPLETE")
    notify = next(e for e in events if e["job"]["name"] == "orchestra.finance.notify" and e["eventType"] == "COMPLETE")
    asked = [r for r in orchestra.emulator.requests if r.path.endswith("/operations")]
    if namespace is None:
        assert build["outputs"] == []
        assert asked == []
        return
    assert build["outputs"] == [
        {
            "namespace": "snowflake://acme-prod",
            "name": "ANALYTICS.FINANCE.FCT_ORDERS",
            "outputFacets": {"outputStatistics": build["outputs"][0]["outputFacets"]["outputStatistics"]},
        }
    ]
    assert build["outputs"][0]["outputFacets"]["outputStatistics"]["rowCount"] == 1200
    assert notify["outputs"] == []
    # one per finished task run, and once more for one that completed with none recorded yet (notify has none;
    # build's operation is recorded a second after it ends, so it may be read before or after)
    assert 3 <= len(asked) <= 4
