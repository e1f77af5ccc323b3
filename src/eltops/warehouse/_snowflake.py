"""Snowflake target through the official connector, configured as the Snowflake CLI is.

Connection settings are found by :mod:`eltops.warehouse._snowflake_config` (``connections.toml``/``config.toml``
and the ``SNOWFLAKE_*`` variables, with the Snowflake CLI's precedence); every option goes to the connector.

Each batch is merged on ``id`` straight from bound JSON (``FLATTEN`` of ``PARSE_JSON(?)``, every column cast to its
declared type), ``MERGE_ROWS`` distinct rows a statement: no stage, temporary table or file format is created, so a
role that may only write into the existing tables can load. The state row is written after the MERGEs committed.
Objects are looked up before anything is created, and only what is missing is created (never when read-only).
"""

# ruff: noqa: S608  (SQL is built from the declared table and column names, never from input; values are bound)

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from eltops._extras import needs_extra

with needs_extra("snowflake", "the Snowflake target"):  # found missing when a snowflake:// target is named
    import pyarrow as pa
    import pyarrow.compute as pc
    import snowflake.connector

from eltops.orchestra import (
    LOADED_AT,
    RESOURCES,
    STATE_TABLE,
    ColumnType,
    LoadState,
    PageBatch,
    Resource,
    arrow_schema,
)
from eltops.warehouse._schema import SCHEMA_TABLE, Upgrade, plan_upgrade
from eltops.warehouse._snowflake_config import SnowflakeSettings, snowflake_settings
from eltops.warehouse._target import BufferedBatch, WarehouseError, WriteCounts

__all__ = ["MERGE_ROWS", "SnowflakeSettings", "SnowflakeTarget", "merge_sql", "snowflake_settings"]

MERGE_ROWS = 2_000  # distinct rows per MERGE: each travels as one bound JSON string, far below Snowflake's limits
UTC_NOW = "CONVERT_TIMEZONE('UTC', CURRENT_TIMESTAMP())"  # CURRENT_TIMESTAMP() alone carries the session's TIMEZONE

# each column read out of the bound JSON with an explicit type: nothing is inferred, an all-NULL column stays typed
_EXTRACT = {
    ColumnType.TEXT: "value:{name}::VARCHAR",
    ColumnType.TIMESTAMP: "value:{name}::TIMESTAMP_TZ",
    ColumnType.JSON: "PARSE_JSON(value:{name}::VARCHAR)",
    ColumnType.INTEGER: "value:{name}::NUMBER(38,0)",
    ColumnType.FLOAT: "value:{name}::FLOAT",
    ColumnType.BOOLEAN: "value:{name}::BOOLEAN",
}


def merge_sql(resource: Resource) -> str:
    """MERGE one bound JSON array of rows (keys = column names, distinct ids) into the table, on ``id``.

    A row is rewritten (and ``loaded_at`` moved) only when a value changed. Snowflake answers with one row: rows
    inserted, rows updated. No object is created: no stage, no temporary table, no file format.
    """
    columns = resource.column_names
    select = ", ".join(_EXTRACT[c.type].format(name=c.name) + f" AS {c.name}" for c in resource.columns)
    changed = " OR ".join(f"NOT EQUAL_NULL(t.{c}, s.{c})" for c in columns[1:])
    return (
        f"MERGE INTO {resource.table} AS t USING (SELECT {select} "
        "FROM (SELECT PARSE_JSON(%s) AS doc) AS d, LATERAL FLATTEN(input => d.doc)) AS s ON t.id = s.id "
        f"WHEN MATCHED AND ({changed}) THEN UPDATE SET "
        + ", ".join(f"{c} = s.{c}" for c in columns[1:])
        + f", {LOADED_AT} = {UTC_NOW} "
        f"WHEN NOT MATCHED THEN INSERT ({', '.join(columns)}, {LOADED_AT}) "
        f"VALUES ({', '.join(f's.{c}' for c in columns)}, {UTC_NOW})"
    )


STATE_MERGE = (
    f"MERGE INTO {STATE_TABLE} AS t USING (SELECT %s AS resource, %s AS table_name, "
    "%s::TIMESTAMP_TZ AS cursor) AS s ON t.resource = s.resource "
    f"WHEN MATCHED THEN UPDATE SET cursor = s.cursor, saved_at = {UTC_NOW} "
    "WHEN NOT MATCHED THEN INSERT (resource, table_name, cursor, saved_at) "
    f"VALUES (s.resource, s.table_name, s.cursor, {UTC_NOW})"
)
STATE_DDL = (
    f"CREATE TABLE {STATE_TABLE} (resource VARCHAR, table_name VARCHAR, cursor TIMESTAMP_TZ, saved_at TIMESTAMP_TZ)"
)


