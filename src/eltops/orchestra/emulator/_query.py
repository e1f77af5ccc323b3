"""The list endpoints' query parameters: validation (FastAPI-shaped 422 details) and index selection.

A request becomes a ``ListQuery``; ``Selector.select`` turns it into a ``Selection``: the matching record
indices, newest first, as a few lazy segments (``range`` objects for runs of consecutive matches, arrays of
indices where a filter or an uneven timestamp had to be checked one record at a time).
"""

from __future__ import annotations

import threading
from array import array
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from eltops.orchestra.emulator._generate import ENVIRONMENT_KIND, PIPELINE_KIND, Dataset, to_micros
from eltops.orchestra.emulator._model import (
    INTEGRATIONS,
    MAX_WINDOW_DAYS,
    OPERATION_STATUSES,
    OPERATION_TYPES,
    PIPELINE_RUN_STATUSES,
    TASK_RUN_STATUSES,
    Resource,
)

ErrorDetail = dict[str, Any]
_NEVER = frozenset[int]()


@dataclass(frozen=True, slots=True)
class Filters:
    """The filters of one request, normalised (None = not filtering on that field)."""

    statuses: frozenset[str] | None = None
    pipelines: frozenset[int] | None = None  # pipeline definition indices
    environments: frozenset[int] | None = None
    integrations: frozenset[str] | None = None
    operation_types: frozenset[str] | None = None
    external_id: str | None = None
    ids: frozenset[int] | None = None  # record indices named by an id filter

    @property
    def any(self) -> bool:
        return any(
            value is not None
            for value in (
                self.statuses,
                self.pipelines,
                self.environments,
                self.integrations,
                self.operation_types,
                self.external_id,
                self.ids,
            )
        )


@dataclass(frozen=True, slots=True)
class ListQuery:
    resource: Resource
    page: int
    page_size: int
    time_from: int  # microseconds, inclusive
    time_to: int  # microseconds, inclusive
    filters: Filters


class QueryError(Exception):
    """A 422: the FastAPI-style ``detail`` list."""

    def __init__(self, detail: list[ErrorDetail]) -> None:
        super().__init__("invalid query")
        self.detail = detail


def _expected(values: Sequence[str]) -> str:
    quoted = [f"'{v}'" for v in values]
    return ", ".join(quoted[:-1]) + f" or {quoted[-1]}" if len(quoted) > 1 else quoted[0]


def _enum_error(name: str, raw: str, allowed: Sequence[str]) -> ErrorDetail:
    expected = _expected(allowed)
    return {
        "type": "enum",
        "loc": ["query", name],
        "msg": f"Input should be {expected}",
        "input": raw,
        "ctx": {"expected": expected},
    }


def _int_param(args: Mapping[str, str], name: str, default: int, low: int, high: int | None) -> int | ErrorDetail:
    raw = args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        return {
            "type": "int_parsing",
            "loc": ["query", name],
            "msg": "Input should be a valid integer, unable to parse string as an integer",
            "input": raw,
        }
    if value < low:
        return {
            "type": "greater_than_equal",
            "loc": ["query", name],
            "msg": f"Input should be greater than or equal to {low}",
            "input": raw,
            "ctx": {"ge": low},
        }
    if high is not None and value > high:
        return {
            "type": "less_than_equal",
            "loc": ["query", name],
            "msg": f"Input should be less than or equal to {high}",
            "input": raw,
            "ctx": {"le": high},
        }
    return value


def _items(raw: str | None) -> list[str] | None:
    """A comma-separated parameter's values; None when absent or empty (the spec's default is "")."""
    if raw is None:
        return None
    items = [item.strip() for item in raw.split(",") if item.strip()]
    return items or None


def _enum_list(
    args: Mapping[str, str], name: str, allowed: Sequence[str], errors: list[ErrorDetail]
) -> frozenset[str] | None:
    items = _items(args.get(name))
    if items is None:
        return None
    bad = [item for item in items if item not in allowed]
    if bad:
        errors.append(_enum_error(name, args[name], allowed))
        return None
    return frozenset(items)


def _enum_single(
    args: Mapping[str, str], name: str, allowed: Sequence[str], errors: list[ErrorDetail]
) -> frozenset[str] | None:
    raw = args.get(name)
    if raw is None or raw == "":
        return None
    if raw not in allowed:
        errors.append(_enum_error(name, raw, allowed))
        return None
    return frozenset((raw,))


