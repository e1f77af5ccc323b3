"""The run endpoints: start, status, task runs, logs, cancel — spec-valid, moving with the emulator's clock."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from eltops.orchestra.emulator import OrchestraEmulator, PipelineScript, TaskScript, load_pipelines
from tests._clock import Clock
from tests.orchestra_emulator.conftest import EmulatorFactory, client_for, fetch_all

PIPELINES = (
    PipelineScript(
        "ok",
        "OK pipeline",
        (
            TaskScript("a", "Task A", "FIVETRAN", 10, log="a log\n"),
            TaskScript("b", "Task B", "DBT_CORE", 20, log="b log\n"),
        ),
    ),
    PipelineScript(
        "bad",
        "Bad pipeline",
        (
            TaskScript("a", "Task A", "PYTHON", 10, "FAILED", log="".join(f"line {i}\n" for i in range(100))),
            TaskScript("b", "Task B", "PYTHON", 10),
        ),
    ),
    PipelineScript("warn", "Warn pipeline", (TaskScript("w", "Task W", "SNOWFLAKE", 5, "WARNING"),)),
    PipelineScript("forever", "Forever", (TaskScript("f", "Task F", "PYTHON", None, log="..."),)),
)


@pytest.fixture
def emulator(make_emulator: EmulatorFactory) -> OrchestraEmulator:
    return make_emulator(pipelines=PIPELINES)


def _validator(spec: dict[str, Any], name: str) -> Draft202012Validator:
    return Draft202012Validator({"$ref": f"#/components/schemas/{name}", "components": spec["components"]})


def _valid(spec: dict[str, Any], name: str, body: Any) -> None:
    errors = sorted(_validator(spec, name).iter_errors(body), key=str)
    assert not errors, errors[0]


def _start(client: httpx.Client, pipeline: str, **body: Any) -> str:
    response = client.post(f"/pipelines/{pipeline}/start", json=body or None)
    assert response.status_code == 200, response.text
    run_id: str = response.json()["pipelineRunId"]
    return run_id


def _status(client: httpx.Client, run_id: str) -> str:
    status: str = client.get(f"/pipeline_runs/{run_id}/status").raise_for_status().json()["runStatus"]
    return status


def _tasks(client: httpx.Client, run_id: str) -> dict[str, str]:
    body = client.get(f"/pipeline_runs/{run_id}/task_runs", params={"page_size": 50}).raise_for_status().json()
    return {t["taskId"]: t["status"] for t in body["results"]}


def test_start_answers_exactly_the_spec_shape(client: httpx.Client, spec: dict[str, Any]) -> None:
    """The start answer is a StartPipelineResponse (no extra property) with UUID4 ids."""
    body = client.post("/pipelines/ok/start", json={"branch": "main", "ciRunId": "42"}).json()
    _valid(spec, "StartPipelineResponse", body)
    assert uuid.UUID(body["pipelineRunId"]).version == 4


@pytest.mark.parametrize(
    ("pipeline", "moments", "final", "tasks"),
    [
        ("ok", [2, 5, 15], "SUCCEEDED", {"a": "SUCCEEDED", "b": "SUCCEEDED"}),
        ("bad", [2, 5], "FAILED", {"a": "FAILED", "b": "SKIPPED"}),
        ("warn", [2, 3], "WARNING", {"w": "WARNING"}),
    ],
)
def test_runs_move_with_the_clock(
    client: httpx.Client,
    clock: Clock,
    spec: dict[str, Any],
    pipeline: str,
    moments: list[int],
    final: str,
    tasks: dict[str, str],
) -> None:
    """A started run is CREATED, then RUNNING, then ends as scripted; every answer validates against the spec."""
    run_id = _start(client, pipeline)
    assert _status(client, run_id) == "CREATED"
    for seconds in moments:
        clock.advance(seconds=seconds)
        status = client.get(f"/pipeline_runs/{run_id}/status").json()
        _valid(spec, "PipelineRunResponse", status)
        assert status["runStatus"] == "RUNNING"
        page = client.get(f"/pipeline_runs/{run_id}/task_runs").json()
        _valid(spec, "PaginatedResponse_TaskRunResponse_", page)
    clock.advance(seconds=60)
    status = client.get(f"/pipeline_runs/{run_id}/status").json()
    assert status["runStatus"] == final
    assert status["completedAt"] is not None
    assert _tasks(client, run_id) == tasks


def test_a_run_that_never_ends_stays_running(client: httpx.Client, clock: Clock) -> None:
    """A task scripted with no duration keeps its run RUNNING however far the clock moves."""
    run_id = _start(client, "forever")
    clock.advance(days=3)
    assert _status(client, run_id) == "RUNNING"


def test_cancel_moves_through_cancelling_to_cancelled(client: httpx.Client, clock: Clock) -> None:
    """Cancel answers 204; the run and its running task are CANCELLING for a moment, then CANCELLED."""
    run_id = _start(client, "forever")
    clock.advance(seconds=5)
    response = client.post(f"/pipeline_runs/{run_id}/cancel", json={})
    assert response.status_code == 204
    assert response.content == b""
    assert _status(client, run_id) == "CANCELLING"
    assert _tasks(client, run_id) == {"f": "CANCELLING"}
    clock.advance(seconds=5)
    assert _status(client, run_id) == "CANCELLED"
    assert _tasks(client, run_id) == {"f": "CANCELLED"}


def test_cancelling_a_finished_run_changes_nothing(client: httpx.Client, clock: Clock) -> None:
    """A cancel after the run ended is accepted and leaves its outcome as it was."""
    run_id = _start(client, "ok")
    clock.advance(minutes=5)
    assert client.post(f"/pipeline_runs/{run_id}/cancel").status_code == 204
    assert _status(client, run_id) == "SUCCEEDED"


def test_cancel_before_a_queued_task_starts_cancels_it_at_once(client: httpx.Client, clock: Clock) -> None:
    """A task that had not started when the run was cancelled is CANCELLED straight away."""
    run_id = _start(client, "ok")
    clock.advance(seconds=3)
    client.post(f"/pipeline_runs/{run_id}/cancel")
    assert _tasks(client, run_id) == {"a": "CANCELLING", "b": "CANCELLED"}


def test_logs_list_and_download_with_range(client: httpx.Client, clock: Clock, spec: dict[str, Any]) -> None:
    """A started task lists its log file; the download honours ``Range: bytes=-N`` with 206 and Content-Range."""
    run_id = _start(client, "bad")
    clock.advance(seconds=30)
    task = client.get(f"/pipeline_runs/{run_id}/task_runs").json()["results"][0]
    listing = client.get(f"/pipeline_runs/{run_id}/task_runs/{task['id']}/logs").json()
    _valid(spec, "TaskRunFilesResponse", listing)
    assert listing["filenames"] == ["a.log"]
    url = f"/pipeline_runs/{run_id}/task_runs/{task['id']}/logs/download"
    whole = client.get(url, params={"filename": "a.log"})
    assert whole.status_code == 200
    assert whole.text.startswith("line 0\n")
    tail = client.get(url, params={"filename": "a.log"}, headers={"Range": "bytes=-8"})
    assert tail.status_code == 206
    assert tail.text == "line 99\n"
    assert (
        tail.headers["Content-Range"] == f"bytes {len(whole.content) - 8}-{len(whole.content) - 1}/{len(whole.content)}"
    )
    assert client.get(url, params={"filename": "other.log"}).status_code == 404


@pytest.mark.parametrize(
    ("header", "status", "selected"),
    [
        ("bytes=-8", 206, (-8, None)),
        ("bytes=-100000", 206, (0, None)),  # RFC 9110: a suffix longer than the file selects all of it
        ("bytes=0-6", 206, (0, 7)),
        ("bytes=10-", 206, (10, None)),
        ("bytes=5-99999", 206, (5, None)),  # a last position past the end is the end
        ("bytes=99999-", 416, None),  # a first position past the end is unsatisfiable
    ],
)
def test_log_download_ranges_follow_rfc_9110(
    client: httpx.Client, clock: Clock, header: str, status: int, selected: tuple[int, int | None] | None
) -> None:
    """Each byte range is answered as RFC 9110 §14 says: 206 with the bytes and Content-Range, or 416 with the size."""
    run_id = _start(client, "bad")
    clock.advance(seconds=30)
    task = client.get(f"/pipeline_runs/{run_id}/task_runs").json()["results"][0]
    url = f"/pipeline_runs/{run_id}/task_runs/{task['id']}/logs/download"
    whole = client.get(url, params={"filename": "a.log"}).content
    answer = client.get(url, params={"filename": "a.log"}, headers={"Range": header})
    assert answer.status_code == status
    if selected is None:
        assert answer.headers["Content-Range"] == f"bytes */{len(whole)}"
        return
    start, stop = selected
    start = start % len(whole)
    stop = len(whole) if stop is None else stop
    assert answer.content == whole[start:stop]
    assert answer.headers["Content-Range"] == f"bytes {start}-{stop - 1}/{len(whole)}"


def test_runs_it_started_appear_in_the_listings(client: httpx.Client, clock: Clock, spec: dict[str, Any]) -> None:
    """The started run, its task runs and (once finished) their operations are in the three listings, by id too."""
    run_id = _start(client, "ok")
    clock.advance(minutes=2)
    runs = fetch_all(client, "pipeline_runs")
    assert runs[0]["id"] == run_id
    assert len({r["id"] for r in runs}) == len(runs)
    by_id = client.get("/pipeline_runs", params={"pipeline_run_ids": run_id}).json()
    _valid(spec, "PaginatedResponse_PipelineRunResponse_", by_id)
    assert [r["id"] for r in by_id["results"]] == [run_id]
    tasks = client.get("/task_runs", params={"status": "SUCCEEDED", "page_size": 2}).json()
    _valid(spec, "PaginatedResponse_TaskRunResponse_", tasks)
    assert {t["pipelineRunId"] for t in tasks["results"]} == {run_id}
    task_id = tasks["results"][0]["id"]
    operations = client.get("/operations", params={"task_run_id": task_id}).json()
    _valid(spec, "PaginatedResponse_OperationResponse_", operations)
    assert [o["taskRunId"] for o in operations["results"]] == [task_id]


def test_pages_over_started_and_generated_records_partition_the_listing(client: httpx.Client) -> None:
    """With started runs in front, consecutive pages still never overlap and hold ``total`` records."""
    for _ in range(3):
        _start(client, "ok")
    total = client.get("/pipeline_runs").json()["total"]
    seen = [
        r["id"]
        for page in range(1, 200)
        for r in client.get("/pipeline_runs", params={"page": page, "page_size": 2}).json()["results"]
    ]
    assert len(seen) == len(set(seen)) == total


def test_the_same_ci_run_id_restarts_its_run(client: httpx.Client, clock: Clock) -> None:
    """Starting again with an earlier run's ciRunId restarts that run; retryFromFailed keeps what succeeded."""
    first = _start(client, "bad", ciRunId="ci-1")
    clock.advance(minutes=1)
    assert _status(client, first) == "FAILED"
    again = _start(client, "bad", ciRunId="ci-1", retryFromFailed=True)
    assert again == first
    assert _status(client, first) == "CREATED"
    other = _start(client, "bad", ciRunId="ci-2")
    assert other != first


