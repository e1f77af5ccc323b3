"""Fixtures for the Snowflake Native App: the emulator over a socket, an injected API, and fakesnow as Snowflake."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
import types
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from eltops._serve import RunningServer, serve_in_thread
from eltops.orchestra.emulator import BASE_PATH, OrchestraEmulator, Volume
from eltops.snowflake_app import orchestra_app as app
from tests._clock import Clock

REPO = Path(__file__).resolve().parents[2]
APP_DIR = REPO / "snowflake_app"
SETUP_SCRIPT = APP_DIR / "app" / "setup_script.sql"
KEY = "app-test-key"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def emulator(clock: Clock) -> OrchestraEmulator:
    # records up to a day past NOW become visible (and finish) as the clock moves
    return OrchestraEmulator(api_key=KEY, seed=7, volume=Volume(task_runs=480, days=20), now=clock, future_days=1)


@pytest.fixture
def server(emulator: OrchestraEmulator) -> Iterator[RunningServer]:
    with serve_in_thread(emulator.wsgi_app) as running:
        yield running


@pytest.fixture
def api_url(server: RunningServer) -> str:
    return server.url + BASE_PATH


class RecordingHttp:
    """The injected HTTP call: the real one over the socket, recording URLs and optionally rewriting bodies."""

    def __init__(self, rewrite: Callable[[str, bytes], bytes] | None = None) -> None:
        self.urls: list[str] = []
        self.rewrite = rewrite

    def __call__(self, url: str, headers: Mapping[str, str], timeout: float) -> app.HttpResponse:
        self.urls.append(url)
        response = app.urllib_get(url, headers, timeout)
        if self.rewrite is not None and response.status == 200:
            return app.HttpResponse(response.status, response.headers, self.rewrite(url, response.body))
        return response


@pytest.fixture
def http() -> RecordingHttp:
    return RecordingHttp()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def make_api(api_url: str, http: RecordingHttp, sleeps: list[float]) -> Callable[..., app.OrchestraApi]:
    def make(**kwargs: Any) -> app.OrchestraApi:
        kwargs.setdefault("http", http)
        kwargs.setdefault("sleep", sleeps.append)
        kwargs.setdefault("rate_limit_per_minute", None)
        kwargs.setdefault("retry", app.RetryPolicy(attempts=4))
        return app.OrchestraApi(kwargs.pop("url", api_url), kwargs.pop("key", KEY), **kwargs)

    return make


@pytest.fixture
def fake_snowflake_module(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A stand-in for Snowflake's ``_snowflake`` module: the secret getter the entry points call."""
    secrets = {"api_key": KEY}
    module = types.ModuleType("_snowflake")
    module.get_generic_secret_string = secrets.__getitem__  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "_snowflake", module)
    return secrets


# -- fakesnow -------------------------------------------------------------------------------------------------


def _fakesnow_problem() -> str | None:
    if importlib.util.find_spec("fakesnow") is None:
        return "fakesnow is not installed (pip install -e '.[dev]')"
    try:
        import fakesnow  # noqa: F401
    except ImportError as exc:  # fakesnow 0.12 imports snowflake.connector.converter, gone in connector 5
        return f"fakesnow cannot be imported here ({exc}); it needs snowflake-connector-python<5"
    return None


FAKESNOW_PROBLEM = _fakesnow_problem()
needs_fakesnow = pytest.mark.skipif(FAKESNOW_PROBLEM is not None, reason=FAKESNOW_PROBLEM or "")


def generated_table_statements() -> list[str]:
    """The setup script's generated block: the tables' DDL and grants, statement by statement."""
    text = SETUP_SCRIPT.read_text()
    block = text.split("-- BEGIN GENERATED TABLES", 1)[1].split("-- END GENERATED TABLES", 1)[0]
    block = block.split("\n", 1)[1]
    return [s.strip() for s in block.split(";") if s.strip()]


