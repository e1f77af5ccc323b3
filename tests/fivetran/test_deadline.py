"""One deadline per job: bound before the run is recorded, carried by the client to every request it sends."""

from __future__ import annotations

import inspect
import io
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest

from eltops._deadline import Deadline
from eltops.cli._app import AppContext
from eltops.cli._fivetran import run_job
from eltops.cli._output import CiKind, Output
from eltops.errors import ExitCode, JobTimeout
from eltops.fivetran import Directory, FivetranClient, FlagValues, load_settings
from eltops.fivetran.emulator import ConnectionScript
from eltops.history import HistoryRecorder, detect_ci_run
from eltops.secrets import EnvReader, Secret
from eltops.warehouse import Target, open_target, parse_warehouse
from tests.fivetran.conftest import KEY, SECRET, Harness

# Every request-sending method of the client and of the Directory built on it, called once.
CALLS: dict[str, Callable[[FivetranClient], Any]] = {
    "get_connection": lambda c: c.get_connection("conn_a"),
    "modify_connection": lambda c: c.modify_connection("conn_a", {"paused": False}),
    "trigger_sync": lambda c: c.trigger_sync("conn_a"),
    "resync": lambda c: c.resync("conn_a"),
    "resync_tables": lambda c: c.resync_tables("conn_a", "public", ["orders"]),
    "run_setup_tests": lambda c: c.run_setup_tests("conn_a"),
    "sync_history": lambda c: c.sync_history(
        "conn_a", start=datetime(2024, 11, 30, tzinfo=UTC), end=datetime(2024, 12, 1, tzinfo=UTC), within=5, max_pages=2
    ),
    "connection_errors": lambda c: c.connection_errors("conn_a", within=5, max_pages=2),
    "groups": lambda c: list(c.groups()),
    "group_connections": lambda c: list(c.group_connections("group_1")),
    "send": lambda c: c.send("GET", "/v1/transformations"),
    "items": lambda c: list(c.items("/v1/transformations")),
    "destination": lambda c: c.destination("group_1"),
    "destination_tables": lambda c: c.destination_tables("conn_a"),
    "Directory.groups": lambda c: Directory(c).groups(),
    "Directory.connection": lambda c: Directory(c).connection("Warehouse", "conn_a_db"),
}
NOT_REQUESTS = {"close", "create", "rebound"}  # rebound: a client with a deadline of its own (test_transformations)
# Calls allowed past the deadline by a bounded grace (putting back what the job changed), each called once.
LATE_CALLS: dict[str, Callable[[FivetranClient], Any]] = {
    "modify_connection_late": lambda c: c.modify_connection_late("conn_a", {"paused": False}, grace=2),
}


class TimeoutLog(httpx.BaseTransport):
    """The emulator's WSGI app, noting the timeout each request was sent with."""

    def __init__(self, harness: Harness) -> None:
        self._inner = httpx.WSGITransport(app=harness.emulator.wsgi_app)
        self.timeouts: list[float] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.timeouts.append(max(request.extensions["timeout"].values()))
        return self._inner.handle_request(request)


def _client(harness: Harness, deadline: Deadline, transport: httpx.BaseTransport | None = None) -> FivetranClient:
    harness.connection("conn_a", tables={"public": ["orders"]})
    return FivetranClient.create(
        api_url="http://emulator.test",
        api_key=Secret(KEY),
        api_secret=Secret(SECRET),
        deadline=deadline,
        transport=transport or httpx.WSGITransport(app=harness.emulator.wsgi_app),
    )


def test_every_request_method_is_covered_and_takes_no_deadline() -> None:
    """The parametrized calls below cover every public method of the client, and none of them takes a deadline."""
    methods = {name for name, _ in inspect.getmembers(FivetranClient) if not name.startswith("_")} - NOT_REQUESTS
    assert methods == {name for name in [*CALLS, *LATE_CALLS] if "." not in name}
    for name in methods:
        assert "deadline" not in inspect.signature(getattr(FivetranClient, name)).parameters, name


@pytest.mark.parametrize("make", [FivetranClient, FivetranClient.create])
def test_a_client_cannot_be_made_without_a_deadline(make: Callable[..., Any]) -> None:
    """The deadline has no default: a client without one is an explicit NO_DEADLINE, never a forgotten argument."""
    assert inspect.signature(make).parameters["deadline"].default is inspect.Parameter.empty


