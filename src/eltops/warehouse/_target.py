"""What the loader needs from a warehouse: tables, load state, and one transaction per batch.

The loader writes a batch as its pages arrive: :meth:`Target.begin_batch` gives a :class:`PendingBatch`, which
takes pages as they come (:meth:`~PendingBatch.add`) and writes them all, or none, with the load state
(:meth:`~PendingBatch.commit`). A target that can stage rows before the transaction (DuckDB: a temporary
table) does the typing work as the pages arrive; one that cannot keeps them (:class:`BufferedBatch`) and
writes them at commit with :meth:`Target.write_batch`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from eltops.errors import EltopsError, ExitCode
from eltops.orchestra._pages import Page, PageBatch
from eltops.orchestra._plan import STATE_TABLE, LoadState  # the load's state is the plan's input (shared with the app)

if TYPE_CHECKING:
    import pyarrow as pa

    from eltops.orchestra._records import Resource

__all__ = ["STATE_TABLE", "BufferedBatch", "LoadState", "PendingBatch", "Target", "WarehouseError", "WriteCounts"]


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
        """Merge every page added on ``id`` and save ``state``, as :meth:`Target.write_batch` does; then done."""
        ...

    def discard(self) -> None:
        """Forget what was added, writing nothing (after an error, or when the load stops)."""
        ...


class BufferedBatch:
    """A :class:`PendingBatch` that keeps the pages until :meth:`commit` writes them with ``write_batch``."""

    def __init__(self, target: Target, resource: Resource) -> None:
        self._target = target
        self._resource = resource
        self._pages: list[Page] = []

    def add(self, pages: Sequence[Page]) -> None:
        self._pages.extend(pages)

    def commit(self, state: LoadState | None) -> WriteCounts:
        pages, self._pages = tuple(self._pages), []
        return self._target.write_batch(self._resource, PageBatch(self._resource, pages), state)

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

    def write_batch(self, resource: Resource, batch: pa.Table | PageBatch, state: LoadState | None) -> WriteCounts:
        """Merge ``batch`` on ``id`` (all of it or none of it), then save ``state`` (None: leave it as it is).

        ``batch`` is typed rows (an Arrow table of ``resource``'s columns, as :func:`records_to_arrow` makes) or
        API pages as they were fetched (the loader's); a later copy of an ``id`` wins over an earlier one. A
        value of the wrong type in a page raises ``ApiResponseError`` naming the resource and page.

        ``state`` must never be stored unless the rows are: DuckDB writes both in one transaction; Snowflake
        commits the MERGE statement first and the state after it.
        """
        ...

    def begin_batch(self, resource: Resource) -> PendingBatch:
        """A batch of ``resource`` to hand pages to as they arrive (how the loader writes)."""
        ...

    def close(self) -> None: ...
