"""The Orchestra Data App's Python handlers: what runs inside Snowflake, and under pytest.

Snowflake calls the entry points at the bottom of this file:

- ``get_pipeline_runs(page, per_page)`` (and ``get_task_runs``, ``get_operations``): scalar UDF handlers that
  return one raw API page, so ``FLATTEN(input => core.get_pipeline_runs():results)`` works;
- ``load_pipeline_runs(session, since)`` (and the others, ``load_all``, ``backfill``): stored procedure handlers
  that load every page into ``public.<table>`` with one MERGE on ``id`` per batch, incrementally, and return a
  summary;
- ``refresh(session)``: what the scheduled task calls, the three loads within a time budget below the task's
  timeout (each window is committed as it completes, so the next run continues where this one stopped);
- ``status(session)``: ``core.status()``, per resource the last load, rows, cursor and last error, and whether
  the references are bound and the API objects exist.

This module is only the Snowflake glue: the secret getter, HTTP over urllib (retries, ``Retry-After``, a
client-side rate limit), the SQL it runs, and the entry points. Everything about the data, and the rules it shares
with eltops' own HTTP layer, is eltops' own code, not a copy of it:

- :mod:`eltops.orchestra._records`: the three tables' columns and the mapping of an API record to a row;
- :mod:`eltops.orchestra._plan`: request parameters, 7-day windows, the walk over a window's pages (and reading a
  window again when its pages disagree), re-reading open runs by id, the load plan from the saved cursor, and the
  :class:`~eltops.orchestra._plan.Cursor` that only moves past complete windows;
- :mod:`eltops._retry`: the :class:`~eltops._retry.RetryPolicy` and the wait before each retry (backoff, or the
  server's ``Retry-After`` up to ``retry_after_max``);
- :mod:`eltops._api_errors`: the API's message from an error answer.

Those modules import only the standard library, so the app ships them unchanged next to this file, as the
top-level modules ``_plan``, ``_records``, ``_retry`` and ``_api_errors`` (``python -m
eltops.snowflake_app._generate`` copies them into ``snowflake_app/python/``; a test checks the copies are byte for
byte the sources). Under pytest they are the package's own modules. The secret (``_snowflake``) and the Snowpark
session are only touched by the entry points, so the rest runs under pytest with the API key, the HTTP call and
the SQL connection injected.
"""

# ruff: noqa: S608  (SQL is built from the declared table and column names, never from input; values are bound)

from __future__ import annotations

import contextlib
import json
import logging
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Protocol

try:  # in eltops (tests, type checks): the package's own modules
    from eltops import _api_errors, _retry
    from eltops.orchestra import _plan, _records
except ModuleNotFoundError:  # inside Snowflake: the same files, shipped next to this one as top-level modules
    import _api_errors  # type: ignore[import-not-found,no-redef]
    import _plan  # type: ignore[import-not-found,no-redef]
    import _records  # type: ignore[import-not-found,no-redef]
    import _retry  # type: ignore[import-not-found,no-redef]

__all__ = [
    "API_OBJECTS",
    "API_URL",
    "ApiObject",
    "AppError",
    "HttpResponse",
    "KeyMaskFilter",
    "OrchestraApi",
    "Page",
    "RetryPolicy",
    "api_object_statements",
    "backfill",
    "bound_references",
    "configuration",
    "create_api_objects",
    "create_eai_objects",
    "get_configuration",
    "get_operations",
    "get_pipeline_runs",
    "get_task_runs",
    "load",
    "load_all",
    "load_operations",
    "load_pipeline_runs",
    "load_task_runs",
    "merge_sql",
    "next_step",
    "on_register",
    "parse_schedule",
    "parse_since",
    "read_task",
    "record_status",
    "recreate_eai_objects_if_bound",
    "recreate_if_bound",
    "redact",
    "references_sql",
    "refresh",
    "refresh_budget",
    "register_reference",
    "resume",
    "resume_refresh",
    "run_loads",
    "schedule",
    "schedule_refresh",
    "secret_forms",
    "statement_timeout",
    "status",
    "status_report",
    "task_report",
    "task_rows",
    "task_sql",
    "unschedule",
    "unschedule_refresh",
    "upgrade_task",
    "upgrade_task_definition",
    "urllib_get",
]

DATA_SCHEMA = "public"
API_URL = _plan.DEFAULT_API_URL  # where the entry points send requests (tests point it at the emulator)
SECRET_NAME = "api_key"  # noqa: S105 (the name in SECRETS = (...) of the setup script, not a secret)
BATCH_ROWS = 2_000  # rows per MERGE: the batch travels as one bound JSON string, far below Snowflake's limits
RATE_LIMIT_PER_MINUTE: float | None = _plan.DEFAULT_RATE_LIMIT
USER_AGENT = "eltops-orchestra-data-app"
UTC_NOW = "CONVERT_TIMEZONE('UTC', CURRENT_TIMESTAMP())"  # CURRENT_TIMESTAMP() alone carries the session TIMEZONE
STATUS_TABLE = "app_status"  # per component: last success, rows, complete, last error (see core.status())
API_OBJECTS_COMPONENT = "api-objects"
TASK_COMPONENT = "task"  # an upgrade's update of the task's definition
ERROR_BODY_CHARS = 300  # of an error answer that is not JSON, shown as the API's message
TASK_TIMEOUT_MS = 3_600_000
"""``USER_TASK_TIMEOUT_MS`` of the scheduled task (the setup script sets it; a test checks the two agree)."""
TASK_TIME_BUDGET = 45 * 60.0
"""Seconds after which ``core.refresh()`` starts no new window: the window in flight has the rest of the timeout."""
REFERENCES = ("orchestra_eai", "orchestra_api_key")
API_OBJECT_NAMES = (
    "get_pipeline_runs",
    "get_task_runs",
    "get_operations",
    "load_pipeline_runs",
    "load_task_runs",
    "load_operations",
    "load_all",
    "backfill",
    "refresh",
)
"""What ``core.create_eai_objects()`` creates in ``core`` (and an upgrade must recreate)."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


CLOCK: Callable[[], datetime] = _utc_now  # where the entry points read the time (tests use the emulator's clock)
MONOTONIC: Callable[[], float] = time.monotonic  # what the time budget of core.refresh() is measured with

LOG = logging.getLogger("orchestra_app")
"""Each load's start, windows, pages, rows and errors. Inside Snowflake, records of the standard ``logging`` module
reach the consumer's event table at the manifest's ``log_level`` (and the provider's, for the event definitions the
consumer shares); every record passes :class:`KeyMaskFilter` first."""


# -- the API key never leaves in a message ---------------------------------------------------------------------


def secret_forms(secret: str) -> set[str]:
    """The key and the forms it takes inside JSON text and URLs (what an API that echoes it may send back)."""
    if not secret:
        return set()
    forms = {secret, json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]}
    forms |= {urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret, safe="")}
    return {f for f in forms if f}


_KEYS: set[str] = set()
"""Every form of every key an :class:`OrchestraApi` was made with in this process (what :func:`redact` hides)."""
MASK = "***"


def redact(text: str) -> str:
    """``text`` with every known form of the API key replaced by ``***`` (longest first)."""
    for form in sorted(_KEYS, key=len, reverse=True):
        text = text.replace(form, MASK)
    return text


def _redact_data(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [_redact_data(v) for v in value]
    if isinstance(value, dict):
        return {redact(str(k)): _redact_data(v) for k, v in value.items()}
    return value


class KeyMaskFilter(logging.Filter):
    """Rewrites each record's message with the key masked (installed on :data:`LOG`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _KEYS:
            record.msg = redact(record.getMessage())
            record.args = None
            if record.exc_info and record.exc_info[1] is not None:
                record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
                record.exc_info = None
        return True


