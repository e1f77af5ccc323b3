"""Settings for ``eltops orchestra load``, parsed once from the variables and flags, before any request.

A flag beats its variable; anything malformed is a :class:`~eltops.errors.ConfigError` (exit code 2) naming the
flag or variable. The API settings are Orchestra's (:func:`eltops.orchestra.orchestra_settings`), the warehouse
and its wait the warehouse's (:func:`eltops.warehouse.parse_warehouse`, :func:`~eltops.warehouse.parse_wait`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from eltops.errors import ConfigError
from eltops.orchestra import (
    DEFAULT_BATCH_ROWS,
    OrchestraSettings,
    Resource,
    orchestra_settings,
    parse_resources,
    parse_time,
)
from eltops.secrets import EnvReader
from eltops.warehouse import TargetSpec, parse_wait, parse_warehouse

__all__ = ["MIN_INTERVAL_SECONDS", "LoadSettings", "load_settings", "parse_interval"]

MIN_INTERVAL_SECONDS = 10.0


@dataclass(frozen=True)
class LoadSettings:
    """One ``eltops orchestra load`` invocation."""

    orchestra: OrchestraSettings
    target: TargetSpec
    resources: tuple[Resource, ...]
    since: datetime | None
    full_refresh: bool
    every_seconds: float | None
    json_output: bool
    batch_rows: int = DEFAULT_BATCH_ROWS
    wait_seconds: float = 0.0
    """How long to wait for another process writing the DuckDB file (``--wait``, ``ELTOPS_WAREHOUSE_WAIT``)."""


def load_settings(
    env: EnvReader,
    *,
    resources: Sequence[str] = (),
    to: str | None = None,
    since: str | None = None,
    full_refresh: bool = False,
    every: str | None = None,
    rate_limit: float | None = None,
    api_url: str | None = None,
    json_output: bool = False,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    wait: float | None = None,
    cwd: Path | None = None,
    now: datetime | None = None,
) -> LoadSettings:
    """Everything ``load`` needs, validated: exit code 2 before any request when something is wrong.

    ``now`` (the local clock, for tests) only judges ``--since``: a date in the future has nothing to read.
    """
    chosen = parse_resources(resources)
    since_at = parse_time(since, "--since") if since else None
    today = now or datetime.now(UTC)
    if since_at is not None and since_at > today:
        raise ConfigError(
            f"--since {since} is in the future (it is {today.isoformat(timespec='seconds')} now): nothing was "
            "created after it yet; give a date in the past"
        )
    every_seconds = parse_interval(every) if every else None
    target = parse_warehouse(to, env, cwd=cwd)
    return LoadSettings(
        orchestra=orchestra_settings(env, api_url=api_url, rate_limit=rate_limit),
        target=target,
        resources=chosen,
        since=since_at,
        full_refresh=full_refresh,
        every_seconds=every_seconds,
        json_output=json_output,
        batch_rows=batch_rows,
        wait_seconds=parse_wait(env, wait),
    )


_INTERVAL = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|hr|d)?\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600, "d": 86400}


def parse_interval(text: str) -> float:
    """``90s``, ``15m``, ``1h``, ``1d`` (a bare number is minutes) as seconds; at least 10 seconds."""
    match = _INTERVAL.match(text)
    if not match:
        raise ConfigError(f"--every must look like 15m, 1h or 90s, got {text!r}")
    unit = (match.group(2) or "m").lower()
    seconds = float(match.group(1)) * _UNIT_SECONDS[unit]
    if seconds < MIN_INTERVAL_SECONDS:
        raise ConfigError(f"--every must be at least 10 seconds, got {text!r}")
    return seconds
