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
    "API_URL",
    "AppError",
    "HttpResponse",
    "OrchestraApi",
    "Page",
    "RetryPolicy",
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
    "parse_since",
    "record_status",
    "references_sql",
    "refresh",
    "run_loads",
    "status",
    "status_report",
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
                    raise AppError(problem)
                retry_after = next((v for k, v in response.headers.items() if k.lower() == "retry-after"), None)
            failures += 1
            if failures >= self.retry.attempts:
                raise AppError(f"{problem} (gave up after {failures} attempts)")
            self.retries += 1
            self._sleep(_retry.retry_wait(self.retry, failures, retry_after).seconds)

    def get_json(self, query: _plan.PageQuery) -> Any:
        """One page as decoded JSON, exactly as the API sent it (what ``core.get_*`` returns)."""
        body = self.get_body(query)
        try:
            return json.loads(body)
        except ValueError as exc:
            raise AppError(f"Orchestra answered {query.describe()} with a body that is not JSON: {exc}") from None

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
            raise AppError(f"Orchestra answered {query.describe()} with a bad record: {exc}") from None
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
    for window in plan.windows:
        if deadline is not None and clock() >= deadline:
            break
        read.append(window)
        for page in api.iter_window(resource, window):
            take(page)
            cursor.saw(page.newest())
        cursor.window_done()
        batch.flush(cursor.value)
    if batch.rows:  # open runs re-read, but the deadline came before any window: commit them (same cursor)
        batch.flush(cursor.value)
    first, last = plan.windows[0], (read or plan.windows)[-1]
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
    return OrchestraApi(API_URL, _secret(), rate_limit_per_minute=RATE_LIMIT_PER_MINUTE)


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
            problem = str(exc) if isinstance(exc, AppError) else f"{type(exc).__name__}: {exc}"
            with contextlib.suppress(Exception):  # recording must never hide the error itself
                record_status(sql, resource.name, error=problem)
            raise
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
    return run_loads(snowpark_sql(session), _api, _records.RESOURCES, budget=TASK_TIME_BUDGET, clock=MONOTONIC)


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


def status_report(sql: Sql, *, bound: Mapping[str, bool], existing: Sequence[str]) -> dict[str, Any]:
    """What ``core.status()`` returns, from the status and state tables and what the probes found.

    ``bound``: reference name -> whether the consumer bound it; ``existing``: the functions and procedures
    found in ``core``. ``ready`` is true when both references are bound and every API object exists.
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
    return {
        "ready": all(bound.get(name, False) for name in REFERENCES) and not missing,
        "api_objects": {
            "references_bound": {name: bool(bound.get(name, False)) for name in REFERENCES},
            "missing": missing,
            "created_at": _iso(api[1]) if api else None,
            "last_error": api[4] if api else None,
            "failed_at": _iso(api[5]) if api else None,
        },
        "resources": resources,
    }


API_OBJECTS_SQL = (
    "SELECT LOWER(function_name) FROM information_schema.functions WHERE function_schema = 'CORE' "
    "UNION SELECT LOWER(procedure_name) FROM information_schema.procedures WHERE procedure_schema = 'CORE'"
)


def references_sql(name: str) -> str:
    """How many objects are bound to a reference (names come from :data:`REFERENCES`, never from input)."""
    return f"SELECT ARRAY_SIZE(PARSE_JSON(SYSTEM$GET_ALL_REFERENCES('{name.upper()}')))"


def status(session: Any) -> Any:
    """Procedure ``core.status()``: see :func:`status_report` (the probes need a real account)."""
    sql = snowpark_sql(session)
    bound = {name: int(sql(references_sql(name))[0][0] or 0) > 0 for name in REFERENCES}
    existing = [str(r[0]) for r in sql(API_OBJECTS_SQL)]
    return status_report(sql, bound=bound, existing=existing)
