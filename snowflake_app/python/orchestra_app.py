"""The Orchestra Data App's Python handlers: what runs inside Snowflake, and under pytest.

Snowflake calls the entry points at the bottom of this file:

- ``get_pipeline_runs(page, per_page)`` (and ``get_task_runs``, ``get_operations``): scalar UDF handlers that
  return one raw API page, so ``FLATTEN(input => core.get_pipeline_runs():results)`` works;
- ``load_pipeline_runs(session, since)`` (and the others, ``load_all``): stored procedure handlers that load every
  page into ``public.<table>`` with one MERGE on ``id`` per batch, incrementally, and return a summary.

The file imports only the standard library, because Snowflake's Python sandbox has none of eltops' dependencies
(httpx, stamina, orjson, pyarrow): the app stages this one file and imports it flat (``orchestra_app``). The
secret (``_snowflake``) and the Snowpark session are only touched by the entry points, so the logic runs under
pytest with the API key, the HTTP call and the SQL connection injected.

What it shares with eltops' own loader (``eltops orchestra load``):

- the table declarations, generated below from :mod:`eltops.orchestra._records` by
  ``python -m eltops.snowflake_app._generate`` (a test fails when they differ);
- the same behaviour, mirrored and pinned by tests against :mod:`eltops.orchestra._client` and
  :mod:`eltops.orchestra._loader`: ``page_size`` and ``per_page`` sent, pages counted from ``total`` items, a
  window read again when its pages disagree, 7-day windows for a backfill, a cursor saved with the rows it covers,
  runs still open at the last load re-read by id, retries on connection errors, 429 and 5xx (``Retry-After``
  honoured), a client-side rate limit, and errors that name the resource and page.
"""

# ruff: noqa: S608  (SQL is built from the declared table and column names, never from input; values are bound)

from __future__ import annotations

import json
import math
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

__all__ = [
    "DEFAULT_API_URL",
    "RESOURCES",
    "AppError",
    "HttpResponse",
    "OrchestraApi",
    "PageQuery",
    "ResourceSpec",
    "Window",
    "backfill",
    "get_operations",
    "get_pipeline_runs",
    "get_task_runs",
    "load",
    "load_all",
    "load_operations",
    "load_pipeline_runs",
    "load_task_runs",
    "merge_sql",
    "plan_load",
    "walk_windows",
]

