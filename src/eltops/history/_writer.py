"""How both recorders write: through one guarded opener, as masked typed records, the way a load writes.

:class:`GuardedWriter` opens the warehouse for each write and turns a failure into one warning (recording never
changes a job's outcome); :func:`write_records` masks every text and JSON value of the records and merges them
through the target's one write path (:func:`eltops.warehouse.write_pages`), as pages
(:func:`eltops.orchestra.records_batch`), so DuckDB needs no pyarrow for them.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from eltops.errors import EltopsError
from eltops.orchestra import RESOURCES, Operation, PipelineRun, Resource, TaskRun, records_batch
from eltops.secrets import MASKER
from eltops.warehouse import Target, write_pages

__all__ = ["GuardedWriter", "Record", "TargetOpener", "write_records"]

log = logging.getLogger("eltops.history")

Record = PipelineRun | TaskRun | Operation
R = TypeVar("R", bound=Record)

TargetOpener = Callable[[], Target]


@dataclass
class GuardedWriter:
    """Opens the warehouse for each write; a write that fails is one warning, and after it nothing more is written.

    Both recorders (``eltops fivetran`` and ``eltops orchestra run``) write through one, so recording never changes
    a job's outcome and the warehouse is never held between writes.
    """

    open_target: TargetOpener
    working: bool = True

    def write(self, what: str, action: Callable[[Target], None]) -> None:
        """Open the warehouse, make sure its tables exist, run ``action`` on it, close it."""
        if not self.working:
            return
        try:
            target = self.open_target()
        except (EltopsError, OSError) as exc:
            self._give_up(what, exc)
            return
        try:
            target.prepare(RESOURCES)
            action(target)
        except (EltopsError, OSError) as exc:
            self._give_up(what, exc)
        finally:
            target.close()

    def _give_up(self, what: str, exc: BaseException) -> None:
        log.warning("could not record %s in the warehouse (the job's outcome is unchanged): %s", what, exc)
        self.working = False


def write_records(target: Target, resource: Resource, records: Sequence[Record]) -> None:
    """Merge ``records`` of ``resource`` on ``id``, every string in them masked (no state is saved)."""
    if records:
        write_pages(target, records_batch(resource, [_masked(record) for record in records]), None)


def _masked(record: R) -> R:
    """The record with every string, and every string inside a JSON value, masked."""
    changes = {
        f.name: MASKER.redact_data(value)
        for f in dataclasses.fields(record)
        if isinstance(value := getattr(record, f.name), str | dict | list | tuple)
    }
    return dataclasses.replace(record, **changes)
