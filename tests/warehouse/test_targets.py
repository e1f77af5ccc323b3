"""Both warehouse targets: tables with the seed's columns, merge on id, state, and target names."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from eltops.errors import ConfigError
from eltops.orchestra import OPERATIONS, PIPELINE_RUNS, RESOURCES, TASK_RUNS, page_to_arrow
from eltops.secrets import EnvReader
from eltops.warehouse import DuckDbSpec, LoadState, SnowflakeSpec, Target, WriteCounts, parse_target
from eltops.warehouse._duckdb import DuckDbTarget

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


@pytest.fixture(params=["duckdb", "snowflake"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    if request.param == "duckdb":
        duck = DuckDbTarget(tmp_path / "t.duckdb")
        yield duck
        duck.close()
        return
    fakesnow = pytest.importorskip("fakesnow")
    with fakesnow.patch():
        from eltops.warehouse._snowflake import SnowflakeSettings, SnowflakeTarget

        snow = SnowflakeTarget(SnowflakeSettings(params={"account": "acct", "database": "DB", "schema": "ORCH"}))
        yield snow
        snow.close()


def test_merge_inserts_then_updates_in_place(target: Target) -> None:
    """A second batch with a changed run updates it, leaves the unchanged one, and never duplicates."""
    target.prepare(RESOURCES)
    first = page_to_arrow(TASK_RUNS, [task_run("a", "RUNNING"), task_run("b", "SUCCEEDED")])
    assert target.write_batch(TASK_RUNS, first, LoadState(CURSOR)) == WriteCounts(2, 0, 0)
    second = page_to_arrow(TASK_RUNS, [task_run("a", "SUCCEEDED"), task_run("b", "SUCCEEDED")])
    assert target.write_batch(TASK_RUNS, second, LoadState(CURSOR)) == WriteCounts(0, 1, 1)
    assert target.read_state(TASK_RUNS) == LoadState(CURSOR)
    assert target.open_records(TASK_RUNS, created_after=datetime(2020, 1, 1, tzinfo=UTC)) == []


def test_duplicate_ids_in_one_batch_keep_the_last_read(target: Target) -> None:
    """The same id twice in one batch (a page re-read) is merged once, with the later version."""
    target.prepare([TASK_RUNS])
    batch = page_to_arrow(TASK_RUNS, [task_run("a", "RUNNING"), task_run("a", "FAILED")])
    assert target.write_batch(TASK_RUNS, batch, LoadState(CURSOR)).inserted == 1
    assert target.open_records(TASK_RUNS, created_after=datetime(2020, 1, 1, tzinfo=UTC)) == []


def test_open_runs_are_found_for_the_next_load(target: Target) -> None:
    """Runs stored in an open status are listed with their creation time."""
    target.prepare([TASK_RUNS])
    target.write_batch(TASK_RUNS, page_to_arrow(TASK_RUNS, [task_run("a", "QUEUED")]), LoadState(CURSOR))
    found = target.open_records(TASK_RUNS, created_after=datetime(2020, 1, 1, tzinfo=UTC))
    assert [(i, t.astimezone(UTC)) for i, t in found] == [("a", datetime(2025, 5, 1, 11, 16, 44, 841252, tzinfo=UTC))]


def test_state_is_none_before_any_load(target: Target) -> None:
    """A resource never loaded has no cursor."""
    target.prepare([OPERATIONS])
    assert target.read_state(OPERATIONS) == LoadState(None)


def test_duckdb_tables_have_the_seed_columns_in_order(tmp_path: Path) -> None:
    """Each DuckDB table has exactly the seed's columns, then loaded_at."""
    duck = DuckDbTarget(tmp_path / "t.duckdb")
    duck.prepare(RESOURCES)
    for resource in RESOURCES:
        columns = [r[0] for r in duck.connection.execute(f"DESCRIBE {resource.table}").fetchall()]
        assert columns == [*resource.column_names, "loaded_at"]
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
    spec = parse_target(text, EnvReader({}), cwd=tmp_path)
    assert spec == DuckDbSpec(tmp_path / expected)


def test_absolute_duckdb_url(tmp_path: Path) -> None:
    """duckdb:///abs/path is an absolute path."""
    spec = parse_target(f"duckdb://{tmp_path}/x.duckdb", EnvReader({}), cwd=Path("/"))
    assert spec == DuckDbSpec(tmp_path / "x.duckdb")


def test_snowflake_target_from_connections_toml_and_variables(tmp_path: Path) -> None:
    """snowflake://NAME reads connections.toml; SNOWFLAKE_* variables win; secrets stay secret."""
    (tmp_path / "connections.toml").write_text(
        '[prod]\naccount = "acme-eu"\nuser = "loader"\nprivate_key_file = "/keys/rsa.p8"\ndatabase = "RAW"\n'
    )
    env = EnvReader({"SNOWFLAKE_HOME": str(tmp_path), "SNOWFLAKE_SCHEMA": "ORCHESTRA", "SNOWFLAKE_PASSWORD": "pw-123"})
    spec = parse_target("snowflake://prod?warehouse=LOAD_WH", env)
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
        parse_target(text, EnvReader({"HOME": str(tmp_path), **env}), cwd=tmp_path)
