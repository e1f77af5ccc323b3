"""Mutated Orchestra pages thrown at the real client and loader into a real DuckDB file (hypothesis).

Each example serves the emulator's task-run pages with one page mutated (a field of a record set to a value of any
JSON type, huge, negative or fractional numbers, odd timestamps, an id removed, a wrong ``total``, a body that is
not JSON) and loads it over the one already in the file. Whatever the mutation: the load succeeds or raises an
eltops error with a documented exit code (no other exception); a failed load leaves the table and the load state
exactly as they were; the API key appears in no message or log line.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eltops.errors import EltopsError, ExitCode
from eltops.load import Loader
from eltops.orchestra import TASK_RUNS, OrchestraClient
from eltops.orchestra.emulator import BASE_PATH, OrchestraEmulator, Volume
from eltops.secrets import Secret
from eltops.warehouse import DuckDbTarget
from tests._clock import NOW, Clock

KEY = "fuzz-orchestra-key-7f3a91"
VOLUME = Volume(task_runs=250, days=6)  # three pages of task runs
FIELDS = [column.source for column in TASK_RUNS.columns]
TYPED = ["numberOfAttempts", "createdAt", "startedAt", "id", "taskParameters"]  # typed or checked: tried more often
EDGES = [2**63, -(2**63) - 1, 2**64, 10**30, 2.5, -0.5, 1e300, -1, 0, "", "1e3", "2**63"]
WsgiApp = Callable[..., Any]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(
        ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "2025-13-01T00:00:00Z", "2025-05-01T12:00:00", "yesterday"]
    ),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=5,
)


@dataclass(frozen=True)
class SetField:
    record: int
    field: str
    value: Any

    def apply(self, page: dict[str, Any]) -> bytes:
        results = page["results"]
        results[self.record % len(results)][self.field] = self.value
        return json.dumps(page).encode()


@dataclass(frozen=True)
class DropField:
    record: int
    field: str

    def apply(self, page: dict[str, Any]) -> bytes:
        results = page["results"]
        results[self.record % len(results)].pop(self.field, None)
        return json.dumps(page).encode()


@dataclass(frozen=True)
class SetEnvelope:
    key: str
    value: Any

    def apply(self, page: dict[str, Any]) -> bytes:
        page[self.key] = self.value
        return json.dumps(page).encode()


@dataclass(frozen=True)
class Truncate:
    keep: float

    def apply(self, page: dict[str, Any]) -> bytes:
        body = json.dumps(page).encode()
        return body[: int(len(body) * self.keep)]


Mutation = SetField | DropField | SetEnvelope | Truncate

mutations = st.one_of(
    st.builds(
        SetField,
        st.integers(0, 99),
        st.sampled_from(TYPED) | st.sampled_from(FIELDS),
        st.sampled_from(EDGES) | json_values,
    ),
    st.builds(DropField, st.integers(0, 99), st.sampled_from(["id", "createdAt", *FIELDS])),
    st.builds(
        SetEnvelope,
        st.sampled_from(["total", "pageSize", "page", "results"]),
        json_values | st.integers(-5, 1000),
    ),
    st.builds(Truncate, st.floats(0, 0.99)),
)


def _mutating(app: WsgiApp, page: int, mutation: Mutation) -> WsgiApp:
    """The emulator, with task-run page ``page`` (of every listing) mutated."""

    def wsgi(environ: dict[str, Any], start_response: Any) -> Any:
        if environ["PATH_INFO"].endswith("/task_runs") and f"page={page}&" in environ.get("QUERY_STRING", "") + "&":
            captured: dict[str, Any] = {}

            def keep(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
                captured["status"] = status
                return lambda data: None

            original = json.loads(b"".join(app(environ, keep)))
            if captured["status"].startswith("200") and original.get("results"):
                start_response("200 OK", [("Content-Type", "application/json")])
                return [mutation.apply(original)]
        return app(environ, start_response)

    return wsgi


def _load(app: WsgiApp, db: Path, clock: Clock) -> None:
    client = OrchestraClient.create(
        api_url=f"http://emulator{BASE_PATH}", api_key=Secret(KEY), transport=httpx.WSGITransport(app=app)
    )
    target = DuckDbTarget(db)
    try:
        with client:
            Loader(client, target, clock=clock, fetch_in="thread").load([TASK_RUNS], full_refresh=True)
    finally:
        target.close()


def _contents(db: Path) -> tuple[set[tuple[Any, ...]], list[tuple[Any, ...]]]:
    with duckdb.connect(str(db), read_only=True) as con:
        table = set(con.execute("SELECT * EXCLUDE (loaded_at) FROM task_runs").fetchall())
        state = con.execute("SELECT resource, cursor FROM eltops_load_state ORDER BY resource").fetchall()
    return table, state


@pytest.fixture(scope="module")
def loaded() -> Iterator[tuple[OrchestraEmulator, Path, Clock]]:
    """The emulator, and a DuckDB file holding one clean load of its task runs (copied for each example)."""
    clock = Clock(NOW)
    emulator = OrchestraEmulator(api_key=KEY, seed=3, volume=VOLUME, now=clock, anchor=NOW)
    folder = Path(tempfile.mkdtemp(prefix="eltops-fuzz-"))
    _load(emulator.wsgi_app, folder / "base.duckdb", clock)
    yield emulator, folder / "base.duckdb", clock
    shutil.rmtree(folder, ignore_errors=True)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(page=st.integers(1, 3), mutation=mutations)
def test_mutated_pages_load_or_fail_cleanly(
    loaded: tuple[OrchestraEmulator, Path, Clock], caplog: pytest.LogCaptureFixture, page: int, mutation: Mutation
) -> None:
    """Any mutated page loads, or fails with an eltops error and a documented exit code, committing nothing."""
    emulator, base, clock = loaded
    with tempfile.TemporaryDirectory(prefix="eltops-fuzz-") as folder:
        db = Path(folder) / "x.duckdb"
        shutil.copyfile(base, db)
        before = _contents(db)
        caplog.clear()
        failure: EltopsError | None = None
        with caplog.at_level(logging.DEBUG):
            try:
                _load(_mutating(emulator.wsgi_app, page, mutation), db, clock)
            except EltopsError as exc:  # anything else fails the test with its traceback
                failure = exc
        assert KEY not in caplog.text
        if failure is not None:
            assert failure.exit_code in set(ExitCode) - {ExitCode.OK}
            assert KEY not in str(failure)
            assert _contents(db) == before, "a failed load changed the table or the load state"
