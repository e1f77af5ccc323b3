"""Property test: mutated connection objects and setup-test answers (wrong types, missing fields, odd timestamps,
control characters, huge strings, echoed secrets) thrown at the real ``eltops fivetran`` command never crash it,
always end with a documented exit code, and never let a secret out: stdout, stderr, JUnit, step summary, history.

The answers come from a stand-in served on loopback that answers every call with the mutated object; the command
runs in-process (``run_command``), so one example costs milliseconds, or a few tenths of a second when it also
records its history in DuckDB (a third of the examples do).
"""

from __future__ import annotations

import copy
import io
import json
import tempfile
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eltops._serve import RunningServer, serve_in_thread
from eltops.cli import run_command
from eltops.cli._output import CiKind, Output
from tests._leaks import leaks, secret_forms

KEY, SECRET = 'fz"key\\<&% é-1a2b', "fz-secret/ü'&amp;-3c4d"
FORMS = secret_forms(KEY, SECRET, basic_auth=(KEY, SECRET))
DOCUMENTED_EXIT_CODES = {0, 1, 2, 3, 4}

CONNECTION: dict[str, Any] = {
    "id": "fuzz_conn",
    "group_id": "g1",
    "service": "postgres",
    "schema": "shop_db",
    "schedule_type": "manual",
    "paused": False,
    "succeeded_at": "2024-12-01T15:43:29.013729Z",
    "failed_at": "2024-11-30T10:00:00.000000Z",
    "status": {
        "setup_state": "connected",
        "sync_state": "scheduled",
        "update_state": "on_schedule",
        "is_historical_sync": False,
        "tasks": [],
        "warnings": [],
    },
}
SETUP_TESTS = [{"title": "Connecting to host", "status": "PASSED", "message": ""}]
FIELDS = [
    *(k for k in CONNECTION if k != "status"),
    *(f"status.{k}" for k in CONNECTION["status"]),
    "status.rescheduled_for",
]

odd_timestamps = st.sampled_from(
    [
        "2024-12-01T15:43:29",
        "2099-01-01T00:00:00",
        "2024-12-01T15:43:29.013729",
        "2024-12-01 15:43:29",
        "2024-12-01T15:43:29+14:00",
        "2024-12-01",
        "9999-12-31T23:59:59Z",
        "9999-12-31T23:59:59-23:59",
        "0001-01-01T00:00:00+01:00",
        "2024-13-45T99:99:99Z",
        "2024-12-01T15:43:29.0137291234Z",
        "yesterday",
        "",
    ]
)
secret_text = st.builds(
    lambda before, secret, after: f"{before}{secret}{after}",
    st.text(max_size=5),
    st.sampled_from([KEY, SECRET, *sorted(FORMS)]),
    st.text(max_size=5),
)
hostile_text = st.one_of(
    st.text(max_size=30),
    st.text(alphabet=st.characters(max_codepoint=0x1F), max_size=10),
    st.sampled_from(["false", "true", "0", "", "syncing", "paused", "rescheduled", "broken", "manual", "PASSED"]),
    odd_timestamps,
    secret_text,
    st.integers(min_value=1, max_value=200_000).map(lambda n: "x" * n),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    hostile_text,
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=5,
)


def _mutate(base: dict[str, Any], changes: list[tuple[str, bool, Any]]) -> dict[str, Any]:
    data = copy.deepcopy(base)
    for path, delete, value in changes:
        holder: Any = data
        *parents, key = path.split(".")
        for parent in parents:
            holder = holder.get(parent) if isinstance(holder, dict) else None
        if not isinstance(holder, dict):
            continue
        if delete:
            holder.pop(key, None)
        else:
            holder[key] = value
    return data


string_booleans = st.sampled_from(["false", "true", "False", "0", "1", "", 0, 1, None])


def _fault_for(field: str) -> st.SearchStrategy[Any]:
    """The faults one field is prone to: odd timestamps, booleans as strings, hostile text."""
    if field.endswith(("_at", "rescheduled_for")):
        return odd_timestamps
    if field in ("paused", "status.is_historical_sync"):
        return string_booleans
    return hostile_text


