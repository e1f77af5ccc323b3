"""Emulated Fivetran transformations: their scripted runs, the four endpoints a CI job uses, and integrated schedules.

``GET /v1/transformations`` (paged, ``group_id``/``type`` filters), ``GET /v1/transformations/{id}``,
``POST .../run`` (``{"full_refresh": bool}``) and ``POST .../cancel``, answered as the 2026 definition declares
(``TransformationResponse``, discriminated by ``type``).

A run's timeline is fixed when it starts, so its status at any moment is a pure function of the clock::

    run ─▶ SCHEDULING (queue_seconds) ─▶ RUNNING (run_seconds; None: never ends) ─▶ outcome
                │ outcome BLOCKED: ends here          cancel ─▶ TERMINATING (cancel_seconds) ─▶ CANCELED

``last_started_at`` is the moment of the run request, ``last_ended_at`` the moment it ended (any outcome).
A transformation on an ``INTEGRATED`` schedule starts by itself when a sync of one of its ``connection_ids``
succeeds, and while it runs, a sync of those connections stays queued (``sync_state: scheduled``): Fivetran
does not sync a connection while an integrated transformation reads it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

from eltops.fivetran.emulator._state import ApiProblem, iso

Outcome = Literal["SUCCEEDED", "FAILED", "PARTIALLY_SUCCEEDED", "BLOCKED", "CANCELED"]
OUTCOMES: tuple[str, ...] = ("SUCCEEDED", "FAILED", "PARTIALLY_SUCCEEDED", "BLOCKED", "CANCELED")
TYPES = ("DBT_CORE", "QUICKSTART")
SCHEDULE_TYPES = ("INTEGRATED", "TIME_OF_DAY", "INTERVAL", "CRON")
ACTIVE = ("SCHEDULING", "RUNNING", "TERMINATING")


@dataclass(frozen=True, kw_only=True)
class TransformationScript:
    """How the emulated transformation's runs go: read when a run starts.

    ``run_seconds=None`` is a run that never ends by itself (only a cancel ends it). ``outcome`` is how a run
    ends: ``BLOCKED`` ends after the queue without running; ``CANCELED`` as if someone cancelled it in the UI.
    """

    queue_seconds: float = 0.0
    run_seconds: float | None = 5.0
    outcome: Outcome = "SUCCEEDED"
    cancel_seconds: float = 1.0

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}, not {self.outcome!r}")
        for name in ("queue_seconds", "run_seconds", "cancel_seconds"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} cannot be negative")


@dataclass
class TransformationRun:
    """One run, its timeline fixed at its start (a cancel moves its end)."""

    started_at: float
    queue_seconds: float
    run_seconds: float | None
    outcome: Outcome
    cancel_seconds: float
    full_refresh: bool
    cancelled_at: float | None = None

    def ends_at(self) -> float:
        if self.cancelled_at is not None:
            return self.cancelled_at + self.cancel_seconds
        if self.outcome == "BLOCKED":
            return self.started_at + self.queue_seconds
        if self.run_seconds is None:
            return math.inf
        return self.started_at + self.queue_seconds + self.run_seconds

    def status_at(self, now: float) -> str:
        if now >= self.ends_at():
            return "CANCELED" if self.cancelled_at is not None else self.outcome
        if self.cancelled_at is not None:
            return "TERMINATING"
        return "SCHEDULING" if now < self.started_at + self.queue_seconds else "RUNNING"


@dataclass
class Transformation:
    id: str
    group_id: str
    name: str
    type: str
    created_at: float
    schedule_type: str = "INTERVAL"
    connection_ids: tuple[str, ...] = ()
    interval: int = 60
    paused: bool = False
    output_model_names: tuple[str, ...] = ()
    script: TransformationScript = field(default_factory=TransformationScript)
    status: str = "NEW"  # of the newest finished run (NEW: none yet)
    last_started_at: float | None = None
    last_ended_at: float | None = None
    runs: list[TransformationRun] = field(default_factory=list)  # every run, oldest first

    @property
    def current(self) -> TransformationRun | None:
        return self.runs[-1] if self.runs else None

    def status_at(self, now: float) -> str:
        run = self.current
        return self.status if run is None else run.status_at(now)

    def is_active(self, now: float) -> bool:
        return self.status_at(now) in ACTIVE

    def start(self, now: float, *, full_refresh: bool) -> None:
        script = self.script
        self.runs.append(
            TransformationRun(
                started_at=now,
                queue_seconds=script.queue_seconds,
                run_seconds=script.run_seconds,
                outcome=script.outcome,
                cancel_seconds=script.cancel_seconds,
                full_refresh=full_refresh,
            )
        )

    def render(self, now: float) -> dict[str, Any]:
        started = max(
            [m for m in [self.last_started_at, *(r.started_at for r in self.runs)] if m is not None], default=None
        )
        ended_runs = [r.ends_at() for r in self.runs if r.ends_at() <= now]
        ended = max([m for m in [self.last_ended_at, *ended_runs] if m is not None], default=None)
        schedule: dict[str, Any] = {"schedule_type": self.schedule_type}
        if self.schedule_type == "INTERVAL":
            schedule["interval"] = self.interval
        if self.connection_ids and self.type == "DBT_CORE":
            schedule["connection_ids"] = list(self.connection_ids)
        rendered: dict[str, Any] = {
            "id": self.id,
            "status": self.status_at(now),
            "schedule": schedule,
            "type": self.type,
            "paused": self.paused,
            "created_at": iso(self.created_at),
            "created_by_id": "emulator_user",
            "output_model_names": list(self.output_model_names),
        }
        if started is not None:
            rendered["last_started_at"] = iso(started)
        if ended is not None:
            rendered["last_ended_at"] = iso(ended)
        if self.type == "DBT_CORE":
            rendered["transformation_config"] = {
                "project_id": f"{self.group_id}_project",
                "name": self.name,
                "steps": [{"name": self.name, "command": f"dbt build --select {self.name}"}],
            }
        else:
            rendered["transformation_config"] = {
                "package_name": self.name,
                "connection_ids": list(self.connection_ids),
                "excluded_models": [],
                "upgrade_available": False,
            }
        return rendered


class TransformationBook:
    """The account's transformations, and what they mean for its connections' syncs."""

    def __init__(self) -> None:
        self.items: dict[str, Transformation] = {}

    def get(self, transformation_id: str) -> Transformation:
        found = self.items.get(transformation_id)
        if found is None:
            raise ApiProblem(
                404, "NotFound_Transformation", f"Transformation with id '{transformation_id}' does not exist."
            )
        return found

    def integrated(self, connection_id: str) -> list[Transformation]:
        return [
            t
            for t in self.items.values()
            if t.schedule_type == "INTEGRATED" and connection_id in t.connection_ids and not t.paused
        ]

    def hold(self, connection_id: str, moment: float) -> float | None:
        """Until when a sync of ``connection_id`` starting at ``moment`` waits (inf: for ever); None: it does not."""
        ends = [
            run.ends_at()
            for t in self.integrated(connection_id)
            for run in t.runs
            if run.started_at <= moment < run.ends_at()
        ]
        return max(ends) if ends else None

    def synced(self, connection_id: str, at: float) -> None:
        """A sync of ``connection_id`` succeeded at ``at``: its integrated transformations start (unless running)."""
        for transformation in self.integrated(connection_id):
            if not transformation.is_active(at):
                transformation.start(at, full_refresh=False)


# --- the endpoints (the app routes /v1/transformations/... here, holding the account's lock) -----------------


def list_transformations(
    book: TransformationBook, now: float, args: dict[str, str]
) -> list[tuple[str, dict[str, Any]]]:
    """The items of ``GET /v1/transformations``, filtered by ``group_id`` and ``type`` as the definition allows."""
    kind = args.get("type")
    if kind is not None and kind not in TYPES:
        raise ApiProblem(400, "InvalidInput", f"Invalid type '{kind}': supported values are {', '.join(TYPES)}")
    group_id = args.get("group_id")
    return [
        (t.id, t.render(now))
        for t in book.items.values()
        if (group_id is None or t.group_id == group_id) and (kind is None or t.type == kind)
    ]


def run_transformation(transformation: Transformation, now: float, body: dict[str, Any]) -> str:
    """``POST .../run``: start a run (409 while one goes on, or when paused); the answer's message."""
    unknown = sorted(set(body) - {"full_refresh"})
    if unknown:
        raise ApiProblem(400, "InvalidInput", f"Unrecognized field(s): {', '.join(unknown)}")
    full_refresh = body.get("full_refresh", False)
    if not isinstance(full_refresh, bool):
        raise ApiProblem(400, "InvalidInput", "Field 'full_refresh' must be a boolean")
    if transformation.paused:
        raise ApiProblem(409, "Conflict", f"Transformation with id '{transformation.id}' is paused")
    if transformation.is_active(now):
        raise ApiProblem(
            409, "Conflict", f"Transformation with id '{transformation.id}' is already running; cancel it first"
        )
    transformation.start(now, full_refresh=full_refresh)
    return f"Transformation with id '{transformation.id}' has been started"


def cancel_transformation(transformation: Transformation, now: float) -> str:
    """``POST .../cancel``: a run that goes on terminates, then ends CANCELED (409 when none goes on)."""
    run = transformation.current
    if run is None or not transformation.is_active(now):
        raise ApiProblem(409, "Conflict", f"Transformation with id '{transformation.id}' is not running")
    if run.cancelled_at is None:
        run.cancelled_at = now
    return f"Transformation with id '{transformation.id}' has been canceled"
