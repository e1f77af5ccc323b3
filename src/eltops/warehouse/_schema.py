"""The warehouse's schema version, and the upgrade of tables an older eltops made: rows kept, columns added.

Each warehouse records the version of the tables in it (:data:`SCHEMA_TABLE`, one row per version it reached,
with the eltops that brought it there). A file or schema with eltops tables and no such row was made by eltops
0.1.0: version 1. :func:`plan_upgrade` says what turns the tables found into today's
(:data:`~eltops.orchestra.SCHEMA_VERSION`): an ``ALTER TABLE ... ADD COLUMN`` for each column a table lacks
(appended after ``loaded_at``, in declaration order, so an upgraded table has the layout of a new one), a
``CREATE TABLE`` for each table missing, and the version row. The target runs them: DuckDB in one transaction (a
kill at any moment leaves the old schema or the new, never a mix); Snowflake, whose DDL commits on its own, one
statement per table (each table is old or new) with the version row last, so an interrupted upgrade is finished by
the next run.

A warehouse of a *newer* version than this eltops knows is refused (:class:`SchemaTooNew`) before anything is
written: its tables may hold what this version would lose or misread.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from eltops import __version__
from eltops.errors import ExitCode
from eltops.orchestra import RESOURCES, SCHEMA_VERSION, Resource, table_layout
from eltops.warehouse._ddl import Dialect, add_columns_sql, column_type, create_table_sql, quote
from eltops.warehouse._target import WarehouseError

__all__ = ["SCHEMA_TABLE", "SchemaTooNew", "Upgrade", "column_types", "plan_upgrade", "schema_table_sql"]

SCHEMA_TABLE = "eltops_schema_version"
"""One row per schema version the warehouse reached: ``version``, ``eltops_version``, ``upgraded_at``."""


class SchemaTooNew(WarehouseError):
    """The warehouse was written by a newer eltops: this one must not write into it (exit 2: use a newer eltops)."""

    exit_code = ExitCode.CONFIG


def schema_table_sql(dialect: Dialect, *, qualified_name: str | None = None) -> str:
    name = qualified_name or SCHEMA_TABLE
    timestamp = "TIMESTAMPTZ" if dialect == "duckdb" else "TIMESTAMP_TZ"
    return (
        f"CREATE TABLE IF NOT EXISTS {name} (version INTEGER NOT NULL, eltops_version VARCHAR, upgraded_at {timestamp})"
    )


@dataclass(frozen=True)
class Upgrade:
    """What brings a warehouse to today's schema: statements in order (none: it is current)."""

    from_version: int | None  # None: a new warehouse (no eltops table yet)
    statements: tuple[str, ...]
    added: tuple[tuple[str, str], ...]  # (table, column) pairs added to existing tables

    @property
    def describe(self) -> str:
        tables = sorted({table for table, _ in self.added})
        return (
            f"upgraded the tables from schema version {self.from_version} to {SCHEMA_VERSION} "
            f"({len(self.added)} columns added to {', '.join(tables) or 'no table'}; every row kept)"
        )


def plan_upgrade(
    *,
    dialect: Dialect,
    where: str,
    stored_version: int | None,
    found: Mapping[str, list[str]],
    wanted: Sequence[Resource],
    qualify: Callable[[str], str] | None = None,
) -> Upgrade:
    """The statements that bring the tables ``found`` (table -> its columns, in order) to today's schema.

    ``stored_version``: the highest version recorded (None: no record). ``wanted``: the resources whose tables
    must exist after it. Every eltops table present is upgraded, asked for or not, so the version recorded is
    true of the whole warehouse. Raises :class:`SchemaTooNew` for a newer warehouse, and
    :class:`WarehouseError` for a table that no eltops made (other columns than a version of eltops' layout).
    """
    name = qualify or (lambda table: quote(table, dialect))
    present = {r.table for r in RESOURCES if r.table in found}
    version = stored_version if stored_version is not None else (1 if present else None)
    if version is not None and version > SCHEMA_VERSION:
        raise SchemaTooNew(
            f"{where} was written by a newer eltops (schema version {version}; this eltops {__version__} writes "
            f"version {SCHEMA_VERSION}): it is left as it is. Use that eltops version or newer (pip install -U "
            "eltops), or name another warehouse"
        )
    statements: list[str] = []
    added: list[tuple[str, str]] = []
    for resource in RESOURCES:
        if resource.table in present:
            columns = found[resource.table]
            try:
                alters = add_columns_sql(resource, dialect, columns, qualified_name=name(resource.table))
            except ValueError:
                raise WarehouseError(
                    f"the table {resource.table} in {where} exists with other columns than eltops writes "
                    f"(found {', '.join(columns)}; eltops writes {', '.join(table_layout(resource))}); "
                    "rename or drop it"
                ) from None
            statements += alters
            added += [(resource.table, column) for column in table_layout(resource)[len(columns) :]]
        elif resource in wanted:
            statements.append(create_table_sql(resource, dialect, qualified_name=name(resource.table)))
    if version != SCHEMA_VERSION:
        statements.append(schema_table_sql(dialect, qualified_name=name(SCHEMA_TABLE)))
        statements.append(
            f"INSERT INTO {name(SCHEMA_TABLE)} VALUES ({SCHEMA_VERSION}, '{__version__}', current_timestamp)"  # noqa: S608
        )
    return Upgrade(version, tuple(statements), tuple(added))


def column_types(resource: Resource, dialect: Dialect) -> dict[str, str]:
    """Every column of the table and its SQL type, in layout order (for a reader of an older table)."""
    return {column: column_type(resource, column, dialect) for column in table_layout(resource)}
