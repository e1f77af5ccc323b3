"""Both warehouse targets: tables with the seed's columns, merge on id, state, and target names."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from eltops.errors import ApiResponseError, ConfigError
from eltops.orchestra import (
    OPERATIONS,
    PIPELINE_RUNS,
    RESOURCES,
    REST,
    TASK_RUNS,
    ColumnType,
    LoadState,
    PageBatch,
    PageQuery,
    page_to_arrow,
    parse_page,
    rest_of,
    table_layout,
)
from eltops.secrets import EnvReader
from eltops.warehouse import (
    DuckDbSpec,
    PendingBatch,
    SnowflakeSpec,
    Target,
    WriteCounts,
    parse_wait,
    parse_warehouse,
    write_pages,
)
from eltops.warehouse._duckdb import ROW_GROUP_ROWS, DuckDbTarget
from tests._pages import page_batch

CURSOR = datetime(2025, 5, 2, tzinfo=UTC)


def task_run(record_id: str, status: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": record_id,
        "status": status,
        "taskParameters": {"connector_id": "abc", "n": 1},
        "numberOfAttempts": 1,
        "createdAt": "2025-05-01T11:16:44.841252+00:00",
        **extra,
    }


@pytest.fixture(params=["duckdb", pytest.param("snowflake", marks=pytest.mark.fakesnow)])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    if request.param == "duckdb":
        duck = DuckDbTarget(tmp_path / "t.duckdb")
        yield duck
        duck.close()
        return
    import fakesnow

    with fakesnow.patch():
        from eltops.warehouse._snowflake import SnowflakeSettings, SnowflakeTarget

        snow = SnowflakeTarget(SnowflakeSettings(params={"account": "acct", "database": "DB", "schema": "ORCH"}))
        yield snow
        snow.close()


def test_merge_inserts_then_updates_in_place(target: Target) -> None:
    """A second batch with a changed run updates it, leaves the unchanged one, and never duplicates."""
    target.prepare(RESOURCES)
    first = page_batch(TASK_RUNS, [task_run("a", "RUNNING"), task_run("b", "SUCCEEDED")])
    assert write_pages(target, first, LoadState(CURSOR)) == WriteCounts(2, 0, 0)
    second = page_batch(TASK_RUNS, [task_run("a", "SUCCEEDED"), task_run("b", "SUCCEEDED")])
    assert write_pages(target, second, LoadState(CURSOR)) == WriteCounts(0, 1, 1)
    assert target.read_state(TASK_RUNS) == LoadState(CURSOR)
    assert target.open_records(TASK_RUNS, created_after=datetime(2020, 1, 1, tzinfo=UTC)) == []


def test_duplicate_ids_in_one_batch_keep_the_last_read(target: Target) -> None:
    """The same id twice in one batch (a page re-read) is merged once, with the later version."""
    target.prepare([TASK_RUNS])
    batch = page_batch(TASK_RUNS, [task_run("a", "RUNNING"), task_run("a", "FAILED")])
    assert write_pages(target, batch, LoadState(CURSOR)).inserted == 1
    assert target.open_records(TASK_RUNS, created_after=datetime(2020, 1, 1, tzinfo=UTC)) == []


def test_open_runs_are_found_for_the_next_load(target: Target) -> None:
    """Runs stored in an open status are listed with their creation time."""
    target.prepare([TASK_RUNS])
    write_pages(target, page_batch(TASK_RUNS, [task_run("a", "QUEUED")]), LoadState(CURSOR))
    found = target.open_records(TASK_RUNS, created_after=datetime(2020, 1, 1, tzinfo=UTC))
    assert [(i, t.astimezone(UTC)) for i, t in found] == [("a", datetime(2025, 5, 1, 11, 16, 44, 841252, tzinfo=UTC))]


def test_state_is_none_before_any_load(target: Target) -> None:
    """A resource never loaded has no cursor."""
    target.prepare([OPERATIONS])
    assert target.read_state(OPERATIONS) == LoadState(None)


def test_duckdb_tables_have_the_seed_columns_in_order(tmp_path: Path) -> None:
    """Each DuckDB table has the seed's columns, then loaded_at, then the newer ones (extra last)."""
    duck = DuckDbTarget(tmp_path / "t.duckdb")
    duck.prepare(RESOURCES)
    for resource in RESOURCES:
        columns = [r[0] for r in duck.connection.execute(f"DESCRIBE {resource.table}").fetchall()]
        assert columns == list(table_layout(resource))
        assert sorted(columns) == sorted([*resource.column_names, "loaded_at"])
    duck.close()


