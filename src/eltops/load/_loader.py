"""The incremental load: Orchestra pages in, merged batches out, the cursor saved with the rows it covers.

For each resource:

1. Plan (:func:`eltops.orchestra.plan_load`, shared with the Snowflake Native App). The first load reads
   the API's default window (the last 7 days), or 7-day windows from ``since``.
   Later loads read 7-day windows from a little before the saved cursor (the newest creation time among records
   of windows read completely; ``since`` still bounds it from below, so re-running an interrupted backfill
   resumes it), and re-read by id the records still open at the last load (CREATED, QUEUED, RUNNING,
   CANCELLING, found in the target table itself) that those windows do not cover. ``full_refresh`` ignores the
   cursor.
2. Fetch. Pages come from :func:`eltops.load._fetch.fetch_plan` (concurrent, bounded), run in a process of
   its own when the client can be rebuilt there (so the fetch threads never hold up the writer's GIL), else on
   the calling thread; either way the calling thread hands them to the writer.
3. Write. A writer thread hands the pages to the target's open batch
   (:meth:`~eltops.warehouse.Target.begin_batch`) ten at a time as they arrive, so the target types them while
   the fetch goes on, and commits the batch every ``batch_rows`` rows: one merge on ``id`` plus the state row,
   in one transaction. The cursor written with a batch only covers windows all of whose pages are in that
   batch or an earlier one, so killing the process at any moment loses at most work that the next load
   redoes; merging on ``id`` makes redoing it harmless.

Pages travel as the bytes the API sent (checked by the client: envelope, ids, window column); the target
types the values (DuckDB parses the JSON itself, others build Arrow from it). Memory stays flat, in rows and in
record size: a queue between fetcher and writer bounded in pages and in bytes, one batch open at a time, bounded
in rows and in bytes, and each batch dropped once written.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal, Protocol

from eltops.errors import ConfigError
from eltops.load._fetch import Fetcher, ProcessFetcher, ThreadFetcher, WindowDone
from eltops.orchestra import (
    DEFAULT_BATCH_ROWS,
    OPEN_RUN_HORIZON,
    Cursor,
    LoadPlan,
    LoadState,
    Page,
    Resource,
    plan_load,
)
from eltops.warehouse import PendingBatch, Target, WriteCounts

if TYPE_CHECKING:  # the client (httpx) is imported by whoever builds it, not by the loader
    from eltops.orchestra import OrchestraClient

__all__ = [
    "DEFAULT_BATCH_BYTES",
    "DEFAULT_QUEUE_BYTES",
    "LoadProgress",
    "LoadResult",
    "Loader",
    "QuietProgress",
    "ResourceResult",
]

log = logging.getLogger("eltops.load")

DEFAULT_BATCH_BYTES = 16_000_000
"""A batch is also committed once its pages hold this much JSON: rows of 4 KB make batches of 4,000 rows, not 10,000,
so what a batch keeps in memory (its pages, DuckDB's staging table) is bounded by bytes, whatever the records."""
DEFAULT_QUEUE_BYTES = 16_000_000
"""Bytes of pages waiting between fetch and writer (at least one page, at most ``queue_pages``)."""
STAGE_PAGES = 10
STAGE_BYTES = 2_000_000
"""Pages are handed to the batch ten at a time, or as soon as they hold this much: the target types them while
the fetch goes on."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


class LoadProgress(Protocol):
    """Where the loader reports progress (the CLI draws bars or writes log lines)."""

    def started(self, plan: LoadPlan) -> None: ...

    def expect(self, resource: Resource, rows: int) -> None:
        """More rows are known to be coming (a window's first page told its total)."""
        ...

    def fetched(self, resource: Resource, pages: int, rows: int) -> None: ...

    def written(self, resource: Resource, counts: WriteCounts) -> None: ...

    def finished(self, result: ResourceResult) -> None: ...


class QuietProgress:
    """A :class:`LoadProgress` that reports nothing; subclass it to report only some events."""

    def started(self, plan: LoadPlan) -> None:
        pass

    def expect(self, resource: Resource, rows: int) -> None:
        pass

    def fetched(self, resource: Resource, pages: int, rows: int) -> None:
        pass

    def written(self, resource: Resource, counts: WriteCounts) -> None:
        pass

    def finished(self, result: ResourceResult) -> None:
        pass


@dataclass
class ResourceResult:
    """What loading one resource did."""

    resource: Resource
    table: str
    plan: str
    pages: int = 0
    requests: int = 0
    rows_read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    batches: int = 0
    cursor: datetime | None = None
    seconds: float = 0.0
    resumed_from: datetime | None = None
    """Set when ``since`` was earlier than where earlier loads got to: the load went on from there instead (the
    saved cursor wins, so an interrupted backfill resumes); ``full_refresh`` with ``since`` re-reads from it."""

    def to_json(self) -> dict[str, object]:
        return {
            "resource": self.resource.name,
            "table": self.table,
            "plan": self.plan,
            "pages": self.pages,
            "requests": self.requests,
            "rows_read": self.rows_read,
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "batches": self.batches,
            "cursor": self.cursor.isoformat() if self.cursor else None,
            "seconds": round(self.seconds, 3),
            "resumed_from": self.resumed_from.isoformat() if self.resumed_from else None,
        }


@dataclass
class LoadResult:
    """What one load did, per resource."""

    target: str
    resources: list[ResourceResult] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {"target": self.target, "resources": [r.to_json() for r in self.resources]}


_END = object()


class Loader:
    """Loads Orchestra resources into a :class:`~eltops.warehouse.Target`."""

    def __init__(
        self,
        client: OrchestraClient,
        target: Target,
        *,
        progress: LoadProgress | None = None,
        batch_rows: int = DEFAULT_BATCH_ROWS,
        batch_bytes: int = DEFAULT_BATCH_BYTES,
        clock: Callable[[], datetime] = _utc_now,
        queue_pages: int = 64,
        queue_bytes: int = DEFAULT_QUEUE_BYTES,
        fetch_in: Literal["auto", "thread", "process"] = "auto",
    ) -> None:
        """``fetch_in``: where pages are fetched; ``auto`` is a process of its own when the client has a recipe."""
        self.client = client
        self.target = target
        self.fetcher: Fetcher
        if fetch_in == "process" or (fetch_in == "auto" and client.recipe is not None):
            if client.recipe is None:
                raise ConfigError("this client cannot fetch in another process: it was given its own transport")
            self.fetcher = ProcessFetcher(client.recipe)
        else:
            self.fetcher = ThreadFetcher(client)
        self.progress: LoadProgress = progress or QuietProgress()
        self.batch_rows = batch_rows
        self.batch_bytes = batch_bytes
        self.clock = clock
        self.queue_pages = queue_pages
        self.queue_bytes = queue_bytes

    def load(
        self,
        resources: Sequence[Resource],
        *,
        since: datetime | None = None,
        full_refresh: bool = False,
    ) -> LoadResult:
        """Load each resource in turn; raises on the first API or warehouse error (committed batches stay)."""
        self.fetcher.start()
        try:
            self.target.prepare(resources)
            result = LoadResult(target=self.target.description)
            for resource in resources:
                now = self.clock()
                state = self.target.read_state(resource)
                open_records = self.target.open_records(resource, created_after=now - OPEN_RUN_HORIZON)
                plan = plan_load(resource, state, open_records, now=now, since=since, full_refresh=full_refresh)
                if plan.aged:
                    plan = dataclasses.replace(plan, aged_runs=self._parents(resource, plan))
                first = plan.windows[0] if plan.windows else None
                resumed = since is not None and first is not None and first.start > since
                outcome = self._load_one(plan)
                outcome.resumed_from = plan.start_cursor if resumed else None
                result.resources.append(outcome)
            return result
        finally:
            self.fetcher.close()

    def _parents(self, resource: Resource, plan: LoadPlan) -> tuple[str, ...]:
        """The pipeline runs to read by id for the plan's aged open records (themselves, or their task runs')."""
        if resource.name == "pipeline-runs":
            return tuple(sorted(record_id for record_id, _ in plan.aged))
        if resource.name != "task-runs":
            return ()
        parents = {
            str(value)
            for record_id, _ in plan.aged
            for value in self.target.values(resource, "pipeline_run_id", where="id", equals=record_id)
            if value
        }
        return tuple(sorted(parents))

    def _load_one(self, plan: LoadPlan) -> ResourceResult:
        resource = plan.resource
        outcome = ResourceResult(resource=resource, table=resource.table, plan=plan.describe())
        self.progress.started(plan)
        log.info("%s: reading %s", resource, outcome.plan)
        started = time.monotonic()
        requests_before = self.fetcher.requests
        writer = _Writer(self, plan, outcome)
        writer.start()
        try:
            for item in self._fetch(plan, outcome):
                writer.put(item)
            writer.put(_END)
        except BaseException:
            writer.abort()
            raise
        finally:
            outcome.requests = self.fetcher.requests - requests_before
        writer.join_and_raise()
        outcome.seconds = time.monotonic() - started
        self.progress.finished(outcome)
        return outcome

    def _fetch(self, plan: LoadPlan, outcome: ResourceResult) -> Iterator[Page | WindowDone]:
        for item in self.fetcher.stream(plan):
            if isinstance(item, WindowDone):
                yield item
                continue
            outcome.pages += 1
            outcome.rows_read += item.rows
            if item.query.page == 1:  # each window's (and each id group's) first page tells its total
                self.progress.expect(item.query.resource, item.total)
            self.progress.fetched(item.query.resource, 1, item.rows)
            if item.rows:
                yield item


class _Writer:
    """The writer thread: batches pages, merges each batch with the state in one transaction."""

    def __init__(self, loader: Loader, plan: LoadPlan, outcome: ResourceResult) -> None:
        self._loader = loader
        self._plan = plan
        self._outcome = outcome
        self._queue: queue.Queue[object] = queue.Queue(maxsize=loader.queue_pages)
        self._queued_bytes = 0  # of the pages in the queue; bounded by loader.queue_bytes (one page always fits)
        self._room = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="eltops-writer", daemon=True)
        self._error: BaseException | None = None
        self._stop = threading.Event()
        self._cursor = Cursor(plan.start_cursor)

    def start(self) -> None:
        self._thread.start()

    def put(self, item: object) -> None:
        """Hand over an item, waiting while the queue is full (in pages or bytes); re-raises the writer's error."""
        size = len(item.body) if isinstance(item, Page) else 0
        while True:
            if self._error is not None or not self._thread.is_alive():
                self.join_and_raise()
                raise RuntimeError("the writer stopped unexpectedly")  # pragma: no cover
            with self._room:
                if self._queued_bytes and self._queued_bytes + size > self._loader.queue_bytes:
                    self._room.wait(timeout=0.2)
                    continue
            try:
                self._queue.put(item, timeout=0.2)
            except queue.Full:
                continue
            with self._room:
                self._queued_bytes += size
            return

    def _take(self) -> object:
        """The next item (raises ``queue.Empty`` after a short wait), its bytes given back to the producer."""
        item = self._queue.get(timeout=0.2)
        if isinstance(item, Page):
            with self._room:
                self._queued_bytes -= len(item.body)
                self._room.notify_all()
        return item

    def abort(self) -> None:
        """Stop after the batch being written (an unfinished batch is not written; the next load redoes it)."""
        self._stop.set()
        self._thread.join(timeout=30)

    def join_and_raise(self) -> None:
        self._thread.join()
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        try:
            self._consume()
        except BaseException as exc:
            self._error = exc
            self._stop.set()
            # drain so a blocked producer wakes up and sees the error
            while True:
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    break
            with self._room:
                self._queued_bytes = 0
                self._room.notify_all()

    def _consume(self) -> None:
        resource = self._plan.resource
        batch = self._loader.target.begin_batch(resource)
        pending: list[Page] = []  # pages not yet handed to the batch
        pending_bytes = 0
        rows = size = 0  # rows and JSON bytes in the batch, handed over or pending
        dirty_state = False
        loader = self._loader
        try:
            while not self._stop.is_set():
                try:
                    item = self._take()
                except queue.Empty:
                    continue
                if item is _END:
                    if rows or dirty_state or self._outcome.batches == 0:
                        self._commit(batch, pending)
                    self._outcome.cursor = self._cursor.value
                    return
                if isinstance(item, WindowDone):
                    dirty_state = self._cursor.window_done(item.newest) or dirty_state
                    continue
                assert isinstance(item, Page)
                if rows and size + len(item.body) > loader.batch_bytes:  # a big page starts the next batch
                    self._commit(batch, pending)
                    batch, pending, dirty_state = loader.target.begin_batch(resource), [], False
                    rows = size = pending_bytes = 0
                pending.append(item)
                rows += item.rows
                size += len(item.body)
                pending_bytes += len(item.body)
                if rows >= loader.batch_rows or size >= loader.batch_bytes:
                    self._commit(batch, pending)
                    batch, pending, dirty_state = loader.target.begin_batch(resource), [], False
                    rows = size = pending_bytes = 0
                elif len(pending) >= STAGE_PAGES or pending_bytes >= STAGE_BYTES:
                    batch.add(pending)
                    pending, pending_bytes = [], 0
        finally:
            batch.discard()  # nothing once committed; else the load stopped mid-batch, and the next load redoes it

    def _commit(self, batch: PendingBatch, pages: list[Page]) -> None:
        batch.add(pages)
        counts = batch.commit(LoadState(cursor=self._cursor.value))
        outcome = self._outcome
        outcome.batches += 1
        outcome.inserted += counts.inserted
        outcome.updated += counts.updated
        outcome.unchanged += counts.unchanged
        outcome.cursor = self._cursor.value
        self._loader.progress.written(self._plan.resource, counts)
