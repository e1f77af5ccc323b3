"""The orchestrator's settings, parsed once from the DataOps variables, the vault and command-line flags.

A flag beats its variable. Everything is validated here, before any API call, so bad input is exit code 2
with a message naming the variable.
"""

from __future__ import annotations

import base64
import binascii
import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from pathlib import Path

from eltops._parse import positive_seconds
from eltops._paths import JUNIT, output_file
from eltops._url import validate_base_url
from eltops.errors import ConfigError
from eltops.fivetran._action_settings import ActionSettings, load_action_settings
from eltops.secrets import EnvReader, Secret

DEFAULT_API_URL = "https://api.fivetran.com"

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
    RESYNC = "RESYNC"
    WAIT = "WAIT"
    TRANSFORM = "TRANSFORM"  # run Fivetran transformations (fivetran._transformations)
    CHECK = "CHECK"  # a freshness and health gate that triggers nothing (fivetran._check)

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
        return self in (Action.START, Action.FORCE_RESYNC, Action.RESYNC, Action.WAIT)

    @property
    def triggers_sync(self) -> bool:
        return self in (Action.START, Action.FORCE_RESYNC, Action.RESYNC)


class IfSyncing(Enum):
    """What START does when the connection is already syncing (someone else's sync: a schedule, another job)."""

    WAIT = "wait"  # that sync is the one this job waits for
    WAIT_THEN_SYNC = "wait-then-sync"  # let it finish, then sync again, so the data is as fresh as the job promises
    RESTART = "restart"  # stop it and start over (Fivetran's force: true); its work so far is thrown away

    @classmethod
    def parse(cls, value: str, *, source: str) -> IfSyncing:
        try:
            return cls(value.strip().lower().replace("_", "-"))
        except ValueError:
            choices = ", ".join(c.value for c in cls)
            raise ConfigError(f"{source} must be one of {choices}, got {value!r}") from None


DEFAULT_IF_SYNCING = IfSyncing.WAIT_THEN_SYNC


@dataclass(frozen=True)
class ConnectionRef:
    """A connection named by id, by ``<group name>/<connection name>``, or every one of ``group:<group name>``."""

    id: str | None = None
    group_name: str | None = None
    connection_name: str | None = None

    @classmethod
    def parse(cls, text: str) -> ConnectionRef:
        if text.startswith("group:"):
            group = text.removeprefix("group:").strip()
            if not group:
                raise ConfigError(f"CONNECTOR_ID {text!r} must name a group after group: (group:<group name>)")
            return cls(group_name=group)
        if "/" in text:
            group, _, name = text.partition("/")
            if not group.strip() or not name.strip():
                raise ConfigError(f"CONNECTOR_ID {text!r} must be an id or <group name>/<connection name>")
            return cls(group_name=group.strip(), connection_name=name.strip())
        return cls(id=text)

    def __str__(self) -> str:
        if self.id is not None:
            return self.id
        if self.connection_name is None:
            return f"group:{self.group_name}"
        return f"{self.group_name}/{self.connection_name}"


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
    if_syncing: str | None = None
    wait: bool | None = None
    completed_after: str | None = None
    skip_if_synced_within: str | None = None
    repair_setup: bool | None = None
    action_flags: Mapping[str, str | bool | None] = field(default_factory=dict)  # _action_settings rows, by name
    force: bool = False
    test_allow: str | None = None
    restore_schedule: bool | None = None


ALLOWABLE_TEST_STATUSES = ("WARNING", "SKIPPED")
"""Setup-test statuses FIVETRAN_TEST_ALLOW may accept; FAILED and JOB_FAILED always fail, PASSED always passes."""


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
    if_syncing: IfSyncing = DEFAULT_IF_SYNCING
    wait: bool = True
    completed_after: datetime | None = None
    baselines: Mapping[str, datetime | None] = field(default_factory=dict)
    skip_if_synced_within: float | None = None
    repair_setup: bool = False
    resync_scope: Mapping[str, tuple[str, ...]] | None = None
    more: ActionSettings = field(default_factory=ActionSettings)  # TRANSFORM, CHECK, FIVETRAN_THEN_TRANSFORM
    sources: Mapping[str, str] = field(default_factory=dict)
    """Where a setting came from, for messages: its flag when the flag was given (``--skip-if-synced-within``),
    else its variable; a setting not named here is spoken of by its variable."""

    def source(self, variable: str) -> str:
        """``variable``, or the flag that set it instead."""
        return self.sources.get(variable, variable)

    test_allow: frozenset[str] = frozenset()
    restore_schedule: bool = False

    def wait_baseline(self, connection_id: str) -> tuple[bool, datetime | None]:
        """For WAIT: (known, moment) — the sync to wait for is one that completes strictly after ``moment``."""
        if self.completed_after is not None:
            return True, self.completed_after
        if connection_id in self.baselines:
            return True, self.baselines[connection_id]
        return False, None


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