def test_a_table_with_other_columns_is_refused(tmp_path: Path) -> None:
    """An existing pipeline_runs table with foreign columns is reported, not silently written into."""
    duck = DuckDbTarget(tmp_path / "t.duckdb")
    duck.connection.execute("CREATE TABLE pipeline_runs (id VARCHAR, other INT)")
    with pytest.raises(Exception, match="other columns"):
        duck.prepare([PIPELINE_RUNS])
    duck.close()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, "eltops.duckdb"),
        ("runs.duckdb", "runs.duckdb"),
        ("duckdb://runs.duckdb", "runs.duckdb"),
    ],
)
def test_duckdb_target_names(tmp_path: Path, text: str | None, expected: str) -> None:
    """The default, a bare path and duckdb://path all name a DuckDB file, relative to the working directory."""
    spec = parse_warehouse(text, EnvReader({}), cwd=tmp_path)
    assert spec == DuckDbSpec(tmp_path / expected)


def test_absolute_duckdb_url(tmp_path: Path) -> None:
    """duckdb:///abs/path is an absolute path."""
    spec = parse_warehouse(f"duckdb://{tmp_path}/x.duckdb", EnvReader({}), cwd=Path("/"))
    assert spec == DuckDbSpec(tmp_path / "x.duckdb")


def test_snowflake_target_from_connections_toml_and_variables(tmp_path: Path) -> None:
    """snowflake://NAME reads connections.toml; SNOWFLAKE_* variables win; secrets stay secret."""
    (tmp_path / "connections.toml").write_text(
        '[prod]\naccount = "acme-eu"\nuser = "loader"\nprivate_key_file = "/keys/rsa.p8"\ndatabase = "RAW"\n'
    )
    env = EnvReader({"SNOWFLAKE_HOME": str(tmp_path), "SNOWFLAKE_SCHEMA": "ORCHESTRA", "SNOWFLAKE_PASSWORD": "pw-123"})
    spec = parse_warehouse("snowflake://prod?warehouse=LOAD_WH", env)
    assert isinstance(spec, SnowflakeSpec)
    kwargs = spec.settings.connect_kwargs()
    assert kwargs["account"] == "acme-eu"
    assert kwargs["private_key_file"] == "/keys/rsa.p8"
    assert (kwargs["database"], kwargs["schema"], kwargs["warehouse"]) == ("RAW", "ORCHESTRA", "LOAD_WH")
    assert kwargs["password"] == "pw-123"
    assert "pw-123" not in repr(spec)


@pytest.mark.parametrize(
    ("text", "env"),
    [
        ("postgres://x/y", {}),
        ("snowflake://missing", {}),
        ("snowflake://", {"SNOWFLAKE_ACCOUNT": "a"}),
        ("snowflake://u:pw@x/DB/S", {"SNOWFLAKE_ACCOUNT": "a"}),
        ("duckdb://", {}),
    ],
)
def test_bad_targets_are_config_errors(tmp_path: Path, text: str, env: dict[str, str]) -> None:
    """A malformed or incomplete target is a ConfigError (exit code 2), found before connecting."""
    with pytest.raises(ConfigError):
        parse_warehouse(text, EnvReader({"HOME": str(tmp_path), **env}), cwd=tmp_path)


# -- pages as the API sent them (the loader's batches) ---------------------------------------------------------


