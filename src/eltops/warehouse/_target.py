"""What the loader needs from a warehouse: tables, load state, and one transaction per batch.

There is one way to write into a target: :meth:`Target.begin_batch` gives a :class:`PendingBatch`, which takes
pages as they come (:meth:`~PendingBatch.add`) and writes them all, or none, with the load state
(:meth:`~PendingBatch.commit`). The loader hands a batch its pages as they arrive; :func:`write_pages` writes a
whole :class:`~eltops.orchestra.PageBatch` at once the same way (the run history's rows are pages too:
:func:`eltops.orchestra.records_batch`). A target that can stage rows before the transaction (DuckDB: a temporary
table) does the typing work as the pages arrive; one that cannot keeps them (:class:`BufferedBatch`) and writes
them all at commit.

Everything here is in the terms of the records vocabulary (:mod:`eltops.orchestra`'s resources, pages and load
state) and nothing else of Orchestra's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from eltops.errors import EltopsError, ExitCode
from eltops.orchestra import LoadState, Page, PageBatch, Resource

__all__ = ["BufferedBatch", "PendingBatch", "Target", "WarehouseError", "WriteCounts", "write_pages"]


class WarehouseError(EltopsError):
    """The warehouse could not be opened, or refused a statement."""

    exit_code = ExitCode.REMOTE_FAILED


@dataclass(frozen=True)
class WriteCounts:
    """What one merge did: new ids, ids whose row changed, ids re-read without change."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    def __add__(self, other: WriteCounts) -> WriteCounts:
        return WriteCounts(
            self.inserted + other.inserted, self.updated + other.updated, self.unchanged + other.unchanged
        )


class PendingBatch(Protocol):
    """One transaction's pages, handed over as they arrive; nothing is visible before :meth:`commit`."""

    def add(self, pages: Sequence[Page]) -> None:
        """Take ``pages`` (in read order); a value of the wrong type raises ``ApiResponseError`` naming the page."""
        ...

    def commit(self, state: LoadState | None) -> WriteCounts:
        """Merge every page added on ``id`` (all or none), then save ``state`` (None: leave it); then done.

        A later copy of an ``id`` wins over an earlier one. A value of the wrong type in a page raises
        ``ApiResponseError`` naming the resource and page. ``state`` is never stored unless the rows are: DuckDB
        writes both in one transaction; Snowflake commits the MERGE statements first and the state after them.
        """
        ...

    def discard(self) -> None:
        """Forget what was added, writing nothing (after an error, or when the load stops)."""
        ...


Write = Callable[[PageBatch, LoadState | None], WriteCounts]


class BufferedBatch:
    """A :class:`PendingBatch` that keeps the pages until :meth:`commit` hands them all to ``write``."""

    def __init__(self, resource: Resource, write: Write) -> None:
        self._write = write
        self._resource = resource
        self._pages: list[Page] = []

    def add(self, pages: Sequence[Page]) -> None:
        self._pages.extend(pages)

    def commit(self, state: LoadState | None) -> WriteCounts:
        pages, self._pages = tuple(self._pages), []
        return self._write(PageBatch(self._resource, pages), state)

    def discard(self) -> None:
        self._pages = []


class Target(Protocol):
    """A warehouse the loader writes into."""

    @property
    def description(self) -> str:
        """Where the data goes, for log lines (never a secret)."""
        ...

    def prepare(self, resources: Sequence[Resource]) -> None:
        """Create the resources' tables and the state table when missing; check existing ones."""
        ...

    def read_state(self, resource: Resource) -> LoadState: ...

    def open_records(self, resource: Resource, *, created_after: datetime) -> list[tuple[str, datetime]]:
        """(id, creation time) of rows in an open status created after ``created_after``."""
        ...

    def values(self, resource: Resource, column: str, *, where: str, equals: str) -> list[object]:
        """The ``column`` values of the rows whose ``where`` column equals ``equals``."""
        ...

    def begin_batch(self, resource: Resource) -> PendingBatch:
        """A batch of ``resource`` to hand pages to as they arrive: the one way rows get into a target."""
        ...

    def close(self) -> None: ...


def write_pages(target: Target, batch: PageBatch, state: LoadState | None) -> WriteCounts:
    """Write a whole batch of pages through :meth:`Target.begin_batch`, with ``state``, in one transaction."""
    pending = target.begin_batch(batch.resource)
    try:
        pending.add(batch.pages)
        return pending.commit(state)
    finally:
        pending.discard()
