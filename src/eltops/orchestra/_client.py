"""The Orchestra public API client: one page, or every page of a time window, fetched concurrently.

What the API does (API-NOTES "Orchestra API" and the spec): Bearer auth; ``page`` (from 1) and ``page_size``
(max 100); a response ``{"page", "pageSize", "total", "results"}`` where ``total`` counts items; ``time_from`` and
``time_to`` both or neither, at most 7 days apart, the last 7 days when absent.

Reading a window whose content changes while it is paged (runs created meanwhile shift records between pages)
could skip a record, so :meth:`OrchestraClient.iter_window` trusts a pass only if every page reported the same
``total`` and held the rows that total implies; otherwise it reads the window again, and the third pass goes page
by page in order until a short page.
"""

from __future__ import annotations

import itertools
import logging
import math
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

import httpx
import orjson
import pyarrow as pa

from eltops import __version__
from eltops._deadline import NO_DEADLINE, Deadline
from eltops._http import ApiTransport, RateLimiter, RetryPolicy
from eltops.errors import ApiResponseError, ConfigError
from eltops.orchestra._records import RecordError, Resource, page_to_arrow
from eltops.secrets import Secret

__all__ = [
    "DEFAULT_API_URL",
    "MAX_PAGE_SIZE",
    "MAX_WINDOW",
    "OrchestraClient",
    "Page",
    "PageQuery",
    "Window",
    "parse_page",
    "walk_windows",
]

log = logging.getLogger("eltops.orchestra")

DEFAULT_API_URL = "https://app.getorchestra.io/api/engine/public"
MAX_PAGE_SIZE = 100
MAX_WINDOW = timedelta(days=7)
DEFAULT_CONCURRENCY = 4
IDS_PER_REQUEST = 50  # ids per filtered request: one page, and a URL far below common limits
WINDOW_PASSES = 3

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Window:
    """A ``time_from``/``time_to`` window (aware datetimes, at most :data:`MAX_WINDOW` wide)."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("window bounds must be timezone-aware")
        if self.end < self.start:
            raise ConfigError(
                f"the time window ends ({self.end.isoformat()}) before it starts ({self.start.isoformat()})"
            )
        if self.end - self.start > MAX_WINDOW:
            raise ConfigError(
                f"the time window {self.start.isoformat()} to {self.end.isoformat()} is wider than the 7 days "
                "the Orchestra API allows"
            )

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

    resource: Resource
    page: int = 1
    page_size: int = MAX_PAGE_SIZE
    window: Window | None = None  # None: the API's default (the last 7 days)
    filters: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.page < 1:
            raise ConfigError(f"the page number must be 1 or more, got {self.page}")
        if not 1 <= self.page_size <= MAX_PAGE_SIZE:
            raise ConfigError(f"the page size must be between 1 and {MAX_PAGE_SIZE}, got {self.page_size}")
        unknown = sorted(set(self.filters) - set(self.resource.filters))
        if unknown:
            raise ConfigError(
                f"{self.resource} has no filter {', '.join(unknown)} (it has {', '.join(self.resource.filters)})"
            )

    def at(self, page: int) -> PageQuery:
        return PageQuery(self.resource, page, self.page_size, self.window, self.filters)

    def params(self) -> dict[str, Any]:
        # page_size is the spec's name; per_page is what older docs and Orchestra's own app send
        params: dict[str, Any] = {"page": self.page, "page_size": self.page_size, "per_page": self.page_size}
        if self.window is not None:
            params.update(self.window.params())
        params.update({k: v for k, v in self.filters.items() if v != ""})
        return params

    def describe(self) -> str:
        where = f"window {self.window}" if self.window is not None else "the default window"
        extra = "".join(f", {k}={_shorten(v)}" for k, v in self.filters.items())
        return f"{self.resource} page {self.page} ({where}{extra})"


def _shorten(value: str, limit: int = 60) -> str:
    return value if len(value) <= limit else value[: limit - 3] + "..."


@dataclass(frozen=True)
class Page:
    """One parsed page: the query that fetched it, what the API said about the listing, and the records."""

    query: PageQuery
    total: int
    page_size: int
    records: pa.Table

    @property
    def rows(self) -> int:
        return int(self.records.num_rows)


def parse_page(query: PageQuery, body: bytes) -> Page:
    """Decode and check one response body; any defect raises ``ApiResponseError`` naming the resource and page."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ApiResponseError(f"Orchestra answered {query.describe()} with a body that is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ApiResponseError(f"Orchestra answered {query.describe()} with JSON that is not an object")
    results, total = data.get("results"), data.get("total")
    if not isinstance(results, list):
        raise ApiResponseError(f"Orchestra answered {query.describe()} without a results list")
    if not isinstance(total, int) or isinstance(total, bool) or total < 0:
        raise ApiResponseError(f"Orchestra answered {query.describe()} without a valid total (got {total!r})")
    page_size = data.get("pageSize")
    if not isinstance(page_size, int) or isinstance(page_size, bool) or page_size < 1:
        page_size = query.page_size
    try:
        records = page_to_arrow(query.resource, results)
    except RecordError as exc:
        raise ApiResponseError(f"Orchestra answered {query.describe()} with a bad record: {exc}") from None
    return Page(query=query, total=total, page_size=page_size, records=records)


