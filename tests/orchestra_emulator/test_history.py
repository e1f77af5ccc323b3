"""The generated history: windows, filters, referential integrity, determinism and runs moving with the clock."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

import httpx
import pytest

from eltops.orchestra.emulator import OrchestraEmulator, Volume
from tests._clock import NOW, Clock
from tests.orchestra_emulator.conftest import EmulatorFactory, client_for, fetch_all

FINAL_PIPELINE = {"SUCCEEDED", "WARNING", "FAILED", "SKIPPED", "CANCELLED"}


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.mark.parametrize(
    ("resource", "field"), [("pipeline_runs", "createdAt"), ("task_runs", "createdAt"), ("operations", "insertedAt")]
)
def test_adjacent_windows_partition_the_history(client: httpx.Client, resource: str, field: str) -> None:
    """Day-wide windows hold only records stamped inside them, and together hold the whole default listing."""
    everything = {r["id"] for r in fetch_all(client, resource)}
    collected: list[str] = []
    for day in range(8):
        low = NOW - timedelta(days=day + 1) + timedelta(microseconds=1)
        high = NOW - timedelta(days=day)
        window = {"time_from": low.isoformat(), "time_to": high.isoformat()}
        for record in fetch_all(client, resource, **window):
            assert low <= _at(record[field]) <= high
            collected.append(record["id"])
    assert len(collected) == len(set(collected))
    assert set(collected) == everything


def test_default_window_is_the_last_seven_days(make_emulator: EmulatorFactory, clock: Clock) -> None:
    """Without a window only runs created in the 7 days before now are listed."""
    emulator = make_emulator(volume=Volume(task_runs=400, days=14))
    with client_for(emulator) as client:
        runs = fetch_all(client, "pipeline_runs")
    assert runs
    assert all(_at(r["createdAt"]) >= clock() - timedelta(days=7) for r in runs)
    assert len(runs) == pytest.approx(50, abs=2)


def test_referential_integrity(client: httpx.Client) -> None:
    """Every task run points at a listed pipeline run of the same pipeline, every operation at a listed task run."""
    runs = {r["id"]: r for r in fetch_all(client, "pipeline_runs")}
    tasks = {t["id"]: t for t in fetch_all(client, "task_runs")}
    operations = fetch_all(client, "operations")
    for task in tasks.values():
        assert runs[task["pipelineRunId"]]["pipelineId"] == task["pipelineId"]
    for operation in operations:
        task = tasks[operation["taskRunId"]]
        assert task["pipelineRunId"] == operation["pipelineRunId"]
        assert task["integration"] == operation["integration"]
        assert _at(operation["insertedAt"]) >= _at(task["completedAt"])


def test_pipeline_run_status_agrees_with_its_task_runs(make_emulator: EmulatorFactory, clock: Clock) -> None:
    """A final pipeline run failed iff one of its tasks failed, and a running one has an unfinished task."""
    emulator = make_emulator(volume=Volume(task_runs=20_000, days=1))
    window = {"time_from": (clock() - timedelta(hours=3)).isoformat(), "time_to": clock().isoformat()}
    with client_for(emulator) as client:
        runs = fetch_all(client, "pipeline_runs", **window)
        tasks_by_run: dict[str, list[str]] = {}
        for task in fetch_all(client, "task_runs", **window):
            tasks_by_run.setdefault(task["pipelineRunId"], []).append(task["status"])
    assert {"SUCCEEDED", "FAILED", "RUNNING"} <= {r["runStatus"] for r in runs}
    for run in runs:
        statuses = set(tasks_by_run[run["id"]])
        if run["runStatus"] == "FAILED":
            assert "FAILED" in statuses
        if run["runStatus"] == "SUCCEEDED":
            assert statuses == {"SUCCEEDED"}
        if run["runStatus"] in FINAL_PIPELINE:
            assert run["completedAt"] is not None
            assert not statuses & {"CREATED", "QUEUED", "RUNNING", "CANCELLING"}
        else:
            assert run["completedAt"] is None


@pytest.mark.parametrize(
    ("resource", "param", "field"),
    [
        ("pipeline_runs", "status", "runStatus"),
        ("pipeline_runs", "pipeline_ids", "pipelineId"),
        ("pipeline_runs", "environments", "envId"),
        ("task_runs", "status", "status"),
        ("task_runs", "pipeline_ids", "pipelineId"),
        ("task_runs", "integration", "integration"),
        ("operations", "operation_type", "operationType"),
        ("operations", "integration", "integration"),
        ("operations", "status", "operationStatus"),
        ("operations", "external_id", "externalId"),
    ],
)
def test_filters_keep_exactly_the_matching_records(client: httpx.Client, resource: str, param: str, field: str) -> None:
    """Filtering on a field's value(s) returns the same records as filtering the full listing by hand."""
    everything = fetch_all(client, resource)
    common = [value for value, _ in Counter(r[field] for r in everything).most_common(2)]
    multi = resource != "operations" or param == "operation_type"
    chosen = common if multi else common[:1]
    filtered = fetch_all(client, resource, **{param: ",".join(chosen)})
    assert [r["id"] for r in filtered] == [r["id"] for r in everything if r[field] in chosen]


