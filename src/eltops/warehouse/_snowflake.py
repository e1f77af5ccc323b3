"""Snowflake target through the official connector, configured as the Snowflake CLI is.

Connection settings are found by :mod:`eltops.warehouse._snowflake_config` (``connections.toml``/``config.toml``
and the ``SNOWFLAKE_*`` variables, with the Snowflake CLI's precedence); every option goes to the connector.

Each batch is bulk-loaded with ``write_pandas`` (staged Parquet files and ``COPY INTO``) into a temporary table,
then merged on ``id`` in one MERGE statement; the state row is written only after that statement committed.
"""

# ruff: noqa: S608  (SQL is built from the declared table and column names, never from input; values are bound)

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from eltops.errors import ConfigError
from eltops.orchestra._arrow import arrow_schema
from eltops.orchestra._pages import PageBatch
from eltops.orchestra._records import LOADED_AT, ColumnType, Resource
from eltops.warehouse._ddl import create_table_sql
from eltops.warehouse._snowflake_config import SnowflakeSettings, snowflake_settings
from eltops.warehouse._target import STATE_TABLE, BufferedBatch, LoadState, WarehouseError, WriteCounts

__all__ = ["SnowflakeSettings", "SnowflakeTarget", "snowflake_settings"]

_CASTS = {
    ColumnType.TEXT: "{}",
    ColumnType.TIMESTAMP: "{}::TIMESTAMP_TZ",
    ColumnType.JSON: "PARSE_JSON({})",
    ColumnType.INTEGER: "{}::NUMBER(38,0)",
    ColumnType.FLOAT: "{}::FLOAT",
}


def _staging_frame(resource: Resource, batch: pa.Table) -> Any:
    """The batch with every column as text (Snowflake converts them in the merge), as a pandas frame."""
    arrays: list[pa.Array[Any] | pa.ChunkedArray[Any]] = []
    for column in resource.columns:
        values: pa.Array[Any] | pa.ChunkedArray[Any] = batch[column.name]
        if column.type is ColumnType.TIMESTAMP:
            values = pc.strftime(values, format="%Y-%m-%dT%H:%M:%S+00:00")
        elif column.type in (ColumnType.INTEGER, ColumnType.FLOAT):
            values = pc.cast(values, pa.string())
        arrays.append(values)
    arrays.append(pa.array(range(batch.num_rows), pa.int64()))
    names = [c.name.upper() for c in resource.columns] + ["SEQ_"]
    return pa.Table.from_arrays(arrays, names=names).to_pandas()


