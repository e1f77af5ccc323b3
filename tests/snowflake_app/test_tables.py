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
    """The setup script's DDL makes each table with the seed's columns in order, then loaded_at."""
    found = snowflake_sql(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'PUBLIC' "
        "AND table_name = ? ORDER BY ordinal_position",
        [resource.table.upper()],
    )
    assert [r[0].lower() for r in found] == [*resource.column_names, _records.LOADED_AT]


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
    rows = [_records.map_record(resource, {"id": f"id-{i}", resource.columns[1].source: f"v{i}"}) for i in range(3)]
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
