"""Upgrades keep every row: a warehouse written by eltops 0.1.0 gains the new columns in place, a newer one is refused.

``tests/fixtures/eltops-0.1.0.duckdb`` was written by the released code itself (commit 7cbdc58, ``eltops orchestra
load`` against ``eltops emulate orchestra --task-runs 300 --days 10``), not by a fixture imitating it;
``tests/fixtures/snowflake-0.1.0.sql`` is that release's Snowflake DDL, as its ``create_table_sql`` wrote it.
"""

from __future__ import annotations

import hashlib
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
import fakesnow
import pytest

from eltops.orchestra import OPERATIONS, PIPELINE_RUNS, RESOURCES, SCHEMA_VERSION, TASK_RUNS, LoadState, table_layout
from eltops.warehouse import (
    SCHEMA_TABLE,
    DuckDbTarget,
    SchemaTooNew,
    SnowflakeSettings,
    SnowflakeTarget,
    WarehouseError,
    write_pages,
)
from tests._pages import page_batch

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
RELEASED_FILE = FIXTURES / "eltops-0.1.0.duckdb"
RELEASED_SNOWFLAKE_DDL = FIXTURES / "snowflake-0.1.0.sql"
OLD_TABLES = ("pipeline_runs", "task_runs", "operations")


def columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [r[0] for r in con.execute(f'DESCRIBE "{table}"').fetchall()]


def snapshot(path: Path, layout: dict[str, list[str]]) -> dict[str, Any]:
    """Every row of the old tables, in the old columns (sorted), and the load state."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        found = {
            table: con.execute(
                f"SELECT {', '.join(chr(34) + c + chr(34) for c in layout[table])} FROM {table} ORDER BY id"
            ).fetchall()
            for table in OLD_TABLES
        }
        found["state"] = con.execute("SELECT resource, cursor FROM eltops_load_state ORDER BY 1").fetchall()
        return found
    finally:
        con.close()


@pytest.fixture
def released(tmp_path: Path) -> Path:
    path = tmp_path / "history.duckdb"
    shutil.copyfile(RELEASED_FILE, path)
    return path


def test_the_fixture_is_a_010_file() -> None:
    """The committed file has 0.1.0's layout (the seed's columns, then loaded_at) and no schema version table."""
    con = duckdb.connect(str(RELEASED_FILE), read_only=True)
    tables = {r[0] for r in con.execute("SHOW TABLES").fetchall()}
    layouts = {table: columns(con, table) for table in OLD_TABLES}
    con.close()
    assert SCHEMA_TABLE not in tables
    assert "assets" not in tables
    for resource in RESOURCES[:3]:
        assert layouts[resource.table] == [c.name for c in resource.columns if c.since == 1] + ["loaded_at"]


def test_a_010_file_gains_the_new_columns_and_keeps_every_row(released: Path) -> None:
    """prepare() appends the new columns after loaded_at, keeps every row and value, and records version 2."""
    con = duckdb.connect(str(released), read_only=True)
    old_layout = {table: columns(con, table) for table in OLD_TABLES}
    con.close()
    before = snapshot(released, old_layout)
    assert len(before["task_runs"]) == 300
    target = DuckDbTarget(released)
    target.prepare(RESOURCES)
    assert target.upgrade is not None
    assert "every row kept" in target.upgrade.describe
    versions = target.connection.execute(f"SELECT version, eltops_version FROM {SCHEMA_TABLE}").fetchall()
    layouts = {r.table: columns(target.connection, r.table) for r in RESOURCES}
    target.close()
    assert [v for v, _ in versions] == [SCHEMA_VERSION]
    assert layouts == {r.table: list(table_layout(r)) for r in RESOURCES}
    assert snapshot(released, old_layout) == before
    again = DuckDbTarget(released)
    again.prepare(RESOURCES)  # a second run finds nothing to do
    assert again.upgrade is None
    again.close()


def test_rows_of_a_010_file_take_the_new_values_when_read_again(released: Path) -> None:
    """A record re-read after the upgrade fills its new columns (and extra) in its old row, which keeps its id."""
    target = DuckDbTarget(released)
    target.prepare([TASK_RUNS])
    old_id = target.connection.execute("SELECT id FROM task_runs ORDER BY id LIMIT 1").fetchone()
    assert old_id is not None
    record = {"id": old_id[0], "status": "SUCCEEDED", "dependsOn": ["a"], "matrixParent": False, "newField": 1}
    counts = write_pages(target, page_batch(TASK_RUNS, [record]), LoadState(None))
    row = target.connection.execute(
        "SELECT depends_on, matrix_parent, extra FROM task_runs WHERE id = ?", [old_id[0]]
    ).fetchone()
    total = target.connection.execute("SELECT count(*) FROM task_runs").fetchone()
    target.close()
    assert counts.updated == 1
    assert row == ('["a"]', False, '{"newField":1}')
    assert total == (300,)


def test_a_file_of_a_newer_eltops_is_refused_and_left_as_it_is(released: Path) -> None:
    """A schema version above this eltops' is SchemaTooNew (exit 2), naming both versions; the file is unchanged."""
    target = DuckDbTarget(released)
    target.prepare(RESOURCES)
    target.connection.execute(f"INSERT INTO {SCHEMA_TABLE} VALUES ({SCHEMA_VERSION + 1}, '9.0.0', now())")
    target.close()
    digest = hashlib.sha256(released.read_bytes()).hexdigest()
    newer = DuckDbTarget(released)
    with pytest.raises(SchemaTooNew, match=rf"newer eltops \(schema version {SCHEMA_VERSION + 1}; .*left as it is"):
        newer.prepare([PIPELINE_RUNS])
    newer.close()
    assert SchemaTooNew.exit_code == 2
    assert hashlib.sha256(released.read_bytes()).hexdigest() == digest