class SnowflakeTarget:
    """Tables in a Snowflake schema."""

    def __init__(self, settings: SnowflakeSettings, *, connect: Any = None) -> None:
        try:
            import snowflake.connector
            from snowflake.connector.pandas_tools import write_pandas
        except ImportError:
            raise ConfigError(
                "the Snowflake target needs the Snowflake connector: pip install 'eltops[snowflake]'"
            ) from None
        self.settings = settings
        self._write_pandas = write_pandas
        self._error_type: type[Exception] = snowflake.connector.Error
        try:
            self._con = (connect or snowflake.connector.connect)(**settings.connect_kwargs())
            self._execute(f"CREATE SCHEMA IF NOT EXISTS {settings.database}.{settings.schema}")
            self._execute(f"USE SCHEMA {settings.database}.{settings.schema}")
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

    def read_table(self, resource: Resource, *, since: datetime | None = None) -> pa.Table:
        """The resource's table (rows created at or after ``since``) as Arrow with the declared column types."""
        names = [*resource.column_names, LOADED_AT]
        sql = f"SELECT {', '.join(names)} FROM {resource.table}"
        params: list[Any] = []
        if since is not None:
            sql += f" WHERE {resource.window_column} >= %s::TIMESTAMP_TZ"
            params.append(since.isoformat())
        try:
            rows = self._execute(sql, params)
        except self._error_type as exc:
            raise WarehouseError(f"reading {resource.table} in {self.description} failed: {exc}") from None
        schema = arrow_schema(resource).append(pa.field(LOADED_AT, pa.timestamp("us", tz="UTC")))
        columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
        arrays = [
            pa.array([_from_snowflake(v) for v in values], field.type)
            for values, field in zip(columns, schema, strict=True)
        ]
        return pa.Table.from_arrays(arrays, schema=schema)

    def prepare(self, resources: Sequence[Resource]) -> None:
        try:
            self._execute(
                f"CREATE TABLE IF NOT EXISTS {STATE_TABLE} (resource VARCHAR, table_name VARCHAR, "
                "cursor TIMESTAMP_TZ, saved_at TIMESTAMP_TZ)"
            )
            for resource in resources:
                self._execute(create_table_sql(resource, "snowflake"))
                found = [
                    str(r[0]).lower()
                    for r in self._execute(
                        "SELECT column_name FROM information_schema.columns WHERE table_schema = %s "
                        "AND table_name = %s ORDER BY ordinal_position",
                        [self.settings.schema.upper(), resource.table.upper()],
                    )
                ]
                if found and found != [*resource.column_names, LOADED_AT]:
                    raise WarehouseError(
                        f"the table {resource.table} in {self.description} exists with other columns than "
                        f"eltops writes (found {', '.join(found)}); rename or drop it"
                    )
        except self._error_type as exc:
            raise WarehouseError(f"cannot create the tables in {self.description}: {exc}") from None

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
        """Pages are kept until commit: the batch goes to Snowflake as one staged file and one MERGE."""
        return BufferedBatch(self, resource)

    def write_batch(self, resource: Resource, batch: pa.Table | PageBatch, state: LoadState | None) -> WriteCounts:
        if isinstance(batch, PageBatch):
            batch = batch.to_arrow()  # write_pandas takes a frame: pages become Arrow, then pandas
        stage = f"ELTOPS_STAGE_{resource.table.upper()}"
        columns = resource.column_names
        source = ", ".join(_CASTS[c.type].format(c.name) + f" AS {c.name}" for c in resource.columns)
        changed = " OR ".join(f"NOT EQUAL_NULL(t.{c}, s.{c})" for c in columns[1:])
        merge = (
            f"MERGE INTO {resource.table} AS t USING (SELECT {source} FROM {stage} "
            f"QUALIFY ROW_NUMBER() OVER (PARTITION BY id ORDER BY seq_ DESC) = 1) AS s ON t.id = s.id "
            f"WHEN MATCHED AND ({changed}) THEN UPDATE SET "
            + ", ".join(f"{c} = s.{c}" for c in columns[1:])
            + f", {LOADED_AT} = CURRENT_TIMESTAMP() "
            f"WHEN NOT MATCHED THEN INSERT ({', '.join(columns)}, {LOADED_AT}) "
            f"VALUES ({', '.join(f's.{c}' for c in columns)}, CURRENT_TIMESTAMP())"
        )
        cursor_value = state.cursor.isoformat() if state is not None and state.cursor else None
        try:
            if batch.num_rows:
                self._write_pandas(
                    self._con,
                    _staging_frame(resource, batch),
                    table_name=stage,
                    auto_create_table=True,
                    overwrite=True,
                    table_type="temporary",
                    quote_identifiers=False,
                )
            # the merge commits before the state row moves: a crash in between only means the next load
            # reads this batch again (merging on id makes that harmless), never a cursor past unwritten rows
            counts = self._execute(merge)[0] if batch.num_rows else (0, 0)
            if state is not None:
                self._execute(
                    f"MERGE INTO {STATE_TABLE} AS t USING (SELECT %s AS resource, %s AS table_name, "
                    "%s::TIMESTAMP_TZ AS cursor) AS s ON t.resource = s.resource "
                    "WHEN MATCHED THEN UPDATE SET cursor = s.cursor, saved_at = CURRENT_TIMESTAMP() "
                    "WHEN NOT MATCHED THEN INSERT (resource, table_name, cursor, saved_at) "
                    "VALUES (s.resource, s.table_name, s.cursor, CURRENT_TIMESTAMP())",
                    [resource.name, resource.table, cursor_value],
                )
        except self._error_type as exc:
            raise WarehouseError(f"writing {resource.table} into {self.description} failed: {exc}") from None
        inserted, updated = int(counts[0] or 0), int(counts[1] or 0) if len(counts) > 1 else 0
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