def _parse_time(name: str, raw: str, errors: list[ErrorDetail]) -> datetime | None:
    try:
        moment = datetime.fromisoformat(raw.strip())
    except ValueError:
        errors.append(
            {
                "type": "datetime_from_date_parsing",
                "loc": ["query", name],
                "msg": "Input should be a valid datetime or date, invalid character in year",
                "input": raw,
                "ctx": {"error": "invalid character in year"},
            }
        )
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _value_error(name: str, raw: str | None, message: str) -> ErrorDetail:
    return {"type": "value_error", "loc": ["query", name], "msg": f"Value error, {message}", "input": raw}


def _window(
    args: Mapping[str, str], now: datetime, errors: list[ErrorDetail], default_window: timedelta
) -> tuple[int, int]:
    raw_from, raw_to = args.get("time_from") or None, args.get("time_to") or None
    if raw_from is None and raw_to is None:
        return to_micros(now - default_window), to_micros(now)
    if raw_from is None or raw_to is None:
        missing = "time_from" if raw_from is None else "time_to"
        errors.append(_value_error(missing, None, "time_from and time_to must be provided together"))
        return 0, 0
    time_from = _parse_time("time_from", raw_from, errors)
    time_to = _parse_time("time_to", raw_to, errors)
    if time_from is None or time_to is None:
        return 0, 0
    if time_from > time_to:
        errors.append(_value_error("time_from", raw_from, "time_from must be before time_to"))
    elif time_to - time_from > timedelta(days=MAX_WINDOW_DAYS):
        errors.append(_value_error("time_to", raw_to, f"the time range must not exceed {MAX_WINDOW_DAYS} days"))
    return to_micros(time_from), to_micros(time_to)


def _indices(raw: str | None, dataset: Dataset, kind: int, count: int) -> frozenset[int] | None:
    """Indices named by comma-separated UUIDs; ids this workspace never made match nothing."""
    items = _items(raw)
    if items is None:
        return None
    found = set()
    for item in items:
        decoded = dataset.ids.decode(item)
        if decoded is not None and decoded[0] == kind and decoded[1] < count:
            found.add(decoded[1])
    return frozenset(found)


def _uuid4_param(args: Mapping[str, str], name: str, errors: list[ErrorDetail]) -> str | None:
    raw = args.get(name)
    if raw is None or raw == "":
        return None
    text = raw.strip()
    hexdigits = text.replace("-", "")
    if len(hexdigits) != 32 or any(c not in "0123456789abcdefABCDEF" for c in hexdigits):
        errors.append(
            {
                "type": "uuid_parsing",
                "loc": ["query", name],
                "msg": "Input should be a valid UUID, invalid length: expected 32 hex digits",
                "input": raw,
                "ctx": {"error": "invalid length: expected 32 hex digits"},
            }
        )
        return None
    if hexdigits[12] != "4":
        errors.append(
            {
                "type": "uuid_version",
                "loc": ["query", name],
                "msg": "UUID version 4 expected",
                "input": raw,
                "ctx": {"expected_version": 4},
            }
        )
        return None
    return text


def parse_query(
    resource: Resource,
    args: Mapping[str, str],
    now: datetime,
    dataset: Dataset,
    *,
    default_window: timedelta = timedelta(days=MAX_WINDOW_DAYS),
) -> ListQuery:
    """Validate a list request's query string the way the API does; unknown parameters are ignored."""
    errors: list[ErrorDetail] = []
    page = _int_param(args, "page", 1, 1, None)
    page_size = _int_param(args, "page_size", 50, 1, 100)
    for value in (page, page_size):
        if isinstance(value, dict):
            errors.append(value)
    filters = Filters()
    if resource is Resource.PIPELINE_RUNS:
        filters = Filters(
            statuses=_enum_list(args, "status", PIPELINE_RUN_STATUSES, errors),
            pipelines=_indices(args.get("pipeline_ids"), dataset, PIPELINE_KIND, len(dataset.pipelines)),
            ids=_indices(args.get("pipeline_run_ids"), dataset, resource, dataset.count(resource)),
            environments=_indices(args.get("environments"), dataset, ENVIRONMENT_KIND, len(dataset.environment_ids)),
        )
    elif resource is Resource.TASK_RUNS:
        filters = Filters(
            statuses=_enum_list(args, "status", TASK_RUN_STATUSES, errors),
            pipelines=_indices(args.get("pipeline_ids"), dataset, PIPELINE_KIND, len(dataset.pipelines)),
            integrations=_enum_list(args, "integration", INTEGRATIONS, errors),
            ids=_indices(args.get("task_run_ids"), dataset, resource, dataset.count(resource)),
        )
    else:
        task_run_id = _uuid4_param(args, "task_run_id", errors)
        ids: frozenset[int] | None = None
        if task_run_id is not None:
            tasks = _indices(task_run_id, dataset, Resource.TASK_RUNS, dataset.task_run_count) or _NEVER
            per_task = dataset.volume.operations_per_task_run
            ids = frozenset(j * per_task + q for j in tasks for q in range(per_task))
        filters = Filters(
            operation_types=_enum_list(args, "operation_type", OPERATION_TYPES, errors),
            integrations=_enum_single(args, "integration", INTEGRATIONS, errors),
            external_id=args.get("external_id") or None,
            statuses=_enum_single(args, "status", OPERATION_STATUSES, errors),
            ids=ids,
        )
    time_from, time_to = _window(args, now, errors, default_window)
    if errors:
        raise QueryError(errors)
    assert isinstance(page, int)
    assert isinstance(page_size, int)
    return ListQuery(resource, page, page_size, time_from, time_to, filters)


