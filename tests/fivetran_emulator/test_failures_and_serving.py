"""Scripted failure bursts and latency, thread safety, and serving over a real socket."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from eltops._serve import serve_in_thread
from eltops.fivetran.emulator import ConnectionScript, FailureBurst, FivetranEmulator

from ._support import HEADERS, KEY, SECRET, FakeClock, make_client, make_emulator


def test_429_burst_then_success(clock: FakeClock) -> None:
    """A 429 burst answers N times with Retry-After and Fivetran's TooManyRequests body, then normally."""
    emu = make_emulator(clock, script=ConnectionScript(failures=(FailureBurst(429, count=2, retry_after=3),)))
    with make_client(emu) as client:
        answers = [client.get("/v1/connections/c1") for _ in range(3)]
    assert [a.status_code for a in answers] == [429, 429, 200]
    assert answers[0].headers["Retry-After"] == "3"
    assert answers[0].json() == {
        "code": "TooManyRequests",
        "message": "Max 20000 api calls allowed in one-hour rolling time period",
    }


@pytest.mark.parametrize(
    ("status", "code"),
    [(500, "InternalError"), (502, "BadGateway"), (503, "ServiceUnavailable"), (504, "GatewayTimeout")],
)
def test_5xx_bursts(clock: FakeClock, status: int, code: str) -> None:
    """5xx bursts answer their status with a Fivetran-style body, without Retry-After unless scripted."""
    emu = make_emulator(clock, script=ConnectionScript(failures=(FailureBurst(status),)))
    with make_client(emu) as client:
        first, second = client.get("/v1/connections/c1"), client.get("/v1/connections/c1")
    assert first.status_code == status
    assert first.json()["code"] == code
    assert "Retry-After" not in first.headers
    assert second.status_code == 200


def test_fractional_retry_after(clock: FakeClock) -> None:
    """A fractional retry_after is sent as a decimal number of seconds."""
    emu = make_emulator(clock, script=ConnectionScript(failures=(FailureBurst(503, retry_after=0.25),)))
    with make_client(emu) as client:
        assert client.get("/v1/connections/c1").headers["Retry-After"] == "0.25"


def test_burst_matching_by_method_and_path(clock: FakeClock) -> None:
    """A burst with method and path_contains hits only matching requests; the failed trigger started nothing."""
    burst = FailureBurst(500, count=1, method="POST", path_contains="/sync")
    emu = make_emulator(clock, script=ConnectionScript(failures=(burst,)))
    with make_client(emu) as client:
        assert client.get("/v1/connections/c1").status_code == 200
        assert client.post("/v1/connections/c1/test").status_code == 200
        assert client.post("/v1/connections/c1/sync").status_code == 500
        clock.advance(100)
        assert emu.snapshot("c1")["succeeded_at"] is None
        assert client.post("/v1/connections/c1/sync").status_code == 200


def test_bursts_are_consumed_in_order(clock: FakeClock) -> None:
    """Several bursts answer one after the other."""
    bursts = (FailureBurst(429, count=1, retry_after=1), FailureBurst(503, count=2))
    emu = make_emulator(clock, script=ConnectionScript(failures=bursts))
    with make_client(emu) as client:
        assert [client.get("/v1/connections/c1").status_code for _ in range(4)] == [429, 503, 503, 200]


def test_bursts_only_hit_their_connection(clock: FakeClock) -> None:
    """A burst scripted on one connection leaves other connections and the lists alone."""
    emu = make_emulator(clock, script=ConnectionScript(failures=(FailureBurst(500, count=5),)))
    emu.add_connection("other", group_id="g1", schema="other")
    with make_client(emu) as client:
        assert client.get("/v1/connections/other").status_code == 200
        assert client.get("/v1/connections").status_code == 200
        assert client.get("/v1/groups/g1/connections").status_code == 200


def test_runtime_script_adds_bursts(emu: FivetranEmulator, client: httpx.Client) -> None:
    """emu.script(failures=...) arms new bursts at runtime."""
    assert client.get("/v1/connections/c1").status_code == 200
    emu.script("c1", failures=(FailureBurst(503, count=1),))
    assert client.get("/v1/connections/c1").status_code == 503
    assert client.get("/v1/connections/c1").status_code == 200


def test_failure_burst_validation() -> None:
    """A burst must answer an error status."""
    with pytest.raises(ValueError, match="error status"):
        FailureBurst(200)


def test_latency_delays_answers(clock: FakeClock) -> None:
    """latency_seconds really delays each answer for that connection."""
    emu = make_emulator(clock, script=ConnectionScript(latency_seconds=0.2))
    with make_client(emu) as client:
        started = time.monotonic()
        assert client.get("/v1/connections/c1").status_code == 200
        assert time.monotonic() - started >= 0.2


def test_served_over_a_real_socket(clock: FakeClock) -> None:
    """Over real HTTP the emulator answers, triggers syncs and refuses bad credentials."""
    emu = make_emulator(clock)
    with (
        serve_in_thread(emu.wsgi_app) as server,
        httpx.Client(base_url=server.url, auth=(KEY, SECRET), headers=HEADERS) as client,
    ):
        assert client.get("/v1/connections/c1").json()["data"]["id"] == "c1"
        assert client.post("/v1/connections/c1/sync", json={"force": True}).status_code == 200
        clock.advance(12)
        assert client.get("/v1/connectors/c1").json()["data"]["succeeded_at"] is not None
        assert client.get("/v1/groups", auth=("x", "y")).status_code == 401


def test_slow_connection_does_not_block_others_over_a_socket(clock: FakeClock) -> None:
    """The threaded server answers a fast connection while a slow one sleeps (latency is outside the lock)."""
    emu = make_emulator(clock, script=ConnectionScript(latency_seconds=1.0))
    emu.add_connection("fast", group_id="g1", schema="fast")
    with serve_in_thread(emu.wsgi_app) as server, ThreadPoolExecutor(2) as pool:

        def get(connection: str) -> float:
            with httpx.Client(base_url=server.url, auth=(KEY, SECRET)) as client:
                started = time.monotonic()
                assert client.get(f"/v1/connections/{connection}").status_code == 200
                return time.monotonic() - started

        slow = pool.submit(get, "c1")
        time.sleep(0.1)
        assert pool.submit(get, "fast").result() < 0.8
        assert slow.result() >= 1.0


def test_concurrent_clients(clock: FakeClock) -> None:
    """Many threads hammering the same emulator all get consistent answers and every request is logged."""
    emu = make_emulator(clock)
    with serve_in_thread(emu.wsgi_app) as server:

        def work(i: int) -> int:
            with httpx.Client(base_url=server.url, auth=(KEY, SECRET)) as client:
                codes = {
                    client.get("/v1/connections/c1").status_code,
                    client.post("/v1/connections/c1/sync").status_code,
                }
                codes.add(client.get("/v1/connections", params={"limit": 1}).status_code)
                return max(codes)

        with ThreadPoolExecutor(8) as pool:
            assert set(pool.map(work, range(40))) == {200}
    assert len(emu.requests) == 120