# BEGIN GENERATED (python -m eltops.snowflake_app._generate, from eltops.orchestra._records; do not edit)
_DECLARATIONS: tuple[dict[str, Any], ...] = (
    {
        "name": "pipeline-runs",
        "path": "/pipeline_runs",
        "table": "pipeline_runs",
        "columns": (
            ("id", "text", "VARCHAR", "id"),
            ("pipeline_id", "text", "VARCHAR", "pipelineId"),
            ("pipeline_name", "text", "VARCHAR", "pipelineName"),
            ("account_id", "text", "VARCHAR", "accountId"),
            ("env_id", "text", "VARCHAR", "envId"),
            ("env_name", "text", "VARCHAR", "envName"),
            ("run_status", "text", "VARCHAR", "runStatus"),
            ("message", "text", "VARCHAR", "message"),
            ("created_at", "timestamp", "TIMESTAMP_TZ", "createdAt"),
            ("updated_at", "timestamp", "TIMESTAMP_TZ", "updatedAt"),
            ("completed_at", "timestamp", "TIMESTAMP_TZ", "completedAt"),
            ("started_at", "timestamp", "TIMESTAMP_TZ", "startedAt"),
            ("branch", "text", "VARCHAR", "branch"),
            ("commit", "text", "VARCHAR", "commit"),
            ("pipeline_version_number", "integer", "NUMBER(38,0)", "pipelineVersionNumber"),
        ),
        "window_column": "created_at",
        "status_column": "run_status",
        "open_statuses": ("CANCELLING", "CREATED", "QUEUED", "RUNNING"),
        "id_filter": "pipeline_run_ids",
        "filters": ("status", "pipeline_ids", "pipeline_run_ids", "environments"),
    },
    {
        "name": "task-runs",
        "path": "/task_runs",
        "table": "task_runs",
        "columns": (
            ("id", "text", "VARCHAR", "id"),
            ("pipeline_run_id", "text", "VARCHAR", "pipelineRunId"),
            ("task_name", "text", "VARCHAR", "taskName"),
            ("task_id", "text", "VARCHAR", "taskId"),
            ("account_id", "text", "VARCHAR", "accountId"),
            ("pipeline_id", "text", "VARCHAR", "pipelineId"),
            ("integration", "text", "VARCHAR", "integration"),
            ("integration_job", "text", "VARCHAR", "integrationJob"),
            ("status", "text", "VARCHAR", "status"),
            ("message", "text", "VARCHAR", "message"),
            ("external_status", "text", "VARCHAR", "externalStatus"),
            ("external_message", "text", "VARCHAR", "externalMessage"),
            ("platform_link", "text", "VARCHAR", "platformLink"),
            ("task_parameters", "json", "VARIANT", "taskParameters"),
            ("run_parameters", "json", "VARIANT", "runParameters"),
            ("connection_id", "text", "VARCHAR", "connectionId"),
            ("number_of_attempts", "integer", "NUMBER(38,0)", "numberOfAttempts"),
            ("created_at", "timestamp", "TIMESTAMP_TZ", "createdAt"),
            ("updated_at", "timestamp", "TIMESTAMP_TZ", "updatedAt"),
            ("completed_at", "timestamp", "TIMESTAMP_TZ", "completedAt"),
            ("started_at", "timestamp", "TIMESTAMP_TZ", "startedAt"),
        ),
        "window_column": "created_at",
        "status_column": "status",
        "open_statuses": ("CANCELLING", "CREATED", "QUEUED", "RUNNING"),
        "id_filter": "task_run_ids",
        "filters": ("status", "pipeline_ids", "integration", "task_run_ids"),
    },
    {
        "name": "operations",
        "path": "/operations",
        "table": "operations",
        "columns": (
            ("id", "text", "VARCHAR", "id"),
            ("account_id", "text", "VARCHAR", "accountId"),
            ("pipeline_run_id", "text", "VARCHAR", "pipelineRunId"),
            ("task_run_id", "text", "VARCHAR", "taskRunId"),
            ("inserted_at", "timestamp", "TIMESTAMP_TZ", "insertedAt"),
            ("message", "text", "VARCHAR", "message"),
            ("operation_name", "text", "VARCHAR", "operationName"),
            ("operation_status", "text", "VARCHAR", "operationStatus"),
            ("operation_type", "text", "VARCHAR", "operationType"),
            ("external_status", "text", "VARCHAR", "externalStatus"),
            ("external_detail", "text", "VARCHAR", "externalDetail"),
            ("external_id", "text", "VARCHAR", "externalId"),
            ("integration", "text", "VARCHAR", "integration"),
            ("integration_job", "text", "VARCHAR", "integrationJob"),
            ("started_at", "timestamp", "TIMESTAMP_TZ", "startedAt"),
            ("completed_at", "timestamp", "TIMESTAMP_TZ", "completedAt"),
            ("dependencies", "json", "VARIANT", "dependencies"),
            ("operation_duration", "float", "FLOAT", "operationDuration"),
            ("rows_affected", "integer", "NUMBER(38,0)", "rowsAffected"),
        ),
        "window_column": "inserted_at",
        "status_column": "operation_status",
        "open_statuses": (),
        "id_filter": None,
        "filters": ("operation_type", "integration", "external_id", "status", "task_run_id"),
    },
)
LOADED_AT = "loaded_at"
STATE_TABLE = "eltops_load_state"
# END GENERATED

DATA_SCHEMA = "public"
DEFAULT_API_URL = "https://app.getorchestra.io/api/engine/public"
API_URL = DEFAULT_API_URL  # where the entry points send requests (tests point it at the emulator)
SECRET_NAME = "api_key"  # noqa: S105 (the name in SECRETS = (...) of the setup script, not a secret)
MAX_PAGE_SIZE = 100
MAX_WINDOW = timedelta(days=7)
LOOKBACK = timedelta(minutes=10)
OPEN_RUN_HORIZON = timedelta(days=30)
IDS_PER_REQUEST = 50
WINDOW_PASSES = 3
BATCH_ROWS = 2_000  # rows per MERGE: the batch travels as one bound JSON string, far below Snowflake's limits
RATE_LIMIT_PER_MINUTE = 50.0
USER_AGENT = "eltops-orchestra-data-app"


class AppError(Exception):
    """A failure the procedure or function reports as its error message (never a success with nothing loaded)."""


# -- declarations --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One table column: snake_case name, logical type, Snowflake type, and the camelCase API field."""

    name: str
    kind: str  # text | timestamp | json | integer | float
    sql_type: str
    source: str


