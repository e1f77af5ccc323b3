"""The four Orchestra resources, their warehouse columns, and the mapping from the API's camelCase JSON.

Each table's columns are declared once, here (:data:`PIPELINE_RUNS`, :data:`TASK_RUNS`, :data:`OPERATIONS`,
:data:`ASSETS`): name and order from the Orchestra Data App's tables (later versions' columns after them), a logical
type, and the API field each comes from. The DuckDB
DDL, the Snowflake DDL and the Snowflake Native App all derive from these declarations.

Three ways in from an API page, all driven by the same declarations and the same value converters:

- :func:`eltops.orchestra._arrow.page_to_arrow` turns a page's ``results`` into an Arrow table with typed columns
  (for Snowflake's ``write_pandas``);
- :func:`map_record` and :func:`map_page` turn records into ``{column: value}`` dicts in pure Python (the
  Snowflake Native App's path, and DuckDB's when its own JSON typing refuses a value);
- ``PipelineRun.from_api(obj)`` (and ``TaskRun``, ``Operation``) builds one typed record (for code that handles
  single runs, such as the orchestrator recording its own history), which
  :func:`~eltops.orchestra._pages.records_batch` turns into pages shaped as the API's.

A record without an ``id``, or a value of the wrong type, raises :class:`RecordError`; the client adds the resource
and page to the message.

Every field the API sends is kept: a field with a column of its own goes there, and the rest of the record into the
``extra`` JSON column (:data:`REST`), so a field Orchestra adds tomorrow is in the warehouse from its first load.

This module imports only the standard library (orjson when it is installed): the Snowflake Native App ships it,
byte for byte, as a top-level module next to its handlers.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any, ClassVar, Self

try:
    import orjson
except ImportError:  # the Snowflake app's sandbox: the standard library's json gives the same compact text
    orjson = None  # type: ignore[assignment]

__all__ = [
    "ASSETS",
    "LOADED_AT",
    "OPERATIONS",
    "PIPELINE_RUNS",
    "RESOURCES",
    "REST",
    "SCHEMA_VERSION",
    "TASK_RUNS",
    "Asset",
    "Column",
    "ColumnType",
    "Operation",
    "PipelineRun",
    "RecordError",
    "Resource",
    "TaskRun",
    "map_page",
    "map_record",
    "parse_timestamp",
    "resource_named",
    "rest_of",
    "table_layout",
]

JsonValue = Any  # a decoded JSON value: dict, list, str, int, float, bool or None


class RecordError(ValueError):
    """A record the API sent cannot be mapped (no id, or a value of the wrong type)."""


class ColumnType(Enum):
    """The logical type of a warehouse column; each target maps it to its own SQL type."""

    TEXT = "text"
    TIMESTAMP = "timestamp"  # a UTC instant
    JSON = "json"  # any JSON value (VARIANT in Snowflake)
    INTEGER = "integer"
    FLOAT = "float"
    BOOLEAN = "boolean"


SCHEMA_VERSION = 2
"""The version of the warehouse tables this code writes, recorded in the warehouse itself.

