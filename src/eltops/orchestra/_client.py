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
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
import orjson

from eltops import __version__
from eltops._deadline import NO_DEADLINE, Deadline
from eltops._http import ApiTransport, RateLimiter, ResponseTooLarge, RetryPolicy
from eltops.errors import ApiError, ApiResponseError, ApiStatusError, ConfigError
from eltops.orchestra import _pages, _plan
from eltops.orchestra._assets import OperationAsset, operation_assets
from eltops.orchestra._pages import Page, PageTooLarge, parse_page
from eltops.orchestra._plan import (
    DEFAULT_CONCURRENCY,
    MAX_PAGE_SIZE,
    PageQuery,
    Window,
)
from eltops.orchestra._records import Resource
from eltops.orchestra._run_models import LogTail, PipelineRunState, StartedPipeline, TaskRunState
from eltops.secrets import Secret

__all__ = ["LOCAL_CLOCK_MARGIN", "TASK_RUNS_PAGE_SIZE", "ClientRecipe", "OrchestraClient"]

log = logging.getLogger("eltops.orchestra")

RATE_LIMIT_HINT = (
    "--rate-limit N or ORCHESTRA_RATE_LIMIT=N changes it (0 = off, as for the emulator, which needs no limit)"
)
TASK_RUNS_PAGE_SIZE = 50
"""The most ``GET /pipeline_runs/{id}/task_runs`` gives per page (the spec's maximum)."""
OPERATIONS_PAGE_SIZE = 100
"""The most ``GET /operations`` gives per page (the spec's maximum)."""
DATE_RESOLUTION = timedelta(seconds=1)
"""A ``Date`` header has whole seconds: a record created in that second may be up to this much later."""
LOCAL_CLOCK_MARGIN = timedelta(minutes=5)
IN_FLIGHT_BYTES = 8_000_000
"""Pages a listing keeps in flight (requested, or fetched and not yet taken) hold at most about this much, by the
size of the last page read (one page at least, twice the concurrency at most): with records of 100 KB, eight
10 MB pages in flight and four being parsed held 250 MB in the fetch process."""
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
        self._page_bytes = 0  # the size of the last page read: how many pages may be in flight
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
        limiter = RateLimiter(rate_limit_per_minute, how_to_change=RATE_LIMIT_HINT) if rate_limit_per_minute else None
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
            auth_hint="check ORCHESTRA_API_KEY",
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
        response: httpx.Response | None = None
        try:
            # a page of more than one record that says it is over the bound is split before its body is read
            response = self._get(query, deadline, max_bytes=_pages.MAX_PAGE_BYTES if query.page_size > 1 else None)
            self._page_bytes = len(response.content)
            return parse_page(query, response.content, not_after=self._latest_plausible(response))
        except PageTooLarge as big:
            response = None  # the oversized body, if it was read, is not kept while the smaller pages are
            if query.page_size == 1:
                raise _pages.too_large_record(big) from None
            smaller = _pages.split_page(query)
            log.warning(
                "%s: %s; reading it again as %d pages of %d",
                query.describe(),
                f"{big.size / 1_000_000:.1f} MB of JSON, over the {_pages.MAX_PAGE_BYTES / 1_000_000:.0f} MB bound",
                len(smaller),
                smaller[0].page_size,
            )
            del big
            return _pages.joined(query, [self.get_page(part, deadline) for part in smaller])

    def _get(self, query: PageQuery, deadline: Deadline, *, max_bytes: int | None = None) -> httpx.Response:
        path, params = query.resource.path, query.params()
        try:
            response = self._api.request("GET", path, params=params, deadline=deadline, max_bytes=max_bytes)
        except ApiError as exc:
            raise _naming_page(exc, query) from None
        except ResponseTooLarge as big:
            size = f"{big.size / 1_000_000:.1f} MB"
            message = f"Orchestra answered {query.describe()} with {size} of JSON, more than the bound"
            raise PageTooLarge(message, query=query, size=big.size, body=b"") from None
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

    def iter_runs(self, resource: Resource, run_ids: Sequence[str]) -> Iterator[Page]:
        """Pipeline runs read by id, for records older than the listings serve (Orchestra lists task runs for 7 days).

        ``pipeline-runs``: each run's ``GET /pipeline_runs/{id}/status`` (the whole record); ``task-runs``: each
        run's ``GET /pipeline_runs/{id}/task_runs``, page by page. Each answer becomes a page of ``resource`` (checked
        and masked as a listing's). A run the API no longer knows (404) is logged and skipped.
        """
        for run_id in run_ids:
            path = f"/pipeline_runs/{quote(run_id, safe='')}"
            try:
                if resource.name == "pipeline-runs":
                    body = self._api.request("GET", f"{path}/status").content
                    self._count_request()
                    record = orjson.loads(body)
                    listing = orjson.dumps({"page": 1, "pageSize": 1, "total": 1, "results": [record]})
                    yield parse_page(PageQuery(resource, 1, 1), listing)
                    continue
                page = 1
                while True:
                    params = {"page": page, "page_size": TASK_RUNS_PAGE_SIZE}
                    body = self._api.request("GET", f"{path}/task_runs", params=params).content
                    self._count_request()
                    parsed = parse_page(PageQuery(resource, page, TASK_RUNS_PAGE_SIZE), body)
                    yield parsed
                    if not parsed.rows or page * TASK_RUNS_PAGE_SIZE >= parsed.total:
                        break
                    page += 1
            except ApiStatusError as exc:
                if exc.status_code != 404:
                    raise
                log.warning("%s: pipeline run %s is not known to Orchestra (404); left as it is", resource, run_id)
            except orjson.JSONDecodeError as exc:
                message = f"Orchestra answered GET {path}/status with a body that is not JSON: {exc}"
                raise ApiResponseError(message) from None

    def _count_request(self) -> None:
        with self._lock:
            self._requests += 1

    def _map(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        """``fn`` over ``items`` on the client's threads, results in order; in flight at most twice the concurrency,
        and fewer when pages are large (:data:`IN_FLIGHT_BYTES`)."""
        pool = self._executor()
        pending: deque[Future[R]] = deque()
        source = iter(items)
        try:
            for item in itertools.islice(source, self._in_flight()):
                pending.append(pool.submit(fn, item))
            while pending:
                result = pending.popleft().result()
                for item in itertools.islice(source, max(0, self._in_flight() - len(pending))):
                    pending.append(pool.submit(fn, item))
                yield result
        finally:
            for future in pending:
                future.cancel()
            for future in pending:
                if not future.cancelled():
                    future.exception()  # wait, so no request outlives the listing

    def _in_flight(self) -> int:
        """How many pages may be in flight: twice the concurrency, or fewer once the pages are large."""
        most = 2 * self.concurrency
        return most if not self._page_bytes else max(1, min(most, IN_FLIGHT_BYTES // self._page_bytes))

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="eltops-orchestra")
            return self._pool

    # -- one pipeline run: start, status, task runs, logs, cancel ---------------------------------------------
    # Each call takes the deadline it must keep, with no default: the runner gives most of them the job's, and the
    # cancel request and the log fetch short ones of their own, so none can leave its deadline out by accident.

    def start_pipeline(self, pipeline: str, body: Mapping[str, Any], deadline: Deadline) -> StartedPipeline:
        """``POST /pipelines/{id or alias}/start``; an unknown pipeline is an ApiStatusError that says so."""
        path = f"/pipelines/{quote(pipeline, safe='')}/start"
        try:
            answer = self._api.request_json("POST", path, json=dict(body), deadline=deadline)
        except ApiStatusError as exc:
            if exc.status_code == 404:
                raise ApiStatusError(
                    f"Orchestra knows no pipeline {pipeline!r} (HTTP 404): check the pipeline id or alias "
                    "(ORCHESTRA_PIPELINE) and that this API key's workspace holds it",
                    method=exc.method,
                    url=exc.url,
                    status_code=404,
                ) from None
            raise
        return StartedPipeline.from_api(answer)

    def run_status(self, run_id: str, deadline: Deadline) -> PipelineRunState:
        """``GET /pipeline_runs/{id}/status``."""
        answer = self._api.request_json("GET", f"/pipeline_runs/{quote(run_id, safe='')}/status", deadline=deadline)
        return PipelineRunState.from_api(answer)

    def run_task_runs(self, run_id: str, deadline: Deadline) -> tuple[TaskRunState, ...]:
        """Every task run of one pipeline run (``GET /pipeline_runs/{id}/task_runs``, page by page)."""
        path = f"/pipeline_runs/{quote(run_id, safe='')}/task_runs"
        found: list[TaskRunState] = []
        page = 1
        while True:
            params = {"page": page, "page_size": TASK_RUNS_PAGE_SIZE}
            answer = self._api.request_json("GET", path, params=params, deadline=deadline)
            if not isinstance(answer, dict) or not isinstance(answer.get("results"), list):
                raise ApiResponseError(f"Orchestra answered GET {path} without a results list")
            found.extend(TaskRunState.from_api(record) for record in answer["results"])
            total = answer.get("total")
            if not answer["results"] or not isinstance(total, int) or page * TASK_RUNS_PAGE_SIZE >= total:
                return tuple(found)
            page += 1

    def log_tail(self, run_id: str, task_run_id: str, max_bytes: int, deadline: Deadline) -> LogTail | None:
        """The last ``max_bytes`` of a task run's (last) log file, cut at a line start; None when it has none."""
        base = f"/pipeline_runs/{quote(run_id, safe='')}/task_runs/{quote(task_run_id, safe='')}/logs"
        listing = self._api.request_json("GET", base, deadline=deadline)
        names = listing.get("filenames") if isinstance(listing, dict) else None
        if not isinstance(names, list) or not names or not isinstance(names[-1], str):
            return None
        filename = names[-1]
        try:
            response = self._api.request(
                "GET",
                f"{base}/download",
                params={"filename": filename},
                headers={"Range": f"bytes=-{max_bytes + 1}"},  # one byte more: is the tail's first line whole?
                deadline=deadline,
            )
        except ApiStatusError as exc:
            if exc.status_code != 416:
                raise
            # RFC 9110 §14.1.2: a suffix longer than the file selects all of it, but a server may still refuse it
            # (416, as werkzeug's own range handling does): read the file whole and keep its tail here
            response = self._api.request("GET", f"{base}/download", params={"filename": filename}, deadline=deadline)
        data = response.content
        total = len(data)
        if response.status_code == 206:
            total = _range_total(response.headers.get("Content-Range"), len(data))
        elif len(data) > max_bytes + 1:  # a server that ignores Range: keep the tail ourselves
            data = data[-(max_bytes + 1) :]
        if total > len(data) or len(data) > max_bytes:  # something is cut: start at a whole line
            newline = data.find(b"\n") + 1
            data = data[newline:] if newline > 0 else data[-max_bytes:]
        cut = total - len(data)
        return LogTail(filename, data.decode("utf-8", errors="replace"), cut, total)

    def task_run_assets(self, task_run_id: str, deadline: Deadline) -> tuple[OperationAsset, ...]:
        """What a task run's operations say they wrote (``GET /operations?task_run_id=...``, page by page)."""
        found: list[OperationAsset] = []
        page = 1
        while True:
            params = {"task_run_id": task_run_id, "page": page, "page_size": OPERATIONS_PAGE_SIZE}
            answer = self._api.request_json("GET", "/operations", params=params, deadline=deadline)
            results = answer.get("results") if isinstance(answer, dict) else None
            found.extend(operation_assets(results))
            total = answer.get("total") if isinstance(answer, dict) else None
            if not results or not isinstance(total, int) or page * OPERATIONS_PAGE_SIZE >= total:
                return tuple(found)
            page += 1

    def cancel_run(self, run_id: str, deadline: Deadline) -> None:
        """``POST /pipeline_runs/{id}/cancel`` (answered 204)."""
        self._api.request("POST", f"/pipeline_runs/{quote(run_id, safe='')}/cancel", json={}, deadline=deadline)


def _range_total(content_range: str | None, fallback: int) -> int:
    """The complete length from ``Content-Range: bytes a-b/total``."""
    if content_range and "/" in content_range:
        total = content_range.rsplit("/", 1)[1].strip()
        if total.isdigit():
            return int(total)
    return fallback


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
    """The walk's pages (a page read again in smaller ones: those); a listing that never agrees with itself is an
    API error (exit 4)."""
    try:
        for page in pages:
            if page.parts:
                yield from page.parts
            else:
                yield page
    except _plan.ListingError as exc:
        raise ApiResponseError(str(exc)) from None