@pytest.mark.parametrize("call", list(CALLS.values()), ids=list(CALLS))
def test_an_expired_deadline_sends_nothing(harness: Harness, call: Callable[[FivetranClient], Any]) -> None:
    """Once the client's deadline has passed, every call fails with a timeout before a request leaves."""
    deadline = Deadline(30, harness.time.monotonic)
    harness.time.sleep(30)
    with _client(harness, deadline) as client, pytest.raises(JobTimeout):
        call(client)
    assert harness.emulator.requests == []


@pytest.mark.parametrize("call", list(CALLS.values()), ids=list(CALLS))
def test_every_request_is_cut_to_the_time_left(harness: Harness, call: Callable[[FivetranClient], Any]) -> None:
    """With 4 s of the job left, every request the call sends may take at most those 4 s."""
    deadline = Deadline(100, harness.time.monotonic)
    harness.time.sleep(96)
    transport = TimeoutLog(harness)
    with _client(harness, deadline, transport) as client:
        call(client)
    assert transport.timeouts
    assert all(t <= 4.0 for t in transport.timeouts), transport.timeouts


@pytest.mark.parametrize("call", list(LATE_CALLS.values()), ids=list(LATE_CALLS))
def test_a_late_call_gets_only_its_grace(harness: Harness, call: Callable[[FivetranClient], Any]) -> None:
    """Past the deadline, a late call may take its grace (2 s) and no more; with 4 s left, 4 s plus the grace."""
    deadline = Deadline(100, harness.time.monotonic)
    harness.time.sleep(96)
    transport = TimeoutLog(harness)
    with _client(harness, deadline, transport) as client:
        call(client)
        harness.time.sleep(10)  # the deadline has passed by 6 s
        call(client)
    assert len(transport.timeouts) == 2
    assert 4.0 < transport.timeouts[0] <= 6.0
    assert 0.0 < transport.timeouts[1] <= 2.0


@pytest.mark.parametrize(
    ("lock_wait", "sync_seconds", "code"),
    [
        (0.0, 100.0, ExitCode.OK),
        (249.5, 100.0, ExitCode.TIMEOUT),  # 249.5 s waiting for the warehouse leave 50.5 s of the 300 s
        (249.5, 30.0, ExitCode.OK),
    ],
)
def test_time_spent_recording_the_start_counts_against_the_timeout(
    harness: Harness, tmp_path: Path, lock_wait: float, sync_seconds: float, code: ExitCode
) -> None:
    """A first write that waits (a warehouse lock, a slow warehouse) leaves that much less of FIVETRAN_TIMEOUT."""
    harness.connection("conn_a", script=ConnectionScript(sync_seconds=sync_seconds))
    settings = load_settings({**harness.env, "FIVETRAN_TIMEOUT": "300"}, FlagValues())
    deadline = Deadline(settings.timeout, harness.time.monotonic)  # as the command binds it: first
    db = tmp_path / "history.duckdb"
    spec = parse_warehouse(str(db), EnvReader({}))
    opened: list[Path] = []

    def open_after_a_wait() -> Target:
        if not opened:
            harness.time.sleep(lock_wait)
        opened.append(db)
        return open_target(spec)

    ci = detect_ci_run({}, job_label="fivetran START")
    recorder = HistoryRecorder(open_after_a_wait, ci, settings, wall_clock=harness.time.time)
    app = AppContext({}, Output(CiKind.NONE, colour=False, stdout=io.StringIO(), stderr=io.StringIO()))
    job = run_job(
        app,
        settings,
        recorder,
        deadline,
        transport=httpx.WSGITransport(app=harness.emulator.wsgi_app),
        wall_clock=harness.time.time,
        sleep=harness.time.sleep,
    )
    assert job.exit_code is code, job.results[0].message
    assert harness.time.monotonic() <= 300 + 1e-6  # the job ends by the deadline, the recording included
    with duckdb.connect(str(db), read_only=True) as con:
        [(status,)] = con.execute("SELECT status FROM task_runs").fetchall()
    assert status == ("SUCCEEDED" if code is ExitCode.OK else "FAILED")
    assert len(opened) == 2  # the start and the end were both written
