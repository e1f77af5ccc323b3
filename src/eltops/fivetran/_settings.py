"""The orchestrator's settings, parsed once from the DataOps variables, the vault and command-line flags.

A flag beats its variable. Everything is validated here, before any API call, so bad input is exit code 2
with a message naming the variable.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from eltops._http import validate_base_url
from eltops.errors import ConfigError
from eltops.fivetran._client import DEFAULT_API_URL
from eltops.secrets import EnvReader, Secret

log = logging.getLogger("eltops.fivetran")

DEFAULT_TIMEOUT_SECONDS = 300.0
DEFAULT_POLL_INTERVAL_SECONDS = 10.0
VAULT_API_KEY = "FIVETRAN.DEFAULT.API_KEY"
VAULT_API_SECRET = ("FIVETRAN.DEFAULT.API_SECRET", "FIVETRAN.DEFAULT.SECRET")


class Action(Enum):
    STATUS = "STATUS"
    START = "START"
    TEST = "TEST"
    FORCE_RESYNC = "FORCE_RESYNC"

    @classmethod
    def parse(cls, value: str, *, source: str) -> Action:
        normalised = value.strip().upper().replace("-", "_")
        try:
            return cls(normalised)
        except ValueError:
            choices = ", ".join(a.value for a in cls)
            raise ConfigError(f"{source} must be one of {choices}, got {value!r}") from None

    @property
    def waits_for_sync(self) -> bool:
        return self in (Action.START, Action.FORCE_RESYNC)


@dataclass(frozen=True)
class ConnectionRef:
    """A connection named by id, or by ``<group name>/<connection name>`` to be looked up."""

    id: str | None = None
    group_name: str | None = None
    connection_name: str | None = None

    @classmethod
    def parse(cls, text: str) -> ConnectionRef:
        if "/" in text:
            group, _, name = text.partition("/")
            if not group.strip() or not name.strip():
                raise ConfigError(f"CONNECTOR_ID {text!r} must be an id or <group name>/<connection name>")
            return cls(group_name=group.strip(), connection_name=name.strip())
        return cls(id=text)

    def __str__(self) -> str:
        return self.id if self.id is not None else f"{self.group_name}/{self.connection_name}"


@dataclass(frozen=True)
class FlagValues:
    """What the command line said; None means "not given, use the variable"."""

    action: str | None = None
    connector_ids: tuple[str, ...] = ()
    table: str | None = None
    schema: str | None = None
    timeout: float | None = None
    poll_interval: float | None = None
    api_url: str | None = None
    dont_disable_sync: bool | None = None
    unpause: bool | None = None
    junit: Path | None = None
    json_output: bool = False


@dataclass(frozen=True)
class FivetranSettings:
    action: Action
    connections: tuple[ConnectionRef, ...]
    api_key: Secret = field(repr=False)
    api_secret: Secret = field(repr=False)
    api_url: str = DEFAULT_API_URL
    schema: str | None = None
    tables: tuple[str, ...] = ()
    disable_schedule: bool = True
    unpause: bool = False
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    poll_interval: float = DEFAULT_POLL_INTERVAL_SECONDS
    junit_path: Path | None = None
    json_output: bool = False


def _split_list(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _unique(names: tuple[str, ...], *, source: str) -> tuple[str, ...]:
    """``names`` without repeats (first occurrence kept), warning once per repeated name.

    Fivetran refuses a table list with repeats (``uniqueItems`` in its API definition).
    """
    unique = tuple(dict.fromkeys(names))
    for name in dict.fromkeys(n for i, n in enumerate(names) if n in names[:i]):
        log.warning("%s names %r %d times; re-syncing it once", source, name, names.count(name))
    return unique


def _positive_seconds(text: str | float, *, source: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{source} must be a number of seconds, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{source} must be a positive number of seconds, got {text!r}")
    return value


def _credentials(env: EnvReader) -> tuple[Secret, Secret]:
    if env.flag("SET_FIVETRAN_KEYS_TO_ENV"):
        return env.vault_secret(VAULT_API_KEY), env.vault_secret(*VAULT_API_SECRET)
    key, secret = env.secret("FIVETRAN_API_KEY"), env.secret("FIVETRAN_API_SECRET")
    missing = [name for name, value in (("FIVETRAN_API_KEY", key), ("FIVETRAN_API_SECRET", secret)) if not value]
    if missing or key is None or secret is None:
        raise ConfigError(
            f"{' and '.join(missing)} must be set (directly, as DATAOPS_VAULT(path), or set "
            "SET_FIVETRAN_KEYS_TO_ENV=1 to read FIVETRAN.DEFAULT.API_KEY and FIVETRAN.DEFAULT.API_SECRET "
            "from the vault)"
        )
    return key, secret


def load_settings(env_vars: Mapping[str, str], flags: FlagValues, *, env: EnvReader | None = None) -> FivetranSettings:
    """Validate and combine variables, vault values and flags into settings; raise ConfigError on bad input."""
    env = env or EnvReader(env_vars)

    action_text = flags.action or env.get("FIVETRAN_ACTION")
    if not action_text:
        raise ConfigError("FIVETRAN_ACTION is required: one of STATUS, START, TEST, FORCE_RESYNC")
    action = Action.parse(action_text, source="the action" if flags.action else "FIVETRAN_ACTION")

    id_texts = [t for text in flags.connector_ids for t in _split_list(text)]
    if not id_texts:
        id_texts = list(_split_list(env.get("CONNECTOR_ID") or ""))
    if not id_texts:
        raise ConfigError("CONNECTOR_ID is required (one id, several comma-separated, or <group>/<name>)")
    connections = tuple(dict.fromkeys(ConnectionRef.parse(t) for t in id_texts))

    schema = flags.schema or env.get("SCHEMA")
    tables = _unique(_split_list(flags.table or env.get("TABLE") or ""), source="--table" if flags.table else "TABLE")
    if action is Action.FORCE_RESYNC:
        missing = [name for name, value in (("TABLE", tables), ("SCHEMA", schema)) if not value]
        if missing:
            raise ConfigError(f"FORCE_RESYNC needs {' and '.join(missing)} (the table(s) to re-sync and their schema)")

    timeout_text = flags.timeout if flags.timeout is not None else env.get("FIVETRAN_TIMEOUT")
    poll_text = flags.poll_interval if flags.poll_interval is not None else env.get("FIVETRAN_POLL_INTERVAL")
    timeout = (
        DEFAULT_TIMEOUT_SECONDS if timeout_text is None else _positive_seconds(timeout_text, source="FIVETRAN_TIMEOUT")
    )
    poll = (
        DEFAULT_POLL_INTERVAL_SECONDS
        if poll_text is None
        else _positive_seconds(poll_text, source="FIVETRAN_POLL_INTERVAL")
    )

    api_url = validate_base_url(
        flags.api_url or env.get("FIVETRAN_API_URL") or DEFAULT_API_URL, variable="FIVETRAN_API_URL"
    )
    junit_text = env.get("FIVETRAN_JUNIT_REPORT")
    junit = flags.junit or (Path(junit_text) if junit_text else None)

    api_key, api_secret = _credentials(env)
    dont_disable = (
        flags.dont_disable_sync if flags.dont_disable_sync is not None else env.flag("FIVETRAN_DONT_DISABLE_SYNC")
    )
    return FivetranSettings(
        action=action,
        connections=connections,
        api_key=api_key,
        api_secret=api_secret,
        api_url=api_url,
        schema=schema,
        tables=tables,
        disable_schedule=not dont_disable,
        unpause=flags.unpause if flags.unpause is not None else env.flag("FIVETRAN_UNPAUSE"),
        timeout=timeout,
        poll_interval=poll,
        junit_path=junit,
        json_output=flags.json_output,
    )