def rows_of(duck: DuckDbTarget, resource: Any) -> list[tuple[Any, ...]]:
    names = ", ".join(f'"{n}"' for n in resource.column_names)
    return duck.connection.execute(f"SELECT {names} FROM {resource.table} ORDER BY id").fetchall()


def test_pages_merge_like_arrow(target: Target) -> None:
    """Pages merge as their Arrow table does: inserts, an update, an unchanged row, the last copy of an id wins."""
    target.prepare([TASK_RUNS])
    first = page_batch(TASK_RUNS, [task_run("a", "RUNNING"), task_run("b", "SUCCEEDED")], [task_run("a", "QUEUED")])
    assert write_pages(target, first, LoadState(CURSOR)) == WriteCounts(2, 0, 0)
    found = target.open_records(TASK_RUNS, created_after=datetime(2020, 1, 1, tzinfo=UTC))
    assert [i for i, _ in found] == ["a"]
    second = page_batch(TASK_RUNS, [task_run("a", "SUCCEEDED"), task_run("b", "SUCCEEDED"), task_run("c", "FAILED")])
    assert write_pages(target, second, LoadState(CURSOR)) == WriteCounts(1, 1, 1)
    assert write_pages(target, page_batch(TASK_RUNS), None) == WriteCounts(0, 0, 0)
    assert target.read_state(TASK_RUNS) == LoadState(CURSOR)


def test_a_batch_takes_pages_as_they_arrive_and_writes_them_at_commit(target: Target) -> None:
    """Pages added in groups are invisible until commit, then merge as one batch (a later group's copy wins)."""
    target.prepare([TASK_RUNS])
    pages = page_batch(
        TASK_RUNS, [task_run("a", "RUNNING")], [task_run("b", "QUEUED")], [task_run("a", "FAILED")]
    ).pages
    batch = target.begin_batch(TASK_RUNS)
    batch.add(pages[:2])
    batch.add(pages[2:])
    assert target.values(TASK_RUNS, "status", where="id", equals="a") == []
    assert batch.commit(LoadState(CURSOR)) == WriteCounts(2, 0, 0)
    assert target.values(TASK_RUNS, "status", where="id", equals="a") == ["FAILED"]
    assert target.read_state(TASK_RUNS) == LoadState(CURSOR)


def test_a_discarded_batch_writes_nothing_and_the_next_one_works(target: Target) -> None:
    """Discarding a batch (the load stopped) writes no row and no state; the target takes the next batch."""
    target.prepare([TASK_RUNS])
    dropped = target.begin_batch(TASK_RUNS)
    dropped.add(page_batch(TASK_RUNS, [task_run("a", "RUNNING")]).pages)
    dropped.discard()
    assert target.values(TASK_RUNS, "status", where="id", equals="a") == []
    assert target.read_state(TASK_RUNS) == LoadState(None)
    kept = target.begin_batch(TASK_RUNS)
    kept.add(page_batch(TASK_RUNS, [task_run("b", "RUNNING")]).pages)
    assert kept.commit(None) == WriteCounts(1, 0, 0)


def _staged_in_groups(duck: DuckDbTarget, last: dict[str, Any]) -> PendingBatch:
    """A batch of three pages added in two groups, ``last`` alone on the third page."""
    pages = page_batch(TASK_RUNS, [task_run("a", "RUNNING")], [task_run("b", "RUNNING")], [last]).pages
    batch = duck.begin_batch(TASK_RUNS)
    batch.add(pages[:2])
    batch.add(pages[2:])
    return batch


@pytest.mark.parametrize(("sent", "stored"), [("3", 3), (2.0, 2)])
def test_a_value_duckdb_refuses_in_a_later_group_is_converted_as_arrow_does(
    tmp_path: Path, sent: Any, stored: int
) -> None:
    """After groups already staged, a value DuckDB will not type sends the whole batch through Arrow."""
    duck = DuckDbTarget(tmp_path / "t.duckdb")
    duck.prepare([TASK_RUNS])
    batch = _staged_in_groups(duck, task_run("c", "RUNNING", numberOfAttempts=sent))
    assert batch.commit(LoadState(CURSOR)) == WriteCounts(3, 0, 0)
    assert duck.values(TASK_RUNS, "number_of_attempts", where="id", equals="c") == [stored]
    assert duck.values(TASK_RUNS, "status", where="id", equals="a") == ["RUNNING"]


