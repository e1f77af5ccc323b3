"""The settings of TRANSFORM, CHECK and the transformations run after a sync: one table row each.

Each :class:`Setting` row declares a variable once: its flag, how its text is read, which actions it applies
to, and what it means. The table drives the parsing here, the command's options and their help
(``cli._fivetran``), and the bad-input tests (``tests/fivetran/test_action_settings.py``). A setting given to an
action it does not apply to is bad input (exit 2), as the older settings are.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from eltops.errors import ConfigError
from eltops.secrets import EnvReader

__all__ = ["ACTION_SETTINGS", "ActionSettings", "Setting", "load_action_settings"]

SYNCING_ACTIONS = ("START", "FORCE_RESYNC", "RESYNC")


def _ids(text: str, *, source: str) -> tuple[str, ...]:
    parts = [part.strip() for part in text.split(",")]
    ids = tuple(dict.fromkeys(part for part in parts if part))
    if not ids or any(not part for part in parts):
        raise ConfigError(
            f"{source} must list transformation ids, comma-separated (e.g. abc_marts,def_finance), got {text!r}"
        )
    return ids


def _boolean(text: str, *, source: str) -> bool:
    from eltops.fivetran._settings import _boolean as boolean

    return boolean(text, source=source)


def _duration(text: str, *, source: str) -> float:
    from eltops.fivetran._settings import _duration as duration

    return duration(text, source=source)


@dataclass(frozen=True)
class Setting:
    """One setting: ``name`` (the attribute), its variable and flag, its reader, the actions it applies to."""

    name: str
    variable: str
    flag: str
    parse: Callable[..., Any]
    actions: tuple[str, ...]
    meaning: str
    switch: bool = False  # a flag with no value (given: true)
    metavar: str = ""


ACTION_SETTINGS: tuple[Setting, ...] = (
    Setting(
        "transformation_ids",
        "TRANSFORMATION_ID",
        "--transformation-id",
        _ids,
        ("TRANSFORM",),
        "TRANSFORM: the transformation(s) to run, comma-separated ids.",
        metavar="IDS",
    ),
    Setting(
        "then_transform",
        "FIVETRAN_THEN_TRANSFORM",
        "--then-transform",
        _ids,
        SYNCING_ACTIONS,
        "START, FORCE_RESYNC, RESYNC: once every sync succeeded, run these transformations (ids) in the same job.",
        metavar="IDS",
    ),
    Setting(
        "full_refresh",
        "FIVETRAN_FULL_REFRESH",
        "--full-refresh",
        _boolean,
        ("TRANSFORM", *SYNCING_ACTIONS),
        "Run the transformations with full_refresh (dbt --full-refresh).",
        switch=True,
    ),
    Setting(
        "allow_partial",
        "FIVETRAN_ALLOW_PARTIAL",
        "--allow-partial",
        _boolean,
        ("TRANSFORM", *SYNCING_ACTIONS),
        "Accept PARTIALLY_SUCCEEDED transformations (exit 0) instead of failing (exit 1).",
        switch=True,
    ),
    Setting(
        "max_age",
        "FIVETRAN_MAX_AGE",
        "--max-age",
        _duration,
        ("CHECK",),
        "CHECK: the oldest a last successful sync may be (30m, 2h); default: its sync frequency plus a margin.",
        metavar="DURATION",
    ),
    Setting(
        "wait_until_fresh",
        "FIVETRAN_WAIT_UNTIL_FRESH",
        "--wait-until-fresh",
        _boolean,
        ("CHECK",),
        "CHECK: wait, within the timeout, for stale connections to sync instead of failing at once.",
        switch=True,
    ),
)


@dataclass(frozen=True)
class ActionSettings:
    """What the rows above say for one job (their defaults when unset)."""

    transformation_ids: tuple[str, ...] = ()
    then_transform: tuple[str, ...] = ()
    full_refresh: bool = False
    allow_partial: bool = False
    max_age: float | None = None
    wait_until_fresh: bool = False


def load_action_settings(
    env: EnvReader, flags: Mapping[str, str | bool | None], *, action: str, wait: bool
) -> ActionSettings:
    """Read every row (a flag beats its variable), refuse one given to an action it does not apply to."""
    values: dict[str, Any] = {}
    for row in ACTION_SETTINGS:
        flag = flags.get(row.name)
        if flag is not None and flag is not False:
            text, source = ("true" if flag is True else str(flag)), row.flag
        else:
            env_text = env.get(row.variable)
            if env_text is None or (row.switch and not env_text.strip()):
                continue
            text, source = env_text, row.variable
        value = row.parse(text, source=source)
        if action not in row.actions and (value or not row.switch):
            raise ConfigError(f"{source} only applies to {', '.join(row.actions)}, not {action}")
        values[row.name] = value
    settings = ActionSettings(**values)
    if action == "TRANSFORM" and not settings.transformation_ids:
        raise ConfigError("TRANSFORM needs TRANSFORMATION_ID (--transformation-id): one id, or several comma-separated")
    if settings.then_transform and not wait:
        raise ConfigError(
            "FIVETRAN_THEN_TRANSFORM needs the syncs awaited: it cannot run with FIVETRAN_WAIT=false (--no-wait)"
        )
    uses_transform_options = settings.transformation_ids or settings.then_transform
    for name, variable in (("full_refresh", "FIVETRAN_FULL_REFRESH"), ("allow_partial", "FIVETRAN_ALLOW_PARTIAL")):
        if values.get(name) and not uses_transform_options:
            raise ConfigError(f"{variable} applies to the transformations of TRANSFORM or FIVETRAN_THEN_TRANSFORM")
    return settings
