"""Rate limiting, injected failures, latency and the request log."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from eltops.orchestra.emulator import (
    EmptyPage,
    Fault,
    OrchestraEmulator,
    PadField,
    RecordedRequest,
    SetValue,
    parse_fault,
)
from eltops.orchestra.emulator._model import Resource as EmulatedResource
from tests._clock import Clock
from tests.orchestra_emulator.conftest import EmulatorFactory, client_for


def test_rate_limit_answers_429_with_retry_after_then_recovers(make_emulator: EmulatorFactory, clock: Clock) -> None:
    """Past N requests in a rolling minute the answer is 429 with Retry-After; the window then rolls on."""
    emulator = make_emulator(rate_limit_per_minute=3)
    with client_for(emulator) as client:
        for _ in range(3):
            assert client.get("/pipeline_runs").status_code == 200
            clock.advance(seconds=10)
        limited = client.get("/pipeline_runs")
        assert limited.status_code == 429
        assert limited.headers["Retry-After"] == "30"
        assert limited.json() == {"detail": "Rate limit exceeded"}
        clock.advance(seconds=31)
        assert client.get("/pipeline_runs").status_code == 200


def test_requests_with_a_wrong_key_do_not_use_up_the_rate_limit(make_emulator: EmulatorFactory) -> None:
    """Only authenticated requests count towards the limit."""
    emulator = make_emulator(rate_limit_per_minute=1)
    with client_for(emulator, key="wrong") as intruder, client_for(emulator) as client:
        for _ in range(3):
            assert intruder.get("/task_runs").status_code == 401
        assert client.get("/task_runs").status_code == 200
        assert client.get("/task_runs").status_code == 429


@pytest.mark.parametrize(
    ("status", "retry_after", "content_type"),
    [(500, None, "text/plain"), (503, 5, "text/plain"), (502, None, "text/plain"), (429, 2, "application/json")],
)
def test_fail_next_answers_the_next_requests_with_that_status(
    emulator: OrchestraEmulator, status: int, retry_after: int | None, content_type: str
) -> None:
    """``fail_next`` makes exactly the next ``count`` requests fail, then normal service resumes."""
    emulator.fail_next(status=status, count=2, retry_after=retry_after)
    with client_for(emulator) as client:
        failed = [client.get("/operations") for _ in range(2)]
        assert client.get("/operations").status_code == 200
    for response in failed:
        assert response.status_code == status
        assert response.headers["Content-Type"].startswith(content_type)
        assert response.headers.get("Retry-After") == (None if retry_after is None else str(retry_after))


def test_the_request_log_records_method_path_query_and_status(emulator: OrchestraEmulator) -> None:
    """Each answered request is counted and logged with its query (last value wins) and status."""
    emulator.fail_next(status=500, count=1)
    with client_for(emulator) as client:
        client.get("/task_runs", params={"page": 2})
        client.get("/task_runs?page=1&page=3&page_size=5")
        client.get("/task_runs", params={"page_size": 500})
    assert emulator.request_count == 3
    assert emulator.requests == [
        RecordedRequest("GET", "/api/engine/public/task_runs", {"page": "2"}, 500),
        RecordedRequest("GET", "/api/engine/public/task_runs", {"page": "3", "page_size": "5"}, 200),
        RecordedRequest("GET", "/api/engine/public/task_runs", {"page_size": "500"}, 422),
    ]


def test_latency_delays_every_answer(make_emulator: EmulatorFactory) -> None:
    """With latency_seconds each answer takes at least that long."""
    emulator = make_emulator(latency_seconds=0.05)
    with client_for(emulator) as client:
        started = time.perf_counter()
        client.get("/pipeline_runs")
        assert time.perf_counter() - started >= 0.05


@pytest.mark.parametrize("kwargs", [{"rate_limit_per_minute": 0}, {"latency_seconds": -1}, {"future_days": -1}])
def test_invalid_settings_are_refused(make_emulator: EmulatorFactory, kwargs: dict[str, float]) -> None:
    """Nonsensical settings raise ValueError at construction."""
    with pytest.raises(ValueError, match="must be"):
        make_emulator(**kwargs)


def test_injected_faults_change_the_pages_as_described(emulator: OrchestraEmulator) -> None:
    """Padding, an empty page and a raw JSON value are served as asked; heal() brings back the real pages."""
    emulator.inject(
        PadField(EmulatedResource.TASK_RUNS, "message", 4096),
        EmptyPage(EmulatedResource.TASK_RUNS, 2),
        SetValue(EmulatedResource.TASK_RUNS, "numberOfAttempts", "123456789012345678901234567890"),
    )
    with client_for(emulator) as client:
        first = client.get("/task_runs", params={"page_size": 10})
        second = client.get("/task_runs", params={"page": 2, "page_size": 10})
        pipeline_runs = client.get("/pipeline_runs", params={"page_size": 10}).json()
        emulator.heal()
        healed = client.get("/task_runs", params={"page": 2, "page_size": 10}).json()
    page = json.loads(first.content)  # the standard library reads integers of any size
    assert {len(r["message"]) for r in page["results"]} == {4096}
    assert page["results"][0]["numberOfAttempts"] == 123456789012345678901234567890
    assert all(isinstance(r["numberOfAttempts"], int) and r["numberOfAttempts"] < 100 for r in page["results"][1:])
    assert second.json()["results"] == []
    assert second.json()["total"] == page["total"] > 10
    assert all(len(r.get("message") or "") < 4096 for r in pipeline_runs["results"]), "other resources unchanged"
    assert len(healed["results"]) == 10


@pytest.mark.parametrize(
    ("spec", "fault"),
    [
        ("task-runs:pad:message:4096", PadField(EmulatedResource.TASK_RUNS, "message", 4096)),
        ("operations:empty-page:2", EmptyPage(EmulatedResource.OPERATIONS, 2)),
        (
            'pipeline-runs:value:createdAt:"9999-12-31T23:59:59Z"',
            SetValue(EmulatedResource.PIPELINE_RUNS, "createdAt", '"9999-12-31T23:59:59Z"'),
        ),
        ("task-runs:value:numberOfAttempts:2.5", SetValue(EmulatedResource.TASK_RUNS, "numberOfAttempts", "2.5")),
    ],
)
def test_fault_specs_parse(spec: str, fault: Fault) -> None:
    """The --fault forms name the resource, the kind and its arguments."""
    assert parse_fault(spec) == fault


@pytest.mark.parametrize(
    "spec", ["jobs:pad:message:1", "task-runs:explode", "task-runs:pad:message:big", "task-runs:value:x:{", "x"]
)
def test_bad_fault_specs_are_refused(spec: str) -> None:
    """A --fault that does not parse is a ValueError saying what is wrong."""
    with pytest.raises(ValueError, match="fault"):
        parse_fault(spec)


def test_a_bad_fault_on_the_command_line_is_a_usage_error() -> None:
    """eltops emulate orchestra --fault with a spec that does not parse exits 2, saying which."""
    bad = subprocess.run(
        [sys.executable, "-m", "eltops", "emulate", "orchestra", "--port", "0", "--fault", "nope"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 2
    assert "fault 'nope'" in bad.stderr
