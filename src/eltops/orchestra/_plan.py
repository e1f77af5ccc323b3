"""How Orchestra's listings are paged and windowed, and what one incremental load reads: pure Python, stdlib only.

This module is shared, byte for byte, by ``eltops orchestra load`` and the Snowflake Native App (which ships it
next to its handlers, where none of eltops' dependencies exist). So it imports nothing outside the standard
library at run time, not even the rest of eltops: the resources it is handed only need the attributes of
:class:`eltops.orchestra._records.Resource`, and its errors are :class:`PlanError` (a ``ValueError``), which the
command line reports as bad input (exit code 2).

What the API does (API-NOTES "Orchestra API" and the spec): ``page`` (from 1) and ``page_size`` (max 100); a
response ``{"page", "pageSize", "total", "results"}`` where ``total`` counts items; ``time_from`` and ``time_to``
both or neither, at most 7 days apart, the last 7 days when absent.

Reading a window whose content changes while it is paged (runs created meanwhile shift records between pages)
could skip a record, so :func:`iter_window` trusts a pass only if every page reported the same ``total`` and held
the rows that total implies (:func:`window_is_stable`); otherwise it reads the window again, and the third pass
goes page by page in order until a short page. How pages are fetched (one by one, or concurrently) is the
caller's: the walk takes a ``get_page`` function and, optionally, a way to map it over many queries.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from eltops.orchestra._records import Resource

__all__ = [
    "DEFAULT_API_URL",
    "DEFAULT_BATCH_ROWS",
    "DEFAULT_CONCURRENCY",
    "DEFAULT_RATE_LIMIT",
    "IDS_PER_REQUEST",
    "LOOKBACK",
    "MAX_PAGE_SIZE",
    "MAX_WINDOW",
    "OPEN_RUN_HORIZON",
    "STATE_TABLE",
    "WINDOW_PASSES",
    "Cursor",
    "ListingError",
    "LoadPlan",
    "LoadState",
    "PageLike",
    "PageQuery",
    "PlanError",
    "Window",
    "expected_rows",
    "group_ids_by_window",
    "iter_ids",
    "iter_window",
    "page_count",
    "plan_load",
    "rows_owed",
    "unpack_listing",
    "walk_windows",
    "window_is_stable",
]

log = logging.getLogger("eltops.orchestra")

DEFAULT_API_URL = "https://app.getorchestra.io/api/engine/public"
MAX_PAGE_SIZE = 100
MAX_WINDOW = timedelta(days=7)
DEFAULT_RATE_LIMIT = 50.0  # requests per minute: what Orchestra's own scripts stay under
DEFAULT_CONCURRENCY = 4  # parallel page requests
DEFAULT_BATCH_ROWS = 10_000  # rows per warehouse transaction
IDS_PER_REQUEST = 50  # ids per filtered request: one page, and a URL far below common limits
WINDOW_PASSES = 3
LOOKBACK = timedelta(minutes=10)
"""Each incremental load starts this long before the cursor, for records that become visible late."""
OPEN_RUN_HORIZON = timedelta(days=30)
"""Runs open for longer than this are taken as abandoned and no longer re-read."""
STATE_TABLE = "eltops_load_state"
"""One row per resource: the load cursor, written in the same transaction as the rows it covers."""


class PlanError(ValueError):
    """A request the Orchestra API would refuse (a page, page size, window or filter out of range)."""


class ListingError(ValueError):
    """A response that is not the listing the API promises (no results list, no valid total)."""


# -- requests ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """A ``time_from``/``time_to`` window (aware datetimes, at most :data:`MAX_WINDOW` wide)."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("window bounds must be timezone-aware")
        if self.end < self.start:
            raise PlanError(
                f"the time window ends ({self.end.isoformat()}) before it starts ({self.start.isoformat()})"
            )
        if self.end - self.start > MAX_WINDOW:
            raise PlanError(
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
            raise PlanError(f"the page number must be 1 or more, got {self.page}")
        if not 1 <= self.page_size <= MAX_PAGE_SIZE:
            raise PlanError(f"the page size must be between 1 and {MAX_PAGE_SIZE}, got {self.page_size}")
        unknown = sorted(set(self.filters) - set(self.resource.filters))
        if unknown:
            raise PlanError(
                f"{self.resource} has no filter {', '.join(unknown)} (it has {', '.join(self.resource.filters)})"
            )

    def at(self, page: int) -> PageQuery:
        return PageQuery(self.resource, page, self.page_size, self.window, self.filters)

    def params(self) -> dict[str, Any]:
        # page_size is the spec's name; per_page is what older docs and Orchestra's own app send
        params: dict[str, Any] = {"page": self.page, "page_size": self.page_size, "per_page": self.page_size}
        params.update(self.resource.params)
        if self.window is not None:
            params.update(self.window.params())
        params.update({k: v for k, v in self.filters.items() if v != ""})
        return params

    def describe(self) -> str:
        if self.window is not None:
            where = f"window {self.window}"
        else:
            where = "the default window" if self.resource.windowed else "the whole listing"
        extra = "".join(f", {k}={_shorten(v)}" for k, v in self.filters.items())
        return f"{self.resource} page {self.page} ({where}{extra})"


def _shorten(value: str, limit: int = 60) -> str:
    return value if len(value) <= limit else value[: limit - 3] + "..."


def unpack_listing(query: PageQuery, data: object) -> tuple[list[Any], int, int]:
    """A decoded page's ``results``, ``total`` and page size; a defect raises :class:`ListingError` naming the page.

    The page size is the one the API reports (``pageSize``), or the one asked for when it reports none.
    """
    if not isinstance(data, dict):
        raise ListingError(f"Orchestra answered {query.describe()} with JSON that is not an object")
    results, total = data.get("results"), data.get("total")
    if not isinstance(results, list):
        raise ListingError(f"Orchestra answered {query.describe()} without a results list")
    if not isinstance(total, int) or isinstance(total, bool) or total < 0:
        raise ListingError(f"Orchestra answered {query.describe()} without a valid total (got {total!r})")
    page_size = data.get("pageSize")
    if not isinstance(page_size, int) or isinstance(page_size, bool) or page_size < 1:
        page_size = query.page_size
    return results, total, page_size


# -- walking a window -------------------------------------------------------------------------------------


class PageLike(Protocol):
    """What the walk needs of a fetched page (the CLI's Arrow page and the app's row page both have it)."""

    @property
    def query(self) -> PageQuery: ...

    @property
    def total(self) -> int: ...

    @property
    def page_size(self) -> int: ...

    @property
    def rows(self) -> int: ...


P = TypeVar("P", bound=PageLike)
Q = TypeVar("Q")
R = TypeVar("R")
MapPages = Callable[[Callable[[PageQuery], P], Iterable[PageQuery]], Iterable[P]]
"""``(get_page, queries) -> pages in the order of the queries``: one by one, or on a pool of threads."""


def _one_by_one(fn: Callable[[Q], R], items: Iterable[Q]) -> Iterator[R]:
    return (fn(item) for item in items)


def page_count(first: PageLike) -> int:
    """How many pages the listing has, by what its first page says (at least 1)."""
    return max(1, math.ceil(first.total / first.page_size))


def expected_rows(page: PageLike, pages: int) -> int:
    """The rows ``page`` holds when the listing has ``pages`` pages and does not change."""
    if page.query.page < pages:
        return page.page_size
    return max(0, page.total - (pages - 1) * page.page_size)


def window_is_stable(first: PageLike, page: PageLike) -> bool:
    """Whether ``page`` agrees with the window's ``first`` page: the same total, and the rows that total implies."""
    return page.total == first.total and page.rows == expected_rows(page, page_count(first))


def iter_window(
    get_page: Callable[[PageQuery], P],
    resource: Resource,
    window: Window | None,
    filters: Mapping[str, str] | None = None,
    *,
    page_size: int = MAX_PAGE_SIZE,
    map_pages: MapPages[P] | None = None,
) -> Iterator[P]:
    """Every page of one window; the window is complete when this ends.

    Page 1 first, then pages 2..N (through ``map_pages``, one by one by default). A pass whose pages disagree
    (the listing changed under it) is followed by another; the last pass walks page after page until a short
    one. Records may then be yielded twice, which a merge on ``id`` absorbs. Errors of ``get_page`` propagate.
    """
    fetch: MapPages[P] = map_pages or _one_by_one
    first_query = PageQuery(resource, 1, page_size, window, dict(filters or {}))
    for attempt in range(1, WINDOW_PASSES + 1):
        first = get_page(first_query)
        yield first
        if attempt == WINDOW_PASSES:
            yield from _walk_in_order(get_page, first)
            return
        stable = window_is_stable(first, first)
        totals = {first.total}
        for page in fetch(get_page, (first_query.at(n) for n in range(2, page_count(first) + 1))):
            totals.add(page.total)
            stable = stable and window_is_stable(first, page)
            yield page
        if stable:
            return
        log.warning(
            "%s changed while it was being read (totals seen: %s); reading it again",
            first_query.describe().replace(" page 1", ""),
            ", ".join(str(t) for t in sorted(totals)),
        )


def _walk_in_order(get_page: Callable[[PageQuery], P], first: P) -> Iterator[P]:
    """Page after page until a short or empty one (immune to records added at either end).

    Each answer must hold the rows its own ``total`` promises for it: records added while the window is walked
    only push records onto later pages, so a page that holds fewer (``results: []`` on page 2 while ``total``
    says 250) means the API is losing records, and the window fails with :class:`ListingError` rather than
    passing as complete with rows missing.
    """
    page = first
    while True:
        owed = rows_owed(page)
        if page.rows < owed:
            raise ListingError(
                f"Orchestra answered {page.query.describe()} with {page.rows} records where its total of "
                f"{page.total} says {owed}, after reading the window {WINDOW_PASSES} times: the window is not "
                "complete, so the load stops here and its cursor does not move past it (try again later; if "
                "it persists, the API is losing records)"
            )
        if page.rows < page.page_size:
            return
        page = get_page(page.query.at(page.query.page + 1))
        if page.rows:
            yield page


def rows_owed(page: PageLike) -> int:
    """The rows ``page`` must hold by its own ``total`` (a full page, the rest on the last page, 0 past it)."""
    remaining = page.total - (page.query.page - 1) * page.page_size
    return max(0, min(page.page_size, remaining))


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


def iter_ids(
    get_page: Callable[[PageQuery], P],
    resource: Resource,
    records: Sequence[tuple[str, datetime]],
    *,
    map_pages: MapPages[P] | None = None,
) -> Iterator[P]:
    """Re-read records by id (each with its creation time, so every request has a window that holds it)."""
    if resource.id_filter is None or not records:
        return
    for window, ids in group_ids_by_window(records):
        filters = {resource.id_filter: ",".join(ids)}
        yield from iter_window(get_page, resource, window, filters, map_pages=map_pages)


# -- planning a load --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadState:
    """Where the last load of one resource got to.

    ``cursor`` is the newest creation time among records of fully read windows (an API timestamp, never the
    local clock); the next load reads from a little before it. None: never loaded.
    """

    cursor: datetime | None = None


@dataclass(frozen=True)
class LoadPlan:
    """What one load of one resource reads: explicit windows and the open records to re-read.

    A window of None would be the API's default; :func:`plan_load` never plans one (a first load reads the last
    7 days with ``time_from``/``time_to``).
    """

    resource: Resource
    windows: tuple[Window | None, ...]
    reopen: tuple[tuple[str, datetime], ...]
    start_cursor: datetime | None
    aged: tuple[tuple[str, datetime], ...] = ()
    """Those of ``reopen`` created more than :data:`MAX_WINDOW` ago: Orchestra lists task runs for 7 days only
    (2026-10), so a loader that can should read them by id (their pipeline runs' ``/status`` and ``/task_runs``)."""
    aged_runs: tuple[str, ...] = ()
    """The pipeline runs whose by-id reads cover :attr:`aged` (filled in by the loader, which knows the parents)."""

    def describe(self) -> str:
        if not self.resource.windowed:
            reading = "the whole listing (it has no time filter)"
        elif self.windows == (None,):
            reading = "the API's default window"
        else:
            first = self.windows[0]
            assert first is not None
            count = len(self.windows)
            reading = f"from {first.start.isoformat()} ({count} window{'s' if count != 1 else ''})"
        if self.reopen:
            reading += f", and {len(self.reopen)} run{'s' if len(self.reopen) != 1 else ''} open at the last load"
        if self.aged:
            reading += f" ({len(self.aged)} older than the listings serve, read by id)"
        return reading


class Cursor:
    """The load cursor, which only moves past complete windows: what may be saved with a batch.

    Start it at the plan's :attr:`LoadPlan.start_cursor`. While a window is read, :meth:`saw` is told each page's
    newest window-column value; :meth:`window_done` says every page of the window has been read (with the
    window's newest value when the pages were seen elsewhere, as a fetch process reports it), and only then may
    the cursor move: to that newest value, if it is later. :attr:`value` is the cursor a batch may be saved with
    when it holds every page read so far: a failure at any moment then loses only work the next load redoes.
    Pages re-read by id belong to no window and are not shown to it.
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._value = start
        self._window: datetime | None = None

    @property
    def value(self) -> datetime | None:
        """The newest value among complete windows (or the start cursor, if later); None: nothing yet."""
        return self._value

    @property
    def window_newest(self) -> datetime | None:
        """The newest value seen so far in the window being read (None: none yet)."""
        return self._window

    def saw(self, newest: datetime | None) -> None:
        """A page of the window being read, with its newest value (None: no record has one)."""
        if newest is not None and (self._window is None or newest > self._window):
            self._window = newest

    def window_done(self, newest: datetime | None = None) -> bool:
        """The window being read is complete (``newest``: its newest value, if read elsewhere); True if it moved."""
        self.saw(newest)
        newest, self._window = self._window, None
        if newest is not None and (self._value is None or newest > self._value):
            self._value = newest
            return True
        return False


def plan_load(
    resource: Resource,
    state: LoadState,
    open_records: Sequence[tuple[str, datetime]],
    *,
    now: datetime,
    since: datetime | None = None,
    full_refresh: bool = False,
) -> LoadPlan:
    """Decide what to read (pure: state and clock in, plan out).

    A saved cursor later than ``now`` (written before cursors were bounded by the API's clock) cannot say what
    was read: the load then reads the last 7 days again, and the cursor it saves replaces that one.
    """
    cursor = None if full_refresh else state.cursor
    if not resource.windowed:  # no time filter: every load reads the whole listing (nothing to re-read by id)
        return LoadPlan(resource, (None,), (), start_cursor=cursor)
    if cursor is not None and cursor > now:
        log.warning(
            "%s: the saved load cursor %s is later than now (%s); reading the last 7 days again",
            resource,
            cursor.isoformat(),
            now.isoformat(),
        )
        cursor = now - MAX_WINDOW + LOOKBACK
    if cursor is not None:
        start = min(cursor - LOOKBACK, now)
        windows: tuple[Window | None, ...] = tuple(walk_windows(max(start, since) if since else start, now))
    elif since is not None:
        windows = tuple(walk_windows(since, now))
    else:
        # the last 7 days, sent explicitly: the API's default window is Orchestra's to change (and may be shorter)
        windows = tuple(walk_windows(now - MAX_WINDOW, now))
    first = windows[0]
    covered_from = first.start if first is not None else now - MAX_WINDOW
    # open runs older than the listings serve (7 days) are re-read even inside a window: the window may not serve them
    aged_before = now - MAX_WINDOW
    reopen = tuple(
        (record_id, created)
        for record_id, created in open_records
        if (created < covered_from or created <= aged_before) and created > now - OPEN_RUN_HORIZON
    )
    aged = tuple(r for r in reopen if r[1] <= aged_before)
    return LoadPlan(resource, windows, reopen, start_cursor=cursor, aged=aged)