@dataclass(frozen=True)
class ResourceSpec:
    """An Orchestra list endpoint and the table it loads into (see eltops.orchestra._records.Resource)."""

    name: str
    path: str
    table: str
    columns: tuple[Column, ...]
    window_column: str
    status_column: str
    open_statuses: tuple[str, ...]
    id_filter: str | None
    filters: tuple[str, ...]

    @property
    def qualified_table(self) -> str:
        return f"{DATA_SCHEMA}.{self.table}"

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def __str__(self) -> str:
        return self.name


def _resource(declaration: Mapping[str, Any]) -> ResourceSpec:
    values = dict(declaration)
    values["columns"] = tuple(Column(*c) for c in declaration["columns"])
    return ResourceSpec(**values)


RESOURCES: dict[str, ResourceSpec] = {d["name"]: _resource(d) for d in _DECLARATIONS}
PIPELINE_RUNS, TASK_RUNS, OPERATIONS = RESOURCES["pipeline-runs"], RESOURCES["task-runs"], RESOURCES["operations"]


def resource_named(name: str) -> ResourceSpec:
    """``task-runs``, ``task_runs`` and ``TASK_RUNS`` all name the task runs."""
    wanted = name.strip().lower().replace("_", "-")
    if wanted not in RESOURCES:
        raise AppError(f"unknown Orchestra resource {name!r} (known: {', '.join(RESOURCES)})")
    return RESOURCES[wanted]


# -- SQL, derived from the declarations -------------------------------------------------------------------------

_EXTRACT = {
    "text": "value:{name}::VARCHAR",
    "timestamp": "value:{name}::TIMESTAMP_TZ",
    "json": "STRIP_NULL_VALUE(value:{name})",
    "integer": "value:{name}::NUMBER(38,0)",
    "float": "value:{name}::FLOAT",
}


def create_table_sql(resource: ResourceSpec) -> str:
    """``CREATE TABLE IF NOT EXISTS public.<table>``: the declared columns in order, then ``loaded_at``."""
    lines = [f"    {c.name} {c.sql_type}" for c in resource.columns]
    lines[0] += " NOT NULL"
    lines.append(f"    {LOADED_AT} TIMESTAMP_TZ")
    return f"CREATE TABLE IF NOT EXISTS {resource.qualified_table} (\n" + ",\n".join(lines) + "\n)"


def create_state_table_sql() -> str:
    """The load state: one row per resource, the same table eltops' own Snowflake target keeps."""
    return (
        f"CREATE TABLE IF NOT EXISTS {DATA_SCHEMA}.{STATE_TABLE} "
        "(resource VARCHAR, table_name VARCHAR, cursor TIMESTAMP_TZ, saved_at TIMESTAMP_TZ)"
    )


def merge_sql(resource: ResourceSpec) -> str:
    """MERGE one bound JSON array of mapped records (keys = column names) into the table, on ``id``.

    The last record read for an id wins; a row is only rewritten (and ``loaded_at`` moved) when a value changed.
    Snowflake answers with one row: rows inserted, rows updated.
    """
    columns = resource.column_names
    select = ",\n        ".join(_EXTRACT[c.kind].format(name=c.name) + f" AS {c.name}" for c in resource.columns)
    changed = " OR ".join(f"NOT EQUAL_NULL(t.{c}, s.{c})" for c in columns[1:])
    return (
        f"MERGE INTO {resource.qualified_table} AS t USING (\n"
        f"    SELECT\n        {select}\n"
        "    FROM (SELECT PARSE_JSON(?) AS doc) AS d, LATERAL FLATTEN(input => d.doc)\n"
        "    QUALIFY ROW_NUMBER() OVER (PARTITION BY value:id::VARCHAR ORDER BY index DESC) = 1\n"
        ") AS s ON t.id = s.id\n"
        f"WHEN MATCHED AND ({changed}) THEN UPDATE SET "
        + ", ".join(f"{c} = s.{c}" for c in columns[1:])
        + f", {LOADED_AT} = CURRENT_TIMESTAMP()\n"
        f"WHEN NOT MATCHED THEN INSERT ({', '.join(columns)}, {LOADED_AT}) "
        f"VALUES ({', '.join(f's.{c}' for c in columns)}, CURRENT_TIMESTAMP())"
    )


def _open_records_sql(resource: ResourceSpec) -> str:
    statuses = ", ".join(f"'{s}'" for s in resource.open_statuses)
    return (
        f"SELECT id, {resource.window_column} FROM {resource.qualified_table} "
        f"WHERE {resource.status_column} IN ({statuses}) AND {resource.window_column} > CAST(? AS TIMESTAMP_TZ)"
    )


# -- mapping: an API record to a row (the pure-Python twin of eltops.orchestra._records) -------------------------