1: eltops 0.1.0, the Orchestra Data App's columns only. 2: every field the API sends, typed where people query it
(cost, anomalies, dependencies, ...) and the rest in the ``extra`` JSON column; the ``assets`` table. A table of an
older version gains the columns it lacks (appended after ``loaded_at``, rows kept); a newer one is refused."""

REST = "*"
"""The ``source`` of the column that keeps the rest of a record: every field no other column takes."""


@dataclass(frozen=True)
class Column:
    """One warehouse column: its snake_case name, logical type, the camelCase API field it comes from, and the
    schema version that added it (:data:`SCHEMA_VERSION`); a ``source`` of :data:`REST` takes every other field."""

    name: str
    type: ColumnType
    source: str
    since: int = 1


def _columns(*spec: tuple[str, ColumnType], since: int = 1) -> tuple[Column, ...]:
    return tuple(Column(name, kind, _camel(name), since) for name, kind in spec)


def _rest_column() -> tuple[Column, ...]:
    return (Column("extra", ColumnType.JSON, REST, 2),)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


T, TS, J, INT, F = ColumnType.TEXT, ColumnType.TIMESTAMP, ColumnType.JSON, ColumnType.INTEGER, ColumnType.FLOAT
B = ColumnType.BOOLEAN


@dataclass(frozen=True)
class Resource:
    """An Orchestra list endpoint and the warehouse table it loads into.

    ``window_column`` is the timestamp the API's ``time_from``/``time_to`` window filters on (undocumented;
    assumed to be the creation time), and the load cursor. ``open_statuses`` are the states in which a record
    may still change, so the loader re-reads such records; ``id_filter`` is the query parameter that selects
    records by id. ``filters`` are the endpoint's other filters.

    ``id_source`` is the API field that holds the record's id (stored in the ``id`` column). A resource that is
    not ``windowed`` has no time filter: every load reads its whole listing. ``params`` are sent with every
    request of the listing (``include_superseded=true``, a sort order).
    """

    name: str  # as on the command line: pipeline-runs
    path: str  # under the API base URL: /pipeline_runs
    table: str  # warehouse table: pipeline_runs
    columns: tuple[Column, ...]
    window_column: str
    status_column: str
    open_statuses: frozenset[str]
    id_filter: str | None
    filters: tuple[str, ...]
    id_source: str = "id"
    windowed: bool = True
    params: tuple[tuple[str, str], ...] = ()

    @property
    def rest(self) -> Column | None:
        """The column that keeps every field no other column takes (None: the resource has none)."""
        return next((c for c in self.columns if c.source == REST), None)

    @functools.cached_property
    def typed_sources(self) -> frozenset[str]:
        """The API fields a column of their own takes (every other one goes into :attr:`rest`)."""
        return frozenset(c.source for c in self.columns if c.source != REST)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)

    def __str__(self) -> str:
        return self.name

    def __reduce__(self) -> str | tuple[Any, ...]:
        """Pickled by name when it is one of :data:`RESOURCES` (pages travel between processes by the thousand)."""
        if any(self is known for known in RESOURCES):
            return (resource_named, (self.name,))
        return super().__reduce__()


PIPELINE_RUNS = Resource(
    name="pipeline-runs",
    path="/pipeline_runs",
    table="pipeline_runs",
    columns=_columns(
        ("id", T),
        ("pipeline_id", T),
        ("pipeline_name", T),
        ("account_id", T),
        ("env_id", T),
        ("env_name", T),
        ("run_status", T),
        ("message", T),
        ("created_at", TS),
        ("updated_at", TS),
        ("completed_at", TS),
        ("started_at", TS),
        ("branch", T),
        ("commit", T),
        ("pipeline_version_number", INT),
    )
    + _columns(
        ("has_anomalies", B),
        ("anomalies", J),
        ("triggered_by", J),
        ("child_pipeline_runs", J),
        ("git_link", T),
        since=2,
    )
    + _rest_column(),
    window_column="created_at",
    status_column="run_status",
    open_statuses=frozenset({"CREATED", "QUEUED", "RUNNING", "CANCELLING"}),
    id_filter="pipeline_run_ids",
    filters=("status", "pipeline_ids", "pipeline_run_ids", "environments"),
)

TASK_RUNS = Resource(
    name="task-runs",
    path="/task_runs",
    table="task_runs",
    columns=_columns(
        ("id", T),
        ("pipeline_run_id", T),
        ("task_name", T),
        ("task_id", T),
        ("account_id", T),
        ("pipeline_id", T),
        ("integration", T),
        ("integration_job", T),
        ("status", T),
        ("message", T),
        ("external_status", T),
        ("external_message", T),
        ("platform_link", T),
        ("task_parameters", J),
        ("run_parameters", J),
        ("connection_id", T),
        ("number_of_attempts", INT),
        ("created_at", TS),
        ("updated_at", TS),
        ("completed_at", TS),
        ("started_at", TS),
    )
    + _columns(
        ("depends_on", J),
        ("matrix_parent", B),
        ("matrix_parent_id", T),
        ("compute_resource_id", T),
        since=2,
    )
    + _rest_column(),
    window_column="created_at",
    status_column="status",
    open_statuses=frozenset({"CREATED", "QUEUED", "RUNNING", "CANCELLING"}),
    id_filter="task_run_ids",
    filters=("status", "pipeline_ids", "integration", "task_run_ids"),
    # every attempt of a retried task: Orchestra's listing hides the superseded ones unless asked (2026-10);
    # an API that predates the parameter ignores it, as it ignores any query parameter it does not know
    params=(("include_superseded", "true"),),
)

OPERATIONS = Resource(
    name="operations",
    path="/operations",
    table="operations",
    columns=_columns(
        ("id", T),
        ("account_id", T),
        ("pipeline_run_id", T),
        ("task_run_id", T),
        ("inserted_at", TS),
        ("message", T),
        ("operation_name", T),
        ("operation_status", T),
        ("operation_type", T),
        ("external_status", T),
        ("external_detail", T),
        ("external_id", T),
        ("integration", T),
        ("integration_job", T),
        ("started_at", TS),
        ("completed_at", TS),
        ("dependencies", J),
        ("operation_duration", F),
        ("rows_affected", INT),
    )
    + _columns(
        ("cost", F),
        ("currency", T),
        ("credits", F),
        ("credits_label", T),
        ("final_cost_amount", F),
        ("final_cost_currency", T),
        ("raw_cost_amount", F),
        ("raw_cost_label", T),
        ("raw_cost_integration", T),
        ("raw_cost_units", T),
        ("asset_external_id", T),
        ("tags", J),
        ("meta", J),
        ("can_rerun", B),
        since=2,
    )
    + _rest_column(),
    window_column="inserted_at",
    status_column="operation_status",
    open_statuses=frozenset(),  # operations are written once they are over; new ones arrive in later windows
    id_filter=None,
    filters=("operation_type", "integration", "external_id", "status", "task_run_id"),
)

ASSETS = Resource(
    name="assets",
    path="/assets",
    table="assets",
    columns=(
        Column("id", T, "assetId", 2),
        *_columns(
            ("account_id", T),
            ("asset_name", T),
            ("asset_type", T),
            ("integration", T),
            ("integration_asset_type", T),
            ("integration_account_id", T),
            ("database_name", T),
            ("schema_name", T),
            ("table_name", T),
            ("workspace_name", T),
            ("workspace_id", T),
            ("external_id", T),
            ("connection", T),
            ("connection_integration", T),
            ("status", T),
            ("created_at", TS),
            ("updated_at", TS),
            ("last_successful_run", TS),
            ("upstream_dependencies", J),
            ("downstream_dependencies", J),
            ("freshness_config", J),
            ("row_count", INT),
            ("bytes", INT),
            ("owner", T),
            ("owners", J),
            ("description", T),
            ("url", T),
            ("created_in_integration", T),
            ("last_updated_in_integration", T),
            ("usage_percentage", F),
            ("meta", J),
            since=2,
        ),
        *_rest_column(),
    ),
    window_column="updated_at",
    status_column="status",
    open_statuses=frozenset(),  # every load reads the whole listing: nothing to re-read by id
    id_filter="asset_ids",
    filters=(
        "asset_type",
        "integration",
        "integration_account_id",
        "workspace_id",
        "database_name",
        "schema_name",
        "status",
        "asset_ids",
    ),
    id_source="assetId",
    windowed=False,
    # a stable order for paging the whole listing: the oldest first, so assets added while it is read land last
    params=(("sort_column", "created_in_integration"), ("sort_direction", "asc")),
)

RESOURCES: tuple[Resource, ...] = (PIPELINE_RUNS, TASK_RUNS, OPERATIONS, ASSETS)

LOADED_AT = "loaded_at"
"""The column every table has after the API's: when the row was last written (set by the warehouse)."""