def test_a_wrong_value_in_a_later_group_names_its_page_and_writes_nothing(tmp_path: Path) -> None:
    """A wrong value on the third page fails the commit naming that page; the staged groups are not written."""
    duck = DuckDbTarget(tmp_path / "t.duckdb")
    duck.prepare([TASK_RUNS])
    batch = _staged_in_groups(duck, task_run("c", "RUNNING", numberOfAttempts=True))
    with pytest.raises(ApiResponseError, match=r"task-runs page 3 .*bad record"):
        batch.commit(LoadState(CURSOR))
    assert rows_of(duck, TASK_RUNS) == []
    assert duck.read_state(TASK_RUNS) == LoadState(None)


@pytest.mark.parametrize("resource", RESOURCES, ids=lambda r: r.name)
def test_duckdb_parses_pages_into_the_values_arrow_gives(tmp_path: Path, resource: Any) -> None:
    """Every column of every resource: DuckDB's own JSON parse stores what the Arrow path stores."""
    other = {
        resource.id_source: "y",
        "createdAt": "2025-05-01T11:16:44",
        "insertedAt": None,
        "newField": [1, {"a": None}],
    }
    records = [_full_record(resource, "x"), other, {resource.id_source: "z", "fieldOfTomorrow": "kept"}]
    via_pages, via_arrow = DuckDbTarget(tmp_path / "p.duckdb"), DuckDbTarget(tmp_path / "a.duckdb")
    for duck in (via_pages, via_arrow):
        duck.prepare([resource])
    write_pages(via_pages, page_batch(resource, records), None)
    con = via_arrow.connection  # the reference: the Arrow table (pyarrow's typing) inserted as DuckDB reads it
    con.register("arrow_rows", page_to_arrow(resource, records))
    names = ", ".join(f'"{name}"' for name in resource.column_names)
    con.execute(f'INSERT INTO "{resource.table}" ({names}, loaded_at) SELECT *, now() FROM arrow_rows')
    assert rows_of(via_pages, resource) == rows_of(via_arrow, resource)
    extras = dict(via_pages.connection.execute(f'SELECT id, extra FROM "{resource.table}" ORDER BY id').fetchall())
    assert extras["x"] is None
    assert orjson.loads(extras["y"]) == rest_of(resource, other)
    assert "newField" in orjson.loads(extras["y"])
    assert orjson.loads(extras["z"]) == {"fieldOfTomorrow": "kept"}


def _full_record(resource: Any, record_id: str) -> dict[str, Any]:
    values: dict[ColumnType, Any] = {
        ColumnType.TEXT: "tëxt",
        ColumnType.TIMESTAMP: "2025-05-01T11:16:44.841252+02:00",
        ColumnType.JSON: {"k": [1, 2.5, None, "é"], "b": True},
        ColumnType.INTEGER: 7,
        ColumnType.FLOAT: 1.5,
        ColumnType.BOOLEAN: True,
    }
    record = {c.source: values[c.type] for c in resource.columns if c.source != REST}
    record[resource.id_source] = record_id
    return record


@pytest.mark.parametrize(
    ("extra", "stored"),
    [({"numberOfAttempts": "3"}, 3), ({"numberOfAttempts": 2.0}, 2), ({"numberOfAttempts": None}, None)],
)
def test_values_duckdb_does_not_take_as_is_are_converted_as_arrow_does(
    tmp_path: Path, extra: dict[str, Any], stored: Any
) -> None:
    """A count sent as text or as 2.0 goes through the Arrow path's lenient conversion, not DuckDB's rounding."""
    duck = DuckDbTarget(tmp_path / "t.duckdb")
    duck.prepare([TASK_RUNS])
    assert write_pages(duck, page_batch(TASK_RUNS, [task_run("a", "RUNNING", **extra)]), None).inserted == 1
    assert duck.values(TASK_RUNS, "number_of_attempts", where="id", equals="a") == [stored]