LOG.addFilter(KeyMaskFilter())


class AppError(Exception):
    """A failure the procedure or function reports as its error message (never a success with nothing loaded)."""


def _table(resource: _records.Resource) -> str:
    return f"{DATA_SCHEMA}.{resource.table}"


# -- SQL, derived from the declarations -------------------------------------------------------------------------

_EXTRACT = {
    _records.ColumnType.TEXT: "value:{name}::VARCHAR",
    _records.ColumnType.TIMESTAMP: "value:{name}::TIMESTAMP_TZ",
    _records.ColumnType.JSON: "STRIP_NULL_VALUE(value:{name})",
    _records.ColumnType.INTEGER: "value:{name}::NUMBER(38,0)",
    _records.ColumnType.FLOAT: "value:{name}::FLOAT",
    _records.ColumnType.BOOLEAN: "value:{name}::BOOLEAN",
}


def merge_sql(resource: _records.Resource) -> str:
    """MERGE one bound JSON array of mapped records (keys = column names) into the table, on ``id``.

    The last record read for an id wins; a row is only rewritten (and ``loaded_at`` moved) when a value changed.
    Snowflake answers with one row: rows inserted, rows updated.
    """
    columns = resource.column_names
    select = ",\n        ".join(_EXTRACT[c.type].format(name=c.name) + f" AS {c.name}" for c in resource.columns)
    changed = " OR ".join(f"NOT EQUAL_NULL(t.{c}, s.{c})" for c in columns[1:])
    loaded_at = _records.LOADED_AT
    return (
        f"MERGE INTO {_table(resource)} AS t USING (\n"
        f"    SELECT\n        {select}\n"
        "    FROM (SELECT PARSE_JSON(?) AS doc) AS d, LATERAL FLATTEN(input => d.doc)\n"
        "    QUALIFY ROW_NUMBER() OVER (PARTITION BY value:id::VARCHAR ORDER BY index DESC) = 1\n"
        ") AS s ON t.id = s.id\n"
        f"WHEN MATCHED AND ({changed}) THEN UPDATE SET "
        + ", ".join(f"{c} = s.{c}" for c in columns[1:])
        + f", {loaded_at} = {UTC_NOW}\n"
        f"WHEN NOT MATCHED THEN INSERT ({', '.join(columns)}, {loaded_at}) "
        f"VALUES ({', '.join(f's.{c}' for c in columns)}, {UTC_NOW})"
    )


def _open_records_sql(resource: _records.Resource) -> str:
    statuses = ", ".join(f"'{s}'" for s in sorted(resource.open_statuses))
    return (
        f"SELECT id, {resource.window_column} FROM {_table(resource)} "
        f"WHERE {resource.status_column} IN ({statuses}) AND {resource.window_column} > CAST(? AS TIMESTAMP_TZ)"
    )


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _batch_json(rows: Sequence[Mapping[str, Any]]) -> str:
    """Mapped rows as the JSON array MERGE reads (timestamps as ISO-8601 text with their offset)."""
    return json.dumps(rows, separators=(",", ":"), ensure_ascii=False, default=_json_default)


# -- pages over HTTP -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    """One checked page: the query, what the API said about the listing, and the mapped rows."""

    query: _plan.PageQuery
    total: int
    page_size: int
    records: list[dict[str, Any]]

    @property
    def rows(self) -> int:
        return len(self.records)

    def newest(self) -> datetime | None:
        """The newest value of the window column (the load cursor) among the page's rows."""
        column = self.query.resource.window_column
        present = [r[column] for r in self.records if r[column] is not None]
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


HTTP: HttpGet = urllib_get  # what the entry points send requests with (tests put a rewriting one in front)


RetryPolicy = _retry.RetryPolicy
"""Attempts per request, backoff bounds and the ``Retry-After`` cap: eltops' own :class:`eltops._retry.RetryPolicy`."""


def _is_loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")


def _error_message(body: bytes, status: int) -> str:
    """The API's own message (:func:`eltops._api_errors.parse_error_body`; a body that is not JSON as text)."""
    return _api_errors.parse_error_body(body, fallback=f"HTTP {status}", text_chars=ERROR_BODY_CHARS)[1]


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
        _KEYS.update(secret_forms(api_key))
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

    def get_body(self, query: _plan.PageQuery) -> bytes:
        """The raw body of one page, retried on connection errors, 429 and 5xx; AppError with the API's message."""
        url = f"{self.api_url}{query.resource.path}?{urllib.parse.urlencode(query.params())}"
        what = f"GET {query.resource.path} ({query.describe()})"
        failures = 0
        while True:
            self._wait_for_slot()
            retry_after: str | None = None
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
                    raise AppError(redact(problem))
                retry_after = next((v for k, v in response.headers.items() if k.lower() == "retry-after"), None)
            failures += 1
            if failures >= self.retry.attempts:
                raise AppError(redact(f"{problem} (gave up after {failures} attempts)"))
            self.retries += 1
            self._sleep(_retry.retry_wait(self.retry, failures, retry_after).seconds)

    def get_json(self, query: _plan.PageQuery) -> Any:
        """One page as decoded JSON, exactly as the API sent it (what ``core.get_*`` returns)."""
        body = self.get_body(query)
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise AppError(f"Orchestra answered {query.describe()} with a body that is not JSON: {exc}") from None
        if any(form.encode() in body for form in _KEYS):  # an API that echoes the key: never into a table
            LOG.warning("Orchestra echoed the API key in %s; it is masked in what the app keeps", query.describe())
            data = _redact_data(data)
        return data

    def get_page(self, query: _plan.PageQuery) -> Page:
        """One page, checked and mapped; any defect raises AppError naming the resource and page."""
        data = self.get_json(query)
        try:
            results, total, page_size = _plan.unpack_listing(query, data)
        except _plan.ListingError as exc:
            raise AppError(str(exc)) from None
        try:
            rows = _records.map_page(query.resource, results)
        except _records.RecordError as exc:
            raise AppError(redact(f"Orchestra answered {query.describe()} with a bad record: {exc}")) from None
        LOG.debug("%s: %d rows (total %d)", query.describe(), len(rows), total)
        return Page(query, total, page_size, rows)

    def iter_window(
        self, resource: _records.Resource, window: _plan.Window | None, filters: Mapping[str, str] | None = None
    ) -> Iterator[Page]:
        """Every page of one window, one request at a time (the walk is :func:`eltops.orchestra._plan.iter_window`)."""
        return _plan.iter_window(self.get_page, resource, window, filters)

    def iter_ids(self, resource: _records.Resource, records: Sequence[tuple[str, datetime]]) -> Iterator[Page]:
        """Re-read records by id, each group in a window that holds their creation times."""
        return _plan.iter_ids(self.get_page, resource, records)