def parse_timestamp(value: str) -> datetime:
    """An API timestamp as an aware UTC datetime; a value without an offset is taken as UTC."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _text(value: Any, column: Column) -> Any:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _integer(value: Any, column: Column) -> Any:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            pass
    raise AppError(f"{column.source} should be an integer, got {value!r}")


def _float(value: Any, column: Column) -> Any:
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    raise AppError(f"{column.source} should be a number, got {value!r}")


def _timestamp(value: Any, column: Column) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return parse_timestamp(value).isoformat()
        except ValueError:
            pass
    raise AppError(f"{column.source} should be an ISO-8601 timestamp, got {value!r}")


def _json_value(value: Any, column: Column) -> Any:
    return value


_CONVERTERS: dict[str, Callable[[Any, Column], Any]] = {
    "text": _text,
    "integer": _integer,
    "float": _float,
    "timestamp": _timestamp,
    "json": _json_value,
}


def map_record(resource: ResourceSpec, position: int, record: Any) -> dict[str, Any]:
    """One API record as ``{column: value}`` (timestamps as UTC ISO text); raises AppError naming the field."""
    if not isinstance(record, Mapping):
        raise AppError(f"result {position} is not a JSON object")
    record_id = record.get("id")
    if not isinstance(record_id, str) or not record_id:
        raise AppError(f"result {position} has no id")
    row: dict[str, Any] = {}
    for column in resource.columns:
        try:
            row[column.name] = _CONVERTERS[column.kind](record.get(column.source), column)
        except AppError as exc:
            raise AppError(f"result {position}: {exc}") from None
    return row


# -- requests ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """A ``time_from``/``time_to`` window (aware datetimes, at most 7 days wide)."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("window bounds must be timezone-aware")
        if self.end < self.start or self.end - self.start > MAX_WINDOW:
            raise AppError(f"the window {self} is not between 0 and 7 days wide, as the Orchestra API requires")

    def params(self) -> dict[str, str]:
        return {"time_from": self.start.isoformat(), "time_to": self.end.isoformat()}

    def __str__(self) -> str:
        return f"{self.start.isoformat()} to {self.end.isoformat()}"


def walk_windows(start: datetime, until: datetime) -> list[Window]:
    """7-day windows from ``start`` until one reaches past ``until`` (each starts where the last ended)."""
    windows = [Window(start, start + MAX_WINDOW)]
    while windows[-1].end < until:
        windows.append(Window(windows[-1].end, windows[-1].end + MAX_WINDOW))
    return windows


@dataclass(frozen=True)
class PageQuery:
    """One request to a list endpoint."""

    resource: ResourceSpec
    page: int = 1
    page_size: int = MAX_PAGE_SIZE
    window: Window | None = None  # None: the API's default, the last 7 days
    filters: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.page < 1:
            raise AppError(f"the page number must be 1 or more, got {self.page}")
        if not 1 <= self.page_size <= MAX_PAGE_SIZE:
            raise AppError(f"the page size must be between 1 and {MAX_PAGE_SIZE}, got {self.page_size}")

    def at(self, page: int) -> PageQuery:
        return PageQuery(self.resource, page, self.page_size, self.window, self.filters)

    def params(self) -> dict[str, Any]:
        # page_size is the spec's name; per_page is what older docs and Orchestra's first app send
        params: dict[str, Any] = {"page": self.page, "page_size": self.page_size, "per_page": self.page_size}
        if self.window is not None:
            params.update(self.window.params())
        params.update({k: v for k, v in self.filters.items() if v != ""})
        return params

    def describe(self) -> str:
        where = f"window {self.window}" if self.window is not None else "the default window"
        ids = f", {len(self.filters.get(self.resource.id_filter or '', '').split(','))} ids" if self._by_id else ""
        return f"{self.resource} page {self.page} ({where}{ids})"

    @property
    def _by_id(self) -> bool:
        return self.resource.id_filter is not None and self.resource.id_filter in self.filters


@dataclass(frozen=True)
class Page:
    """One parsed page: the listing's total, the page size the API used, and the mapped rows."""

    query: PageQuery
    total: int
    page_size: int
    rows: list[dict[str, Any]]

    def newest(self) -> datetime | None:
        """The newest value of the window column (the load cursor) among the page's rows."""
        values = [r[self.query.resource.window_column] for r in self.rows]
        present = [parse_timestamp(v) for v in values if v is not None]
        return max(present) if present else None


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: Mapping[str, str]
    body: bytes


HttpGet = Callable[[str, Mapping[str, str], float], HttpResponse]
"""``(url with query, headers, timeout seconds) -> response``; raises OSError when the server cannot be reached."""