@pytest.mark.parametrize(
    "extra",
    [{"numberOfAttempts": True}, {"numberOfAttempts": "v2"}, {"numberOfAttempts": [1]}, {"updatedAt": "soon"}],
)
def test_a_wrong_value_in_pages_names_resource_and_page(tmp_path: Path, extra: dict[str, Any]) -> None:
    """A value DuckDB would round or turn into NULL fails the batch, naming the page, and writes nothing."""
    duck = DuckDbTarget(tmp_path / "t.duckdb")
    duck.prepare([TASK_RUNS])
    batch = page_batch(TASK_RUNS, [task_run("a", "RUNNING")], [task_run("b", "RUNNING", **extra)])
    with pytest.raises(ApiResponseError, match=r"task-runs page 2 .*bad record: result 0: "):
        write_pages(duck, batch, LoadState(CURSOR))
    assert rows_of(duck, TASK_RUNS) == []
    assert duck.read_state(TASK_RUNS) == LoadState(None)


def test_a_page_without_an_id_fails_when_fetched() -> None:
    """The client's parse still checks every id, naming resource and page."""
    body = orjson.dumps({"page": 4, "pageSize": 100, "total": 1, "results": [{"status": "RUNNING"}]})
    with pytest.raises(ApiResponseError, match=r"task-runs page 4 .*result 0 has no id"):
        parse_page(PageQuery(TASK_RUNS, page=4), body)


