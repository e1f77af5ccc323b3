"""Volume, real sockets and the CLI command (how fast pages are served: benchmarks/orchestra_emulator_pages.py)."""

from __future__ import annotations

import subprocess
import sys
import tracemalloc

import httpx
import pytest
from click.testing import CliRunner

from eltops._serve import serve_in_thread
from eltops.cli._emulate_orchestra import orchestra_emulator
from eltops.orchestra.emulator import BASE_PATH, DEFAULT_API_KEY, Volume
from tests.orchestra_emulator.conftest import KEY, EmulatorFactory, client_for


@pytest.mark.slow
def test_memory_stays_small_at_half_a_million_task_runs(make_emulator: EmulatorFactory) -> None:
    """Serving pages from 500,000 task runs (1,000,000 operations) allocates only a few megabytes."""
    tracemalloc.start()
    try:
        emulator = make_emulator(volume=Volume(task_runs=500_000, days=7))
        with client_for(emulator) as client:
            for resource in ("pipeline_runs", "task_runs", "operations"):
                for page in (1, 777, 1250):
                    body = client.get(f"/{resource}", params={"page": page, "page_size": 100}).json()
                    assert len(body["results"]) == 100
            assert body["total"] > 990_000
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 30 * 1024 * 1024


@pytest.mark.slow
def test_deep_pages_of_a_large_history_are_whole_and_distinct(make_emulator: EmulatorFactory) -> None:
    """Pages deep into 200,000 task runs each hold 100 records, none repeated (their speed: benchmarks/)."""
    emulator = make_emulator(volume=Volume(task_runs=200_000, days=7))
    seen: set[str] = set()
    with client_for(emulator) as client:
        for page in range(1, 101):
            body = client.get("/task_runs", params={"page": page * 19, "page_size": 100}).json()
            assert len(body["results"]) == 100
            seen |= {record["id"] for record in body["results"]}
    assert len(seen) == 100 * 100


def test_serves_over_a_real_loopback_socket(make_emulator: EmulatorFactory) -> None:
    """Through ``serve_in_thread`` the emulator answers real HTTP, concurrently."""
    emulator = make_emulator()
    with (
        serve_in_thread(emulator.wsgi_app) as server,
        httpx.Client(base_url=server.url + BASE_PATH, headers={"Authorization": f"Bearer {KEY}"}) as client,
    ):
        body = client.get("/task_runs", params={"page_size": 100}).json()
        assert body["total"] == 400
        assert client.get("/operations", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert emulator.request_count == 2


def test_cli_help_lists_the_options() -> None:
    """``eltops emulate orchestra --help`` documents every option."""
    result = CliRunner().invoke(orchestra_emulator, ["--help"])
    assert result.exit_code == 0
    for option in ("--port", "--host", "--api-key", "--seed", "--task-runs", "--days", "--rate-limit", "--latency"):
        assert option in result.output


@pytest.mark.parametrize(("args", "message"), [(["--host", "192.0.2.1"], "loopback"), (["--days", "0"], "days")])
def test_cli_refuses_bad_settings(args: list[str], message: str) -> None:
    """A non-loopback host or an empty history is refused before serving."""
    result = CliRunner().invoke(orchestra_emulator, ["--port", "0", *args])
    assert result.exit_code != 0
    assert message in (result.output + str(result.exception))


def test_cli_prints_the_base_url_and_serves_until_stopped() -> None:
    """The command prints ``ORCHESTRA_API_URL`` on its first stdout line and answers requests there."""
    code = "from eltops.cli._emulate_orchestra import orchestra_emulator as c; c(['--port', '0', '--task-runs', '40'])"
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        assert url.endswith(BASE_PATH)
        key = {"Authorization": f"Bearer {DEFAULT_API_KEY}"}
        assert httpx.get(f"{url}/pipeline_runs", headers=key).json()["total"] == 10  # 40 task runs, 4 a run
        day = httpx.get(f"{url}/task_runs", headers=key).json()["total"]  # Orchestra's default: the last 24 hours
        assert 0 < day < 40
    finally:
        process.terminate()
        process.wait(timeout=10)