def table_layout(resource: Resource) -> tuple[str, ...]:
    """The table's column names in order: version 1's (the Data App's), ``loaded_at``, then each later version's.

    New columns go after ``loaded_at`` so that a table made by an older eltops, which gains them in place
    (``ALTER TABLE ... ADD COLUMN`` appends), has the same layout as one made new.
    """
    base = min(c.since for c in resource.columns)  # the version that made the table
    first = tuple(c.name for c in resource.columns if c.since <= base)
    later = tuple(c.name for c in sorted(resource.columns, key=lambda c: c.since) if c.since > base)
    return (*first, LOADED_AT, *later)


def resource_named(name: str) -> Resource:
    """The resource called ``name`` (``task-runs``, ``task_runs`` and ``TASK_RUNS`` all work)."""
    wanted = name.strip().lower().replace("_", "-")
    for resource in RESOURCES:
        if resource.name == wanted:
            return resource
    raise KeyError(name)


# -- converting values ------------------------------------------------------------------------------------


def parse_timestamp(value: str) -> datetime:
    """An API timestamp as an aware UTC datetime; a value without an offset is taken as UTC."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _text(value: JsonValue, column: Column) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return str(value).lower() if isinstance(value, bool) else str(value)
    return _dumps(value)


def _dumps(value: JsonValue) -> str:
    """Compact JSON text (orjson's when it is installed)."""
    if orjson is not None:
        return orjson.dumps(value).decode()
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
"""The range of an integer column (``BIGINT``, ``NUMBER(38,0)`` holds it too): nothing outside it is stored."""
_INTEGER_TEXT = re.compile(r"\s*[+-]?\d+\s*")
_EXACT_FLOAT = 2**53
"""Beyond this a JSON number read as a float may not be the integer that was sent (2**63 + 1 reads as 2**63)."""


def _integer(value: JsonValue, column: Column) -> int | None:
    """An integer, exactly: a fraction, or a value outside 64 bits, is an error rather than a different number.

    A float is taken only when it is integral and small enough to be exact (a JSON ``3.0``); a numeric string
    only when it spells an integer.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise RecordError(f"{column.source} should be an integer, got {value!r}")
    number: int | None = None
    if isinstance(value, int):
        number = value
    elif isinstance(value, float):
        if not value.is_integer():
            raise RecordError(f"{column.source} should be an integer, got {value!r} (a fraction is not stored)")
        if abs(value) > _EXACT_FLOAT:
            raise RecordError(f"{column.source} is out of range for a 64-bit integer, got {value!r}")
        number = int(value)
    elif isinstance(value, str) and _INTEGER_TEXT.fullmatch(value):
        number = int(value)
    if number is None:
        raise RecordError(f"{column.source} should be an integer, got {_shorten(value)}")
    if not INT64_MIN <= number <= INT64_MAX:
        raise RecordError(f"{column.source} is out of range for a 64-bit integer, got {_shorten(number)}")
    return number


def _shorten(value: JsonValue, limit: int = 60) -> str:
    text = repr(value) if not isinstance(value, int) else str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _float(value: JsonValue, column: Column) -> float | None:
    if value is None:
        return None
    number: float | None = None
    if isinstance(value, int | float | str) and not isinstance(value, bool):
        with contextlib.suppress(ValueError, OverflowError):
            number = float(value)
    if number is None or not math.isfinite(number):
        raise RecordError(f"{column.source} should be a finite number, got {_shorten(value)}")
    return number


def _timestamp(value: JsonValue, column: Column) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise RecordError(f"{column.source} should be an ISO-8601 timestamp, got {value!r}")
    try:
        return parse_timestamp(value)
    except ValueError:
        raise RecordError(f"{column.source} should be an ISO-8601 timestamp, got {value!r}") from None


def _json(value: JsonValue, column: Column) -> str | None:
    return None if value is None else _dumps(value)


def _boolean(value: JsonValue, column: Column) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise RecordError(f"{column.source} should be true or false, got {_shorten(value)}")


def rest_of(resource: Resource, obj: Mapping[str, JsonValue]) -> dict[str, JsonValue] | None:
    """The fields of ``obj`` that no column of ``resource`` takes (None: there are none)."""
    typed = resource.typed_sources
    rest = {key: value for key, value in obj.items() if key not in typed}
    return rest or None


_CONVERTERS = {
    ColumnType.TEXT: _text,
    ColumnType.INTEGER: _integer,
    ColumnType.FLOAT: _float,
    ColumnType.TIMESTAMP: _timestamp,
    ColumnType.JSON: _json,
    ColumnType.BOOLEAN: _boolean,
}


def _check_ids(results: Sequence[Any], id_source: str = "id") -> None:
    for position, record in enumerate(results):
        if not isinstance(record, Mapping):
            raise RecordError(f"result {position} is not a JSON object")
        record_id = record.get(id_source)
        if not isinstance(record_id, str) or not record_id:
            raise RecordError(f"result {position} has no {id_source}")


def _convert(resource: Resource, obj: Mapping[str, JsonValue]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for column in resource.columns:
        if column.source == REST:
            values[column.name] = rest_of(resource, obj)
            continue
        raw = obj.get(column.source)
        values[column.name] = raw if column.type is ColumnType.JSON else _CONVERTERS[column.type](raw, column)
    return values


def map_record(resource: Resource, obj: Mapping[str, JsonValue]) -> dict[str, Any]:
    """One camelCase API object as ``{column: value}``: typed values (UTC datetimes), JSON columns still decoded.

    Raises :class:`RecordError` for a record without an id or a value of the wrong type.
    """
    _check_ids([obj], resource.id_source)
    return _convert(resource, obj)


def map_page(resource: Resource, results: Sequence[Any]) -> list[dict[str, Any]]:
    """A page's ``results`` as :func:`map_record` rows; errors name the record's position, as the Arrow path's do."""
    _check_ids(results, resource.id_source)
    rows = []
    for position, obj in enumerate(results):
        try:
            rows.append(_convert(resource, obj))
        except RecordError as exc:
            raise RecordError(f"result {position}: {exc}") from None
    return rows


# -- typed records ------------------------------------------------------------------------------------------


class _Record:
    """Shared behaviour of the typed records; each subclass names its resource."""

    resource: ClassVar[Resource]

    @classmethod
    def from_api(cls, obj: Mapping[str, JsonValue]) -> Self:
        """Map one camelCase API object to the record (raises :class:`RecordError`)."""
        return cls(**map_record(cls.resource, obj))

    def row(self) -> tuple[Any, ...]:
        """The record's values in column order (JSON values still decoded)."""
        return tuple(getattr(self, c.name) for c in self.resource.columns)

    def api_object(self) -> dict[str, Any]:
        """The record as the API sends it: camelCase fields, the ``extra`` ones among them."""
        obj: dict[str, Any] = {}
        for column in self.resource.columns:
            value = getattr(self, column.name)
            if column.source == REST:
                obj.update(value or {})
            else:
                obj[column.source] = value
        return obj


@dataclass(frozen=True, slots=True)
class PipelineRun(_Record):
    """One row of ``pipeline_runs``."""

    resource: ClassVar[Resource] = PIPELINE_RUNS

    id: str
    pipeline_id: str | None = None
    pipeline_name: str | None = None
    account_id: str | None = None
    env_id: str | None = None
    env_name: str | None = None
    run_status: str | None = None
    message: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    completed_at: datetime | None = None
    started_at: datetime | None = None
    branch: str | None = None
    commit: str | None = None
    pipeline_version_number: int | None = None
    has_anomalies: bool | None = None
    anomalies: JsonValue = None
    triggered_by: JsonValue = None
    child_pipeline_runs: JsonValue = None
    git_link: str | None = None
    extra: JsonValue = None


@dataclass(frozen=True, slots=True)
class TaskRun(_Record):
    """One row of ``task_runs``."""

    resource: ClassVar[Resource] = TASK_RUNS

    id: str
    pipeline_run_id: str | None = None
    task_name: str | None = None
    task_id: str | None = None
    account_id: str | None = None
    pipeline_id: str | None = None
    integration: str | None = None
    integration_job: str | None = None
    status: str | None = None
    message: str | None = None
    external_status: str | None = None
    external_message: str | None = None
    platform_link: str | None = None
    task_parameters: JsonValue = None
    run_parameters: JsonValue = None
    connection_id: str | None = None
    number_of_attempts: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    completed_at: datetime | None = None
    started_at: datetime | None = None
    depends_on: JsonValue = None
    matrix_parent: bool | None = None
    matrix_parent_id: str | None = None
    compute_resource_id: str | None = None
    extra: JsonValue = None


@dataclass(frozen=True, slots=True)
class Operation(_Record):
    """One row of ``operations``."""

    resource: ClassVar[Resource] = OPERATIONS

    id: str
    account_id: str | None = None
    pipeline_run_id: str | None = None
    task_run_id: str | None = None
    inserted_at: datetime | None = None
    message: str | None = None
    operation_name: str | None = None
    operation_status: str | None = None
    operation_type: str | None = None
    external_status: str | None = None
    external_detail: str | None = None
    external_id: str | None = None
    integration: str | None = None
    integration_job: str | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    dependencies: JsonValue = None
    operation_duration: float | None = None
    rows_affected: int | None = None
    cost: float | None = None
    currency: str | None = None
    credits: float | None = None
    credits_label: str | None = None
    final_cost_amount: float | None = None
    final_cost_currency: str | None = None
    raw_cost_amount: float | None = None
    raw_cost_label: str | None = None
    raw_cost_integration: str | None = None
    raw_cost_units: str | None = None
    asset_external_id: str | None = None
    tags: JsonValue = None
    meta: JsonValue = None
    can_rerun: bool | None = None
    extra: JsonValue = None


@dataclass(frozen=True, slots=True)
class Asset(_Record):
    """One row of ``assets``."""

    resource: ClassVar[Resource] = ASSETS

    id: str
    account_id: str | None = None
    asset_name: str | None = None
    asset_type: str | None = None
    integration: str | None = None
    integration_asset_type: str | None = None
    integration_account_id: str | None = None
    database_name: str | None = None
    schema_name: str | None = None
    table_name: str | None = None
    workspace_name: str | None = None
    workspace_id: str | None = None
    external_id: str | None = None
    connection: str | None = None
    connection_integration: str | None = None
    status: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    last_successful_run: datetime | None = None
    upstream_dependencies: JsonValue = None
    downstream_dependencies: JsonValue = None
    freshness_config: JsonValue = None
    row_count: int | None = None
    bytes: int | None = None
    owner: str | None = None
    owners: JsonValue = None
    description: str | None = None
    url: str | None = None
    created_in_integration: str | None = None
    last_updated_in_integration: str | None = None
    usage_percentage: float | None = None
    meta: JsonValue = None
    extra: JsonValue = None


RECORD_TYPES: dict[str, type[_Record]] = {
    PIPELINE_RUNS.name: PipelineRun,
    TASK_RUNS.name: TaskRun,
    OPERATIONS.name: Operation,
    ASSETS.name: Asset,
}


def _check_declarations() -> None:
    """The typed records have exactly their table's columns, in order (a programming error otherwise)."""
    for name, record_type in RECORD_TYPES.items():
        fields = tuple(f.name for f in dataclasses.fields(record_type))  # type: ignore[arg-type]
        assert fields == resource_named(name).column_names, name


_check_declarations()
