"""The Snowflake target as a least-privilege role sees it: statements sent, typed all-NULL columns, UTC timestamps."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlglot
from sqlglot import exp

from eltops.orchestra import (
    OPERATIONS,
    PIPELINE_RUNS,
    RESOURCES,
    STATE_TABLE,
    TASK_RUNS,
    ColumnType,
    LoadState,
    Resource,
)
from eltops.warehouse import SnowflakeSpec, WarehouseError, write_pages
from eltops.warehouse._snowflake import STATE_MERGE, SnowflakeSettings, SnowflakeTarget, merge_sql
from tests._pages import page_batch

fakesnow = pytest.importorskip("fakesnow")

SETTINGS = SnowflakeSettings(params={"account": "acct", "database": "DB", "schema": "ORCH"})
CURSOR = datetime(2025, 5, 2, tzinfo=UTC)


class Recording:
    """A connector connection whose cursors record every statement they send (what Snowflake would receive)."""

    def __init__(self, connection: Any, sent: list[str]) -> None:
        self._connection = connection
        self.sent = sent

    def cursor(self) -> Any:
        cursor = self._connection.cursor()
        real_execute = cursor.execute

        def execute(sql: str, params: Any = None) -> Any:
            self.sent.append(" ".join(sql.split()))
            return real_execute(sql, params)

        cursor.execute = execute
        return cursor

    def close(self) -> None:
        self._connection.close()


@pytest.fixture
def sent() -> Iterator[list[str]]:
    """Statements sent by targets opened with :func:`recording_connect`, inside one fakesnow session."""
    with fakesnow.patch():
        yield []


def recording_connect(sent: list[str]) -> Any:
    import snowflake.connector

    return lambda **kwargs: Recording(snowflake.connector.connect(**kwargs), sent)


def task_run(record_id: str, status: str = "SUCCEEDED") -> dict[str, Any]:
    return {"id": record_id, "status": status, "createdAt": "2025-05-01T11:16:44.841252+00:00"}


def test_a_load_into_existing_tables_creates_nothing(sent: list[str]) -> None:
    """Against a schema and tables an administrator created, a load sends no CREATE statement at all."""
    admin = SnowflakeTarget(SETTINGS)
    admin.prepare(RESOURCES)
    admin.close()
    loader = SnowflakeTarget(SETTINGS, connect=recording_connect(sent))
    loader.prepare(RESOURCES)
    for resource in RESOURCES:
        loader.read_state(resource)
    write_pages(loader, page_batch(TASK_RUNS, [task_run("a"), task_run("b")]), LoadState(CURSOR))
    loader.close()
    assert [s for s in sent if re.search(r"\bCREATE\b", s, re.IGNORECASE)] == []
    assert any(s.startswith("MERGE INTO task_runs") for s in sent)
    assert any(s.startswith(f"MERGE INTO {STATE_TABLE}") for s in sent)


def test_a_first_load_creates_only_what_is_missing(sent: list[str]) -> None:
    """With the schema and one table present, only the state table and the other tables are created."""
    admin = SnowflakeTarget(SETTINGS)
    admin.prepare([TASK_RUNS])
    admin.close()
    sent.clear()
    loader = SnowflakeTarget(SETTINGS, connect=recording_connect(sent))
    loader.prepare(RESOURCES)
    loader.close()
    created = sorted(s.split("(")[0].strip() for s in sent if s.upper().startswith("CREATE"))
    assert created == [
        "CREATE TABLE IF NOT EXISTS assets",
        "CREATE TABLE IF NOT EXISTS operations",
        "CREATE TABLE IF NOT EXISTS pipeline_runs",
    ]


def test_a_report_source_is_only_read(sent: list[str], tmp_path: Path) -> None:
    """The report opens Snowflake read-only: SELECT and USE only, and missing tables read as empty ones."""
    from eltops.report._source import open_history

    admin = SnowflakeTarget(SETTINGS)
    admin.prepare([TASK_RUNS])
    write_pages(admin, page_batch(TASK_RUNS, [task_run("a")]), LoadState(CURSOR))
    admin.close()
    reader = SnowflakeTarget(SETTINGS, connect=recording_connect(sent), read_only=True)
    tables = {r.table: reader.read_table(r).num_rows for r in RESOURCES}
    reader.close()
    assert tables == {"pipeline_runs": 0, "task_runs": 1, "operations": 0, "assets": 0}
    assert {s.split()[0].upper() for s in sent} <= {"SELECT", "USE"}
    with open_history(SnowflakeSpec(SETTINGS), since=None) as con:
        assert con.execute("SELECT count(*) FROM task_runs").fetchone() == (1,)


def test_a_read_only_source_without_the_schema_is_a_clear_error() -> None:
    """Reading a schema that does not exist says so instead of creating it; a read-only target never prepares."""
    missing = SnowflakeSettings(params={"account": "acct", "database": "DB", "schema": "NOWHERE"})
    with fakesnow.patch(create_schema_on_connect=False):
        with pytest.raises(WarehouseError, match=r"no schema DB\.NOWHERE"):
            SnowflakeTarget(missing, read_only=True)
        SnowflakeTarget(SETTINGS).close()  # a loader creates its missing schema
        with pytest.raises(WarehouseError, match="read-only"):
            SnowflakeTarget(SETTINGS, read_only=True).prepare(RESOURCES)


def all_null_record(resource: Resource, record_id: str) -> dict[str, Any]:
    """An API record with only its id: every other column NULL."""
    return {resource.id_source: record_id}


@pytest.mark.parametrize("resource", RESOURCES, ids=lambda r: r.name)
def test_all_null_columns_of_every_type_keep_their_declared_types(sent: list[str], resource: Resource) -> None:
    """A batch whose every column but id is NULL (every column type) loads into typed columns."""
    assert {c.type for r in RESOURCES for c in r.columns} == set(ColumnType)
    target = SnowflakeTarget(SETTINGS)
    target.prepare([resource])
    counts = write_pages(target, page_batch(resource, [all_null_record(resource, "x")]), None)
    types_after = target._execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s",
        [resource.table.upper()],
    )
    table = target.read_table(resource)
    target.close()
    assert counts.inserted == 1
    assert table.num_rows == 1
    assert all(table[name][0].as_py() is None for name in resource.column_names[1:])
    declared = {c.name.upper(): c.type for c in resource.columns}
    expected = {
        ColumnType.TEXT: "TEXT",
        ColumnType.TIMESTAMP: "TIMESTAMP_TZ",
        ColumnType.JSON: "VARIANT",
        ColumnType.INTEGER: "NUMBER",
        ColumnType.FLOAT: "FLOAT",
        ColumnType.BOOLEAN: "BOOLEAN",
    }
    found = {str(name).upper(): str(kind) for name, kind in types_after if str(name).upper() in declared}
    assert found == {name: expected[kind] for name, kind in declared.items()}


def test_loaded_at_and_saved_at_are_utc(sent: list[str]) -> None:
    """loaded_at and the state's saved_at come back with a zero UTC offset."""
    target = SnowflakeTarget(SETTINGS)
    target.prepare([OPERATIONS, PIPELINE_RUNS])
    write_pages(target, page_batch(OPERATIONS, [{"id": "o", "insertedAt": "2025-05-01T10:00:00Z"}]), LoadState(CURSOR))
    loaded_at = target._execute("SELECT loaded_at FROM operations")[0][0]
    saved_at = target._execute(f"SELECT saved_at FROM {STATE_TABLE}")[0][0]
    target.close()
    assert loaded_at.utcoffset().total_seconds() == 0
    assert saved_at.utcoffset().total_seconds() == 0


@pytest.mark.parametrize(
    "statement", [*(merge_sql(r) for r in RESOURCES), STATE_MERGE], ids=[*(r.name for r in RESOURCES), "state"]
)
def test_every_current_timestamp_is_converted_to_utc(statement: str) -> None:
    """In Snowflake's dialect, each CURRENT_TIMESTAMP() the target writes sits inside CONVERT_TIMEZONE('UTC', ...).

    CURRENT_TIMESTAMP() carries the session's TIMEZONE (America/Los_Angeles unless set); fakesnow cannot
    ALTER SESSION SET TIMEZONE, so the conversion is checked on the statement itself.
    """
    tree = sqlglot.parse_one(statement.replace("%s", "'x'"), read="snowflake")
    stamps = list(tree.find_all(exp.CurrentTimestamp))
    assert stamps
    for stamp in stamps:
        parent = stamp.parent
        assert isinstance(parent, exp.ConvertTimezone), parent.sql("snowflake") if parent else stamp
        assert parent.args["target_tz"].name == "UTC"