def test_task_ids_run_only_those_tasks(client: httpx.Client, clock: Clock) -> None:
    """``taskIds`` runs the named tasks and skips the others."""
    run_id = _start(client, "ok", taskIds=["b"])
    clock.advance(minutes=1)
    assert _tasks(client, run_id) == {"a": "SKIPPED", "b": "SUCCEEDED"}


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"nope": 1}, {"type": "extra_forbidden", "loc": ["body", "nope"], "msg": "Extra inputs are not permitted"}),
        ({"branch": 5}, {"type": "string_type", "loc": ["body", "branch"], "msg": "Input should be a valid string"}),
        ({"runInputs": [1]}, {"type": "dict_type", "loc": ["body", "runInputs"]}),
        ({"taskIds": ["a", 2]}, {"type": "string_type", "loc": ["body", "taskIds", 1]}),
        ({"retryFromFailed": "yes"}, {"type": "bool_type", "loc": ["body", "retryFromFailed"]}),
        ([1], {"type": "model_attributes_type", "loc": ["body"]}),
    ],
)
def test_a_malformed_start_body_is_fastapis_422(
    client: httpx.Client, spec: dict[str, Any], body: Any, error: dict[str, Any]
) -> None:
    """Bodies that break WebhookRequestData are answered 422 with FastAPI's error detail list."""
    response = client.post("/pipelines/ok/start", json=body)
    assert response.status_code == 422
    _valid(spec, "HTTPValidationError", response.json())
    detail = response.json()["detail"][0]
    assert {k: detail[k] for k in error} == error


