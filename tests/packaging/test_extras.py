"""The base install without its extras: what it runs, and the message naming the extra when one is missing.

Each test runs the real command in a process where the extras' modules cannot be imported (a meta-path finder
that raises ``ModuleNotFoundError``, as a venv without them does); ``test_wheel.py`` does it in a real lean venv.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.packaging._support import LEAN, Emulators, count_rows, eltops, run


@pytest.mark.parametrize(
    ("args", "missing", "extra"),
    [
        (("report", "--from", "history.duckdb"), ("plotly",), "report"),
        (("orchestra", "load", "--to", "snowflake://prod/ANALYTICS/ORCHESTRA"), ("snowflake",), "snowflake"),
        (("orchestra", "load", "--to", "snowflake://prod"), ("pyarrow",), "snowflake"),
        (("fivetran", "start", "--connector-id", "good", "--record-to", "snowflake://prod"), LEAN, "snowflake"),
        (("demo", "--dir", "demo"), ("plotly",), "report"),
    ],
    ids=["report", "snowflake-connector", "snowflake-pyarrow", "fivetran-history-in-snowflake", "demo"],
)
def test_a_missing_extra_is_named_with_the_command_that_installs_it(
    tmp_path: Path, served: Emulators, args: tuple[str, ...], missing: tuple[str, ...], extra: str
) -> None:
    """A command that needs an extra that is not installed exits 2 naming ``pip install 'eltops[extra]'``."""
    done = run(eltops(*args), env=served.env(), cwd=tmp_path, missing=missing)
    assert done.code == 2, done.stderr
    assert f"pip install 'eltops[{extra}]'" in done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert not (tmp_path / "demo").exists() or not any((tmp_path / "demo").iterdir())  # nothing half-written


def test_a_missing_extra_stops_before_any_request(tmp_path: Path) -> None:
    """The Snowflake extra is found missing while the settings are read: no API is called (none listens here)."""
    env = {"PATH": "", "ORCHESTRA_API_KEY": "k", "ORCHESTRA_API_URL": "http://127.0.0.1:9/api"}
    done = run(eltops("orchestra", "load", "--to", "snowflake://prod"), env=env, cwd=tmp_path, missing=LEAN)
    assert done.code == 2
    assert "could not be reached" not in done.stderr


@pytest.mark.parametrize("args", [("--help",), ("report", "--help"), ("emulate", "fivetran", "--help")])
def test_help_works_without_any_extra(tmp_path: Path, args: tuple[str, ...]) -> None:
    """``--help`` lists every command, the report's included, with no extra installed."""
    done = run(eltops(*args), env={"PATH": ""}, cwd=tmp_path, missing=LEAN)
    assert done.code == 0, done.stderr
    if args == ("--help",):
        assert all(f"  {c}" in done.stdout for c in ("demo", "emulate", "fivetran", "orchestra", "report"))


def test_fivetran_records_its_history_into_duckdb_without_pyarrow(tmp_path: Path, served: Emulators) -> None:
    """START on two connections, recorded in DuckDB, with neither pyarrow, pandas nor Plotly importable."""
    env = served.env(ELTOPS_WAREHOUSE="history.duckdb")
    done = run(eltops("fivetran", "start", "--connector-id", "good,crm"), env=env, cwd=tmp_path, missing=LEAN)
    assert done.code == 0, done.stderr
    assert "could not record" not in done.stderr
    db = tmp_path / "history.duckdb"
    assert count_rows(db, "task_runs", "status = 'SUCCEEDED' AND integration = 'FIVETRAN'") == 1
    assert count_rows(db, "operations", "operation_status = 'SUCCEEDED'") == 2
    assert count_rows(db, "pipeline_runs", "run_status = 'SUCCEEDED'") == 1


def test_orchestra_load_into_duckdb_without_pyarrow(tmp_path: Path, served: Emulators) -> None:
    """``eltops orchestra load`` loads every table into DuckDB with neither pyarrow, pandas nor Plotly."""
    done = run(eltops("orchestra", "load", "--to", "o.duckdb"), env=served.env(), cwd=tmp_path, missing=LEAN)
    assert done.code == 0, done.stderr
    assert count_rows(tmp_path / "o.duckdb", "task_runs") > 0


_FALLBACK = """
import orjson
from eltops.orchestra import PageQuery, TASK_RUNS, parse_page, PageBatch
from eltops.warehouse import DuckDbTarget, write_pages

record = {"id": "a", "status": "RUNNING", "numberOfAttempts": "3", "createdAt": "2025-05-01T11:16:44", "message": 7}
page = parse_page(PageQuery(TASK_RUNS), orjson.dumps({"page": 1, "pageSize": 100, "total": 1, "results": [record]}))
target = DuckDbTarget("t.duckdb")
target.prepare([TASK_RUNS])
write_pages(target, PageBatch(TASK_RUNS, (page,)), None)
print(target.values(TASK_RUNS, "number_of_attempts", where="id", equals="a"),
      target.values(TASK_RUNS, "message", where="id", equals="a"))
"""


def test_values_duckdb_refuses_are_converted_without_pyarrow(tmp_path: Path) -> None:
    """A count sent as text and a number as a message go through the Python conversion, with no pyarrow."""
    done = run([eltops()[0], "-c", _FALLBACK], env={"PATH": ""}, cwd=tmp_path, missing=LEAN)
    assert done.code == 0, done.stderr
    assert done.stdout.split() == ["[3]", "['7']"]
