"""Where a report's rows come from: the history tables of a target, as one DuckDB connection."""

# ruff: noqa: S608  (table names come from the declared resources, never from input)

from __future__ import annotations

import shlex
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from eltops._paths import REPORT, write_output
from eltops.errors import ConfigError
from eltops.orchestra import RESOURCES
from eltops.report._data import ReportData, collect
from eltops.warehouse import (
    DuckDbSpec,
    TargetSpec,
    WarehouseError,
    busy_error,
    column_types,
    create_table_sql,
    string_literal,
)


@contextmanager
def open_history(source: TargetSpec, *, since: datetime | None) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB connection with ``pipeline_runs``, ``task_runs`` and ``operations`` from ``source``.

    A DuckDB file is attached read-only (never created or changed); Snowflake tables are copied in as Arrow.
    A table the source does not have is an empty one, so a report of a young warehouse still renders.
    """
    con = duckdb.connect()
    try:
        if isinstance(source, DuckDbSpec):
            _attach_duckdb(con, source.path)
        else:
            _copy_snowflake(con, source, since)
        yield con
    finally:
        con.close()


def _attach_duckdb(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    if not path.is_file():
        raise ConfigError(
            f"there is no warehouse at {path}: load some history into it first with "
            f"`eltops orchestra load --to {shlex.quote(str(path))}` (or record jobs into it with --record-to), see "
            "one made up with `eltops demo`, or name another with --from"
        )
    try:
        # a literal: DuckDB before 1.5 takes no parameter in ATTACH (make check-oldest runs 1.4)
        con.execute(f"ATTACH {string_literal(str(path))} AS history (READ_ONLY)")
    except duckdb.Error as exc:
        busy = busy_error(path, exc)
        if busy is not None:
            raise busy from None
        raise WarehouseError(f"cannot open the DuckDB database {path}: {exc}") from None
    present: dict[str, set[str]] = {}
    for table, column in con.execute(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_catalog = 'history'"
    ).fetchall():
        present.setdefault(str(table), set()).add(str(column))
    for resource in RESOURCES:
        if resource.table in present:
            # a file an older eltops wrote (read-only: never upgraded here) lacks the newer columns: NULL
            found = present[resource.table]
            columns = ", ".join(
                f'"{name}"' if name in found else f'NULL::{kind} AS "{name}"'
                for name, kind in column_types(resource, "duckdb").items()
            )
            con.execute(f'CREATE VIEW "{resource.table}" AS SELECT {columns} FROM history."{resource.table}"')
        else:
            con.execute(create_table_sql(resource, "duckdb"))


def _copy_snowflake(con: duckdb.DuckDBPyConnection, source: TargetSpec, since: datetime | None) -> None:
    from eltops.warehouse import SnowflakeTarget

    assert not isinstance(source, DuckDbSpec)
    target = SnowflakeTarget(source.settings, read_only=True)  # a report only reads: it creates nothing
    try:
        for resource in RESOURCES:
            table = target.read_table(resource, since=since)
            con.register(f"{resource.table}_arrow", table)
            con.execute(f'CREATE TABLE "{resource.table}" AS SELECT * FROM "{resource.table}_arrow"')
            con.unregister(f"{resource.table}_arrow")
    finally:
        target.close()


def write_report(
    source: TargetSpec,
    out: Path,
    *,
    since: datetime | None,
    now: datetime | None = None,
    lineage: Mapping[str, Any] | None = None,
) -> ReportData:
    """Compute the report for ``source`` and write it to ``out``; returns the figures it shows.

    ``lineage``: a run's lineage graph (nodes and edges, as ``eltops emulate openlineage`` draws it) to show too.
    """
    from eltops.report._html import render  # Plotly: the 'report' extra, named when it is missing

    with open_history(source, since=since) as con:
        data = collect(con, since=since, generated_at=now or datetime.now(UTC))
    # the warehouse as a command names it, for the page's "load some" commands when there is nothing to show
    named = shlex.quote(str(source.path)) if isinstance(source, DuckDbSpec) else "snowflake://..."
    write_output(out, render(data, source=str(source), named=named, lineage=lineage), REPORT)  # whole or not at all
    return data