def test_invalid_json_is_json_invalid(client: httpx.Client) -> None:
    """A body that is not JSON is a 422 json_invalid, as FastAPI answers it."""
    response = client.post("/pipelines/ok/start", content=b"{oops", headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "json_invalid"


@pytest.mark.parametrize(
    ("method", "path", "status", "detail"),
    [
        ("POST", "/pipelines/ghost/start", 404, "Pipeline not found"),
        ("GET", "/pipeline_runs/32e99f21-86dc-4372-b17e-c1eff9d617f8/status", 404, "Pipeline run not found"),
        ("POST", "/pipeline_runs/6392d274-b3a4-4106-9924-4e822b3ecc7b/cancel", 404, "Pipeline run not found"),
        ("GET", "/pipeline_runs/not-a-uuid/status", 422, None),
    ],
)
def test_unknown_pipelines_and_runs(
    client: httpx.Client, method: str, path: str, status: int, detail: str | None
) -> None:
    """An unknown pipeline or run is a 404 with a detail string; a malformed run id is a 422."""
    response = client.request(method, path)
    assert response.status_code == status
    if detail is not None:
        assert response.json() == {"detail": detail}
    else:
        assert response.json()["detail"][0]["type"] == "uuid_parsing"


def test_the_run_endpoints_need_the_key(emulator: OrchestraEmulator) -> None:
    """Starting without the bearer key is 401 and starts nothing."""
    with client_for(emulator, key=None) as anonymous:
        assert anonymous.post("/pipelines/ok/start").status_code == 401
    assert emulator.runbook.runs() == []


def test_pipelines_file(tmp_path: Path) -> None:
    """A scenario file scripts pipelines; a bad one names what is wrong."""
    good = tmp_path / "p.yml"
    good.write_text(
        "pipelines:\n  - alias: x\n    tasks:\n      - id: t\n        seconds: null\n        outcome: FAILED\n"
    )
    (pipeline,) = load_pipelines(good)
    assert pipeline.tasks[0].seconds is None
    assert pipeline.tasks[0].outcome == "FAILED"
    bad = tmp_path / "bad.yml"
    bad.write_text("pipelines:\n  - alias: x\n    tasks:\n      - id: t\n        outcome: MAYBE\n")
    with pytest.raises(ValueError, match="outcome must be one of"):
        load_pipelines(bad)


@pytest.mark.parametrize(("value", "error"), [(2, None), ("two", "attempts must be a whole number"), (0, "1 or more")])
def test_a_pipelines_file_scripts_retried_tasks(tmp_path: Path, value: object, error: str | None) -> None:
    """`attempts` in a pipelines file makes a retried task; anything but a positive whole number is refused."""
    path = tmp_path / "p.yml"
    path.write_text(
        "pipelines:\n  - alias: flaky\n    tasks:\n      - id: sync\n        attempts: " + json.dumps(value) + "\n"
    )
    if error is None:
        [pipeline] = load_pipelines(path)
        assert pipeline.tasks[0].attempts == value
    else:
        with pytest.raises(ValueError, match=error):
            load_pipelines(path)
