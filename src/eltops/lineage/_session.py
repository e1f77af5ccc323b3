"""One job's lineage: the emitter, where the job's runs hang (parent and root), and the namespace of its jobs."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TextIO

from eltops._deadline import Clock
from eltops.lineage._context import Placement, parent_step_outputs, placement
from eltops.lineage._emitter import EmitReport, Emitter, EventSource
from eltops.lineage._events import Dataset, EventType, JobKind, run_event
from eltops.lineage._settings import LineageSettings, RunRef
from eltops.lineage._transport import make_transport

__all__ = ["CANCEL_BUDGET_SECONDS", "LineageSession", "as_run_id"]

CANCEL_BUDGET_SECONDS = 2.0
"""At most this long for lineage when the job is being stopped (CI kills a job seconds after SIGTERM)."""

_IDS = uuid.UUID("0f5b8e2e-6a5d-5a8c-9f0e-2d4c7b1a3e60")


def as_run_id(*parts: str) -> str:
    """A vendor's run id when it is a UUID (Orchestra's are), else a UUIDv5 of the parts: always a valid runId."""
    if len(parts) == 1:
        try:
            return str(uuid.UUID(parts[0]))
        except ValueError:
            pass
    return str(uuid.uuid5(_IDS, "\x1f".join(parts)))


@dataclass
class LineageSession:
    """Makes and emits the events of one job's runs; ``close`` at the end (within the budget)."""

    settings: LineageSettings
    where: Placement
    emitter: Emitter

    @classmethod
    def open(
        cls,
        settings: LineageSettings,
        env: Mapping[str, str],
        *,
        console: TextIO,
        http_transport: object | None = None,
        clock: Clock = time.monotonic,
    ) -> LineageSession:
        transport = make_transport(settings.transport, console=console, http_transport=http_transport, clock=clock)
        return cls(settings, placement(settings, env), Emitter(transport, budget=settings.budget, clock=clock))

    def job(self, name: str, run_id: str) -> RunRef:
        return RunRef(self.settings.namespace, name, run_id)

    def event(
        self,
        event_type: EventType,
        run: RunRef,
        kind: JobKind,
        at: datetime,
        *,
        parent: RunRef | None = None,
        outputs: Sequence[Dataset] = (),
        error: str | None = None,
    ) -> dict[str, Any]:
        """An event of ``run``: a child of ``parent`` (default: eltops' own parent), under the root."""
        return run_event(
            event_type,
            run=run,
            kind=kind,
            at=at,
            parent=parent or self.where.parent,
            root=self.where.root,
            outputs=outputs,
            error=error,
        )

    def emit(self, event: dict[str, Any] | EventSource) -> None:
        self.emitter.emit(event)

    def close(self, *, cancelled: bool = False) -> EmitReport:
        if cancelled:
            self.emitter.budget = min(self.emitter.budget, CANCEL_BUDGET_SECONDS)
        return self.emitter.close()

    def step_outputs(self) -> dict[str, str]:
        return parent_step_outputs(self.where)
