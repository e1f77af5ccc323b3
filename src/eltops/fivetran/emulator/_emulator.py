"""``FivetranEmulator``: build an emulated account in Python, serve it as WSGI, and look inside it."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from eltops.fivetran.emulator._account import DEFAULT_API_KEY, DEFAULT_API_SECRET, Account, RecordedRequest
from eltops.fivetran.emulator._app import FivetranApp, PathFamilies
from eltops.fivetran.emulator._script import ConnectionScript, FailureBurst
from eltops.fivetran.emulator._state import (
    DELAY_SENSITIVITIES,
    SCHEDULE_TYPES,
    SETUP_STATES,
    Connection,
    Group,
    ScheduleType,
    SetupState,
    check_schedule,
    default_config,
    to_epoch,
)
from eltops.fivetran.emulator._transformations import OUTCOMES as TRANSFORMATION_OUTCOMES
from eltops.fivetran.emulator._transformations import SCHEDULE_TYPES as TRANSFORMATION_SCHEDULES
from eltops.fivetran.emulator._transformations import TYPES as TRANSFORMATION_TYPES
from eltops.fivetran.emulator._transformations import Transformation, TransformationScript

Timestamp = datetime | str | float | None


class FivetranEmulator:
    """A faithful emulation of the Fivetran REST API calls a CI orchestrator makes, as a WSGI app.

    ``clock`` returns epoch seconds; every sync moves along it (pass a fake clock to step time by hand).
    ``paths`` chooses which URL families answer: ``/v1/connections/...``, ``/v1/connectors/...`` or both.
    ``rate_limit`` is the account's budget of requests per rolling hour: every answer carries ``X-Rate-Limit`` and
    ``X-Rate-Limit-Remaining``, and a request past it gets 429 with ``Retry-After``.
    """

    def __init__(
        self,
        *,
        api_key: str = DEFAULT_API_KEY,
        api_secret: str = DEFAULT_API_SECRET,
        clock: Callable[[], float] = time.time,
        paths: PathFamilies = "both",
        rate_limit: int = 20_000,
    ) -> None:
        self._account = Account(clock, rate_limit=rate_limit)
        self._app = FivetranApp(self._account, api_key=api_key, api_secret=api_secret, paths=paths)
        self.api_key = api_key
        self.api_secret = api_secret
        self.paths = paths

    @classmethod
    def from_scenario(
        cls,
        source: str | Path | Mapping[str, Any],
        *,
        api_key: str = DEFAULT_API_KEY,
        api_secret: str = DEFAULT_API_SECRET,
        clock: Callable[[], float] = time.time,
        paths: PathFamilies = "both",
    ) -> FivetranEmulator:
        """An emulator holding the groups and connections of a scenario file (YAML/JSON) or mapping."""
        emulator = cls(api_key=api_key, api_secret=api_secret, clock=clock, paths=paths)
        emulator.load_scenario(source)
        return emulator

    def load_scenario(self, source: str | Path | Mapping[str, Any]) -> None:
        """Add the groups and connections of a scenario file (YAML/JSON) or an already-parsed mapping."""
        from eltops.fivetran.emulator._scenario import apply_scenario, read_scenario_file

        if isinstance(source, Mapping):
            apply_scenario(self, source, origin="scenario")
        else:
            apply_scenario(self, read_scenario_file(Path(source)), origin=str(source))

    # --- building the account ----------------------------------------------------------------------

    def add_group(
        self,
        group_id: str,
        *,
        name: str | None = None,
        created_at: Timestamp = None,
        destination: Mapping[str, Any] | None = None,
    ) -> None:
        """``destination``: what ``GET /v1/destinations/{group_id}`` says (service, region, config, ...)."""
        if destination is not None and not isinstance(destination, Mapping):
            raise ValueError("destination must be a mapping (service, config: {host, port, database, ...})")
        with self._account.lock:
            if group_id in self._account.groups:
                raise ValueError(f"group {group_id!r} already exists")
            created = to_epoch(created_at)
            self._account.groups[group_id] = Group(
                group_id,
                name or group_id,
                self._account.clock() if created is None else created,
                dict(destination) if destination is not None else None,
            )

    def add_connection(
        self,
        connection_id: str,
        *,
        group_id: str,
        schema: str,
        service: str = "postgres",
        schedule_type: ScheduleType = "auto",
        paused: bool = False,
        setup_state: SetupState = "connected",
        succeeded_at: Timestamp = None,
        failed_at: Timestamp = None,
        tables: Mapping[str, list[str]] | None = None,
        script: ConnectionScript | None = None,
        sync_frequency: int = 360,
        config: Mapping[str, Any] | None = None,
        created_at: Timestamp = None,
        schedule: Mapping[str, Any] | None = None,
        daily_sync_time: str = "00:00",
        data_delay_sensitivity: str = "NORMAL",
        data_delay_threshold: int = 0,
    ) -> None:
        """Add a connection to an existing group; ``schema`` is its human name, ``tables`` its schema config.

        ``schedule`` is a flexible schedule (``{"schedule_type": "CRON", "cron": ["0 */2 * * *"]}``, INTERVAL with
        ``interval``, TIME_OF_DAY with ``time_of_day`` and ``days_of_week``); it needs ``schedule_type`` auto.
        """
        if schedule_type not in SCHEDULE_TYPES:
            raise ValueError(f"schedule_type must be auto or manual, not {schedule_type!r}")
        checked = None if schedule is None else check_schedule(dict(schedule))
        if checked is not None and schedule_type == "manual":
            raise ValueError("a flexible schedule does not combine with schedule_type manual")
        if data_delay_sensitivity not in DELAY_SENSITIVITIES:
            raise ValueError(f"data_delay_sensitivity must be one of {', '.join(DELAY_SENSITIVITIES)}")
        if setup_state not in SETUP_STATES:
            raise ValueError(f"setup_state must be one of {', '.join(SETUP_STATES)}, not {setup_state!r}")
        with self._account.lock:
            if group_id not in self._account.groups:
                raise ValueError(f"connection {connection_id!r} names group {group_id!r}, which does not exist")
            if connection_id in self._account.connections:
                raise ValueError(f"connection {connection_id!r} already exists")
            created = to_epoch(created_at)
            self._account.connections[connection_id] = Connection(
                id=connection_id,
                group_id=group_id,
                schema=schema,
                service=service,
                schedule_type=schedule_type,
                paused=paused,
                setup_state=setup_state,
                created_at=self._account.clock() if created is None else created,
                succeeded_at=to_epoch(succeeded_at),
                failed_at=to_epoch(failed_at),
                tables=None if tables is None else {name: list(names) for name, names in tables.items()},
                config=dict(config) if config is not None else default_config(service, schema),
                script=script or ConnectionScript(),
                sync_frequency=sync_frequency,
                hold=self._account.transformations.hold,
                on_success=self._account.transformations.synced,
                schedule=checked,
                daily_sync_time=daily_sync_time,
                data_delay_sensitivity=data_delay_sensitivity,
                data_delay_threshold=data_delay_threshold,
            )

    def add_transformation(
        self,
        transformation_id: str,
        *,
        group_id: str,
        name: str | None = None,
        type: str = "DBT_CORE",
        schedule_type: str = "INTERVAL",
        connection_ids: Sequence[str] = (),
        paused: bool = False,
        output_model_names: Sequence[str] = (),
        script: TransformationScript | None = None,
        status: str = "NEW",
        last_started_at: Timestamp = None,
        last_ended_at: Timestamp = None,
        created_at: Timestamp = None,
    ) -> None:
        """Add a transformation (dbt Core or Quickstart) to a group; ``script`` scripts how its runs go.

        ``schedule_type="INTEGRATED"`` with ``connection_ids`` chains it to those connections: a successful sync
        of one starts it, and their syncs wait while it runs. ``status``/``last_*_at`` describe its last run.
        """
        if type not in TRANSFORMATION_TYPES:
            raise ValueError(f"type must be one of {', '.join(TRANSFORMATION_TYPES)}, not {type!r}")
        if schedule_type not in TRANSFORMATION_SCHEDULES:
            raise ValueError(
                f"schedule_type must be one of {', '.join(TRANSFORMATION_SCHEDULES)}, not {schedule_type!r}"
            )
        if status not in ("NEW", *TRANSFORMATION_OUTCOMES):
            raise ValueError(f"status must be NEW or one of {', '.join(TRANSFORMATION_OUTCOMES)}, not {status!r}")
        with self._account.lock:
            if group_id not in self._account.groups:
                raise ValueError(f"transformation {transformation_id!r} names group {group_id!r}, which does not exist")
            book = self._account.transformations.items
            if transformation_id in book:
                raise ValueError(f"transformation {transformation_id!r} already exists")
            unknown = [c for c in connection_ids if c not in self._account.connections]
            if unknown:
                raise ValueError(
                    f"transformation {transformation_id!r} names unknown connection(s) {', '.join(unknown)}"
                )
            created = to_epoch(created_at)
            book[transformation_id] = Transformation(
                id=transformation_id,
                group_id=group_id,
                name=name or transformation_id,
                type=type,
                created_at=self._account.clock() if created is None else created,
                schedule_type=schedule_type,
                connection_ids=tuple(connection_ids),
                paused=paused,
                output_model_names=tuple(dict.fromkeys(output_model_names)),
                script=script or TransformationScript(),
                status=status,
                last_started_at=to_epoch(last_started_at),
                last_ended_at=to_epoch(last_ended_at),
            )

    def transformation_runs(self, transformation_id: str) -> list[bool]:
        """The ``full_refresh`` of every run of the transformation so far (API-started and integrated), oldest first."""
        with self._account.lock:
            return [run.full_refresh for run in self._account.transformations.get(transformation_id).runs]

    def script(self, connection_id: str, **changes: Any) -> ConnectionScript:
        """Change fields of a connection's script at runtime (new failure bursts start counting afresh).

        Sync timings and the outcome apply to syncs triggered from now on; a running sync keeps its own.
        """
        with self._account.lock:
            connection = self._connection(connection_id)
            connection.script = dataclasses.replace(connection.script, **changes)
            if "failures" in changes:
                connection.reset_bursts()
            return connection.script

    def fail_requests(self, *bursts: FailureBurst) -> None:
        """Answer the next matching requests of any path (group listings included) with a scripted failure."""
        self._account.add_bursts(tuple(bursts))

    def remove_connection(self, connection_id: str) -> None:
        """Delete a connection, as ``DELETE {c}`` or the UI would: it leaves listings and its reads answer 404."""
        with self._account.lock:
            self._connection(connection_id)
            del self._account.connections[connection_id]

    def set_setup_state(self, connection_id: str, setup_state: SetupState) -> None:
        """Break or repair a connection's setup from the outside, as a change in the source would."""
        if setup_state not in SETUP_STATES:
            raise ValueError(f"setup_state must be one of {', '.join(SETUP_STATES)}, not {setup_state!r}")
        with self._account.lock:
            connection = self._connection(connection_id)
            connection.advance(self._account.clock())
            connection.setup_state = setup_state

    # --- looking inside ---------------------------------------------------------------------------------

    @property
    def wsgi_app(self) -> FivetranApp:
        """The WSGI callable serving the API."""
        return self._app

    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of every request received so far, oldest first (PATCHes and refused requests included)."""
        return self._account.requests()

    def clear_requests(self) -> None:
        self._account.clear_requests()

    def snapshot(self, connection_id: str) -> dict[str, Any]:
        """The connection object exactly as ``GET /v1/connections/{id}`` renders ``data`` right now."""
        with self._account.lock:
            connection = self._connection(connection_id)
            connection.advance(self._account.clock())
            return connection.render()

    @property
    def connection_ids(self) -> list[str]:
        with self._account.lock:
            return list(self._account.connections)

    @property
    def group_ids(self) -> list[str]:
        with self._account.lock:
            return list(self._account.groups)

    def _connection(self, connection_id: str) -> Connection:
        try:
            return self._account.connections[connection_id]
        except KeyError:
            raise KeyError(f"no connection {connection_id!r} in the emulator") from None