TIMESTAMPS = ["succeeded_at", "failed_at", "status.rescheduled_for"]
one_fault = st.one_of(  # one kind of fault at a time, each kind as likely as the others
    st.tuples(st.sampled_from(TIMESTAMPS), st.just(False), odd_timestamps),
    st.tuples(st.sampled_from(["paused", "status.is_historical_sync"]), st.just(False), string_booleans),
    st.sampled_from(FIELDS).flatmap(lambda f: st.tuples(st.just(f), st.just(False), hostile_text)),
    st.tuples(st.sampled_from(FIELDS), st.just(True), st.none()),
)
change = st.sampled_from(FIELDS).flatmap(lambda f: st.tuples(st.just(f), st.booleans(), _fault_for(f) | values))
connections = st.one_of(
    one_fault.map(lambda fault: _mutate(CONNECTION, [fault])),
    st.lists(change, max_size=4).map(lambda changes: _mutate(CONNECTION, changes)),
    values,  # not an object at all
)
setup_test = st.one_of(
    st.fixed_dictionaries(
        {"title": values | hostile_text, "status": st.sampled_from(["PASSED", "FAILED", "WARNING"]) | values},
        optional={"message": values | hostile_text, "details": values},
    ),
    values,
)
setup_tests = st.one_of(st.lists(setup_test, max_size=3), values)


def _finished(data: dict[str, Any]) -> dict[str, Any]:
    """The connection after a sync: the first of succeeded_at/failed_at the example left alone moves on."""
    for key in ("succeeded_at", "failed_at"):
        if data.get(key) == CONNECTION[key]:
            return {**data, key: "2100-01-01T00:00:00.000000Z"}
    return data


class StandIn:
    """Answers every Fivetran call with the current mutated connection (and setup tests); sync calls succeed.

    After a sync is triggered, the connection reads as finished (a later ``succeeded_at`` or ``failed_at``) unless
    the example changed both, so a START nearly always ends at its first poll.
    """

    def __init__(self) -> None:
        self.connection: Any = CONNECTION
        self.setup_tests: Any = SETUP_TESTS
        self.triggered = False
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        method, path = environ["REQUEST_METHOD"], environ["PATH_INFO"]
        with self.lock:
            data: Any = self.connection
            if path.endswith(("/sync", "/resync")):
                self.triggered = True
                data = None
            elif path.endswith("/test"):
                data = {**data, "setup_tests": self.setup_tests} if isinstance(data, dict) else data
            elif method == "GET" and self.triggered and isinstance(data, dict):
                data = _finished(data)
        body = json.dumps({"code": "Success", "message": f"ok {KEY}", "data": data}).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]


@pytest.fixture(scope="module")
def stand_in() -> Iterator[tuple[StandIn, RunningServer]]:
    app = StandIn()
    with serve_in_thread(app) as server:
        yield app, server


ACTIONS = ["STATUS", "START", "TEST", "FORCE_RESYNC"]


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(
    action=st.sampled_from(ACTIONS),
    connection=connections,
    tests=setup_tests,
    record=st.sampled_from([False, False, True]),
)
def test_mutated_answers_end_cleanly_and_leak_nothing(
    stand_in: tuple[StandIn, RunningServer], action: str, connection: Any, tests: Any, record: bool
) -> None:
    """Whatever the API answers: a documented exit code, no traceback, valid JUnit and JSON, no secret anywhere."""
    app, server = stand_in
    with app.lock:
        app.connection, app.setup_tests, app.triggered = connection, tests, False
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        env = {
            "FIVETRAN_API_URL": server.url,
            "FIVETRAN_API_KEY": KEY,
            "FIVETRAN_API_SECRET": SECRET,
            "FIVETRAN_ACTION": action,
            "CONNECTOR_ID": "fuzz_conn",
            "SCHEMA": "public",
            "TABLE": "orders,orders",
            "FIVETRAN_POLL_INTERVAL": "0.01",
            "FIVETRAN_TIMEOUT": "0.2",
            "FIVETRAN_JUNIT_REPORT": str(folder / "junit.xml"),
            "GITHUB_STEP_SUMMARY": str(folder / "summary.md"),
            **({"ELTOPS_WAREHOUSE": str(folder / "h.duckdb")} if record else {}),
        }
        output = Output(ci=CiKind.GITHUB, colour=False, stdout=io.StringIO(), stderr=io.StringIO())
        code = run_command(["-vv", "fivetran", "--json"], env=env, output=output)
        stdout, stderr = output.stdout.getvalue(), output.stderr.getvalue()
        assert code in DOCUMENTED_EXIT_CODES, stderr
        assert "Traceback" not in stderr
        assert "internal error" not in stderr
        result = json.loads(stdout)
        assert result["exit_code"] == code
        junit = (folder / "junit.xml").read_text(encoding="utf-8")
        ET.fromstring(junit.encode())
        history = ""
        if record:
            with duckdb.connect(str(folder / "h.duckdb"), read_only=True) as con:
                tables = ("pipeline_runs", "task_runs", "operations")
                history = str([con.execute(f"SELECT * FROM {t}").fetchall() for t in tables])
                assert history.count("fuzz_conn") > 0
        places = {
            "stdout": stdout,
            "stderr": stderr,
            "junit": junit,
            "history": history,
            "summary": (folder / "summary.md").read_text(encoding="utf-8"),
        }
        assert leaks(FORMS, places) == []