def test_the_command_refuses_a_newer_file_with_exit_2(released: Path, tmp_path: Path) -> None:
    """`eltops orchestra load` into a newer file exits 2 with the message and no traceback, before any request."""
    target = DuckDbTarget(released)
    target.prepare(RESOURCES)
    target.connection.execute(f"INSERT INTO {SCHEMA_TABLE} VALUES ({SCHEMA_VERSION + 1}, '9.0.0', now())")
    target.close()
    env = {"PATH": "", "HOME": str(tmp_path), "ORCHESTRA_API_KEY": "k", "ORCHESTRA_API_URL": "http://127.0.0.1:9"}
    done = subprocess.run(
        [sys.executable, "-m", "eltops", "orchestra", "load", "--to", str(released)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "written by a newer eltops" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_table_no_eltops_made_is_still_refused(tmp_path: Path) -> None:
    """A pipeline_runs table whose columns are not a version of eltops' layout is refused, not altered."""
    path = tmp_path / "other.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE pipeline_runs (id VARCHAR, colour VARCHAR)")
    con.close()
    target = DuckDbTarget(path)
    with pytest.raises(WarehouseError, match="other columns than eltops writes"):
        target.prepare([PIPELINE_RUNS])
    assert columns(target.connection, "pipeline_runs") == ["id", "colour"]
    target.close()


# -- killed mid-upgrade --------------------------------------------------------------------------------------

_UPGRADE = """
import sys
from pathlib import Path
from eltops.orchestra import RESOURCES
from eltops.warehouse import DuckDbTarget
target = DuckDbTarget(Path(sys.argv[1]))
print("open", flush=True)
target.prepare(RESOURCES)
print("done", flush=True)
target.close()
"""


@pytest.fixture(scope="module")
def big_released(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The released file with 90,000 task runs and 60,000 operations (copies of its rows), so the upgrade takes a
    while to commit."""
    path = tmp_path_factory.mktemp("big") / "big.duckdb"
    shutil.copyfile(RELEASED_FILE, path)
    con = duckdb.connect(str(path))
    con.execute("INSERT INTO task_runs SELECT r.* REPLACE (r.id || '-' || t.i AS id) FROM task_runs r, range(300) t(i)")
    con.execute(
        "INSERT INTO operations SELECT r.* REPLACE (r.id || '-' || t.i AS id) FROM operations r, range(100) t(i)"
    )
    con.close()
    return path


@pytest.mark.parametrize("delay", [0.0, 0.02, 0.05, 0.06, 0.07, 0.08, 0.09, 0.1, 0.2, 0.4])
def test_a_kill_at_any_moment_of_the_upgrade_leaves_the_old_schema_or_the_new(
    big_released: Path, tmp_path: Path, delay: float
) -> None:
    """kill -9 at a point of the upgrade: the file opens with every table old (no version) or every table new."""
    path = tmp_path / "h.duckdb"
    shutil.copyfile(big_released, path)
    con = duckdb.connect(str(path), read_only=True)
    old_layout = {table: columns(con, table) for table in OLD_TABLES}
    counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone() for t in OLD_TABLES}
    con.close()
    child = subprocess.Popen(
        [sys.executable, "-c", _UPGRADE, str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "open"
    time.sleep(delay)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    con = duckdb.connect(str(path))  # replays the log, as the next eltops would
    try:
        layouts = {table: columns(con, table) for table in OLD_TABLES}
        tables = {r[0] for r in con.execute("SHOW TABLES").fetchall()}
        assert {t: con.execute(f"SELECT count(*) FROM {t}").fetchone() for t in OLD_TABLES} == counts
        if SCHEMA_TABLE in tables:
            assert con.execute(f"SELECT max(version) FROM {SCHEMA_TABLE}").fetchone() == (SCHEMA_VERSION,)
            assert layouts == {r.table: list(table_layout(r)) for r in RESOURCES[:3]}
            assert "assets" in tables
        else:
            assert layouts == old_layout
            assert "assets" not in tables
    finally:
        con.close()
    finished = DuckDbTarget(path)  # and the next run upgrades it, whichever it was
    finished.prepare(RESOURCES)
    finished.close()


# -- Snowflake ---------------------------------------------------------------------------------------------------

SETTINGS = SnowflakeSettings(params={"account": "acct", "database": "DB", "schema": "ORCH"})


def test_a_010_snowflake_schema_gains_the_new_columns_and_keeps_its_rows() -> None:
    """Tables made by 0.1.0's Snowflake DDL gain the new columns; their rows stay; the version row is written."""
    with fakesnow.patch(create_database_on_connect=True, create_schema_on_connect=True):
        admin = SnowflakeTarget(SETTINGS)
        for statement in RELEASED_SNOWFLAKE_DDL.read_text().split(";"):
            lines = [line for line in statement.splitlines() if not line.startswith("--")]
            if "".join(lines).strip():
                admin._execute("\n".join(lines))
        admin._execute("INSERT INTO task_runs (id, status) VALUES ('old', 'SUCCEEDED')")
        admin.prepare(RESOURCES)
        found = admin._columns("task_runs")
        version = admin._execute(f"SELECT max(version) FROM {SCHEMA_TABLE}")
        rows = admin._execute("SELECT id, status, depends_on FROM task_runs")
        assert admin.upgrade is not None
        admin.prepare(RESOURCES)
        assert admin.upgrade is None
        admin.close()
    assert found == list(table_layout(TASK_RUNS))
    assert version == [(SCHEMA_VERSION,)]
    assert rows == [("old", "SUCCEEDED", None)]


def test_a_report_reads_a_010_snowflake_schema_without_changing_it() -> None:
    """A read-only reader of 0.1.0's Snowflake tables gets every column, the newer ones NULL, and alters nothing."""
    with fakesnow.patch(create_database_on_connect=True, create_schema_on_connect=True):
        admin = SnowflakeTarget(SETTINGS)
        for statement in RELEASED_SNOWFLAKE_DDL.read_text().split(";"):
            lines = [line for line in statement.splitlines() if not line.startswith("--")]
            if "".join(lines).strip():
                admin._execute("\n".join(lines))
        admin._execute("INSERT INTO operations (id, operation_name) VALUES ('op', 'kept')")
        admin.close()
        reader = SnowflakeTarget(SETTINGS, read_only=True)
        table = reader.read_table(OPERATIONS)
        after = reader._columns("operations")
        reader.close()
    assert table.num_rows == 1
    assert table["operation_name"].to_pylist() == ["kept"]
    assert table["cost"].to_pylist() == [None]
    assert after == [c.name for c in OPERATIONS.columns if c.since == 1] + ["loaded_at"]