# -- the load ------------------------------------------------------------------------------------------------


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

    def __init__(self, sql: Sql, resource: _records.Resource, counts: _Counts) -> None:
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
                result = sql(self._merge, [_batch_json(self.rows)])
                inserted, updated = int(result[0][0] or 0), int(result[0][1] or 0)
            sql(f"DELETE FROM {DATA_SCHEMA}.{_plan.STATE_TABLE} WHERE resource = ?", [resource.name])
            sql(
                f"INSERT INTO {DATA_SCHEMA}.{_plan.STATE_TABLE} (resource, table_name, cursor, saved_at) "
                f"SELECT ?, ?, CAST(? AS TIMESTAMP_TZ), {UTC_NOW}",
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
    resource: _records.Resource,
    *,
    now: datetime,
    since: datetime | None = None,
    full_refresh: bool = False,
    batch_rows: int = BATCH_ROWS,
    deadline: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """Load one resource: every page of the planned windows plus the open runs, merged on ``id``; a summary back.

    The plan is eltops' (:func:`eltops.orchestra._plan.plan_load`). The cursor saved with a batch only covers
    windows whose every page is in that batch or an earlier one (:class:`eltops.orchestra._plan.Cursor`), so a
    failure at any moment loses only work the next load redoes. Any API error raises AppError (nothing is reported
    as loaded that was not).

    With a ``deadline`` (a ``clock()`` value), no window starts once ``clock()`` has reached it: every window read
    so far is committed with its cursor, the summary says ``"complete": false`` and how many windows are left,
    and the next load plans from that cursor, so a long load progresses run after run.
    """
    started = clock()
    requests_before = api.requests
    state_sql = f"SELECT cursor FROM {DATA_SCHEMA}.{_plan.STATE_TABLE} WHERE resource = ?"
    rows = sql(state_sql, [resource.name])
    saved = _plan.LoadState(_aware(rows[0][0]) if rows and rows[0][0] is not None else None)
    open_records: list[tuple[str, datetime]] = []
    if resource.open_statuses:
        found = sql(_open_records_sql(resource), [(now - _plan.OPEN_RUN_HORIZON).isoformat()])
        open_records = [(str(r[0]), _aware(r[1])) for r in found]
    plan = _plan.plan_load(resource, saved, open_records, now=now, since=since, full_refresh=full_refresh)
    LOG.info(
        "load %s: start, %d window(s) from %s, %d open run(s) to re-read, cursor %s",
        resource.name,
        len(plan.windows),
        plan.windows[0].start.isoformat() if plan.windows[0] is not None else "the API's default window",
        len(plan.reopen),
        saved.cursor.isoformat() if saved.cursor else "none (first load)",
    )
    counts = _Counts()
    batch = _Batch(sql, resource, counts)
    cursor = _plan.Cursor(plan.start_cursor)  # what a batch may be saved with: complete windows only
    pages = rows_read = 0

    def take(page: Page) -> None:
        nonlocal pages, rows_read
        pages += 1
        rows_read += page.rows
        batch.rows.extend(page.records)
        if len(batch.rows) >= batch_rows:
            batch.flush(cursor.value)

    if plan.reopen:
        for page in api.iter_ids(resource, plan.reopen):
            take(page)
    read: list[_plan.Window | None] = []
    for number, window in enumerate(plan.windows, start=1):
        if deadline is not None and clock() >= deadline:
            LOG.warning(
                "load %s: time budget used up, %d window(s) left for the next run",
                resource.name,
                len(plan.windows) - len(read),
            )
            break
        read.append(window)
        pages_before, rows_before = pages, rows_read
        for page in api.iter_window(resource, window):
            take(page)
            cursor.saw(page.newest())
        cursor.window_done()
        batch.flush(cursor.value)
        LOG.info(
            "load %s: window %d/%d read, %d page(s), %d row(s), cursor %s",
            resource.name,
            number,
            len(plan.windows),
            pages - pages_before,
            rows_read - rows_before,
            cursor.value.isoformat() if cursor.value else None,
        )
    if batch.rows:  # open runs re-read, but the deadline came before any window: commit them (same cursor)
        batch.flush(cursor.value)
    first, last = plan.windows[0], (read or plan.windows)[-1]
    LOG.info(
        "load %s: done, %d page(s), %d row(s) read, %d inserted, %d updated, complete=%s",
        resource.name,
        pages,
        rows_read,
        counts.inserted,
        counts.updated,
        len(read) == len(plan.windows),
    )
    return {
        "resource": resource.name,
        "table": _table(resource),
        "complete": len(read) == len(plan.windows),
        "window": {
            "from": (first.start if first is not None else now - _plan.MAX_WINDOW).isoformat(),
            "to": (last.end if last is not None else now).isoformat(),
            "windows": len(read),
            "windows_left": len(plan.windows) - len(read),
        },
        "reopened_runs": len(plan.reopen),
        "pages": pages,
        "requests": api.requests - requests_before,
        "rows_read": rows_read,
        "inserted": counts.inserted,
        "updated": counts.updated,
        "unchanged": counts.unchanged,
        "batches": counts.batches,
        "cursor": cursor.value.isoformat() if cursor.value else None,
        "seconds": round(clock() - started, 3),
    }


def parse_since(value: Any) -> datetime | None:
    """A procedure's ``since`` argument (DATE, TIMESTAMP or text; NULL = incremental) as an aware UTC datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    text = str(value).strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        text += "T00:00:00+00:00"
    try:
        return _records.parse_timestamp(text)
    except ValueError:
        raise AppError(f"since must be a date (2025-01-31) or an ISO-8601 timestamp, got {value!r}") from None


# -- Snowflake entry points ----------------------------------------------------------------------------------


def _secret() -> str:
    import _snowflake  # type: ignore[import-not-found]  # only inside Snowflake (tests put a stand-in in sys.modules)

    return str(_snowflake.get_generic_secret_string(SECRET_NAME))


def _api() -> OrchestraApi:
    return OrchestraApi(API_URL, _secret(), http=HTTP, rate_limit_per_minute=RATE_LIMIT_PER_MINUTE)


def _get(resource: _records.Resource, page: Any, per_page: Any) -> Any:
    try:
        query = _plan.PageQuery(
            resource,
            page=1 if page is None else int(page),
            page_size=_plan.MAX_PAGE_SIZE if per_page is None else int(per_page),
        )
    except _plan.PlanError as exc:
        raise AppError(str(exc)) from None
    return _api().get_json(query)


def get_pipeline_runs(page: Any = 1, per_page: Any = 100) -> Any:
    """UDF ``core.get_pipeline_runs(page, per_page)``: one raw page as VARIANT."""
    return _get(_records.PIPELINE_RUNS, page, per_page)


def get_task_runs(page: Any = 1, per_page: Any = 100) -> Any:
    """UDF ``core.get_task_runs(page, per_page)``: one raw page as VARIANT."""
    return _get(_records.TASK_RUNS, page, per_page)


def get_operations(page: Any = 1, per_page: Any = 100) -> Any:
    """UDF ``core.get_operations(page, per_page)``: one raw page as VARIANT."""
    return _get(_records.OPERATIONS, page, per_page)


def snowpark_sql(session: Any) -> Sql:
    """A Snowpark session as :class:`Sql` (``?`` placeholders are Snowpark's qmark binding)."""

    def run(statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in session.sql(statement, params=list(params) or None).collect()]

    return run


def run_loads(
    sql: Sql,
    make_api: Callable[[], OrchestraApi],
    resources: Sequence[_records.Resource],
    *,
    since: datetime | None = None,
    full_refresh: bool = False,
    budget: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> list[dict[str, Any]]:
    """Load each resource in turn, recording its outcome in ``public.app_status``; failures are recorded, then raised.

    With a ``budget`` (seconds of ``clock()``), no window starts after it is spent: a resource whose turn comes
    after that is reported as skipped, and each summary says whether its load was complete.
    """
    deadline = None if budget is None else clock() + budget
    api: OrchestraApi | None = None
    summaries: list[dict[str, Any]] = []
    for resource in resources:
        if deadline is not None and clock() >= deadline:
            summaries.append(
                {
                    "resource": resource.name,
                    "table": _table(resource),
                    "complete": False,
                    "skipped": "the run's time budget was used up; the next run continues from the cursor",
                }
            )
            continue
        try:
            api = api or make_api()
            summary = load(
                sql, api, resource, now=CLOCK(), since=since, full_refresh=full_refresh, deadline=deadline, clock=clock
            )
        except Exception as exc:
            problem = redact(str(exc) if isinstance(exc, AppError) else f"{type(exc).__name__}: {exc}")
            LOG.error("load %s failed: %s", resource.name, problem)
            with contextlib.suppress(Exception):  # recording must never hide the error itself
                record_status(sql, resource.name, error=problem)
            raise AppError(problem) from None
        record_status(sql, resource.name, rows_read=summary["rows_read"], complete=summary["complete"])
        summaries.append(summary)
    return summaries


def _load_entry(session: Any, resources: Sequence[_records.Resource], since: Any, *, full_refresh: bool = False) -> Any:
    summaries = run_loads(
        snowpark_sql(session), _api, resources, since=parse_since(since), full_refresh=full_refresh, clock=MONOTONIC
    )
    return summaries[0] if len(summaries) == 1 else summaries


def load_pipeline_runs(session: Any, since: Any = None) -> Any:
    """Procedure ``core.load_pipeline_runs(since)``: incremental; ``since`` is where a first load starts."""
    return _load_entry(session, [_records.PIPELINE_RUNS], since)


def load_task_runs(session: Any, since: Any = None) -> Any:
    """Procedure ``core.load_task_runs(since)``."""
    return _load_entry(session, [_records.TASK_RUNS], since)


def load_operations(session: Any, since: Any = None) -> Any:
    """Procedure ``core.load_operations(since)``."""
    return _load_entry(session, [_records.OPERATIONS], since)


def load_all(session: Any, since: Any = None) -> Any:
    """Procedure ``core.load_all(since)`` (what the scheduled task calls): the three loads, one summary each."""
    return _load_entry(session, _records.RESOURCES, since)


def backfill(session: Any, since: Any) -> Any:
    """Procedure ``core.backfill(since)``: re-read all three resources from ``since`` in 7-day windows."""
    if parse_since(since) is None:
        raise AppError("core.backfill needs a start date, e.g. CALL core.backfill('2025-01-01')")
    return _load_entry(session, _records.RESOURCES, since, full_refresh=True)


def refresh(session: Any) -> Any:
    """Procedure ``core.refresh()`` (what the scheduled task calls): the three loads within ``TASK_TIME_BUDGET``.

    The task's ``USER_TASK_TIMEOUT_MS`` is ``TASK_TIMEOUT_MS``; the budget leaves the window in flight the rest
    of it. Every window read is committed with its cursor, so a first load longer than one run continues at the
    next run instead of starting over.
    """
    sql = snowpark_sql(session)
    try:
        timeout = statement_timeout(sql)
    except Exception as exc:  # the probe is advice: a load without it keeps the task's own budget
        LOG.warning("could not read STATEMENT_TIMEOUT_IN_SECONDS (%s); keeping the %d s budget", exc, TASK_TIME_BUDGET)
        timeout = None
    try:
        budget = refresh_budget(timeout)
    except AppError as exc:
        LOG.error("refresh cannot run: %s", exc)
        raise
    if budget < TASK_TIME_BUDGET:
        LOG.warning(
            "STATEMENT_TIMEOUT_IN_SECONDS is %s: the refresh budget is %d s instead of %d s",
            timeout,
            budget,
            TASK_TIME_BUDGET,
        )
    return run_loads(sql, _api, _records.RESOURCES, budget=budget, clock=MONOTONIC)


# -- core.status() -------------------------------------------------------------------------------------------

_STATUS_COLUMNS = "component, succeeded_at, rows_read, complete, error, failed_at"
ERROR_MAX_CHARS = 2_000


def record_status(
    sql: Sql, component: str, *, rows_read: int | None = None, complete: bool | None = None, error: str | None = None
) -> None:
    """Record a component's last success (rows read, complete) or, with ``error``, its last failure."""
    table = f"{DATA_SCHEMA}.{STATUS_TABLE}"
    if error is not None:
        sql(
            f"MERGE INTO {table} AS t USING (SELECT ? AS component, ? AS error) AS s ON t.component = s.component\n"
            f"WHEN MATCHED THEN UPDATE SET error = s.error, failed_at = {UTC_NOW}\n"
            f"WHEN NOT MATCHED THEN INSERT (component, error, failed_at) VALUES (s.component, s.error, {UTC_NOW})",
            [component, error[:ERROR_MAX_CHARS]],
        )
        return
    sql(
        f"MERGE INTO {table} AS t USING (SELECT ? AS component, CAST(? AS NUMBER(38,0)) AS rows_read, "
        "CAST(? AS BOOLEAN) AS complete) AS s ON t.component = s.component\n"
        f"WHEN MATCHED THEN UPDATE SET succeeded_at = {UTC_NOW}, rows_read = s.rows_read, complete = s.complete\n"
        "WHEN NOT MATCHED THEN INSERT (component, succeeded_at, rows_read, complete) "
        f"VALUES (s.component, {UTC_NOW}, s.rows_read, s.complete)",
        [component, rows_read, complete],
    )


def _iso(value: Any) -> str | None:
    return None if value is None else _aware(value).isoformat()


def status_report(
    sql: Sql, *, bound: Mapping[str, bool], existing: Sequence[str], task: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """What ``core.status()`` returns, from the status and state tables and what the probes found.

    ``bound``: reference name -> whether the consumer bound it; ``existing``: the functions and procedures
    found in ``core``; ``task``: :func:`task_report`. ``ready`` is true when both references are bound and every
    API object exists; ``next_step`` says the one thing to do next (None when there is nothing to do).
    """
    recorded = {str(r[0]): r for r in sql(f"SELECT {_STATUS_COLUMNS} FROM {DATA_SCHEMA}.{STATUS_TABLE}")}
    cursors = {str(r[0]): r[1] for r in sql(f"SELECT resource, cursor FROM {DATA_SCHEMA}.{_plan.STATE_TABLE}")}
    found = {name.lower() for name in existing}
    missing = [name for name in API_OBJECT_NAMES if name not in found]
    api = recorded.get(API_OBJECTS_COMPONENT)
    resources = []
    for resource in _records.RESOURCES:
        row = recorded.get(resource.name)
        resources.append(
            {
                "resource": resource.name,
                "table": _table(resource),
                "last_load_at": _iso(row[1]) if row else None,
                "rows_read": int(row[2]) if row and row[2] is not None else None,
                "complete": bool(row[3]) if row and row[3] is not None else None,
                "cursor": _iso(cursors.get(resource.name)),
                "last_error": row[4] if row else None,
                "failed_at": _iso(row[5]) if row else None,
            }
        )
    report: dict[str, Any] = {
        "ready": all(bound.get(name, False) for name in REFERENCES) and not missing,
        "api_objects": {
            "references_bound": {name: bool(bound.get(name, False)) for name in REFERENCES},
            "missing": missing,
            "created_at": _iso(api[1]) if api else None,
            "last_error": api[4] if api else None,
            "failed_at": _iso(api[5]) if api else None,
        },
        "resources": resources,
        "task": dict(task) if task is not None else None,
    }
    upgrade = recorded.get(TASK_COMPONENT)
    unresolved = upgrade is not None and upgrade[4] and (upgrade[1] is None or _aware(upgrade[5]) > _aware(upgrade[1]))
    if report["task"] is not None and upgrade is not None and unresolved:
        report["task"]["upgrade_error"] = upgrade[4]
    report["next_step"] = next_step(report)
    return report


API_OBJECTS_SQL = (
    "SELECT LOWER(function_name) FROM information_schema.functions WHERE function_schema = 'CORE' "
    "UNION SELECT LOWER(procedure_name) FROM information_schema.procedures WHERE procedure_schema = 'CORE'"
)


def references_sql(name: str) -> str:
    """How many objects are bound to a reference (names come from :data:`REFERENCES`, never from input)."""
    return f"SELECT ARRAY_SIZE(PARSE_JSON(SYSTEM$GET_ALL_REFERENCES('{name.upper()}')))"


def status(session: Any) -> Any:
    """Procedure ``core.status()``: see :func:`status_report` (references, API objects, loads, the task)."""
    sql = snowpark_sql(session)
    existing = [str(r[0]) for r in sql(API_OBJECTS_SQL)]
    return status_report(sql, bound=bound_references(sql), existing=existing, task=read_task(sql))


# -- setup: the reference callbacks and the API objects -------------------------------------------------------
#
# The manifest's callbacks are thin procedures in the setup script whose handlers are the functions below, so
# what they decide runs under pytest too (tests/snowflake_app/_app_runtime.py executes the whole setup script).

SHIPPED_FILES = ("orchestra_app.py", "_plan.py", "_records.py", "_retry.py", "_api_errors.py")
"""What every Python function and procedure imports (``/python/<file>``; the generator ships exactly these)."""
REFERENCE_LABELS = {"orchestra_eai": "the API access integration", "orchestra_api_key": "the Orchestra API key secret"}
API_HOST_PORT = "app.getorchestra.io:443"
SETUP_ORDER = ("orchestra_api_key", "orchestra_eai")  # the integration's allowed secret is the key: key first


def _imports() -> str:
    return ", ".join(f"'/python/{name}'" for name in SHIPPED_FILES)


@dataclass(frozen=True)
class ApiObject:
    """One function or procedure that calls the API, created once both references are bound."""

    kind: str  # FUNCTION or PROCEDURE
    name: str
    arguments: str  # as declared
    signature: str  # the argument types, as GRANT names them
    returns: str = "VARIANT"

    def create_sql(self) -> str:
        common = (
            f"RETURNS {self.returns} LANGUAGE PYTHON RUNTIME_VERSION = '3.11'"
            + (" PACKAGES = ('snowflake-snowpark-python')" if self.kind == "PROCEDURE" else "")
            + f"\n    IMPORTS = ({_imports()})\n    HANDLER = 'orchestra_app.{self.name}'\n"
            "    EXTERNAL_ACCESS_INTEGRATIONS = (reference('orchestra_eai'))\n"
            f"    SECRETS = ('{SECRET_NAME}' = reference('orchestra_api_key'))"
        )
        owner = "\n    EXECUTE AS OWNER" if self.kind == "PROCEDURE" else ""
        return f"CREATE OR REPLACE {self.kind} core.{self.name}({self.arguments})\n    {common}{owner}"

    def grant_sql(self) -> str:
        return f"GRANT USAGE ON {self.kind} core.{self.name}({self.signature}) TO APPLICATION ROLE app_public"


_PAGE_ARGS = ("page INT DEFAULT 1, per_page INT DEFAULT 100", "INT, INT")
_SINCE_ARGS = ("since DATE DEFAULT NULL", "DATE")
API_OBJECTS = (
    ApiObject("FUNCTION", "get_pipeline_runs", *_PAGE_ARGS),
    ApiObject("FUNCTION", "get_task_runs", *_PAGE_ARGS),
    ApiObject("FUNCTION", "get_operations", *_PAGE_ARGS),
    ApiObject("PROCEDURE", "load_pipeline_runs", *_SINCE_ARGS),
    ApiObject("PROCEDURE", "load_task_runs", *_SINCE_ARGS),
    ApiObject("PROCEDURE", "load_operations", *_SINCE_ARGS),
    ApiObject("PROCEDURE", "load_all", *_SINCE_ARGS),
    ApiObject("PROCEDURE", "backfill", "since DATE", "DATE"),
    ApiObject("PROCEDURE", "refresh", "", ""),
)
"""Everything ``core.create_eai_objects()`` makes (:data:`API_OBJECT_NAMES`, in order)."""


def api_object_statements() -> list[str]:
    """The DDL that creates the API objects and grants them to the application role, statement by statement."""
    return [o.create_sql() for o in API_OBJECTS] + [o.grant_sql() for o in API_OBJECTS]


def configuration(ref_name: str) -> dict[str, Any]:
    """The configuration callback's answer for one reference (what Snowsight uses to create the object).

    The integration: HTTPS to the Orchestra host only, allowed to use the bound key and nothing else. The key: a
    ``GENERIC_STRING`` secret, which Snowsight asks the consumer to type and creates (see the README's design
    notes for the sources). Any other name is an ``ERROR`` naming the references this app has.
    """
    name = ref_name.strip().lower()
    if name == "orchestra_eai":
        payload = {"host_ports": [API_HOST_PORT], "allowed_secrets": "LIST", "secret_references": ["ORCHESTRA_API_KEY"]}
        return {"type": "CONFIGURATION", "payload": payload}
    if name == "orchestra_api_key":
        return {"type": "CONFIGURATION", "payload": {"type": "GENERIC_STRING"}}
    known = ", ".join(r.upper() for r in REFERENCES)
    return {"type": "ERROR", "payload": {"message": f"unknown reference {ref_name!r}; this app has {known}"}}


def get_configuration(session: Any, ref_name: Any) -> str:
    """Procedure ``core.get_configuration(ref_name)``, the manifest's ``configuration_callback``."""
    return json.dumps(configuration(str(ref_name or "")))


_BINDING = {
    "ADD": ("SELECT SYSTEM$SET_REFERENCE(?, ?)", True),
    "REMOVE": ("SELECT SYSTEM$REMOVE_REFERENCE(?, ?)", True),
    "CLEAR": ("SELECT SYSTEM$REMOVE_ALL_REFERENCES(?)", False),
}
"""The register callback's operations and the system function Snowflake documents for each."""


def bound_references(sql: Sql) -> dict[str, bool]:
    """Reference name -> whether the consumer bound an object to it."""
    return {name: int(sql(references_sql(name))[0][0] or 0) > 0 for name in REFERENCES}


def _bind_step(name: str) -> str:
    what = REFERENCE_LABELS[name]
    return (
        f"bind {what}: in Snowsight, Data Products > Apps > this app > Security, or "
        f"CALL core.register_reference('{name.upper()}', 'ADD', SYSTEM$REFERENCE(...)) as the README shows"
    )


def on_register(sql: Sql, ref_name: str, operation: str, ref_or_alias: str | None) -> str:
    """The register callback: bind (ADD), unbind (REMOVE, CLEAR); once both are bound, create the API objects.

    Returns what happened and, when something is still missing, the next step. A failure creating the objects
    does not undo the binding: it is recorded where ``core.status()`` shows it, and the message says so.
    """
    name = (ref_name or "").strip().lower()
    if name not in REFERENCES:
        raise AppError(f"unknown reference {ref_name!r}; this app has {', '.join(r.upper() for r in REFERENCES)}")
    op = (operation or "").strip().upper()
    if op not in _BINDING:
        raise AppError(f"unknown operation {operation!r}: the register callback takes ADD, REMOVE or CLEAR")
    statement, with_alias = _BINDING[op]
    sql(statement, [name.upper(), ref_or_alias] if with_alias else [name.upper()])
    LOG.info("reference %s: %s", name, op)
    bound = bound_references(sql)
    missing = [r for r in SETUP_ORDER if not bound[r]]
    if op != "ADD":
        return f"{op} {name.upper()}: done. " + (
            f"The loads stop working until you {_bind_step(missing[0])}." if missing else ""
        )
    if missing:
        return f"Bound {name.upper()}. Next: {_bind_step(missing[0])}."
    try:
        created = create_api_objects(sql, bound=bound)
    except AppError as exc:
        return f"Bound {name.upper()}, but the API objects could not be created: {exc}"
    return f"Bound {name.upper()}. {created} Next: CALL core.load_all(), then CALL core.schedule_refresh('60 MINUTES')."


def register_reference(session: Any, ref_name: Any, operation: Any, ref_or_alias: Any) -> str:
    """Procedure ``core.register_reference(ref_name, operation, ref_or_alias)``, the manifest's register callback."""
    return on_register(snowpark_sql(session), str(ref_name or ""), str(operation or ""), ref_or_alias)


def create_api_objects(sql: Sql, *, bound: Mapping[str, bool] | None = None) -> str:
    """Create (or replace) every API object, then record the success; AppError naming what to bind, or what failed."""
    bound = bound_references(sql) if bound is None else bound
    missing = [r for r in SETUP_ORDER if not bound.get(r, False)]
    if missing:
        raise AppError(f"Cannot create the API objects yet: {_bind_step(missing[0])}.")
    try:
        for statement in api_object_statements():
            sql(statement)
    except Exception as exc:
        problem = redact(f"could not create the API objects: {exc}")
        LOG.error("%s", problem)
        with contextlib.suppress(Exception):
            record_status(sql, API_OBJECTS_COMPONENT, error=problem)
        raise AppError(problem) from None
    record_status(sql, API_OBJECTS_COMPONENT)
    LOG.info("created the API objects: %s", ", ".join(API_OBJECT_NAMES))
    return f"Created {', '.join(f'core.{n}' for n in API_OBJECT_NAMES)}."


def create_eai_objects(session: Any) -> str:
    """Procedure ``core.create_eai_objects()``: what the register callback runs by itself once both are bound."""
    return create_api_objects(snowpark_sql(session))


def recreate_if_bound(sql: Sql) -> str:
    """What the setup script runs on every install and upgrade: recreate the API objects when both are bound.

    An upgrade replaces the versioned schema ``core`` and the API objects with it. A failure does not fail the
    upgrade (the rest of the new version works, and the error is in ``public.app_status``, shown by
    ``core.status()`` and the page); it is never swallowed.
    """
    try:
        bound = bound_references(sql)
    except Exception as exc:
        problem = redact(f"upgrade could not read the references: {exc}")
        with contextlib.suppress(Exception):
            record_status(sql, API_OBJECTS_COMPONENT, error=problem)
        return problem
    if not all(bound.values()):
        return "references not bound yet"
    try:
        create_api_objects(sql, bound=bound)
    except AppError as exc:
        problem = f"upgrade could not recreate the API objects: {exc}"
        with contextlib.suppress(Exception):
            record_status(sql, API_OBJECTS_COMPONENT, error=problem)
        return problem
    return "recreated"


def recreate_eai_objects_if_bound(session: Any) -> str:
    """Procedure ``core.recreate_eai_objects_if_bound()`` (the setup script calls it last)."""
    return recreate_if_bound(snowpark_sql(session))


# -- the schedule ------------------------------------------------------------------------------------------------

TASK = "tasks.refresh_orchestra"
TASK_NAME = "REFRESH_ORCHESTRA"
SUSPEND_AFTER_FAILURES = 3
"""``SUSPEND_TASK_AFTER_NUM_FAILURES`` of the task, set explicitly (Snowflake's default is 10: ten hours of a
failing hourly load before anyone is told). ``core.status()`` and the page say when it happened and why."""
_SCHEDULE = re.compile(
    r"(?P<minutes>[0-9]{1,5}) +MINUTES?|USING +CRON( +[0-9A-Za-z*/,#?-]+){5} +[A-Za-z_/+-]+", re.IGNORECASE
)
MIN_STATEMENT_TIMEOUT = 5 * 60
"""Below this many seconds of ``STATEMENT_TIMEOUT_IN_SECONDS`` the refresh cannot read even a small window."""
WINDOW_RESERVE = 15 * 60.0
"""What the window in flight may still take after the budget ends (at 50 requests a minute, ~75,000 rows)."""


def parse_schedule(schedule: Any) -> str:
    """The task's SCHEDULE (``'60 MINUTES'`` or ``'USING CRON ...'``), normalised; AppError for anything else."""
    text = " ".join(str(schedule or "").split())
    match = _SCHEDULE.fullmatch(text)
    if match is None or (match.group("minutes") is not None and not 1 <= int(match.group("minutes")) <= 11520):
        raise AppError(
            f"The schedule must look like '60 MINUTES' (1 to 11520) or 'USING CRON 0 * * * * UTC', got {schedule!r}."
        )
    return f"{int(match.group('minutes'))} MINUTES" if match.group("minutes") else text


def task_sql(schedule: str) -> str:
    """The CREATE TASK of the refresh: serverless, bounded, suspended after a few failed runs.

    The clauses are in the order of Snowflake's CREATE TASK syntax; ``STATEMENT_TIMEOUT_IN_SECONDS`` is a session
    parameter set on the task, so it is the session's value during its runs whatever the account or user sets.
    """
    return (
        f"CREATE OR REPLACE TASK {TASK} USER_TASK_MANAGED_INITIAL_WAREHOUSE_SIZE = 'XSMALL' "
        f"SCHEDULE = '{schedule}' ALLOW_OVERLAPPING_EXECUTION = FALSE "
        f"STATEMENT_TIMEOUT_IN_SECONDS = {TASK_TIMEOUT_MS // 1000} "
        f"USER_TASK_TIMEOUT_MS = {TASK_TIMEOUT_MS} SUSPEND_TASK_AFTER_NUM_FAILURES = {SUSPEND_AFTER_FAILURES} "
        "COMMENT = 'Orchestra Data App: loads pipeline runs, task runs and operations' AS CALL core.refresh()"
    )


def schedule(sql: Sql, wanted: Any) -> str:
    """``core.schedule_refresh``: (re)create the task with ``wanted`` as its schedule and resume it."""
    text = parse_schedule(wanted)
    sql(task_sql(text))
    sql(f"ALTER TASK {TASK} RESUME")
    sql(f"GRANT MONITOR, OPERATE ON TASK {TASK} TO APPLICATION ROLE app_public")
    record_status(sql, TASK_COMPONENT)  # a task made now has this version's definition
    LOG.info("scheduled %s: %s", TASK, text)
    return f"Scheduled {TASK}: {text}."


def schedule_refresh(session: Any, wanted: Any = "60 MINUTES") -> str:
    """Procedure ``core.schedule_refresh(schedule)``."""
    return schedule(snowpark_sql(session), wanted)


def resume(sql: Sql) -> str:
    """``core.resume_refresh``: resume the task (after fixing what made Snowflake suspend it)."""
    if not task_rows(sql):
        raise AppError("There is no refresh task yet: CALL core.schedule_refresh('60 MINUTES').")
    sql(f"ALTER TASK {TASK} RESUME")
    LOG.info("resumed %s", TASK)
    return f"Resumed {TASK}."


def resume_refresh(session: Any) -> str:
    """Procedure ``core.resume_refresh()``."""
    return resume(snowpark_sql(session))


def upgrade_task(sql: Sql) -> str:
    """What the setup script runs on every upgrade: give an existing task this version's definition.

    A task lives in the normal schema ``tasks`` and survives upgrades with the clauses of the version that made
    it (an older one lacks the statement timeout and the suspension after failures). It is recreated with its own
    schedule and left started or suspended as it was. Nothing happens when there is no task. A failure is
    recorded (component ``task``) and returned, never raised: the upgrade must complete.
    """
    try:
        shown = task_rows(sql)
        if not shown:
            return "no task"
        _, state, current = shown[0][:3]
        text = parse_schedule(current)
        sql(task_sql(text))
        if str(state).lower() == "started":
            sql(f"ALTER TASK {TASK} RESUME")
        sql(f"GRANT MONITOR, OPERATE ON TASK {TASK} TO APPLICATION ROLE app_public")
    except Exception as exc:
        problem = redact(f"upgrade could not update the refresh task: {exc}")
        LOG.error("%s", problem)
        with contextlib.suppress(Exception):
            record_status(sql, TASK_COMPONENT, error=problem)
        return problem
    record_status(sql, TASK_COMPONENT)
    LOG.info("updated %s to this version's definition (%s, %s)", TASK, text, state)
    return f"updated {TASK}"


def upgrade_task_definition(session: Any) -> str:
    """Procedure ``core.upgrade_task_definition()`` (the setup script calls it on every install and upgrade)."""
    return upgrade_task(snowpark_sql(session))


def unschedule(sql: Sql) -> str:
    """``core.unschedule_refresh``: drop the task (the loads you CALL yourself keep working)."""
    sql(f"DROP TASK IF EXISTS {TASK}")
    LOG.info("dropped %s", TASK)
    return f"Dropped {TASK} (if it existed)."


def unschedule_refresh(session: Any) -> str:
    """Procedure ``core.unschedule_refresh()``."""
    return unschedule(snowpark_sql(session))


STATEMENT_TIMEOUT_SQL = "SHOW PARAMETERS LIKE 'STATEMENT_TIMEOUT_IN_SECONDS' IN SESSION"


def statement_timeout(sql: Sql) -> int | None:
    """The ``STATEMENT_TIMEOUT_IN_SECONDS`` this session runs under (its value column; 0 or none = no limit)."""
    rows = sql(STATEMENT_TIMEOUT_SQL)
    if not rows:
        return None
    value = int(rows[0][1] or 0)  # SHOW PARAMETERS: key, value, default, level, description, type
    return value or None


def refresh_budget(timeout_seconds: int | None) -> float:
    """The refresh's time budget under a statement timeout: it ends early enough for the window in flight.

    Raises AppError when the timeout is too short for any window (the run would be cancelled half-way every time).
    """
    limit = float(TASK_TIMEOUT_MS / 1000) if not timeout_seconds else min(TASK_TIMEOUT_MS / 1000, timeout_seconds)
    if limit < MIN_STATEMENT_TIMEOUT:
        raise AppError(
            f"STATEMENT_TIMEOUT_IN_SECONDS is {timeout_seconds} here, too short for a load (at least "
            f"{MIN_STATEMENT_TIMEOUT} s): the task sets {TASK_TIMEOUT_MS // 1000} s for itself; ask your "
            "administrator which lower value (user, account) overrides it"
        )
    return min(TASK_TIME_BUDGET, limit - min(WINDOW_RESERVE, limit / 4))


# -- the task's state --------------------------------------------------------------------------------------------

TASK_SHOW_SQL = f"SHOW TASKS LIKE '{TASK_NAME}' IN SCHEMA tasks"
TASK_SHOW_COLUMNS_SQL = 'SELECT "name", "state", "schedule" FROM TABLE(RESULT_SCAN(LAST_QUERY_ID()))'
TASK_HISTORY_SQL = (
    "SELECT state, error_code, error_message, scheduled_time, completed_time "
    f"FROM TABLE(INFORMATION_SCHEMA.TASK_HISTORY(TASK_NAME => '{TASK_NAME}', RESULT_LIMIT => 20)) "
    "ORDER BY scheduled_time DESC"
)


def task_rows(sql: Sql) -> list[tuple[Any, ...]]:
    """``(name, state, schedule)`` of the refresh task from SHOW TASKS; empty when it does not exist."""
    sql(TASK_SHOW_SQL)
    return sql(TASK_SHOW_COLUMNS_SQL)


def task_report(shown: Sequence[tuple[Any, ...]], history: Sequence[tuple[Any, ...]]) -> dict[str, Any]:
    """The task's state from SHOW TASKS (``shown``) and TASK_HISTORY (``history``, newest first).

    ``state``: ``none`` (not scheduled), ``started``, ``suspended`` or ``auto-suspended`` (Snowflake suspended it
    after ``SUSPEND_TASK_AFTER_NUM_FAILURES`` failed runs: history state ``FAILED_AND_AUTO_SUSPENDED``);
    ``running`` while a run executes; the last run, the last error and how many runs in a row failed.
    """
    if not shown:
        return {"scheduled": False, "state": "none", "schedule": None, "running": False, "last_run": None,
                "last_error": None, "failures_in_a_row": 0}  # fmt: skip
    _, state, schedule_text = shown[0][:3]
    runs = [
        {
            "state": str(r[0]),
            "error": redact(f"{r[1]}: {r[2]}" if r[1] else str(r[2])) if (r[1] or r[2]) else None,
            "scheduled_at": _iso(r[3]),
            "completed_at": _iso(r[4]),
        }
        for r in history
    ]
    finished = [r for r in runs if r["state"] not in ("SCHEDULED", "EXECUTING")]
    failures = 0
    for run in finished:
        if run["state"] not in ("FAILED", "FAILED_AND_AUTO_SUSPENDED", "CANCELLED"):
            break
        failures += 1
    errors = [r for r in finished if r["error"]]
    auto = str(state).lower() == "suspended" and bool(finished) and finished[0]["state"] == "FAILED_AND_AUTO_SUSPENDED"
    return {
        "scheduled": True,
        "state": "auto-suspended" if auto else str(state).lower(),
        "schedule": schedule_text,
        "running": any(r["state"] == "EXECUTING" for r in runs),
        "last_run": finished[0] if finished else None,
        "last_error": errors[0] if errors else None,
        "failures_in_a_row": failures,
    }


def read_task(sql: Sql) -> dict[str, Any]:
    """:func:`task_report` from the account; a probe that fails is reported, not raised."""
    try:
        shown = task_rows(sql)
        history = sql(TASK_HISTORY_SQL) if shown else []
    except Exception as exc:
        return {"scheduled": None, "state": "unknown", "error": redact(f"could not read the task: {exc}")}
    return task_report(shown, history)


def next_step(report: Mapping[str, Any]) -> str | None:
    """The one thing to do next, from a ``core.status()`` report (None when all is well)."""
    api = report["api_objects"]
    missing_refs = [name for name in SETUP_ORDER if not api["references_bound"].get(name, False)]
    if missing_refs:
        step = _bind_step(missing_refs[0])
        return step[0].upper() + step[1:] + "."
    if api["missing"]:
        error = f" (last error: {api['last_error']})" if api["last_error"] else ""
        return f"Create the API objects: CALL core.create_eai_objects(){error}."
    task = report.get("task") or {}
    loaded = [r for r in report["resources"] if r["last_load_at"]]
    if task.get("state") == "auto-suspended":
        error = (task.get("last_error") or {}).get("error") or "see TASK_HISTORY"
        return (
            f"Snowflake suspended the refresh task after {task.get('failures_in_a_row')} failed runs (last error: "
            f"{error}). Fix the cause, then CALL core.resume_refresh()."
        )
    if task.get("upgrade_error"):
        return (
            f"The refresh task kept its old definition ({task['upgrade_error']}): recreate it with "
            "CALL core.schedule_refresh('60 MINUTES') (your schedule)."
        )
    failing = [
        r
        for r in report["resources"]
        if r["failed_at"] and (not r["last_load_at"] or _aware(r["failed_at"]) > _aware(r["last_load_at"]))
    ]
    if failing:
        return f"The last load of {failing[0]['resource']} failed: {failing[0]['last_error']}"
    if task.get("state") == "none":
        schedule_step = "schedule the refresh: CALL core.schedule_refresh('60 MINUTES')."
        return f"Load once with CALL core.load_all(), then {schedule_step}" if not loaded else "S" + schedule_step[1:]
    if task.get("state") == "suspended":
        return "The refresh task is suspended: CALL core.resume_refresh() to start it again."
    return None