def _json_rows(resource: Resource, batch: pa.Table) -> list[bytes]:
    """The batch as JSON arrays of at most MERGE_ROWS rows, one per id (the last copy read wins)."""
    arrays: list[pa.Array[Any] | pa.ChunkedArray[Any]] = []
    for column in resource.columns:
        values: pa.Array[Any] | pa.ChunkedArray[Any] = batch[column.name]
        if column.type is ColumnType.TIMESTAMP:
            values = pc.strftime(values, format="%Y-%m-%dT%H:%M:%S+00:00")  # %S keeps the fraction
        arrays.append(values)
    rows = pa.Table.from_arrays(arrays, names=list(resource.column_names)).to_pylist()
    latest = {str(row["id"]): row for row in rows}  # dict order: first sight; value: the last copy
    distinct = list(latest.values())
    return [orjson.dumps(distinct[i : i + MERGE_ROWS]) for i in range(0, len(distinct), MERGE_ROWS)]


class SnowflakeTarget:
    """Tables in a Snowflake schema; creates only what is missing, and nothing at all when ``read_only``."""

    def __init__(self, settings: SnowflakeSettings, *, connect: Any = None, read_only: bool = False) -> None:
        self.settings = settings
        self.read_only = read_only
        self._error_type: type[Exception] = snowflake.connector.Error
        where = f"{settings.database}.{settings.schema}"
        try:
            self._con = (connect or snowflake.connector.connect)(**settings.connect_kwargs())
            schemas = self._execute(
                f"SELECT schema_name FROM {settings.database}.information_schema.schemata WHERE schema_name = %s",
                [settings.schema.upper()],
            )
            if not schemas:
                if read_only:
                    raise WarehouseError(
                        f"there is no schema {where} in {settings.description}: load some history first "
                        "(eltops orchestra load --to ...), or name another schema"
                    )
                self._execute(f"CREATE SCHEMA {where}")
            self._execute(f"USE SCHEMA {where}")
        except self._error_type as exc:
            raise WarehouseError(f"cannot connect to {settings.description}: {exc}") from None

    @property
    def description(self) -> str:
        return self.settings.description

    def close(self) -> None:
        self._con.close()

    def _execute(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        cursor = self._con.cursor()
        try:
            cursor.execute(sql, params)
            try:
                return list(cursor.fetchall())
            except self._error_type:
                return []
        finally:
            cursor.close()

    def _tables(self) -> set[str]:
        """The (upper-case) names of the tables in the schema: looked up, so nothing is created that exists."""
        rows = self._execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            [self.settings.schema.upper()],
        )
        return {str(r[0]).upper() for r in rows}

    def read_table(self, resource: Resource, *, since: datetime | None = None) -> pa.Table:
        """The resource's table (rows created at or after ``since``) as Arrow with the declared column types.

        A table the schema does not have reads as an empty one (a young warehouse still has a report).
        """
        names = [*resource.column_names, LOADED_AT]
        schema = arrow_schema(resource).append(pa.field(LOADED_AT, pa.timestamp("us", tz="UTC")))
        present = self._tables()
        found = set(self._columns(resource.table)) if resource.table.upper() in present else set()
        # a table an older eltops made lacks the newer columns: they read as NULL (a report never alters a table)
        selected = [name if name in found else f"NULL AS {name}" for name in names]
        sql = f"SELECT {', '.join(selected)} FROM {resource.table}"
        params: list[Any] = []
        if since is not None:
            sql += f" WHERE {resource.window_column} >= %s::TIMESTAMP_TZ"
            params.append(since.isoformat())
        try:
            rows = self._execute(sql, params) if resource.table.upper() in present else []
        except self._error_type as exc:
            raise WarehouseError(f"reading {resource.table} in {self.description} failed: {exc}") from None
        columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
        arrays = [
            pa.array([_from_snowflake(v) for v in values], field.type)
            for values, field in zip(columns, schema, strict=True)
        ]
        return pa.Table.from_arrays(arrays, schema=schema)

    def _columns(self, table: str) -> list[str]:
        """A table's column names (lower case), in order."""
        rows = self._execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = %s "
            "AND table_name = %s ORDER BY ordinal_position",
            [self.settings.schema.upper(), table.upper()],
        )
        return [str(r[0]).lower() for r in rows]

    def prepare(self, resources: Sequence[Resource]) -> None:
        """Create what is missing (only that) and bring tables an older eltops made to today's schema.

        Snowflake commits each DDL statement on its own: each column is added by one statement and the version
        row is written last, so an upgrade cut short leaves every row and is finished by the next run. A schema
        of a newer version raises :class:`~eltops.warehouse.SchemaTooNew`, untouched.
        """
        if self.read_only:
            raise WarehouseError(f"{self.description} was opened read-only")
        self.upgrade: Upgrade | None = None
        try:
            present = self._tables()
            stored = None
            if SCHEMA_TABLE.upper() in present:
                row = self._execute(f"SELECT max(version) FROM {SCHEMA_TABLE}")
                stored = int(row[0][0]) if row and row[0][0] is not None else None
            found = {r.table: self._columns(r.table) for r in RESOURCES if r.table.upper() in present}
            upgrade = plan_upgrade(
                dialect="snowflake", where=self.description, stored_version=stored, found=found, wanted=resources
            )
            if STATE_TABLE.upper() not in present:
                self._execute(STATE_DDL)
            for statement in upgrade.statements:
                self._execute(statement)
        except self._error_type as exc:
            raise WarehouseError(f"cannot create the tables in {self.description}: {exc}") from None
        if upgrade.added:
            self.upgrade = upgrade

    def read_state(self, resource: Resource) -> LoadState:
        rows = self._execute(f"SELECT cursor FROM {STATE_TABLE} WHERE resource = %s", [resource.name])
        return LoadState(cursor=_aware(rows[0][0]) if rows and rows[0][0] is not None else None)

    def open_records(self, resource: Resource, *, created_after: datetime) -> list[tuple[str, datetime]]:
        if not resource.open_statuses:
            return []
        statuses = sorted(resource.open_statuses)
        marks = ", ".join("%s" for _ in statuses)
        rows = self._execute(
            f"SELECT id, {resource.window_column} FROM {resource.table} "
            f"WHERE {resource.status_column} IN ({marks}) AND {resource.window_column} > %s",
            [*statuses, created_after.isoformat()],
        )
        return [(str(r[0]), _aware(r[1])) for r in rows]

    def values(self, resource: Resource, column: str, *, where: str, equals: str) -> list[object]:
        names = resource.column_names
        if column not in names or where not in names:
            raise ValueError(f"{resource.table} has no column {column!r} or {where!r}")
        try:
            rows = self._execute(f"SELECT {column} FROM {resource.table} WHERE {where} = %s", [equals])
        except self._error_type as exc:
            raise WarehouseError(f"reading {resource.table} in {self.description} failed: {exc}") from None
        return [r[0] for r in rows]

    def begin_batch(self, resource: Resource) -> BufferedBatch:
        """Pages are kept until commit: the batch goes to Snowflake as bound JSON, MERGE_ROWS rows a statement."""
        return BufferedBatch(resource, self._write)

    def _write(self, pages: PageBatch, state: LoadState | None) -> WriteCounts:
        """MERGE the pages (typed through Arrow: a wrong value names the resource and page), then save ``state``."""
        resource = pages.resource
        batch = pages.to_arrow()
        merge = merge_sql(resource)
        cursor_value = state.cursor.isoformat() if state is not None and state.cursor else None
        inserted = updated = 0
        distinct = 0
        try:
            # every MERGE commits before the state row moves: a crash in between only means the next load
            # reads this batch again (merging on id makes that harmless), never a cursor past unwritten rows
            for chunk in _json_rows(resource, batch) if batch.num_rows else []:
                counts = self._execute(merge, [chunk.decode()])[0]
                inserted += int(counts[0] or 0)
                updated += int(counts[1] or 0) if len(counts) > 1 else 0
            if state is not None:
                self._execute(STATE_MERGE, [resource.name, resource.table, cursor_value])
        except self._error_type as exc:
            raise WarehouseError(f"writing {resource.table} into {self.description} failed: {exc}") from None
        distinct = pc.count_distinct(batch["id"]).as_py() if batch.num_rows else 0
        return WriteCounts(inserted, updated, distinct - inserted - updated)


def _from_snowflake(value: Any) -> Any:
    """A fetched value as Arrow takes it: VARIANT arrives as JSON text already; naive timestamps are UTC."""
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _aware(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        raise WarehouseError(f"expected a timestamp from Snowflake, got {value!r}")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
