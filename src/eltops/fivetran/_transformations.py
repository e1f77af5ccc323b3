"""Fivetran transformations: run them, wait for them within the job's deadline, cancel them when the job stops.

The API (2026 definition): ``GET /v1/transformations[/{id}]``, ``POST /v1/transformations/{id}/run``
(``{"full_refresh": bool}``) and ``POST .../cancel``; a transformation's ``status`` is one of NEW, SCHEDULING,
RUNNING, TERMINATING (a run goes on) or SUCCEEDED, FAILED, BLOCKED, CANCELED, PARTIALLY_SUCCEEDED (how the
newest run ended), with ``last_started_at``/``last_ended_at`` (Fivetran's tutorial "How to Run Transformations
After a Sync Using the REST API": trigger, then poll for completion).

How a run is known to be over is decided as for syncs: the transformation is read right before the run request,
and its ``last_ended_at`` is the baseline; the run is over once the status is no longer one of a run going on
*and* ``last_ended_at`` has moved strictly past the baseline. So a SUCCEEDED left by an earlier run is never taken
for this run's outcome, whenever Fivetran's status flips to SCHEDULING. When a run already goes on at the baseline
read (a schedule started it), eltops waits for it to end, then runs the transformation again: the data it reads
is then the data the job promises.

At the deadline, on SIGTERM and on Ctrl-C each run still going on is cancelled; each cancel request has
:data:`CANCEL_SECONDS` of its own (the job's deadline has run out by then), and a cancel that fails is said.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any
from urllib.parse import quote

from eltops._deadline import Clock
from eltops.errors import (
    ApiResponseError,
    ApiStatusError,
    ConfigError,
    EltopsError,
    ExitCode,
    JobTimeout,
    RemoteOperationFailed,
)
from eltops.fivetran._client import FivetranClient
from eltops.fivetran._models import _flag, _shown, _text, format_timestamp, parse_timestamp

__all__ = [
    "ACTIVE_STATUSES",
    "CANCEL_SECONDS",
    "Transformation",
    "TransformationResult",
    "TransformationRunner",
    "TransformationsApi",
    "integrated_holds",
]

log = logging.getLogger("eltops.fivetran")

ACTIVE_STATUSES = frozenset({"SCHEDULING", "RUNNING", "TERMINATING"})
"""Statuses of a run that goes on (NEW is a transformation that never ran)."""
CANCEL_SECONDS = 5.0
"""How long a cancel request may take: its own time, as the job's deadline (or CI's patience) has run out."""
MAX_LISTED = 30
HEARTBEAT_SECONDS = 60.0
_OUTCOMES = {
    ExitCode.OK: "succeeded",
    ExitCode.TIMEOUT: "timed out",
    ExitCode.CONFIG: "invalid",
    ExitCode.API: "API error",
}


@dataclass(frozen=True)
class Transformation:
    """A transformation as ``GET /v1/transformations/{id}`` describes it."""

    id: str
    name: str
    type: str
    status: str
    paused: bool
    schedule_type: str
    connection_ids: tuple[str, ...]
    last_started_at: datetime | None
    last_ended_at: datetime | None
    output_model_names: tuple[str, ...]

    @classmethod
    def from_api(cls, data: Any) -> Transformation:
        if not isinstance(data, Mapping) or not isinstance(data.get("id"), str) or not data["id"]:
            raise ApiResponseError("Fivetran answered with a transformation object that has no id")
        schedule = _object(data, "schedule")
        config = _object(data, "transformation_config")
        connections = schedule.get("connection_ids") or config.get("connection_ids") or []
        return cls(
            id=data["id"],
            name=_text(config, "name", field="transformation_config.name")
            or _text(config, "package_name", field="transformation_config.package_name", default=data["id"]),
            type=_text(data, "type", field="type"),
            status=_text(data, "status", field="status", default="UNKNOWN").upper(),
            paused=_flag(data, "paused", field="paused"),
            schedule_type=_text(schedule, "schedule_type", field="schedule.schedule_type"),
            connection_ids=_strings(connections, field="schedule.connection_ids"),
            last_started_at=parse_timestamp(data.get("last_started_at"), field="last_started_at"),
            last_ended_at=parse_timestamp(data.get("last_ended_at"), field="last_ended_at"),
            output_model_names=_strings(data.get("output_model_names") or [], field="output_model_names"),
        )

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    def ended_since(self, baseline: datetime | None) -> bool:
        """A run ended strictly after ``baseline`` (the ``last_ended_at`` read before the run), and none goes on."""
        ended = self.last_ended_at
        return not self.is_active and ended is not None and (baseline is None or ended > baseline)


def _object(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ApiResponseError(f"Fivetran sent {key}={_shown(value)}, which is not an object")
    return value


def _strings(value: Any, *, field: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ApiResponseError(f"Fivetran sent {field}={_shown(value)}, which is not a list of strings")
    return tuple(value)


@dataclass(frozen=True)
class TransformationResult:
    """How one transformation's run ended for this job."""

    transformation_id: str
    exit_code: ExitCode
    message: str
    started_at: datetime
    finished_at: datetime
    transformation: Transformation | None = None
    baseline: datetime | None = None
    label: str | None = None  # an outcome of its own (cancelled, not run); else the status or the exit code's

    @property
    def ok(self) -> bool:
        return self.exit_code is ExitCode.OK

    @property
    def outcome(self) -> str:
        """``succeeded``, ``partially succeeded``, ``failed``, ``blocked``, ``canceled`` (Fivetran's), or eltops's."""
        if self.label:
            return self.label
        if self.status is not None:
            return self.status.lower().replace("_", " ")
        return _OUTCOMES.get(self.exit_code, "failed")

    @property
    def status(self) -> str | None:
        """Fivetran's final status of the run, when eltops saw it end."""
        t = self.transformation
        return t.status if t is not None and t.ended_since(self.baseline) else None

    @property
    def output_models(self) -> tuple[str, ...]:
        return self.transformation.output_model_names if self.transformation is not None else ()

    @property
    def duration_seconds(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()


class TransformationsApi:
    """The four transformation calls, over a :class:`FivetranClient` (its retries, masking and deadline)."""

    def __init__(self, client: FivetranClient) -> None:
        self.client = client

    def get(self, transformation_id: str) -> Transformation:
        body = self.client.send("GET", _path(transformation_id))
        return Transformation.from_api(body.get("data") if isinstance(body, Mapping) else None)

    def all(self) -> list[Transformation]:
        return [Transformation.from_api(item) for item in self.client.items("/v1/transformations")]

    def run(self, transformation_id: str, *, full_refresh: bool) -> None:
        self.client.send("POST", f"{_path(transformation_id)}/run", json={"full_refresh": full_refresh})

    def cancel(self, transformation_id: str) -> None:
        self.client.send("POST", f"{_path(transformation_id)}/cancel")


def integrated_holds(client: FivetranClient, connection_ids: Sequence[str]) -> dict[str, list[Transformation]]:
    """Connection id → the transformations on an integrated schedule that read it and run now (one listing).

    A listing that fails (an account without transformations, a key without the permission) is logged and
    answers no holds: it only costs a note, never the job.
    """
    try:
        transformations = TransformationsApi(client).all()
    except JobTimeout:
        raise
    except EltopsError as exc:
        log.debug("could not list the transformations to look for integrated schedules: %s", exc)
        return {}
    wanted = set(connection_ids)
    holds: dict[str, list[Transformation]] = {}
    for transformation in transformations:
        if transformation.schedule_type == "INTEGRATED" and transformation.is_active:
            for connection_id in wanted.intersection(transformation.connection_ids):
                holds.setdefault(connection_id, []).append(transformation)
    return holds


def _path(transformation_id: str) -> str:
    return f"/v1/transformations/{quote(transformation_id, safe='')}"


def _now(wall_clock: Clock) -> datetime:
    return datetime.fromtimestamp(wall_clock(), tz=UTC)


class _Run:
    """One transformation's run in this job: its reads, what is awaited, and (once known) how it ended."""

    def __init__(self, transformation_id: str, started: datetime) -> None:
        self.id = transformation_id
        self.started_at = started
        self.current: Transformation | None = None
        self.baseline: datetime | None = None
        self.triggered = False
        self.result: TransformationResult | None = None


@dataclass
class TransformationRunner:
    """Runs transformations one job at a time: check they exist, run, wait within the deadline, cancel at its end.

    ``wait(seconds)`` is the orchestrator's (it ends early with JobCancelled when the job is cancelled);
    ``wall_clock`` stamps the results.
    """

    client: FivetranClient
    wait: Callable[[float], None]
    poll_interval: float
    timeout: float
    full_refresh: bool = False
    allow_partial: bool = False
    wall_clock: Clock = time.time
    cancel_seconds: float = CANCEL_SECONDS

    def __post_init__(self) -> None:
        self.api = TransformationsApi(self.client)
        self._runs: list[_Run] = []

    # -- before anything runs ---------------------------------------------------------------------------------

    def check(self, transformation_ids: Sequence[str]) -> dict[str, Transformation]:
        """Read each transformation; an id Fivetran does not know is a ConfigError naming it and what exists."""
        found: dict[str, Transformation] = {}
        unknown: list[str] = []
        for transformation_id in transformation_ids:
            try:
                found[transformation_id] = self.api.get(transformation_id)
            except ApiStatusError as exc:
                if exc.status_code != 404:
                    raise
                unknown.append(transformation_id)
        if unknown:
            raise ConfigError(
                f"Fivetran has no transformation {', '.join(map(repr, unknown))}; the transformations are: "
                f"{self._listing()}. Set TRANSFORMATION_ID (--transformation-id) to their ids"
            )
        return found

    def _listing(self) -> str:
        try:
            existing = self.api.all()
        except JobTimeout:
            raise
        except EltopsError as exc:
            return f"(could not list them: {exc})"
        if not existing:
            return "(none)"
        shown = [f"{t.id} ({t.name}, {t.type or 'unknown type'})" for t in existing[:MAX_LISTED]]
        more = len(existing) - len(shown)
        return ", ".join(shown) + (f" and {more} more" if more > 0 else "")

    # -- the run ----------------------------------------------------------------------------------------------

    def run(self, transformation_ids: Sequence[str]) -> tuple[TransformationResult, ...]:
        """Run every transformation and wait for all of them; each ends with a result (interruptions re-raise)."""
        self._runs = runs = [_Run(tid, _now(self.wall_clock)) for tid in dict.fromkeys(transformation_ids)]
        try:
            for run in runs:
                self._guarded(run, partial(self._start, run))
            self._await([run for run in runs if run.result is None])
        except JobTimeout:
            self._cancel_pending("the deadline")
        except BaseException:  # Ctrl-C, SIGTERM, the job cancelled: stop what runs, then let it go on stopping
            self._cancel_pending("the job being stopped", interrupted=True)
            raise
        return tuple(run.result for run in runs if run.result is not None)

    def interrupted_results(self) -> tuple[TransformationResult, ...]:
        """After an interruption: each transformation's result (those cancelled then included)."""
        return tuple(run.result for run in self._runs if run.result is not None)

    def _start(self, run: _Run) -> None:
        current = run.current = self.api.get(run.id)
        if current.paused:
            raise RemoteOperationFailed(
                f"transformation {run.id} ({current.name}) is paused, so it cannot run; resume it in Fivetran"
            )
        if current.is_active:
            log.info("%s: a run is going on (%s): waiting for it to end, then running it again", run.id, current.status)
            return
        self._trigger(run, current)

    def _trigger(self, run: _Run, current: Transformation) -> None:
        run.baseline = current.last_ended_at
        try:
            self.api.run(run.id, full_refresh=self.full_refresh)
        except ApiStatusError as exc:
            if exc.status_code != 409:
                raise
            raise RemoteOperationFailed(f"Fivetran refused to run transformation {run.id}: {exc}") from None
        run.triggered = True
        refresh = " (full refresh)" if self.full_refresh else ""
        log.info("%s: transformation %s run requested%s", run.id, current.name, refresh)

    def _await(self, pending: list[_Run]) -> None:
        deadline = self.client.deadline
        next_heartbeat = deadline.elapsed() + HEARTBEAT_SECONDS
        while pending:
            remaining = deadline.remaining()
            if remaining <= 0:
                raise JobTimeout("deadline")
            self.wait(min(self.poll_interval, remaining))
            listed = self._listing_for(pending)
            for run in pending:
                self._guarded(run, partial(self._poll, run, listed.get(run.id)))
            pending = [run for run in pending if run.result is None]
            if pending and deadline.elapsed() >= next_heartbeat:
                next_heartbeat = deadline.elapsed() + HEARTBEAT_SECONDS
                states = ", ".join(f"{run.id} {run.current.status if run.current else 'unknown'}" for run in pending)
                log.info(
                    "still waiting for %d transformation(s) after %.0f s: %s", len(pending), deadline.elapsed(), states
                )

    def _listing_for(self, pending: Sequence[_Run]) -> dict[str, Transformation]:
        """Several runs awaited: one listing of the transformations per poll instead of a GET each (as for syncs).

        A listing that fails is no loss: each run is then read with its own GET.
        """
        if len(pending) < 2:
            return {}
        try:
            return {t.id: t for t in self.api.all()}
        except JobTimeout:
            raise
        except EltopsError as exc:
            log.debug("the transformations listing failed (%s): reading each one", exc)
            return {}

    def _poll(self, run: _Run, listed: Transformation | None = None) -> None:
        previous = run.current.status if run.current is not None else None
        current = run.current = listed or self.api.get(run.id)
        if not run.triggered:
            if not current.is_active:
                log.info("%s: the run that was going on ended (%s); running it now", run.id, current.status)
                self._trigger(run, current)
            return
        if current.ended_since(run.baseline):
            self._conclude(run, current)
        elif current.status != previous:
            log.info("%s: %s → %s", run.id, previous or "unknown", current.status)

    def _conclude(self, run: _Run, done: Transformation) -> None:
        ended = format_timestamp(done.last_ended_at)
        models = f"; output models: {', '.join(done.output_model_names)}" if done.output_model_names else ""
        status = done.status
        if status == "SUCCEEDED":
            self._finish(run, ExitCode.OK, f"SUCCEEDED at {ended}{models}")
        elif status == "PARTIALLY_SUCCEEDED" and self.allow_partial:
            self._finish(run, ExitCode.OK, f"PARTIALLY_SUCCEEDED at {ended}, accepted (FIVETRAN_ALLOW_PARTIAL){models}")
        elif status == "PARTIALLY_SUCCEEDED":
            self._finish(
                run,
                ExitCode.REMOTE_FAILED,
                f"PARTIALLY_SUCCEEDED at {ended}: some models failed (see the run in Fivetran); "
                f"FIVETRAN_ALLOW_PARTIAL=1 accepts a partial success{models}",
            )
        elif status == "BLOCKED":
            self._finish(
                run,
                ExitCode.REMOTE_FAILED,
                f"BLOCKED at {ended}: Fivetran did not run it (a connection it reads failed or is not synced, or "
                f"a run it depends on failed; see the transformation in Fivetran){models}",
            )
        elif status == "CANCELED":
            self._finish(run, ExitCode.REMOTE_FAILED, f"CANCELED at {ended} in Fivetran (not by eltops){models}")
        else:  # FAILED, or a status this version does not know
            self._finish(run, ExitCode.REMOTE_FAILED, f"{status} at {ended} (see the run's logs in Fivetran){models}")

    def _finish(self, run: _Run, code: ExitCode, message: str, *, label: str | None = None) -> None:
        if code is not ExitCode.OK:
            log.error("%s: %s", run.id, message)
        else:
            log.info("%s: %s", run.id, message)
        run.result = TransformationResult(
            transformation_id=run.id,
            exit_code=code,
            message=message,
            started_at=run.started_at,
            finished_at=_now(self.wall_clock),
            transformation=run.current,
            baseline=run.baseline,
            label=label,
        )

    def _guarded(self, run: _Run, step: Callable[[], None]) -> None:
        try:
            step()
        except JobTimeout:
            raise
        except EltopsError as exc:
            self._finish(run, exc.exit_code, str(exc))

    def _cancel_pending(self, why: str, *, interrupted: bool = False) -> None:
        """Cancel every run still going on (each request with its own few seconds) and end it with a result."""
        for run in self._runs:
            if run.result is not None:
                continue
            said = self._cancel(run) if run.triggered else "it had not started yet, so nothing was cancelled"
            if interrupted:
                self._finish(run, ExitCode.TIMEOUT, f"stopped by {why}: {said}", label="cancelled")
            else:
                status = run.current.status if run.current is not None else "unknown"
                self._finish(
                    run,
                    ExitCode.TIMEOUT,
                    f"did not finish within {self.timeout:g} s (last status {status}): {said}. Raise "
                    "FIVETRAN_TIMEOUT to wait longer",
                )

    def _cancel(self, run: _Run) -> str:
        try:
            TransformationsApi(self.client.rebound(self.cancel_seconds)).cancel(run.id)
        except ApiStatusError as exc:
            if exc.status_code == 409:
                return "it had already ended when eltops cancelled it (Fivetran answered 409)"
            return f"cancelling it FAILED ({exc}): it may go on in Fivetran"
        except (EltopsError, OSError) as exc:
            return f"cancelling it FAILED ({exc}): it may go on in Fivetran"
        except (KeyboardInterrupt, SystemExit):
            return "interrupted again while cancelling it: it may go on in Fivetran"
        log.warning("%s: cancel requested; the run ends CANCELED in Fivetran", run.id)
        return "eltops cancelled the run (it ends CANCELED in Fivetran)"