_BOOLEAN_WORDS = {
    "true": True,
    "1": True,
    "yes": True,
    "on": True,
    "false": False,
    "0": False,
    "no": False,
    "off": False,
}
_DURATION = re.compile(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?")


def _boolean(text: str, *, source: str) -> bool:
    try:
        return _BOOLEAN_WORDS[text.strip().lower()]
    except KeyError:
        raise ConfigError(f"{source} must be true or false, got {text!r}") from None


def _duration(text: str, *, source: str) -> float:
    """``90``, ``90s``, ``30m``, ``2h``, ``1h30m`` as seconds (positive)."""
    compact = text.strip().lower().replace(" ", "")
    match = _DURATION.fullmatch(compact)
    if compact and match is not None and any(match.groups()):
        hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
        value = hours * 3600 + minutes * 60 + seconds
    else:
        try:
            value = float(compact)
        except ValueError:
            value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{source} must be a positive duration such as 90s, 30m, 2h or 1h30m, got {text!r}")
    return value


def _moment(text: str, *, source: str) -> datetime:
    """An ISO-8601 moment with its zone (``2024-12-01T15:43:29Z``): a zone-less one would be read in no clock."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ConfigError(f"{source} must be an ISO-8601 moment such as 2024-12-01T15:43:29Z, got {text!r}") from None
    if moment.tzinfo is None:
        raise ConfigError(f"{source} must say its time zone (end it in Z for UTC), got {text!r}")
    return moment


BASELINE_NEVER = "never"


def parse_baselines(text: str, *, source: str = "FIVETRAN_BASELINE") -> dict[str, datetime | None]:
    """``id=2024-12-01T15:43:29.013729Z,id2=never`` (what ``FIVETRAN_WAIT=false`` writes) as a mapping."""
    baselines: dict[str, datetime | None] = {}
    for part in _split_list(text):
        connection_id, sep, value = part.partition("=")
        if not sep or not connection_id.strip() or not value.strip():
            raise ConfigError(f"{source} must list <connection id>=<moment or never>, comma-separated; got {part!r}")
        value = value.strip()
        baselines[connection_id.strip()] = (
            None if value == BASELINE_NEVER else _moment(value, source=f"{source} for {connection_id.strip()}")
        )
    return baselines


def format_baselines(baselines: Mapping[str, datetime | None]) -> str:
    return ",".join(
        f"{cid}={BASELINE_NEVER if m is None else m.isoformat().replace('+00:00', 'Z')}" for cid, m in baselines.items()
    )


def _resync_scope(tables: tuple[str, ...], schema: str | None) -> dict[str, tuple[str, ...]] | None:
    """RESYNC's scope: ``SCHEMA.TABLE`` entries (or bare tables of ``SCHEMA``) grouped by schema; None = everything."""
    if not tables:
        if schema:
            raise ConfigError("RESYNC with SCHEMA needs TABLE (the tables of it to re-sync); leave both unset for all")
        return None
    scope: dict[str, list[str]] = {}
    for entry in tables:
        table_schema, dot, table = entry.rpartition(".")
        if not dot:
            if not schema:
                raise ConfigError(
                    f"RESYNC's TABLE entry {entry!r} names no schema: write SCHEMA.TABLE, or set SCHEMA for bare names"
                )
            table_schema, table = schema, entry
        if not table_schema or not table:
            raise ConfigError(f"RESYNC's TABLE entry {entry!r} must be SCHEMA.TABLE")
        scope.setdefault(table_schema, [])
        if table not in scope[table_schema]:
            scope[table_schema].append(table)
    return {name: tuple(names) for name, names in scope.items()}


def _credentials(env: EnvReader) -> tuple[Secret, Secret]:
    if env.flag("SET_FIVETRAN_KEYS_TO_ENV"):
        return env.vault_secret(VAULT_API_KEY), env.vault_secret(*VAULT_API_SECRET)
    key, secret = env.secret("FIVETRAN_API_KEY"), env.secret("FIVETRAN_API_SECRET")
    if key is not None and secret is None:
        pair = combined_key(key)
        if pair is None:
            raise ConfigError(
                "FIVETRAN_API_SECRET must be set (directly, as DATAOPS_VAULT(path), or set SET_FIVETRAN_KEYS_TO_ENV=1 "
                "to read both from the vault); without it, FIVETRAN_API_KEY must be the base64 of <key>:<secret> "
                "(as Fivetran's own CLI and SDK take it), and it is not"
            )
        return pair
    missing = [name for name, value in (("FIVETRAN_API_KEY", key), ("FIVETRAN_API_SECRET", secret)) if not value]
    if missing or key is None or secret is None:
        raise ConfigError(
            f"{' and '.join(missing)} must be set (directly, as DATAOPS_VAULT(path), or set "
            "SET_FIVETRAN_KEYS_TO_ENV=1 to read FIVETRAN.DEFAULT.API_KEY and FIVETRAN.DEFAULT.API_SECRET "
            "from the vault)"
        )
    return key, secret


def combined_key(value: Secret) -> tuple[Secret, Secret] | None:
    """The (key, secret) in a value that is the base64 of ``key:secret`` (Fivetran's CLI and SDK form), else None.

    Both halves, and the combined value, are masked in all output from here on.
    """
    text = value.reveal().strip()
    try:
        decoded = base64.b64decode(text, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    key, sep, secret = decoded.partition(":")
    if not sep or not key or not secret or not decoded.isprintable() or any(c.isspace() for c in decoded):
        return None
    return Secret(key), Secret(secret)


def _test_allow(text: str | None, *, source: str) -> frozenset[str]:
    """``WARNING,SKIPPED`` (any case) as the setup-test statuses to accept; anything else is exit 2."""
    statuses = frozenset(part.upper() for part in _split_list(text or ""))
    refused = sorted(statuses - set(ALLOWABLE_TEST_STATUSES))
    if refused:
        raise ConfigError(
            f"{source} may accept {' and '.join(ALLOWABLE_TEST_STATUSES)} (comma-separated), not {', '.join(refused)}: "
            "FAILED and JOB_FAILED always fail"
        )
    return statuses


@dataclass(frozen=True)
class ListSettings:
    """``eltops fivetran list``: where to ask, with which credentials, and which group (None: every group)."""

    api_key: Secret = field(repr=False)
    api_secret: Secret = field(repr=False)
    api_url: str = DEFAULT_API_URL
    group: str | None = None
    json_output: bool = False


def load_list_settings(
    env_vars: Mapping[str, str],
    *,
    api_url: str | None = None,
    group: str | None = None,
    json_output: bool = False,
    env: EnvReader | None = None,
) -> ListSettings:
    env = env or EnvReader(env_vars)
    url = validate_base_url(api_url or env.get("FIVETRAN_API_URL") or DEFAULT_API_URL, variable="FIVETRAN_API_URL")
    if group is not None and not group.strip():
        raise ConfigError("--group must name a group")
    key, secret = _credentials(env)
    return ListSettings(key, secret, url, group.strip() if group else None, json_output)


FLAG_OF: dict[str, tuple[str, str]] = {
    "FIVETRAN_TIMEOUT": ("timeout", "--timeout"),
    "FIVETRAN_POLL_INTERVAL": ("poll_interval", "--poll-interval"),
    "FIVETRAN_COMPLETED_AFTER": ("completed_after", "--completed-after"),
    "FIVETRAN_SKIP_IF_SYNCED_WITHIN": ("skip_if_synced_within", "--skip-if-synced-within"),
    "FIVETRAN_IF_SYNCING": ("if_syncing", "--if-syncing"),
    "FIVETRAN_WAIT": ("wait", "--wait/--no-wait"),
}
"""Each variable a message may name, and the flag that beats it: (FlagValues field, flag as typed)."""


def _sources(flags: FlagValues) -> dict[str, str]:
    """For each variable of :data:`FLAG_OF` whose flag was given, that flag as the user typed it."""
    found = {var: flag for var, (name, flag) in FLAG_OF.items() if getattr(flags, name) is not None}
    if "FIVETRAN_WAIT" in found:
        found["FIVETRAN_WAIT"] = "--wait" if flags.wait else "--no-wait"
    return found


def load_settings(env_vars: Mapping[str, str], flags: FlagValues, *, env: EnvReader | None = None) -> FivetranSettings:
    """Validate and combine variables, vault values and flags into settings; raise ConfigError on bad input."""
    env = env or EnvReader(env_vars)

    action_text = flags.action or env.get("FIVETRAN_ACTION")
    if not action_text:
        raise ConfigError(f"FIVETRAN_ACTION is required: one of {', '.join(a.value for a in Action)}")
    action = Action.parse(action_text, source="the action" if flags.action else "FIVETRAN_ACTION")

    id_texts = [t for text in flags.connector_ids for t in _split_list(text)]
    if not id_texts:
        id_texts = list(_split_list(env.get("CONNECTOR_ID") or ""))
    if not id_texts and action is not Action.TRANSFORM:  # TRANSFORM names transformations, not connections
        raise ConfigError("CONNECTOR_ID is required (one id, several comma-separated, or <group>/<name>)")
    if id_texts and action is Action.TRANSFORM:
        raise ConfigError(
            "TRANSFORM runs transformations (TRANSFORMATION_ID), not connections: leave CONNECTOR_ID unset, or "
            "sync them first with START and FIVETRAN_THEN_TRANSFORM"
        )
    connections = tuple(dict.fromkeys(ConnectionRef.parse(t) for t in id_texts))

    schema = flags.schema or env.get("SCHEMA")
    tables = _unique(_split_list(flags.table or env.get("TABLE") or ""), source="--table" if flags.table else "TABLE")
    if action is Action.FORCE_RESYNC:
        missing = [name for name, value in (("TABLE", tables), ("SCHEMA", schema)) if not value]
        if missing:
            raise ConfigError(f"FORCE_RESYNC needs {' and '.join(missing)} (the table(s) to re-sync and their schema)")

    timeout_text = flags.timeout if flags.timeout is not None else env.get("FIVETRAN_TIMEOUT")
    poll_text = flags.poll_interval if flags.poll_interval is not None else env.get("FIVETRAN_POLL_INTERVAL")
    sources = _sources(flags)
    timeout = (
        DEFAULT_TIMEOUT_SECONDS
        if timeout_text is None
        else positive_seconds(timeout_text, source=sources.get("FIVETRAN_TIMEOUT", "FIVETRAN_TIMEOUT"))
    )
    poll = (
        DEFAULT_POLL_INTERVAL_SECONDS
        if poll_text is None
        else positive_seconds(poll_text, source=sources.get("FIVETRAN_POLL_INTERVAL", "FIVETRAN_POLL_INTERVAL"))
    )

    api_url = validate_base_url(
        flags.api_url or env.get("FIVETRAN_API_URL") or DEFAULT_API_URL, variable="FIVETRAN_API_URL"
    )
    junit_text = env.get("FIVETRAN_JUNIT_REPORT")
    junit = flags.junit or (Path(junit_text) if junit_text else None)
    if junit is not None:
        output_file(junit, JUNIT, force=flags.force)

    resync_scope = _resync_scope(tables, schema) if action is Action.RESYNC else None
    fleet = _fleet_settings(env, flags, action, connections)
    more = load_action_settings(env, flags.action_flags, action=action.value, wait=fleet.wait)

    api_key, api_secret = _credentials(env)
    dont_disable = (
        flags.dont_disable_sync if flags.dont_disable_sync is not None else env.flag("FIVETRAN_DONT_DISABLE_SYNC")
    )
    test_allow = _test_allow(
        flags.test_allow if flags.test_allow is not None else env.get("FIVETRAN_TEST_ALLOW"),
        source="--allow" if flags.test_allow is not None else "FIVETRAN_TEST_ALLOW",
    )
    restore_text = env.get("FIVETRAN_RESTORE_SCHEDULE")
    restore = (
        flags.restore_schedule
        if flags.restore_schedule is not None
        else restore_text is not None and _boolean(restore_text, source="FIVETRAN_RESTORE_SCHEDULE")
    )
    if restore and dont_disable:
        raise ConfigError(
            "FIVETRAN_RESTORE_SCHEDULE puts back the schedule eltops replaced, and with FIVETRAN_DONT_DISABLE_SYNC it "
            "replaces none: set one of them"
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
        resync_scope=resync_scope,
        if_syncing=fleet.if_syncing,
        wait=fleet.wait,
        completed_after=fleet.completed_after,
        baselines=fleet.baselines,
        skip_if_synced_within=fleet.skip_if_synced_within,
        repair_setup=fleet.repair_setup,
        more=more,
        sources=sources,
        test_allow=test_allow,
        restore_schedule=restore,
    )


@dataclass(frozen=True)
class _WaitSettings:
    if_syncing: IfSyncing
    wait: bool
    completed_after: datetime | None
    baselines: Mapping[str, datetime | None]
    skip_if_synced_within: float | None
    repair_setup: bool


def _fleet_settings(
    env: EnvReader, flags: FlagValues, action: Action, connections: tuple[ConnectionRef, ...]
) -> _WaitSettings:
    """The settings of fleets and of waiting apart from triggering, each checked against the action."""
    if_syncing_text = flags.if_syncing or env.get("FIVETRAN_IF_SYNCING")
    if_syncing = (
        DEFAULT_IF_SYNCING
        if if_syncing_text is None
        else IfSyncing.parse(if_syncing_text, source="--if-syncing" if flags.if_syncing else "FIVETRAN_IF_SYNCING")
    )
    wait_text = env.get("FIVETRAN_WAIT")
    wait = (
        flags.wait
        if flags.wait is not None
        else (True if wait_text is None else _boolean(wait_text, source="FIVETRAN_WAIT"))
    )
    if not wait and not action.triggers_sync:
        raise ConfigError(
            f"FIVETRAN_WAIT=false (--no-wait) only applies to START, FORCE_RESYNC and RESYNC, not {action.value}"
        )

    within_source = "--skip-if-synced-within" if flags.skip_if_synced_within else "FIVETRAN_SKIP_IF_SYNCED_WITHIN"
    within_text = flags.skip_if_synced_within or env.get("FIVETRAN_SKIP_IF_SYNCED_WITHIN")
    within = None if within_text is None else _duration(within_text, source=within_source)
    if within is not None and action is not Action.START:
        raise ConfigError(f"{within_source} only applies to START, not {action.value}")

    after_source = "--completed-after" if flags.completed_after else "FIVETRAN_COMPLETED_AFTER"
    after_text = flags.completed_after or env.get("FIVETRAN_COMPLETED_AFTER")
    completed_after = None if after_text is None else _moment(after_text, source=after_source)
    # FIVETRAN_BASELINE is only read by WAIT: a GitLab dotenv report hands it to every later job, START included
    baseline_text = env.get("FIVETRAN_BASELINE") if action is Action.WAIT else None
    baselines = parse_baselines(baseline_text) if baseline_text else {}
    if action is Action.WAIT and completed_after is None:
        if not baselines:
            raise ConfigError(
                "WAIT needs the moment the awaited syncs complete after: FIVETRAN_COMPLETED_AFTER "
                "(--completed-after, e.g. 2024-12-01T15:43:29Z), or FIVETRAN_BASELINE as an earlier "
                "FIVETRAN_WAIT=false job wrote it to its step outputs"
            )
        missing = [r.id for r in connections if r.id is not None and r.id not in baselines]
        if missing:
            raise ConfigError(
                f"FIVETRAN_BASELINE has no entry for {', '.join(missing)}; set FIVETRAN_COMPLETED_AFTER, or pass "
                "the baseline of the job that triggered them"
            )
    elif completed_after is not None and action is not Action.WAIT:
        raise ConfigError(f"{after_source} only applies to WAIT, not {action.value}")

    repair = flags.repair_setup if flags.repair_setup is not None else env.flag("FIVETRAN_REPAIR_SETUP")
    return _WaitSettings(if_syncing, wait, completed_after, baselines, within, repair)
