"""Table DDL for each warehouse, derived from the column declarations of :mod:`eltops.orchestra`'s resources."""

from __future__ import annotations

from typing import Literal

from eltops.orchestra import LOADED_AT, ColumnType, Resource, table_layout

__all__ = ["SQL_TYPES", "Dialect", "add_columns_sql", "column_type", "create_table_sql", "quote", "string_literal"]

Dialect = Literal["duckdb", "snowflake"]

SQL_TYPES: dict[Dialect, dict[ColumnType, str]] = {
    "duckdb": {
        ColumnType.TEXT: "VARCHAR",
        ColumnType.TIMESTAMP: "TIMESTAMPTZ",
        ColumnType.JSON: "JSON",
        ColumnType.INTEGER: "BIGINT",
        ColumnType.FLOAT: "DOUBLE",
        ColumnType.BOOLEAN: "BOOLEAN",
    },
    "snowflake": {
        ColumnType.TEXT: "VARCHAR",
        ColumnType.TIMESTAMP: "TIMESTAMP_TZ",
        ColumnType.JSON: "VARIANT",
        ColumnType.INTEGER: "NUMBER(38,0)",
        ColumnType.FLOAT: "FLOAT",
        ColumnType.BOOLEAN: "BOOLEAN",
    },
}


def quote(name: str, dialect: Dialect) -> str:
    """An identifier as written in SQL: quoted in DuckDB (case-insensitive there anyway), bare in Snowflake.

    Snowflake folds bare names to upper case, so ``SELECT run_status FROM pipeline_runs`` works as in the
    Orchestra Data App; quoting would make them case-sensitive lower-case names.
    """
    return f'"{name}"' if dialect == "duckdb" else name


def column_type(resource: Resource, name: str, dialect: Dialect) -> str:
    """The SQL type of one of the table's columns (``loaded_at`` included)."""
    kind = ColumnType.TIMESTAMP if name == LOADED_AT else resource.column(name).type
    return SQL_TYPES[dialect][kind]


def create_table_sql(resource: Resource, dialect: Dialect, *, qualified_name: str | None = None) -> str:
    """``CREATE TABLE IF NOT EXISTS`` for ``resource``'s table, its columns in :func:`table_layout` order.

    That is the Orchestra Data App's columns, ``loaded_at``, then the columns later versions added: the layout a
    table made by eltops 0.1.0 has once :func:`add_columns_sql` has run on it.
    """
    lines = [f"    {quote(name, dialect)} {column_type(resource, name, dialect)}" for name in table_layout(resource)]
    lines[0] += " NOT NULL"
    name = qualified_name or quote(resource.table, dialect)
    return f"CREATE TABLE IF NOT EXISTS {name} (\n" + ",\n".join(lines) + "\n)"


def string_literal(text: str) -> str:
    """``text`` as an SQL string literal (for statements that take no parameters: ``ATTACH``, ``SET``)."""
    return "'" + text.replace("'", "''") + "'"


def add_columns_sql(
    resource: Resource, dialect: Dialect, found: list[str], *, qualified_name: str | None = None
) -> list[str]:
    """The ``ALTER TABLE ... ADD COLUMN`` statements that turn a table of columns ``found`` into today's.

    ``found`` must be a prefix of today's layout (an older eltops' table); the missing columns are appended in
    order, rows kept (they read NULL until the next load fills them). Anything else raises ``ValueError``.
    """
    wanted = table_layout(resource)
    if list(wanted[: len(found)]) != found:
        raise ValueError(f"{resource.table} has columns {', '.join(found)}, not a version of eltops' layout")
    name = qualified_name or quote(resource.table, dialect)
    return [
        f"ALTER TABLE {name} ADD COLUMN {quote(column, dialect)} {column_type(resource, column, dialect)}"
        for column in wanted[len(found) :]
    ]