def urllib_get(url: str, headers: Mapping[str, str], timeout: float) -> HttpResponse:
    """The default HTTP call (standard library, so the app needs no package for it)."""
    request = urllib.request.Request(url, headers=dict(headers), method="GET")  # noqa: S310 (https checked)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return HttpResponse(response.status, dict(response.headers.items()), response.read())
    except urllib.error.HTTPError as exc:
        return HttpResponse(exc.code, dict(exc.headers.items()) if exc.headers else {}, exc.read())


@dataclass(frozen=True)
class RetryPolicy:
    """Attempts per request and backoff bounds (the values eltops' own HTTP layer uses)."""

    attempts: int = 6
    wait_initial: float = 0.5
    wait_max: float = 30.0
    wait_exp_base: float = 2.0
    request_timeout: float = 30.0
    retry_after_max: float = 120.0


def _is_loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")


def _error_message(body: bytes, status: int) -> str:
    """The API's own message: FastAPI's ``detail`` (a string or a list of ``{loc, msg}``) or ``message``."""
    try:
        data = json.loads(body)
    except ValueError:
        text = body.decode("utf-8", "replace").strip()
        return text[:300] if text else f"HTTP {status}"
    if isinstance(data, dict):
        if isinstance(data.get("message"), str):
            return str(data["message"])
        detail = data.get("detail")
        if isinstance(detail, str):
            return detail
        if isinstance(detail, list):
            parts = []
            for item in detail:
                if isinstance(item, dict):
                    loc = ".".join(str(p) for p in item.get("loc", []))
                    parts.append(f"{loc}: {item.get('msg', '')}".strip(": "))
            if parts:
                return "; ".join(parts)
    return f"HTTP {status}"


_STATUS_HINTS = {
    401: " (check the API key in the app's secret)",
    403: " (the key is valid but may not do this; the API is for Orchestra's enterprise plans)",
}


