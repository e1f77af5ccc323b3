"""Table DDL for each warehouse, derived from the column declarations of :mod:`eltops.orchestra`'s resources."""

from __future__ import annotations

from typing import Literal

from eltops.orchestra import LOADED_AT, ColumnType, Resource

__all__ = ["SQL_TYPES", "Dialect", "create_table_sql", "quote", "string_literal"]

Dialect = Literal["duckdb", "snowflake"]

SQL_TYPES: dict[Dialect, dict[ColumnType, str]] = {
    "duckdb": {
        ColumnType.TEXT: "VARCHAR",
        ColumnType.TIMESTAMP: "TIMESTAMPTZ",
        ColumnType.JSON: "JSON",
        ColumnType.INTEGER: "BIGINT",
        ColumnType.FLOAT: "DOUBLE",
    },
    "snowflake": {
        ColumnType.TEXT: "VARCHAR",
        ColumnType.TIMESTAMP: "TIMESTAMP_TZ",
        ColumnType.JSON: "VARIANT",
        ColumnType.INTEGER: "NUMBER(38,0)",
        ColumnType.FLOAT: "FLOAT",
    },
}


def quote(name: str, dialect: Dialect) -> str:
    """An identifier as written in SQL: quoted in DuckDB (case-insensitive there anyway), bare in Snowflake.

    Snowflake folds bare names to upper case, so ``SELECT run_status FROM pipeline_runs`` works as in the
    Orchestra Data App; quoting would make them case-sensitive lower-case names.
    """
    return f'"{name}"' if dialect == "duckdb" else name


def create_table_sql(resource: Resource, dialect: Dialect, *, qualified_name: str | None = None) -> str:
    """``CREATE TABLE IF NOT EXISTS`` for ``resource``'s table: its columns in order, then ``loaded_at``."""
    types = SQL_TYPES[dialect]
    lines = [f"    {quote(c.name, dialect)} {types[c.type]}" for c in resource.columns]
    lines[0] += " NOT NULL"
    lines.append(f"    {quote(LOADED_AT, dialect)} {types[ColumnType.TIMESTAMP]}")
    name = qualified_name or quote(resource.table, dialect)
    return f"CREATE TABLE IF NOT EXISTS {name} (\n" + ",\n".join(lines) + "\n)"


def string_literal(text: str) -> str:
    """``text`` as an SQL string literal (for statements that take no parameters: ``ATTACH``, ``SET``)."""
    return "'" + text.replace("'", "''") + "'"
