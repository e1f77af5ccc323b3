"""The app's tables and MERGE on fakesnow, against emulator pages, agree row for row with eltops' DuckDB loader."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from eltops._serve import RunningServer
from eltops.orchestra import _records
from eltops.orchestra.emulator import BASE_PATH
from eltops.snowflake_app import orchestra_app as app

from .conftest import KEY, FakesnowSql, normalise

MakeApi = Callable[..., app.OrchestraApi]


@pytest.mark.parametrize("resource", list(_records.RESOURCES), ids=str)
def test_tables_have_the_declared_columns(resource: _records.Resource, snowflake_sql: FakesnowSql) -> None:
    """The setup script's DDL makes each table with the seed's columns in order, loaded_at, then the newer ones."""
    found = snowflake_sql(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'PUBLIC' "
        "AND table_name = ? ORDER BY ordinal_position",
        [resource.table.upper()],
    )
    assert [r[0].lower() for r in found] == list(_records.table_layout(resource))


def _duckdb_rows(server: RunningServer, tmp_path: Path, clock: Callable[[], Any]) -> dict[str, list[dict[str, Any]]]:
    """What ``eltops orchestra load`` writes into DuckDB from the same emulator at the same moment."""
    pytest.importorskip("duckdb")
    from eltops.load import Loader
    from eltops.orchestra import RESOURCES, OrchestraClient
    from eltops.secrets import Secret
    from eltops.warehouse import DuckDbTarget

    target = DuckDbTarget(tmp_path / "eltops.duckdb")
    client = OrchestraClient.create(api_url=server.url + BASE_PATH, api_key=Secret(KEY))
    with client:
        Loader(client, target, clock=clock).load(RESOURCES)
    tables: dict[str, list[dict[str, Any]]] = {}
    for resource in RESOURCES:
        cursor = target.connection.execute(f'SELECT * FROM "{resource.table}" ORDER BY id')
        names = [d[0] for d in cursor.description]
        tables[resource.table] = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    target.close()
    return tables


def test_rows_match_the_duckdb_loader(
    make_api: MakeApi, snowflake_sql: FakesnowSql, server: RunningServer, tmp_path: Path, clock: Callable[[], Any]
) -> None:
    """Loading the same emulator data gives the same rows in the app's Snowflake tables as in eltops' DuckDB."""
    api = make_api()
    for resource in _records.RESOURCES:
        summary = app.load(snowflake_sql, api, resource, now=clock())
        assert summary["inserted"] == summary["rows_read"] > 0
    expected = _duckdb_rows(server, tmp_path, clock)
    for resource in _records.RESOURCES:
        ours = snowflake_sql.rows(resource.table)
        theirs = expected[resource.table]
        assert [r["id"] for r in ours] == [r["id"] for r in theirs], resource.table
        for mine, other in zip(ours, theirs, strict=True):
            for column in resource.column_names:
                assert normalise(mine[column]) == normalise(other[column]), (resource.table, column, mine["id"])
            assert mine[_records.LOADED_AT] is not None


@pytest.mark.parametrize("resource", list(_records.RESOURCES), ids=str)
def test_merge_updates_changed_rows_only(resource: _records.Resource, snowflake_sql: FakesnowSql) -> None:
    """Re-merging a batch with one changed row updates that row alone; duplicates in a batch keep the last one."""
    rows = [
        _records.map_record(resource, {resource.id_source: f"id-{i}", resource.columns[1].source: f"v{i}"})
        for i in range(3)
    ]
    merge = app.merge_sql(resource)
    first = snowflake_sql(merge, [json.dumps(rows)])
    assert [int(v) for v in first[0]] == [3, 0]
    changed = [*rows, {**rows[1], resource.columns[1].name: "new"}]
    second = snowflake_sql(merge, [json.dumps(changed)])
    assert [int(v) for v in second[0]] == [0, 1]
    values = {r["id"]: r[resource.columns[1].name] for r in snowflake_sql.rows(resource.table)}
    assert values == {"id-0": "v0", "id-1": "new", "id-2": "v2"}


@pytest.mark.parametrize("resource", list(_records.RESOURCES), ids=str)
def test_the_apps_merge_stamps_loaded_at_in_utc(resource: _records.Resource) -> None:
    """Each CURRENT_TIMESTAMP() in the app's MERGE sits inside CONVERT_TIMEZONE('UTC', ...) (Snowflake's dialect)."""
    import sqlglot
    from sqlglot import exp

    tree = sqlglot.parse_one(app.merge_sql(resource).replace("?", "'x'"), read="snowflake")
    stamps = list(tree.find_all(exp.CurrentTimestamp))
    assert stamps
    assert all(isinstance(s.parent, exp.ConvertTimezone) and s.parent.args["target_tz"].name == "UTC" for s in stamps)


def test_an_app_upgrade_adds_the_new_columns_and_keeps_every_row() -> None:
    """The setup script run over tables an app at 0.1.0 made adds the new columns, keeps the rows, records version 2."""
    from tests.snowflake_app.conftest import FAKESNOW_PROBLEM, FakesnowSql, generated_table_statements

    if FAKESNOW_PROBLEM is not None:
        pytest.skip(FAKESNOW_PROBLEM)
    import fakesnow
    import snowflake.connector

    released = Path(__file__).resolve().parents[1] / "fixtures" / "snowflake-0.1.0.sql"
    with fakesnow.patch():
        connection = snowflake.connector.connect(
            database="ORCHESTRA_DATA_APP", schema="PUBLIC", paramstyle="qmark", nop_regexes=[r"^GRANT\b"]
        )
        sql = FakesnowSql(connection)
        sql("CREATE SCHEMA IF NOT EXISTS ORCHESTRA_DATA_APP.PUBLIC")
        for statement in released.read_text().split(";"):
            lines = [line for line in statement.splitlines() if not line.startswith("--")]
            if "".join(lines).strip():
                sql("\n".join(lines))
        sql("INSERT INTO public.operations (id, operation_name) VALUES ('op-1', 'kept')")
        for _ in range(2):  # an upgrade, then the same version's setup script again: nothing changes
            for statement in generated_table_statements():
                sql(statement)
        layouts = {
            r.table: [
                c[0].lower()
                for c in sql(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema = 'PUBLIC' "
                    "AND table_name = ? ORDER BY ordinal_position",
                    [r.table.upper()],
                )
            ]
            for r in _records.RESOURCES
        }
        rows = sql.rows("operations")
        versions = sql("SELECT version FROM public.eltops_schema_version")
        connection.close()
    assert layouts == {r.table: list(_records.table_layout(r)) for r in _records.RESOURCES}
    assert [(r["id"], r["operation_name"], r["cost"]) for r in rows] == [("op-1", "kept", None)]
    assert [int(v[0]) for v in versions] == [_records.SCHEMA_VERSION]