# ---------------------------------------------------------------------------------------------- selection


class Selection:
    """Matching indices in answer order, as lazy segments; ``len`` is the ``total``."""

    __slots__ = ("_segments", "total")

    def __init__(self, segments: Iterable[Sequence[int]]) -> None:
        self._segments = tuple(s for s in segments if len(s))
        self.total = sum(len(s) for s in self._segments)

    def page(self, offset: int, size: int) -> list[int]:
        out: list[int] = []
        for segment in self._segments:
            if offset >= len(segment):
                offset -= len(segment)
                continue
            out.extend(segment[offset : offset + size - len(out)])
            offset = 0
            if len(out) >= size:
                break
        return out


def _descending(low: int, high: int) -> range:
    """high, high-1, ..., low (empty when high < low)."""
    return range(high, low - 1, -1)


def _negated(index: int) -> int:
    return -index


def _trim(chunk: array[int], low: int, high: int) -> memoryview:
    """The part of a descending chunk that lies in [low, high], without copying."""
    start = bisect_left(chunk, -high, key=_negated)
    end = bisect_right(chunk, -low, key=_negated)
    return memoryview(chunk)[start:end]


class _FilterScan:
    """The indices in [low, high] that pass one set of filters, found once and grown on demand.

    Only records whose filtered fields no longer change are kept (with a status filter: runs that are surely
    final), so the scan stays valid whatever the clock says later.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.low = 0
        self.high = -1
        self.chunks: list[array[int]] = []  # descending, chunks[0] holds the highest indices

    @property
    def size(self) -> int:
        return sum(len(c) for c in self.chunks)

    def cover(self, low: int, high: int, matches: Callable[[int], bool]) -> list[memoryview]:
        """The passing indices in [low, high], newest first, scanning only what was not scanned before."""
        with self.lock:
            if self.high < self.low:  # empty so far
                self.chunks = [array("i", [i for i in _descending(low, high) if matches(i)])]
                self.low, self.high = low, high
            else:
                if high > self.high:
                    above = [i for i in _descending(self.high + 1, high) if matches(i)]
                    self.chunks.insert(0, array("i", above))
                    self.high = high
                if low < self.low:
                    below = [i for i in _descending(low, self.low - 1) if matches(i)]
                    self.chunks.append(array("i", below))
                    self.low = low
                if len(self.chunks) > 16:
                    merged = array("i")
                    for chunk in self.chunks:
                        merged.extend(chunk)
                    self.chunks = [merged]
            return [_trim(chunk, low, high) for chunk in self.chunks]


class Selector:
    """Turns queries into selections; filter scans and uneven window edges are remembered in small LRUs."""

    def __init__(self, dataset: Dataset, *, cache_size: int = 32, max_cached_indices: int = 4_000_000) -> None:
        self._dataset = dataset
        self._scans: OrderedDict[tuple[Resource, Filters], _FilterScan] = OrderedDict()
        self._selections: OrderedDict[tuple[Any, ...], Selection] = OrderedDict()
        self._cache_size = cache_size
        self._max_cached_indices = max_cached_indices
        self._lock = threading.Lock()

    def select(self, query: ListQuery, now: int) -> Selection:
        dataset, resource, filters = self._dataset, query.resource, query.filters
        count, lag = dataset.count(resource), dataset.lag(resource)
        if count == 0:
            return Selection(())
        # clamping to the span of the data changes nothing but makes equal windows equal cache keys
        low_time = max(query.time_from, dataset.anchor_time(resource, 0))
        high_time = min(query.time_to, now, dataset.anchor_time(resource, count - 1) + lag)
        if high_time < low_time:
            return Selection(())
        # candidates: the index range whose (monotone) anchor time can put them in the window
        low = dataset.first_anchor_at_least(resource, low_time - lag)
        high = dataset.first_anchor_at_least(resource, high_time + 1) - 1
        in_window = self._window_check(resource, low_time, high_time)
        predicate = self._predicate(resource, filters, now)
        if filters.ids is not None:
            candidates = sorted((i for i in filters.ids if low <= i <= high), reverse=True)
            return Selection((array("q", [i for i in candidates if in_window(i) and predicate(i)]),))
        if lag == 0:
            return Selection(self._matching(resource, filters, predicate, low, high, now))
        key = (resource, filters, low_time, high_time)
        with self._lock:
            cached = self._selections.get(key)
            if cached is not None:
                self._selections.move_to_end(key)
                return cached
        # operations: insertedAt trails the anchor by up to ``lag``; between the edges all candidates fit
        core_low = dataset.first_anchor_at_least(resource, low_time)
        core_high = min(high, dataset.first_anchor_at_least(resource, high_time - lag + 1) - 1)
        if core_high < core_low:
            segments = self._matching(resource, filters, predicate, low, high, now)
            selection = Selection((array("q", [i for s in segments for i in s if in_window(i)]),))
        else:
            top = self._matching(resource, filters, predicate, core_high + 1, high, now)
            core = self._matching(resource, filters, predicate, core_low, core_high, now)
            bottom = self._matching(resource, filters, predicate, low, core_low - 1, now)
            selection = Selection(
                (
                    array("q", [i for s in top for i in s if in_window(i)]),
                    *core,
                    array("q", [i for s in bottom for i in s if in_window(i)]),
                )
            )
        with self._lock:
            self._selections[key] = selection
            while len(self._selections) > self._cache_size:
                self._selections.popitem(last=False)
        return selection

    def _matching(
        self,
        resource: Resource,
        filters: Filters,
        predicate: Callable[[int], bool],
        low: int,
        high: int,
        now: int,
    ) -> list[Sequence[int]]:
        """The indices in [low, high] that pass the filters (not the window), newest first."""
        if high < low:
            return []
        if not filters.any:
            return [_descending(low, high)]
        dataset = self._dataset
        settled_high = high
        if filters.statuses is not None and resource is not Resource.OPERATIONS:
            # runs created within ``settle_time`` of now may still change status: checked on every request
            settled_high = min(high, dataset.first_anchor_at_least(resource, now - dataset.settle_time) - 1)
        live = array("q", [i for i in _descending(max(low, settled_high + 1), high) if predicate(i)])
        segments: list[Sequence[int]] = [live]
        if settled_high >= low:
            segments.extend(self._scan_for(resource, filters).cover(low, settled_high, predicate))
        return segments

    def _scan_for(self, resource: Resource, filters: Filters) -> _FilterScan:
        key = (resource, filters)
        with self._lock:
            scan = self._scans.get(key)
            if scan is None:
                scan = self._scans[key] = _FilterScan()
            self._scans.move_to_end(key)
            total = sum(s.size for s in self._scans.values())
            while len(self._scans) > 1 and (len(self._scans) > self._cache_size or total > self._max_cached_indices):
                _, evicted = self._scans.popitem(last=False)
                total -= evicted.size
        return scan

    def _window_check(self, resource: Resource, low_time: int, high_time: int) -> Callable[[int], bool]:
        window_time = self._dataset.window_time

        def in_window(index: int) -> bool:
            return low_time <= window_time(resource, index) <= high_time

        return in_window

    def _predicate(self, resource: Resource, filters: Filters, now: int) -> Callable[[int], bool]:
        """Whether a record passes the filters other than the window and the id lists."""
        dataset = self._dataset
        checks: list[Callable[[int], bool]] = []
        statuses, pipelines, environments = filters.statuses, filters.pipelines, filters.environments
        integrations, types, external_id = filters.integrations, filters.operation_types, filters.external_id
        if resource is Resource.PIPELINE_RUNS:
            if pipelines is not None:
                checks.append(lambda i: dataset.pipeline_run_pipeline(i) in pipelines)
            if environments is not None:
                checks.append(lambda i: dataset.pipeline_run_environment(i) in environments)
            if statuses is not None:
                checks.append(lambda i: dataset.pipeline_run_status(i, now) in statuses)
        elif resource is Resource.TASK_RUNS:
            if pipelines is not None:
                checks.append(lambda i: dataset.task_run_pipeline(i) in pipelines)
            if integrations is not None:
                checks.append(lambda i: dataset.task_run_integration(i) in integrations)
            if statuses is not None:
                checks.append(lambda i: dataset.task_run_status(i, now) in statuses)
        else:
            if types is not None:
                checks.append(lambda i: dataset.operation_type(i) in types)
            if integrations is not None:
                checks.append(lambda i: dataset.operation_integration(i) in integrations)
            if external_id is not None:
                checks.append(lambda i: dataset.operation_external_id(i) == external_id)
            if statuses is not None:
                checks.append(lambda i: dataset.operation_status(i) in statuses)
        if len(checks) == 1:
            return checks[0]
        return lambda i: all(check(i) for check in checks)