def test_each_committed_batch_is_checkpointed_into_small_row_groups(tmp_path: Path) -> None:
    """A committed batch is in the file itself, in row groups of at most ``ROW_GROUP_ROWS``, with no log left."""
    path = tmp_path / "t.duckdb"
    duck = DuckDbTarget(path)
    duck.prepare([TASK_RUNS])
    wide = "x" * 400  # ~2 MB over the batch: above the log size that makes a commit a checkpoint
    for start in (0, 3000):
        records = [task_run(f"run-{n:05}", "RUNNING", message=wide) for n in range(start, start + 3000)]
        write_pages(duck, page_batch(TASK_RUNS, *(records[i : i + 100] for i in range(0, 3000, 100))), None)
        wal = path.with_name(path.name + ".wal")
        assert not wal.exists() or wal.stat().st_size == 0
    groups = duck.connection.execute(
        "SELECT row_group_id, max(count) FROM pragma_storage_info('task_runs') GROUP BY ALL"
    ).fetchall()
    assert len(groups) == -(-6000 // ROW_GROUP_ROWS)  # the second batch fills the first one's last row group
    assert max(rows for _, rows in groups) <= ROW_GROUP_ROWS
    duck.close()
    reopened = DuckDbTarget(path)
    assert len(rows_of(reopened, TASK_RUNS)) == 6000
    reopened.close()


@pytest.mark.parametrize(
    ("literal", "message"),
    [
        ("2.5", "numberOfAttempts should be an integer, got 2.5"),
        ("-9223372036854775809", "numberOfAttempts is out of range for a 64-bit integer"),
        ("9223372036854775808", "numberOfAttempts is out of range for a 64-bit integer, got 9223372036854775808"),
        ("18446744073709551616", "numberOfAttempts is out of range for a 64-bit integer"),
        ("123456789012345678901234567890", "numberOfAttempts is out of range for a 64-bit integer"),
        ("1e300", "numberOfAttempts is out of range for a 64-bit integer"),
    ],
)
def test_odd_numbers_fail_naming_page_and_field_in_every_target(target: Target, literal: str, message: str) -> None:
    """A fraction or a number outside 64 bits fails the batch naming page and field (DuckDB, Arrow, Snowflake)."""
    target.prepare([TASK_RUNS])
    good = orjson.dumps({"page": 1, "pageSize": 100, "total": 0, "results": [task_run("a", "RUNNING")]})
    odd = orjson.dumps(
        {"page": 2, "pageSize": 100, "total": 0, "results": [task_run("b", "RUNNING", numberOfAttempts="@")]}
    ).replace(b'"@"', literal.encode())
    pages = tuple(parse_page(PageQuery(TASK_RUNS, page=n), body) for n, body in ((1, good), (2, odd)))
    with pytest.raises(ApiResponseError, match=rf"task-runs page 2 .*bad record: result 0: {re.escape(message)}"):
        write_pages(target, PageBatch(TASK_RUNS, pages), LoadState(CURSOR))
    assert target.values(TASK_RUNS, "id", where="status", equals="RUNNING") == []
    assert target.read_state(TASK_RUNS) == LoadState(None)


@pytest.mark.parametrize(
    ("flag", "variable", "required", "expected"),
    [
        ("flag.duckdb", "var.duckdb", True, "flag.duckdb"),
        (None, "var.duckdb", True, "var.duckdb"),
        ("  ", "var.duckdb", True, "var.duckdb"),
        (None, None, True, "eltops.duckdb"),
        ("flag.duckdb", None, False, "flag.duckdb"),
        (None, "var.duckdb", False, "var.duckdb"),
        (None, None, False, None),
        (None, " ", False, None),
    ],
    ids=["flag-wins", "variable", "blank-flag", "default-file", "optional-flag", "optional-variable", "none", "blank"],
)
def test_every_command_names_its_warehouse_one_way(
    tmp_path: Path, flag: str | None, variable: str | None, required: bool, expected: str | None
) -> None:
    """The flag beats ELTOPS_WAREHOUSE; with neither, a load gets eltops.duckdb and optional history gets none."""
    env = EnvReader({"ELTOPS_WAREHOUSE": variable} if variable is not None else {})
    spec = parse_warehouse(flag, env, required=required, cwd=tmp_path)
    if expected is None:
        assert spec is None
    else:
        assert spec == DuckDbSpec(tmp_path / expected)


@pytest.mark.parametrize(
    ("wait", "variable", "expected"),
    [(None, None, 0.0), (None, "30", 30.0), (5.0, "30", 5.0), (0.0, "30", 0.0), (None, "86400", 86400.0)],
)
def test_the_busy_file_wait_comes_from_the_flag_else_the_variable(
    wait: float | None, variable: str | None, expected: float
) -> None:
    """--wait beats ELTOPS_WAREHOUSE_WAIT, which beats 0."""
    env = EnvReader({"ELTOPS_WAREHOUSE_WAIT": variable} if variable is not None else {})
    assert parse_wait(env, wait) == expected


@pytest.mark.parametrize(
    ("wait", "variable", "message"),
    [
        (None, "soon", "ELTOPS_WAREHOUSE_WAIT must be a number"),
        (None, "nan", "must be a number"),
        (-1.0, None, "between 0 and 86400"),
        (None, "90000", "between 0 and 86400"),
    ],
)
def test_a_bad_wait_is_a_config_error(wait: float | None, variable: str | None, message: str) -> None:
    """A wait that is not a number of seconds between 0 and a day is refused, naming the variable or the range."""
    env = EnvReader({"ELTOPS_WAREHOUSE_WAIT": variable} if variable is not None else {})
    with pytest.raises(ConfigError, match=message):
        parse_wait(env, wait)


@pytest.mark.parametrize("text", ["plain.duckdb", "it's.duckdb", "''", "semi; DROP TABLE x; --", "ünï çødé"])
def test_a_string_literal_reads_back_as_the_text(text: str) -> None:
    """string_literal quotes any text so DuckDB reads back exactly that text (ATTACH and SET take no parameters)."""
    import duckdb

    from eltops.warehouse import string_literal

    assert duckdb.connect().execute(f"SELECT {string_literal(text)}").fetchone() == (text,)