class OrchestraClient:
    """Orchestra list endpoints over an :class:`~eltops._http.ApiTransport` (retries, rate limit, masking)."""

    def __init__(self, transport: ApiTransport, *, concurrency: int = DEFAULT_CONCURRENCY) -> None:
        if concurrency < 1:
            raise ConfigError(f"the concurrency must be 1 or more, got {concurrency}")
        self._api = transport
        self.concurrency = concurrency
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._requests = 0

    @classmethod
    def create(
        cls,
        *,
        api_url: str,
        api_key: Secret,
        rate_limit_per_minute: float | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy | None = None,
    ) -> OrchestraClient:
        limiter = RateLimiter(rate_limit_per_minute) if rate_limit_per_minute else None
        api = ApiTransport(
            base_url=api_url,
            headers={
                "Authorization": f"Bearer {api_key.reveal()}",
                "Accept": "application/json",
                "User-Agent": f"eltops/{__version__}",
            },
            transport=transport,
            retry=retry,
            rate_limiter=limiter,
            service="Orchestra",
        )
        return cls(api, concurrency=concurrency)

    @property
    def requests(self) -> int:
        """Requests answered successfully so far (retries not counted)."""
        return self._requests

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._api.close()

    def __enter__(self) -> OrchestraClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- single requests ------------------------------------------------------------------------------------

    def get_body(self, query: PageQuery, deadline: Deadline = NO_DEADLINE) -> bytes:
        """The raw body of one page (what ``eltops orchestra get`` prints)."""
        response = self._api.request("GET", query.resource.path, params=query.params(), deadline=deadline)
        with self._lock:
            self._requests += 1
        return response.content

    def get_page(self, query: PageQuery, deadline: Deadline = NO_DEADLINE) -> Page:
        """One page, parsed and checked."""
        return parse_page(query, self.get_body(query, deadline))

    # -- whole listings ---------------------------------------------------------------------------------------

    def iter_window(
        self,
        resource: Resource,
        window: Window | None,
        filters: Mapping[str, str] | None = None,
        *,
        page_size: int = MAX_PAGE_SIZE,
    ) -> Iterator[Page]:
        """Every page of one window, pages 2.. fetched concurrently; the window is complete when this ends.

        A pass whose pages disagree (the listing changed under it) is followed by another; records may then
        be yielded twice, which the loader's merge on ``id`` absorbs.
        """
        first_query = PageQuery(resource, 1, page_size, window, dict(filters or {}))
        for attempt in range(1, WINDOW_PASSES + 1):
            first = self.get_page(first_query)
            yield first
            if attempt == WINDOW_PASSES:
                yield from self._walk_in_order(first)
                return
            size = first.page_size
            pages = max(1, math.ceil(first.total / size))
            stable = _expected_rows(first, pages) == first.rows
            totals = {first.total}
            for page in self._map(self.get_page, (first_query.at(n) for n in range(2, pages + 1))):
                totals.add(page.total)
                stable = stable and page.rows == _expected_rows(page, pages)
                yield page
            if stable and len(totals) == 1:
                return
            log.warning(
                "%s changed while it was being read (totals seen: %s); reading it again",
                first_query.describe().replace(" page 1", ""),
                ", ".join(str(t) for t in sorted(totals)),
            )

    def _walk_in_order(self, first: Page) -> Iterator[Page]:
        """Page after page until a short or empty one (immune to records added at either end)."""
        page = first
        while page.rows >= page.page_size:
            page = self.get_page(page.query.at(page.query.page + 1))
            if page.rows == 0:
                return
            yield page

    def iter_ids(self, resource: Resource, records: Sequence[tuple[str, datetime]]) -> Iterator[Page]:
        """Re-read records by id (each with its creation time, so every request has a window that holds it)."""
        if resource.id_filter is None or not records:
            return
        for window, ids in group_ids_by_window(records):
            filters = {resource.id_filter: ",".join(ids)}
            yield from self.iter_window(resource, window, filters)

    def _map(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        """``fn`` over ``items`` on the client's threads, results in order, at most twice the concurrency in flight."""
        pool = self._executor()
        pending: deque[Future[R]] = deque()
        source = iter(items)
        try:
            for item in itertools.islice(source, 2 * self.concurrency):
                pending.append(pool.submit(fn, item))
            while pending:
                result = pending.popleft().result()
                for item in itertools.islice(source, 1):
                    pending.append(pool.submit(fn, item))
                yield result
        finally:
            for future in pending:
                future.cancel()
            for future in pending:
                if not future.cancelled():
                    future.exception()  # wait, so no request outlives the listing

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="eltops-orchestra")
            return self._pool


def _expected_rows(page: Page, pages: int) -> int:
    if page.query.page < pages:
        return page.page_size
    return max(0, page.total - (pages - 1) * page.page_size)


def group_ids_by_window(records: Sequence[tuple[str, datetime]]) -> list[tuple[Window, list[str]]]:
    """Ids grouped so each group's creation times fit one 7-day window, at most :data:`IDS_PER_REQUEST` each."""
    ordered = sorted(records, key=lambda r: r[1])
    groups: list[tuple[Window, list[str]]] = []
    for record_id, created in ordered:
        if groups and created <= groups[-1][0].end and len(groups[-1][1]) < IDS_PER_REQUEST:
            groups[-1][1].append(record_id)
        else:
            start = created - timedelta(seconds=1)
            groups.append((Window(start, start + MAX_WINDOW), [record_id]))
    return groups
