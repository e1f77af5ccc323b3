"""The Orchestra public API client: one page, or every page of a time window, fetched concurrently.

What the API does (API-NOTES "Orchestra API" and the spec): Bearer auth; paging, windows and the listing's shape
as :mod:`eltops.orchestra._plan` describes them. The walk over a window (and its rule for a listing that changes
while it is read) is :func:`eltops.orchestra._plan.iter_window`, shared with the Snowflake Native App; this client
gives it HTTP through :class:`~eltops._http.ApiTransport` and fetches pages 2.. on a pool of threads.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import TypeVar

import httpx

from eltops import __version__
from eltops._deadline import NO_DEADLINE, Deadline
from eltops._http import ApiTransport, RateLimiter, RetryPolicy
from eltops.errors import ApiError, ApiResponseError, ConfigError
from eltops.orchestra import _plan
from eltops.orchestra._pages import Page, PageBatch, parse_page
from eltops.orchestra._plan import (
    DEFAULT_API_URL,
    IDS_PER_REQUEST,
    MAX_PAGE_SIZE,
    MAX_WINDOW,
    WINDOW_PASSES,
    PageQuery,
    Window,
    group_ids_by_window,
    walk_windows,
)
from eltops.orchestra._records import Resource
from eltops.secrets import Secret

__all__ = [  # the planning names are _plan's and the page types _pages', re-exported here for existing imports
    "DEFAULT_API_URL",
    "DEFAULT_CONCURRENCY",
    "IDS_PER_REQUEST",
    "LOCAL_CLOCK_MARGIN",
    "MAX_PAGE_SIZE",
    "MAX_WINDOW",
    "WINDOW_PASSES",
    "ClientRecipe",
    "OrchestraClient",
    "Page",
    "PageBatch",
    "PageQuery",
    "Window",
    "group_ids_by_window",
    "parse_page",
    "walk_windows",
]

log = logging.getLogger("eltops.orchestra")

DEFAULT_CONCURRENCY = 4
DATE_RESOLUTION = timedelta(seconds=1)
"""A ``Date`` header has whole seconds: a record created in that second may be up to this much later."""
LOCAL_CLOCK_MARGIN = timedelta(minutes=5)
"""How far this machine's clock may lag the API's before a timestamp counts as from the future.

Both bounds stay under the load's look-back (:data:`~eltops.orchestra._plan.LOOKBACK`, 10 minutes), so a cursor
at the bound never skips a record created before the next load's start."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class ClientRecipe:
    """What :meth:`OrchestraClient.create` was given, so another process can build the same client.

    Pickled only onto the pipe to eltops' own fetch process (:mod:`eltops.orchestra._fetch`); the key travels as
    its value there and is a :class:`~eltops.secrets.Secret` again (masked in that process too) on arrival.
    """

    api_url: str
    api_key: Secret
    rate_limit_per_minute: float | None
    concurrency: int
    retry: RetryPolicy | None

    def create(self) -> OrchestraClient:
        return OrchestraClient.create(
            api_url=self.api_url,
            api_key=self.api_key,
            rate_limit_per_minute=self.rate_limit_per_minute,
            concurrency=self.concurrency,
            retry=self.retry,
        )

    def __reduce__(self) -> tuple[object, ...]:
        fields = (self.api_url, self.api_key.reveal(), self.rate_limit_per_minute, self.concurrency, self.retry)
        return (_recipe, fields)


def _recipe(
    api_url: str, api_key: str, rate_limit_per_minute: float | None, concurrency: int, retry: RetryPolicy | None
) -> ClientRecipe:
    return ClientRecipe(api_url, Secret(api_key), rate_limit_per_minute, concurrency, retry)


class OrchestraClient:
    """Orchestra list endpoints over an :class:`~eltops._http.ApiTransport` (retries, rate limit, masking)."""

    def __init__(
        self,
        transport: ApiTransport,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        recipe: ClientRecipe | None = None,
        wall_clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        """``wall_clock``: this machine's UTC time, the bound on timestamps when the API sends no ``Date``."""
        if concurrency < 1:
            raise ConfigError(f"the concurrency must be 1 or more, got {concurrency}")
        self._api = transport
        self.concurrency = concurrency
        self.recipe = recipe
        """How to build this client again elsewhere; None when it was given a transport (tests, in-process apps)."""
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._requests = 0
        self._wall_clock = wall_clock

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
        recipe = None
        if transport is None:
            recipe = ClientRecipe(api_url, api_key, rate_limit_per_minute, concurrency, retry)
        return cls(api, concurrency=concurrency, recipe=recipe)

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
        """The raw body of one page (what ``eltops orchestra get`` prints); an API error names resource and page."""
        return self._get(query, deadline).content

    def get_page(self, query: PageQuery, deadline: Deadline = NO_DEADLINE) -> Page:
        """One page, checked (envelope, ids, window column) and kept as the bytes the API sent.

        A window timestamp later than the API's own clock (its ``Date`` header, else this machine's clock plus
        :data:`LOCAL_CLOCK_MARGIN`) is kept in the page but not in its ``newest``: it never becomes the cursor.
        """
        response = self._get(query, deadline)
        return parse_page(query, response.content, not_after=self._latest_plausible(response))

    def _get(self, query: PageQuery, deadline: Deadline) -> httpx.Response:
        try:
            response = self._api.request("GET", query.resource.path, params=query.params(), deadline=deadline)
        except ApiError as exc:
            raise _naming_page(exc, query) from None
        with self._lock:
            self._requests += 1
        return response

    def _latest_plausible(self, response: httpx.Response) -> tuple[datetime, str]:
        """The latest creation time this answer can hold, and whose clock says so."""
        try:
            dated = parsedate_to_datetime(response.headers.get("Date", ""))
        except (TypeError, ValueError):
            dated = None
        if dated is not None and dated.tzinfo is not None:
            return dated + DATE_RESOLUTION, "the API's clock (its Date header)"
        return self._wall_clock() + LOCAL_CLOCK_MARGIN, "this machine's clock"

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

        The walk and its stability rule are :func:`eltops.orchestra._plan.iter_window`'s: a pass whose pages
        disagree (the listing changed under it) is followed by another; records may then be yielded twice, which
        the loader's merge on ``id`` absorbs.
        """
        return _listing(
            _plan.iter_window(self.get_page, resource, window, filters, page_size=page_size, map_pages=self._map)
        )

    def iter_ids(self, resource: Resource, records: Sequence[tuple[str, datetime]]) -> Iterator[Page]:
        """Re-read records by id (each with its creation time, so every request has a window that holds it)."""
        return _listing(_plan.iter_ids(self.get_page, resource, records, map_pages=self._map))

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


def _naming_page(exc: ApiError, query: PageQuery) -> ApiError:
    """The same error, its message prefixed with the page it was reading (resource, page, window, filters)."""
    return type(exc)(
        f"reading {query.describe()}: {exc}",
        method=exc.method,
        url=exc.url,
        status_code=exc.status_code,
        api_code=exc.api_code,
    )


def _listing(pages: Iterator[Page]) -> Iterator[Page]:
    """The walk's pages; a listing that never agrees with itself is an API error (exit 4)."""
    try:
        yield from pages
    except _plan.ListingError as exc:
        raise ApiResponseError(str(exc)) from None