class OrchestraApi:
    """The Orchestra list endpoints over an injected HTTP call: retries, rate limit, checked pages."""

    def __init__(
        self,
        api_url: str,
        api_key: str,
        *,
        http: HttpGet = urllib_get,
        retry: RetryPolicy | None = None,
        rate_limit_per_minute: float | None = RATE_LIMIT_PER_MINUTE,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        parts = urllib.parse.urlsplit(api_url)
        if parts.scheme != "https" and not (parts.scheme == "http" and _is_loopback(parts.hostname or "")):
            raise AppError(f"the Orchestra API URL must be https, got {api_url!r}")
        if not api_key:
            raise AppError("the Orchestra API key secret is empty; set it in the app's configuration")
        self.api_url = api_url.rstrip("/")
        self._headers = {
            "Authorization": f"Bearer {api_key}",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }
        self._http = http
        self.retry = retry or RetryPolicy()
        self._interval = 60.0 / rate_limit_per_minute if rate_limit_per_minute else 0.0
        self._sleep = sleep
        self._clock = clock
        self._next_slot = clock()
        self.requests = 0  # answered successfully
        self.retries = 0

    def _wait_for_slot(self) -> None:
        if not self._interval:
            return
        now = self._clock()
        slot = max(now, self._next_slot)
        self._next_slot = slot + self._interval
        if slot > now:
            self._sleep(slot - now)

    def get_body(self, query: PageQuery) -> bytes:
        """The raw body of one page, retried on connection errors, 429 and 5xx; AppError with the API's message."""
        url = f"{self.api_url}{query.resource.path}?{urllib.parse.urlencode(query.params())}"
        what = f"GET {query.resource.path} ({query.describe()})"
        failures = 0
        while True:
            self._wait_for_slot()
            wait: float | None = None
            try:
                response = self._http(url, self._headers, self.retry.request_timeout)
            except OSError as exc:  # URLError, timeouts, refused connections
                problem = f"could not reach Orchestra: {getattr(exc, 'reason', None) or exc}"
            else:
                if 200 <= response.status < 300:
                    self.requests += 1
                    return response.body
                problem = (
                    f"Orchestra answered {what} with HTTP {response.status}: "
                    f"{_error_message(response.body, response.status)}{_STATUS_HINTS.get(response.status, '')}"
                )
                if response.status != 429 and response.status < 500:
                    raise AppError(problem)
                wait = _retry_after(response.headers)
            failures += 1
            if failures >= self.retry.attempts:
                raise AppError(f"{problem} (gave up after {failures} attempts)")
            if wait is None:
                wait = self.retry.wait_initial * self.retry.wait_exp_base ** (failures - 1)
                wait = min(self.retry.wait_max, wait)
            self.retries += 1
            self._sleep(min(wait, self.retry.retry_after_max))

    def get_json(self, query: PageQuery) -> Any:
        """One page as decoded JSON, exactly as the API sent it (what ``core.get_*`` returns)."""
        body = self.get_body(query)
        try:
            return json.loads(body)
        except ValueError as exc:
            raise AppError(f"Orchestra answered {query.describe()} with a body that is not JSON: {exc}") from None

    def get_page(self, query: PageQuery) -> Page:
        """One page, checked and mapped; any defect raises AppError naming the resource and page."""
        data = self.get_json(query)
        if not isinstance(data, dict):
            raise AppError(f"Orchestra answered {query.describe()} with JSON that is not an object")
        results, total = data.get("results"), data.get("total")
        if not isinstance(results, list):
            raise AppError(f"Orchestra answered {query.describe()} without a results list")
        if not isinstance(total, int) or isinstance(total, bool) or total < 0:
            raise AppError(f"Orchestra answered {query.describe()} without a valid total (got {total!r})")
        page_size = data.get("pageSize")
        if not isinstance(page_size, int) or isinstance(page_size, bool) or page_size < 1:
            page_size = query.page_size
        try:
            rows = [map_record(query.resource, n, record) for n, record in enumerate(results)]
        except AppError as exc:
            raise AppError(f"Orchestra answered {query.describe()} with a bad record: {exc}") from None
        return Page(query, total, page_size, rows)

    def iter_window(
        self, resource: ResourceSpec, window: Window | None, filters: Mapping[str, str] | None = None
    ) -> Iterator[Page]:
        """Every page of one window; read again when its pages disagree (the listing changed under it).

        The third pass walks page after page until a short one. Records may be yielded twice; MERGE absorbs that.
        """
        first_query = PageQuery(resource, 1, MAX_PAGE_SIZE, window, dict(filters or {}))
        for attempt in range(1, WINDOW_PASSES + 1):
            first = self.get_page(first_query)
            yield first
            if attempt == WINDOW_PASSES:
                page = first
                while len(page.rows) >= page.page_size:
                    page = self.get_page(page.query.at(page.query.page + 1))
                    if not page.rows:
                        return
                    yield page
                return
            pages = max(1, math.ceil(first.total / first.page_size))
            stable = len(first.rows) == _expected_rows(first, pages)
            totals = {first.total}
            for number in range(2, pages + 1):
                page = self.get_page(first_query.at(number))
                totals.add(page.total)
                stable = stable and len(page.rows) == _expected_rows(page, pages)
                yield page
            if stable and len(totals) == 1:
                return

    def iter_ids(self, resource: ResourceSpec, records: Sequence[tuple[str, datetime]]) -> Iterator[Page]:
        """Re-read records by id, each group in a window that holds their creation times."""
        if resource.id_filter is None:
            return
        for window, ids in group_ids_by_window(records):
            yield from self.iter_window(resource, window, {resource.id_filter: ",".join(ids)})


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _expected_rows(page: Page, pages: int) -> int:
    if page.query.page < pages:
        return page.page_size
    return max(0, page.total - (pages - 1) * page.page_size)


def group_ids_by_window(records: Sequence[tuple[str, datetime]]) -> list[tuple[Window, list[str]]]:
    """Ids grouped so each group's creation times fit one 7-day window, at most 50 ids each."""
    groups: list[tuple[Window, list[str]]] = []
    for record_id, created in sorted(records, key=lambda r: r[1]):
        if groups and created <= groups[-1][0].end and len(groups[-1][1]) < IDS_PER_REQUEST:
            groups[-1][1].append(record_id)
        else:
            start = created - timedelta(seconds=1)
            groups.append((Window(start, start + MAX_WINDOW), [record_id]))
    return groups


# -- the load ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadPlan:
    """What one load of one resource reads: windows (None = the API's default) and open records to re-read."""

    resource: ResourceSpec
    windows: tuple[Window | None, ...]
    reopen: tuple[tuple[str, datetime], ...]
    start_cursor: datetime | None


def plan_load(
    resource: ResourceSpec,
    cursor: datetime | None,
    open_records: Sequence[tuple[str, datetime]],
    *,
    now: datetime,
    since: datetime | None = None,
    full_refresh: bool = False,
) -> LoadPlan:
    """Decide what to read, as eltops' loader does: state and clock in, plan out."""
    cursor = None if full_refresh else cursor
    if cursor is not None:  # incremental: from the cursor (``since`` only as a floor, as when resuming a backfill)
        start = min(cursor - LOOKBACK, now)
        windows: tuple[Window | None, ...] = tuple(walk_windows(max(start, since) if since else start, now))
    elif since is not None:
        windows = tuple(walk_windows(since, now))
    else:
        windows = (None,)
    first = windows[0]
    covered_from = first.start if first is not None else now - MAX_WINDOW
    reopen = tuple(
        (record_id, created)
        for record_id, created in open_records
        if created < covered_from and created > now - OPEN_RUN_HORIZON
    )
    return LoadPlan(resource, windows, reopen, start_cursor=cursor)


class Sql(Protocol):
    """Runs one statement with ``?`` parameters and returns its rows (a Snowpark session, or fakesnow in tests)."""

    def __call__(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...


def _aware(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        raise AppError(f"expected a timestamp from Snowflake, got {value!r}")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass
class _Counts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    batches: int = 0


class _Batch:
    """Rows gathered for one MERGE, written with the cursor they cover in one transaction."""

    def __init__(self, sql: Sql, resource: ResourceSpec, counts: _Counts) -> None:
        self._sql = sql
        self._resource = resource
        self._counts = counts
        self._merge = merge_sql(resource)
        self.rows: list[dict[str, Any]] = []

    def flush(self, cursor: datetime | None) -> None:
        sql, resource = self._sql, self._resource
        distinct = len({r["id"] for r in self.rows})
        sql("BEGIN")
        try:
            inserted = updated = 0
            if self.rows:
                result = sql(self._merge, [json.dumps(self.rows, separators=(",", ":"), ensure_ascii=False)])
                inserted, updated = int(result[0][0] or 0), int(result[0][1] or 0)
            sql(f"DELETE FROM {DATA_SCHEMA}.{STATE_TABLE} WHERE resource = ?", [resource.name])
            sql(
                f"INSERT INTO {DATA_SCHEMA}.{STATE_TABLE} (resource, table_name, cursor, saved_at) "
                "SELECT ?, ?, CAST(? AS TIMESTAMP_TZ), CURRENT_TIMESTAMP()",
                [resource.name, resource.table, cursor.isoformat() if cursor else None],
            )
            sql("COMMIT")
        except BaseException:
            sql("ROLLBACK")
            raise
        self._counts.inserted += inserted
        self._counts.updated += updated
        self._counts.unchanged += distinct - inserted - updated
        self._counts.batches += 1
        self.rows = []


def load(
    sql: Sql,
    api: OrchestraApi,
    resource: ResourceSpec,
    *,
    now: datetime,
    since: datetime | None = None,
    full_refresh: bool = False,
    batch_rows: int = BATCH_ROWS,
) -> dict[str, Any]:
    """Load one resource: every page of the planned windows plus the open runs, merged on ``id``; a summary back.

    The cursor saved with a batch only covers windows whose every page is in that batch or an earlier one, so a
    failure at any moment loses only work the next load redoes. Any API error raises AppError (nothing is
    reported as loaded that was not).
    """
    started = time.monotonic()
    requests_before = api.requests
    rows = sql(f"SELECT cursor FROM {DATA_SCHEMA}.{STATE_TABLE} WHERE resource = ?", [resource.name])
    saved_cursor = _aware(rows[0][0]) if rows and rows[0][0] is not None else None
    open_records: list[tuple[str, datetime]] = []
    if resource.open_statuses:
        found = sql(_open_records_sql(resource), [(now - OPEN_RUN_HORIZON).isoformat()])
        open_records = [(str(r[0]), _aware(r[1])) for r in found]
    plan = plan_load(resource, saved_cursor, open_records, now=now, since=since, full_refresh=full_refresh)
    counts = _Counts()
    batch = _Batch(sql, resource, counts)
    cursor = plan.start_cursor
    pages = rows_read = 0

    def take(page: Page) -> None:
        nonlocal pages, rows_read
        pages += 1
        rows_read += len(page.rows)
        batch.rows.extend(page.rows)
        if len(batch.rows) >= batch_rows:
            batch.flush(cursor)

    if plan.reopen:
        for page in api.iter_ids(resource, plan.reopen):
            take(page)
    for window in plan.windows:
        newest: datetime | None = None
        for page in api.iter_window(resource, window):
            take(page)
            page_newest = page.newest()
            if page_newest is not None and (newest is None or page_newest > newest):
                newest = page_newest
        if newest is not None and (cursor is None or newest > cursor):
            cursor = newest
        batch.flush(cursor)
    first, last = plan.windows[0], plan.windows[-1]
    return {
        "resource": resource.name,
        "table": resource.qualified_table,
        "window": {
            "from": (first.start if first is not None else now - MAX_WINDOW).isoformat(),
            "to": (last.end if last is not None else now).isoformat(),
            "windows": len(plan.windows),
            "api_default": first is None,
        },
        "reopened_runs": len(plan.reopen),
        "pages": pages,
        "requests": api.requests - requests_before,
        "rows_read": rows_read,
        "inserted": counts.inserted,
        "updated": counts.updated,
        "unchanged": counts.unchanged,
        "batches": counts.batches,
        "cursor": cursor.isoformat() if cursor else None,
        "seconds": round(time.monotonic() - started, 3),
    }


def parse_since(value: Any) -> datetime | None:
    """A procedure's ``since`` argument (DATE, TIMESTAMP or text; NULL = incremental) as an aware UTC datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if hasattr(value, "isoformat") and not isinstance(value, str):  # a date
        return datetime.fromisoformat(value.isoformat()).replace(tzinfo=UTC)
    text = str(value).strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        text += "T00:00:00+00:00"
    try:
        return parse_timestamp(text)
    except ValueError:
        raise AppError(f"since must be a date (2025-01-31) or an ISO-8601 timestamp, got {value!r}") from None


# -- Snowflake entry points ----------------------------------------------------------------------------------


def _secret() -> str:
    import _snowflake  # type: ignore[import-not-found]  # only inside Snowflake (tests put a stand-in in sys.modules)

    return str(_snowflake.get_generic_secret_string(SECRET_NAME))


def _api() -> OrchestraApi:
    return OrchestraApi(API_URL, _secret(), rate_limit_per_minute=RATE_LIMIT_PER_MINUTE)


def _get(resource: ResourceSpec, page: Any, per_page: Any) -> Any:
    query = PageQuery(
        resource,
        page=1 if page is None else int(page),
        page_size=MAX_PAGE_SIZE if per_page is None else int(per_page),
    )
    return _api().get_json(query)


def get_pipeline_runs(page: Any = 1, per_page: Any = 100) -> Any:
    """UDF ``core.get_pipeline_runs(page, per_page)``: one raw page as VARIANT."""
    return _get(PIPELINE_RUNS, page, per_page)


def get_task_runs(page: Any = 1, per_page: Any = 100) -> Any:
    """UDF ``core.get_task_runs(page, per_page)``: one raw page as VARIANT."""
    return _get(TASK_RUNS, page, per_page)


def get_operations(page: Any = 1, per_page: Any = 100) -> Any:
    """UDF ``core.get_operations(page, per_page)``: one raw page as VARIANT."""
    return _get(OPERATIONS, page, per_page)


def snowpark_sql(session: Any) -> Sql:
    """A Snowpark session as :class:`Sql` (``?`` placeholders are Snowpark's qmark binding)."""

    def run(statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in session.sql(statement, params=list(params) or None).collect()]

    return run


def _load_entry(session: Any, names: Sequence[str], since: Any, *, full_refresh: bool = False) -> Any:
    sql, api, start = snowpark_sql(session), _api(), parse_since(since)
    summaries = [
        load(sql, api, RESOURCES[name], now=datetime.now(UTC), since=start, full_refresh=full_refresh) for name in names
    ]
    return summaries[0] if len(summaries) == 1 else summaries


def load_pipeline_runs(session: Any, since: Any = None) -> Any:
    """Procedure ``core.load_pipeline_runs(since)``: incremental; ``since`` is where a first load starts."""
    return _load_entry(session, ["pipeline-runs"], since)


def load_task_runs(session: Any, since: Any = None) -> Any:
    """Procedure ``core.load_task_runs(since)``."""
    return _load_entry(session, ["task-runs"], since)


def load_operations(session: Any, since: Any = None) -> Any:
    """Procedure ``core.load_operations(since)``."""
    return _load_entry(session, ["operations"], since)


def load_all(session: Any, since: Any = None) -> Any:
    """Procedure ``core.load_all(since)`` (what the scheduled task calls): the three loads, one summary each."""
    return _load_entry(session, list(RESOURCES), since)


def backfill(session: Any, since: Any) -> Any:
    """Procedure ``core.backfill(since)``: re-read all three resources from ``since`` in 7-day windows."""
    if parse_since(since) is None:
        raise AppError("core.backfill needs a start date, e.g. CALL core.backfill('2025-01-01')")
    return _load_entry(session, list(RESOURCES), since, full_refresh=True)
