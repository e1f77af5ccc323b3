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
from datetime import datetime
from typing import TypeVar

import httpx

from eltops import __version__
from eltops._deadline import NO_DEADLINE, Deadline
from eltops._http import ApiTransport, RateLimiter, RetryPolicy
from eltops.errors import ConfigError
from eltops.orchestra import _plan
from eltops.orchestra._pages import Page, PageBatch, parse_page
from eltops.orchestra._plan import (
    DEFAULT_API_URL,
    DEFAULT_CONCURRENCY,
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
    ) -> None:
        if concurrency < 1:
            raise ConfigError(f"the concurrency must be 1 or more, got {concurrency}")
        self._api = transport
        self.concurrency = concurrency
        self.recipe = recipe
        """How to build this client again elsewhere; None when it was given a transport (tests, in-process apps)."""
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
        """The raw body of one page (what ``eltops orchestra get`` prints)."""
        response = self._api.request("GET", query.resource.path, params=query.params(), deadline=deadline)
        with self._lock:
            self._requests += 1
        return response.content

    def get_page(self, query: PageQuery, deadline: Deadline = NO_DEADLINE) -> Page:
        """One page, checked (envelope, ids, window column) and kept as the bytes the API sent."""
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

        The walk and its stability rule are :func:`eltops.orchestra._plan.iter_window`'s: a pass whose pages
        disagree (the listing changed under it) is followed by another; records may then be yielded twice, which
        the loader's merge on ``id`` absorbs.
        """
        return _plan.iter_window(self.get_page, resource, window, filters, page_size=page_size, map_pages=self._map)

    def iter_ids(self, resource: Resource, records: Sequence[tuple[str, datetime]]) -> Iterator[Page]:
        """Re-read records by id (each with its creation time, so every request has a window that holds it)."""
        return _plan.iter_ids(self.get_page, resource, records, map_pages=self._map)

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