def status_table_statement() -> str:
    """The setup script's ``public.app_status`` DDL (what core.status() reads besides the load state)."""
    text = SETUP_SCRIPT.read_text()
    return text.split("-- BEGIN STATUS TABLE\n", 1)[1].split("-- END STATUS TABLE", 1)[0].strip().rstrip(";")


class FakesnowSql:
    """:class:`orchestra_app.Sql` over a fakesnow connection (fakesnow cannot MERGE inside BEGIN, so those no-op)."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self.statements: list[str] = []

    def __call__(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self.statements.append(statement)
        cursor = self.connection.cursor()
        try:
            cursor.execute(statement, list(params) or None)
            try:
                return [tuple(row) for row in cursor.fetchall()]
            except Exception:  # statements without a result set
                return []
        finally:
            cursor.close()

    def rows(self, table: str) -> list[dict[str, Any]]:
        cursor = self.connection.cursor()
        cursor.execute(f"SELECT * FROM public.{table} ORDER BY id")
        names = [d[0].lower() for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


@pytest.fixture
def snowflake_sql() -> Iterator[FakesnowSql]:
    """A fakesnow database laid out as the app's setup script lays it out (the generated tables)."""
    if FAKESNOW_PROBLEM is not None:
        pytest.skip(FAKESNOW_PROBLEM)
    import fakesnow
    import snowflake.connector

    with fakesnow.patch():
        connection = snowflake.connector.connect(
            database="ORCHESTRA_DATA_APP",
            schema="PUBLIC",
            paramstyle="qmark",
            nop_regexes=[r"^(BEGIN|COMMIT|ROLLBACK)\b", r"^GRANT\b"],
        )
        sql = FakesnowSql(connection)
        sql("CREATE SCHEMA IF NOT EXISTS ORCHESTRA_DATA_APP.PUBLIC")
        for statement in [*generated_table_statements(), status_table_statement()]:
            sql(statement)
        yield sql
        connection.close()


def normalise(value: Any) -> Any:
    """A cell as a comparable Python value: aware UTC datetimes, decoded JSON, floats for numbers."""
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str) and value[:1] in "{[" and re.fullmatch(r"[\[{].*[\]}]", value, re.DOTALL):
        try:
            return json.loads(value)
        except ValueError:
            return value
    if hasattr(value, "as_integer_ratio") and not isinstance(value, bool | int):
        return float(value)
    return value


# -- the installed app: the setup script on fakesnow (tests/snowflake_app/_app_runtime.py) ----------------------


@pytest.fixture
def fresh_runtime(
    api_url: str, fake_snowflake_module: dict[str, str], clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    """An empty app database on fakesnow (no setup script run yet), entry points pointed at the emulator."""
    if FAKESNOW_PROBLEM is not None:
        pytest.skip(FAKESNOW_PROBLEM)
    import fakesnow
    import snowflake.connector

    from ._app_runtime import DATABASE, AppRuntime

    monkeypatch.setattr(app, "API_URL", api_url)
    monkeypatch.setattr(app, "CLOCK", clock)  # the procedures plan their windows on the emulator's time
    monkeypatch.setattr(app, "RATE_LIMIT_PER_MINUTE", None)
    with fakesnow.patch():
        connection = snowflake.connector.connect(database=DATABASE, paramstyle="qmark")
        yield AppRuntime(connection, clock=clock)
        connection.close()


@pytest.fixture
def app_runtime(fresh_runtime: Any) -> Any:
    """The app installed from its setup script on fakesnow (tests/snowflake_app/_app_runtime.py)."""
    fresh_runtime.run_setup_script()
    return fresh_runtime


def bind_both(runtime: Any) -> list[str]:
    """Bind the two references through the register callback, as Snowsight does (aliases stand for the objects)."""
    session = runtime.session()
    return [
        str(session.call("core.register_reference", name, "ADD", alias))
        for name, alias in (("ORCHESTRA_API_KEY", "ref_key"), ("ORCHESTRA_EAI", "ref_eai"))
    ]
