"""Rate limiting, injected failures, latency and the request log."""

from __future__ import annotations

import time

import pytest

from eltops.orchestra.emulator import OrchestraEmulator, RecordedRequest
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
