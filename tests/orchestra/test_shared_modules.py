"""The planning and mapping modules the Snowflake app ships import without eltops' heavy dependencies."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from eltops.orchestra import RESOURCES, TASK_RUNS, Resource, map_page, map_record, page_to_arrow
from eltops.orchestra._arrow import ARROW_TYPES, arrow_schema, arrow_type
from eltops.orchestra._records import ColumnType, RecordError

HEAVY = ("httpx", "stamina", "pyarrow", "duckdb", "snowflake.connector", "rich", "click")


def test_plan_and_records_import_without_heavy_dependencies() -> None:
    """``eltops.orchestra._plan`` and ``_records`` (and the package itself) load no httpx, pyarrow or drivers."""
    code = (
        "import sys, eltops.orchestra, eltops.orchestra._plan, eltops.orchestra._records\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


RECORD = {
    "id": "t1",
    "taskParameters": {"a": [1, 2]},
    "numberOfAttempts": "3",
    "createdAt": "2025-05-01T13:16:44+02:00",
    "message": 12,
    "status": "RUNNING",
}


@pytest.mark.parametrize("resource", RESOURCES, ids=str)
def test_pure_python_mapping_gives_the_arrow_values(resource: Resource) -> None:
    """map_page (the app's path) and page_to_arrow (the loader's) give the same value for every column."""
    records = [{**RECORD, resource.id_source: "t1"}, {resource.id_source: "t2", "fieldOfTomorrow": [1]}]
    rows = map_page(resource, records)
    table = page_to_arrow(resource, records).to_pylist()
    for mine, theirs in zip(rows, table, strict=True):
        for column in resource.columns:
            value = mine[column.name]
            if column.type.value == "json":
                value = None if value is None else json.dumps(value, separators=(",", ":"))
            assert value == theirs[column.name], column.name


def test_map_record_types_values() -> None:
    """One record as typed values: UTC datetimes, integers, JSON kept decoded."""
    row = map_record(TASK_RUNS, RECORD)
    assert row["created_at"] == datetime(2025, 5, 1, 11, 16, 44, tzinfo=UTC)
    assert row["number_of_attempts"] == 3
    assert row["task_parameters"] == {"a": [1, 2]}
    assert row["message"] == "12"


@pytest.mark.parametrize(
    ("results", "message"),
    [
        ([{"id": "a"}, {"taskName": "x"}], "result 1 has no id"),
        ([{"id": "a"}, {"id": "b", "numberOfAttempts": True}], "result 1: numberOfAttempts should be an integer"),
    ],
)
def test_map_page_errors_match_the_arrow_path(results: list[dict[str, object]], message: str) -> None:
    """Both paths refuse the same records with the same message."""
    with pytest.raises(RecordError, match=message):
        map_page(TASK_RUNS, results)
    with pytest.raises(RecordError, match=message):
        page_to_arrow(TASK_RUNS, results)


@pytest.mark.parametrize("kind", list(ColumnType), ids=lambda k: k.value)
def test_each_column_type_has_its_arrow_type(kind: ColumnType) -> None:
    """The Arrow schema types each column through _arrow's mapping (which _records no longer imports)."""
    columns = [c for r in RESOURCES for c in r.columns if c.type is kind]
    for column in columns:
        assert arrow_type(column) == ARROW_TYPES[kind]
    for resource in RESOURCES:
        schema = arrow_schema(resource)
        assert [schema.field(c.name).type for c in resource.columns] == [ARROW_TYPES[c.type] for c in resource.columns]


def test_records_does_not_import_the_arrow_module() -> None:
    """``_records`` never imports ``_arrow``, so the two form no cycle (``_arrow`` imports ``_records``)."""
    code = (
        "import sys, eltops.orchestra._records as r\n"
        "r.Column('x', r.ColumnType.TEXT, 'x'); r.map_page(r.TASK_RUNS, [{'id': 'a'}])\n"
        "print('eltops.orchestra._arrow' in sys.modules, hasattr(r.Column, 'arrow_type'))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False"]
