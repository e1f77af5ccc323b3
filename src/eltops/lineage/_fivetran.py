"""Lineage of ``eltops fivetran``: one run per connection sync, its outputs the tables the sync writes.

The job is ``fivetran.{connection id}`` (stable across runs, whatever the connection is renamed to); the run id is
derived from the connection and the sync awaited (its baseline), so a ``FIVETRAN_WAIT=false`` job's START and the
later ``eltops fivetran wait`` job's RUNNING and COMPLETE are the same run. START when the sync is triggered or
joined (RUNNING when an earlier eltops job sent its START); then
COMPLETE (succeeded), FAIL (failed, or an error, with its message) or ABORT (the deadline, or the job stopped).
A job that only triggers (no wait) leaves the run open for the WAIT job to end.

Outputs: the connection's enabled tables (``GET .../schemas``, one request per connection) named in its group's
destination (``GET /v1/destinations/{group id}``, one request per group), both read off the job's path, on the
emitter's thread, through the job's own client (its deadline, its rate limit), once each per job. A transformation
run (Fivetran's TRANSFORM action, to come) is emitted the same way: a ``JobKind("FIVETRAN", "TRANSFORMATION")``
run whose outputs are its models, through :meth:`LineageSession.event`.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

from eltops.errors import EltopsError, ExitCode
from eltops.fivetran import Connection, ConnectionResult, Destination, FivetranClient
from eltops.lineage._emitter import EventSource
from eltops.lineage._events import Dataset, EventType, JobKind
from eltops.lineage._naming import DatasetNamer, destination_namer
from eltops.lineage._session import LineageSession, as_run_id
from eltops.lineage._settings import RunRef

__all__ = ["SYNC", "FivetranLineage"]

log = logging.getLogger("eltops.lineage")

SYNC = JobKind("FIVETRAN", "SYNC")


class FivetranLineage:
    """A :class:`~eltops.fivetran.SyncObserver` that emits each sync's run events."""

    def __init__(self, session: LineageSession, client: FivetranClient, *, continued: frozenset[str] = frozenset()):
        """``continued``: connections whose run an earlier eltops job started (a WAIT given FIVETRAN_BASELINE):
        this job says RUNNING for them, not a second START."""
        self.session = session
        self.client = client
        self.continued = continued
        self._lock = threading.Lock()
        self._open: dict[str, tuple[RunRef, Connection]] = {}
        self._destinations: dict[str, DatasetNamer | None] = {}
        self._outputs: dict[str, tuple[Dataset, ...]] = {}
        self.requests = 0  # Fivetran requests made for lineage (the README's budget says at most one per
        # awaited connection and one per group)

    # -- the observer ---------------------------------------------------------------------------------------

    def sync_started(self, connection: Connection, baseline: datetime | None, at: datetime) -> None:
        moment = "never" if baseline is None else baseline.astimezone(UTC).isoformat()
        run = self.session.job(f"fivetran.{connection.id}", as_run_id("fivetran-sync", connection.id, moment))
        with self._lock:
            self._open[connection.id] = (run, connection)
        first = EventType.RUNNING if connection.id in self.continued else EventType.START
        self.session.emit(lambda: self.session.event(first, run, SYNC, at, outputs=self._tables(connection)))

    def sync_ended(self, result: ConnectionResult) -> None:
        if result.label == "triggered":  # FIVETRAN_WAIT=false: the WAIT job ends this run
            return
        with self._lock:
            found = self._open.pop(result.connection_id or "", None)
        if found is None:
            return
        run, connection = found
        event_type, error = _ending(result)
        at = result.finished_at
        self.session.emit(
            lambda: self.session.event(event_type, run, SYNC, at, outputs=self._tables(connection), error=error)
        )

    def abort_open(self, at: datetime, reason: str) -> None:
        """The job was stopped: every run still open ends ABORT (its sync goes on in Fivetran)."""
        with self._lock:
            left, self._open = list(self._open.values()), {}
        for run, connection in left:
            self.session.emit(self._abort(run, connection, at, reason))

    def _abort(self, run: RunRef, connection: Connection, at: datetime, reason: str) -> EventSource:
        return lambda: self.session.event(
            EventType.ABORT, run, SYNC, at, outputs=self._tables(connection), error=reason
        )

    # -- what a sync writes (on the emitter's thread) -------------------------------------------------------

    def _tables(self, connection: Connection) -> tuple[Dataset, ...]:
        if connection.id in self._outputs:
            return self._outputs[connection.id]
        outputs: tuple[Dataset, ...] = ()
        try:
            namer = self._namer(connection.group_id)
            if namer is not None:
                self.requests += 1
                tables = self.client.destination_tables(connection.id)
                outputs = tuple(Dataset(namer.namespace, namer.name(t)) for t in tables)
        except EltopsError as exc:
            log.info("lineage: could not read what %s writes, so its events name no tables: %s", connection.id, exc)
        self._outputs[connection.id] = outputs
        return outputs

    def _namer(self, group_id: str) -> DatasetNamer | None:
        if group_id not in self._destinations:
            self._destinations[group_id] = None  # asked once, whatever the answer
            self.requests += 1
            destination: Destination = self.client.destination(group_id)
            namer = destination_namer(destination)
            if namer is None:
                log.info(
                    "lineage: OpenLineage's naming spec does not cover Fivetran destination %s (service %s, or its "
                    "host or database is missing), so its syncs name no tables",
                    group_id,
                    destination.service,
                )
            self._destinations[group_id] = namer
        return self._destinations[group_id]


def _ending(result: ConnectionResult) -> tuple[EventType, str | None]:
    if result.exit_code is ExitCode.OK:
        return EventType.COMPLETE, None
    if result.exit_code is ExitCode.TIMEOUT:  # the deadline, or the job cancelled: the sync itself goes on
        return EventType.ABORT, result.message
    return EventType.FAIL, result.message