@pytest.mark.parametrize(("resource", "param"), [("pipeline_runs", "pipeline_run_ids"), ("task_runs", "task_run_ids")])
def test_id_filters_return_the_named_runs(client: httpx.Client, resource: str, param: str) -> None:
    """Comma-separated ids select exactly those runs; unknown or malformed ids match nothing."""
    everything = fetch_all(client, resource)
    wanted = [everything[3]["id"], everything[40]["id"]]
    noise = ["5b5c13aa-2771-41a7-a704-ee16c422dfb6", "nonsense"]
    got = fetch_all(client, resource, **{param: ",".join([*wanted, *noise])})
    assert [r["id"] for r in got] == wanted


def test_task_run_id_filter_lists_its_operations(client: httpx.Client) -> None:
    """``task_run_id`` lists the operations of that task run."""
    task = fetch_all(client, "task_runs")[10]
    operations = fetch_all(client, "operations", task_run_id=task["id"])
    assert len(operations) == 2
    assert {o["taskRunId"] for o in operations} == {task["id"]}


@pytest.mark.parametrize(("resource", "param"), [("pipeline_runs", "pipeline_run_ids"), ("task_runs", "task_run_ids")])
def test_id_filters_still_apply_the_time_window(make_emulator: EmulatorFactory, resource: str, param: str) -> None:
    """The spec names no exception: a run older than the (default) window is not found by its id."""
    emulator = make_emulator(volume=Volume(task_runs=400, days=14))
    with client_for(emulator) as client:
        old_window = {
            "time_from": (NOW - timedelta(days=14)).isoformat(),
            "time_to": (NOW - timedelta(days=8)).isoformat(),
        }
        old = fetch_all(client, resource, **old_window)[0]
        assert fetch_all(client, resource, **{param: old["id"]}) == []
        assert [r["id"] for r in fetch_all(client, resource, **{param: old["id"]}, **old_window)] == [old["id"]]


def test_same_seed_same_history_other_seed_other_ids(make_emulator: EmulatorFactory) -> None:
    """Two emulators with one seed serve identical pages; another seed serves other ids."""
    pages = []
    for seed in (7, 7, 8):
        with client_for(make_emulator(seed=seed)) as client:
            pages.append(client.get("/task_runs", params={"page": 3}).json())
    assert pages[0] == pages[1]
    assert {r["id"] for r in pages[0]["results"]}.isdisjoint(r["id"] for r in pages[2]["results"])


