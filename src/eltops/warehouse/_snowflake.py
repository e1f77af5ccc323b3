"""Snowflake target through the official connector, configured as the Snowflake CLI is.

Connection settings come from the Snowflake CLI's ``connections.toml`` (``$SNOWFLAKE_HOME``, ``~/.snowflake`` or
``~/.config/snowflake``; the connection named in the URL, else ``SNOWFLAKE_DEFAULT_CONNECTION_NAME``, else the
file's ``default_connection_name``, else ``default``) and the ``SNOWFLAKE_*`` variables, which win. Key-pair
(``private_key_file``) and password both work; secrets may be ``DATAOPS_VAULT(...)`` values.

Each batch is bulk-loaded with ``write_pandas`` (staged Parquet files and ``COPY INTO``) into a temporary table,
then merged on ``id`` in one MERGE statement; the state row is written only after that statement committed.
"""

# ruff: noqa: S608  (SQL is built from the declared table and column names, never from input; values are bound)

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from eltops._extras import needs_extra
from eltops.errors import ConfigError

with needs_extra("snowflake", "the Snowflake target"):  # found missing when a snowflake:// target is named
    import pyarrow as pa
    import pyarrow.compute as pc
    import snowflake.connector

    from eltops.orchestra._arrow import arrow_schema
from eltops.orchestra._pages import PageBatch
from eltops.orchestra._records import LOADED_AT, ColumnType, Resource
from eltops.secrets import EnvReader, Secret
from eltops.warehouse._ddl import create_table_sql
from eltops.warehouse._target import STATE_TABLE, BufferedBatch, LoadState, WarehouseError, WriteCounts

__all__ = ["SnowflakeSettings", "SnowflakeTarget", "snowflake_settings"]

_KEYS = (
    "account",
    "user",
    "role",
    "warehouse",
    "database",
    "schema",
    "authenticator",
    "private_key_file",
    "host",
    "port",
    "protocol",
)
_SECRET_KEYS = ("password", "private_key_file_pwd", "token")
_ALIASES = {"private_key_path": "private_key_file", "private_key_passphrase": "private_key_file_pwd"}


@dataclass(frozen=True)
class SnowflakeSettings:
    """Everything needed to connect; secrets kept as :class:`Secret`."""

    params: Mapping[str, str]
    secrets: Mapping[str, Secret] = field(default_factory=dict)
    connection_name: str | None = None

    @property
    def database(self) -> str:
        return self.params["database"]

    @property
    def schema(self) -> str:
        return self.params["schema"]

    @property
    def description(self) -> str:
        where = f"{self.database}.{self.schema}"
        via = f" (connection {self.connection_name})" if self.connection_name else ""
        account = self.params.get("account", "")
        return f"Snowflake {account + ' ' if account else ''}{where}{via}"

    def connect_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = dict(self.params)
        if "port" in kwargs:
            kwargs["port"] = int(kwargs["port"])
        kwargs.update({k: v.reveal() for k, v in self.secrets.items()})
        return kwargs


def _config_dir(env: Mapping[str, str]) -> Path | None:
    if env.get("SNOWFLAKE_HOME"):
        return Path(env["SNOWFLAKE_HOME"]).expanduser()
    home = env.get("HOME")
    if not home:
        return None
    for candidate in (Path(home) / ".snowflake", Path(home) / ".config" / "snowflake"):
        if candidate.is_dir():
            return candidate
    return None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        return {}
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None


def snowflake_settings(url: str, env: EnvReader) -> SnowflakeSettings:
    """Parse ``snowflake://[CONNECTION][/DATABASE[/SCHEMA]][?warehouse=..&role=..]`` with the environment."""
    parts = urlsplit(url)
    if parts.password:
        raise ConfigError("put the Snowflake password in SNOWFLAKE_PASSWORD or connections.toml, not in the URL")
    name = unquote(parts.hostname or "") or None
    path_parts = [unquote(p) for p in parts.path.split("/") if p]
    if len(path_parts) > 2:
        raise ConfigError(f"a Snowflake target is snowflake://[CONNECTION][/DATABASE[/SCHEMA]], got {url!r}")
    directory = _config_dir(env.env)
    sections: dict[str, Any] = {}
    default_name = env.get("SNOWFLAKE_DEFAULT_CONNECTION_NAME")
    if directory is not None:
        sections = _read_toml(directory / "connections.toml")
        default_name = default_name or _read_toml(directory / "config.toml").get("default_connection_name")
    chosen = str(name or default_name or "default")
    if name and name not in sections:
        raise ConfigError(
            f"there is no Snowflake connection named {name!r} in "
            f"{directory / 'connections.toml' if directory else 'connections.toml (no SNOWFLAKE_HOME)'}"
        )
    raw: dict[str, str] = {}
    section = sections.get(chosen, {})
    if isinstance(section, Mapping):
        for key, value in section.items():
            name_in_file = str(key)
            raw[_ALIASES.get(name_in_file, name_in_file)] = str(value)
    for key in (*_KEYS, *_SECRET_KEYS, *_ALIASES.keys()):
        for variable in (f"SNOWFLAKE_CONNECTIONS_{chosen.upper()}_{key.upper()}", f"SNOWFLAKE_{key.upper()}"):
            value = env.get(variable)
            if value is not None:
                raw[_ALIASES.get(key, key)] = value
                break
    if parts.username:
        raw["user"] = unquote(parts.username)
    if path_parts:
        raw["database"] = path_parts[0]
    if len(path_parts) == 2:
        raw["schema"] = path_parts[1]
    for key, value in parse_qsl(parts.query):
        if key not in _KEYS:
            raise ConfigError(f"unknown Snowflake URL option {key!r} (known: {', '.join(_KEYS)})")
        raw[key] = value
    missing = [k for k in ("database", "schema") if not raw.get(k)]
    if missing:
        raise ConfigError(
            f"the Snowflake target needs a {' and a '.join(missing)}: snowflake://CONNECTION/DATABASE/SCHEMA, "
            "SNOWFLAKE_DATABASE/SNOWFLAKE_SCHEMA, or the connection in connections.toml"
        )
    if not raw.get("account") and not raw.get("host"):
        raise ConfigError("the Snowflake target needs an account (SNOWFLAKE_ACCOUNT or connections.toml)")
    secrets = {k: Secret(raw.pop(k)) for k in _SECRET_KEYS if raw.get(k)}
    params = {k: v for k, v in raw.items() if k in _KEYS}
    return SnowflakeSettings(params=params, secrets=secrets, connection_name=chosen if sections else None)


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
        with needs_extra("snowflake", "the Snowflake target"):
            from snowflake.connector.pandas_tools import write_pandas  # at first use: fakesnow patches it
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