def test_ids_of_another_seed_do_not_match(make_emulator: EmulatorFactory) -> None:
    """An id minted under one seed is unknown to an emulator with another seed."""
    with client_for(make_emulator(seed=1)) as one, client_for(make_emulator(seed=2)) as two:
        run_id = one.get("/pipeline_runs").json()["results"][0]["id"]
        assert two.get("/pipeline_runs", params={"pipeline_run_ids": run_id}).json()["total"] == 0


def test_running_runs_finish_as_the_clock_advances(make_emulator: EmulatorFactory, clock: Clock) -> None:
    """A run RUNNING now is final an hour later, with completedAt and a later updatedAt; its id is unchanged."""
    emulator = make_emulator(volume=Volume(task_runs=20_000, days=1))
    with client_for(emulator) as client:
        running = fetch_all(client, "pipeline_runs", status="RUNNING,CREATED")
        assert running
        assert all(r["completedAt"] is None for r in running)
        clock.advance(hours=1)
        ids = ",".join(r["id"] for r in running)
        later = {r["id"]: r for r in fetch_all(client, "pipeline_runs", pipeline_run_ids=ids)}
    for before in running:
        after = later[before["id"]]
        assert after["runStatus"] in FINAL_PIPELINE
        assert after["completedAt"] is not None
        assert after["updatedAt"] > before["updatedAt"]
        assert after["createdAt"] == before["createdAt"]


def test_status_filters_follow_the_clock(make_emulator: EmulatorFactory, clock: Clock) -> None:
    """Filtering on RUNNING finds the open task runs now and none once they have all finished."""
    emulator = make_emulator(volume=Volume(task_runs=20_000, days=1))
    with client_for(emulator) as client:
        open_now = client.get("/task_runs", params={"status": "RUNNING,QUEUED,CREATED"}).json()["total"]
        clock.advance(hours=2)
        open_later = client.get("/task_runs", params={"status": "RUNNING,QUEUED,CREATED"}).json()["total"]
    assert open_now > 0
    assert open_later == 0


def test_new_runs_appear_as_the_clock_advances(make_emulator: EmulatorFactory, clock: Clock) -> None:
    """With future history, advancing the clock makes runs (and later their operations) appear."""
    emulator = make_emulator(volume=Volume(task_runs=800, days=7), future_days=1, anchor=NOW)
    window = {"time_from": (NOW - timedelta(days=2)).isoformat(), "time_to": (NOW + timedelta(days=1)).isoformat()}
    with client_for(emulator) as client:
        before = {r["id"] for r in fetch_all(client, "task_runs", **window)}
        operations_before = client.get("/operations", params=window).json()["total"]
        clock.advance(hours=6)
        after = {r["id"] for r in fetch_all(client, "task_runs", **window)}
        operations_after = client.get("/operations", params=window).json()["total"]
    assert before < after
    assert operations_after > operations_before
    assert len(after - before) == pytest.approx(800 / 8 * 6 / 24, rel=0.2)


def test_operations_appear_only_after_their_task_run_finished(emulator: OrchestraEmulator, clock: Clock) -> None:
    """No visible operation belongs to an unfinished task run."""
    with client_for(emulator) as client:
        tasks = {t["id"]: t for t in fetch_all(client, "task_runs")}
        for operation in fetch_all(client, "operations"):
            assert tasks[operation["taskRunId"]]["completedAt"] is not None


@pytest.mark.parametrize("tasks_per_run", [1, 4, 30])
def test_operations_are_inserted_within_the_lag_the_window_arithmetic_assumes(
    make_emulator: EmulatorFactory, tasks_per_run: int
) -> None:
    """insertedAt never trails its task run's createdAt by more than ``operation_lag`` (the window math needs it)."""
    volume = Volume(task_runs=30_000, days=7, tasks_per_pipeline_run=tasks_per_run, operations_per_task_run=3)
    dataset = make_emulator(volume=volume).dataset
    per_task = volume.operations_per_task_run
    for k in range(0, volume.operations, 7):
        lag = dataset.operation_inserted(k) - dataset.task_created(k // per_task)
        assert 0 < lag <= dataset.operation_lag
