"""Lineage settings, read the way OpenLineage's own clients read them, once, before any request.

Where they come from, highest first (OpenLineage's Python client documents the same order, less the constructor):

1. ``OPENLINEAGE_DISABLED=true`` turns lineage off whatever else is set.
2. An ``openlineage.yml``: the file ``OPENLINEAGE_CONFIG`` names (it must exist), else ``./openlineage.yml``, else
   ``~/.openlineage/openlineage.yml``. eltops reads its ``transport:`` section; a key it lacks (an API key kept
   out of the file) may come from the variables below.
3. ``OPENLINEAGE__TRANSPORT__*`` variables: nested keys joined by double underscores (``OPENLINEAGE__TRANSPORT__TYPE``,
   ``OPENLINEAGE__TRANSPORT__AUTH__API_KEY``, ...). The client turns snake_case into camelCase; eltops takes both.
4. The legacy HTTP variables ``OPENLINEAGE_URL``, ``OPENLINEAGE_ENDPOINT`` and ``OPENLINEAGE_API_KEY``.

Unlike the client (which prints to the console when nothing is configured) eltops emits nothing then: a CI log is
no place for events nobody asked for. Transports: ``http`` (on eltops' own HTTP layer), ``file`` (JSON Lines) and
``console``; any other type is bad input. Every mistake is a :class:`~eltops.errors.ConfigError` (exit 2) naming
the variable or key, raised before any request. The variables are declared once, in :data:`VARIABLES`.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from eltops._parse import positive_seconds
from eltops._url import validate_base_url
from eltops.errors import ConfigError
from eltops.secrets import Secret

__all__ = [
    "DEFAULT_BUDGET_SECONDS",
    "DEFAULT_ENDPOINT",
    "DEFAULT_NAMESPACE",
    "DEFAULT_TIMEOUT_SECONDS",
    "VARIABLES",
    "ConsoleTransportSettings",
    "FileTransportSettings",
    "HttpTransportSettings",
    "LineageSettings",
    "RunRef",
    "Variable",
    "load_lineage_settings",
    "parse_parent_id",
]

DEFAULT_ENDPOINT = "api/v1/lineage"
DEFAULT_TIMEOUT_SECONDS = 5.0  # the OpenLineage Python client's HTTP timeout
DEFAULT_BUDGET_SECONDS = 10.0
DEFAULT_NAMESPACE = "default"  # what OpenLineage's integrations use when OPENLINEAGE_NAMESPACE is unset
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off", ""}


@dataclass(frozen=True)
class RunRef:
    """A run of a job: what a parent or root run facet points at (``{namespace}/{name}/{run id}``)."""

    namespace: str
    name: str
    run_id: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}/{self.run_id}"


@dataclass(frozen=True)
class HttpTransportSettings:
    url: str
    endpoint: str = DEFAULT_ENDPOINT
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    api_key: Secret | None = field(default=None, repr=False)

    @property
    def where(self) -> str:
        return f"{self.url}/{self.endpoint.lstrip('/')}"


@dataclass(frozen=True)
class FileTransportSettings:
    path: Path

    @property
    def where(self) -> str:
        return str(self.path)


@dataclass(frozen=True)
class ConsoleTransportSettings:
    @property
    def where(self) -> str:
        return "the console (stderr)"


TransportSettings = HttpTransportSettings | FileTransportSettings | ConsoleTransportSettings


@dataclass(frozen=True)
class LineageSettings:
    """Lineage is on: where events go, the job namespace, the parent and root runs given, and the time budget."""

    transport: TransportSettings
    namespace: str = DEFAULT_NAMESPACE
    budget: float = DEFAULT_BUDGET_SECONDS
    parent: RunRef | None = None
    root: RunRef | None = None
    source: str = ""  # which setting turned lineage on, for messages
    orchestra_namespace: str | None = None  # where Orchestra's assets live: names task runs' outputs


@dataclass(frozen=True)
class Variable:
    """One variable eltops reads for lineage: its name, what it means, and its default (for docs and tests)."""

    name: str
    meaning: str
    default: str = ""
    example_bad: str | None = None  # a value that must be refused (the bad-input tests run each)


VARIABLES: tuple[Variable, ...] = (
    Variable("OPENLINEAGE_DISABLED", "true turns lineage off, whatever else is set", "false", "maybe"),
    Variable("OPENLINEAGE_CONFIG", "path of an openlineage.yml (its transport: section)", "", "/nonexistent/ol.yml"),
    Variable("OPENLINEAGE_URL", "HTTP collector base URL (legacy HTTP variables)", "", "ftp://collector"),
    Variable("OPENLINEAGE_ENDPOINT", "path under OPENLINEAGE_URL", DEFAULT_ENDPOINT),
    Variable("OPENLINEAGE_API_KEY", "sent as Authorization: Bearer (secret: masked everywhere)"),
    Variable("OPENLINEAGE__TRANSPORT__TYPE", "http, file or console", "", "kafka"),
    Variable("OPENLINEAGE__TRANSPORT__URL", "HTTP collector base URL"),
    Variable("OPENLINEAGE__TRANSPORT__ENDPOINT", "path under the URL", DEFAULT_ENDPOINT),
    Variable("OPENLINEAGE__TRANSPORT__TIMEOUT", "seconds one HTTP request may take", "5", "-1"),
    Variable("OPENLINEAGE__TRANSPORT__AUTH__TYPE", "api_key", "", "oauth"),
    Variable("OPENLINEAGE__TRANSPORT__AUTH__API_KEY", "the API key (secret)"),
    Variable("OPENLINEAGE__TRANSPORT__LOG_FILE_PATH", "file transport: the JSON Lines file events are appended to"),
    Variable("OPENLINEAGE_NAMESPACE", "namespace of eltops' jobs", DEFAULT_NAMESPACE),
    Variable(
        "OPENLINEAGE_PARENT_ID", "parent run as {namespace}/{job name}/{run id}; default: the CI job", "", "a/b/c"
    ),
    Variable("OPENLINEAGE_ROOT_PARENT_ID", "root run, same form; default: the CI pipeline", "", "no-slashes"),
    Variable("OPENLINEAGE_CONTEXT", 'JSON {"parent": {...}, "root": {...}} (run facet form)', "", "{not json"),
    Variable(
        "ELTOPS_LINEAGE_ORCHESTRA_NAMESPACE",
        "the datasource Orchestra's assets live in (snowflake://{org}-{account}); names task runs' outputs",
        "",
        "ANALYTICS",
    ),
    Variable(
        "ELTOPS_LINEAGE_BUDGET",
        "seconds lineage may add to a job once its work is done (sending what is left)",
        "10",
        "0",
    ),
)


def _boolean(text: str, *, source: str) -> bool:
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{source} must be true or false, got {text!r}")


def parse_parent_id(text: str, *, source: str) -> RunRef:
    """``{namespace}/{job name}/{run id}`` (what dbt-ol and Airflow's macros pass); the run id must be a UUID."""
    namespace, sep, rest = text.strip().partition("/")
    name, sep2, run_id = rest.rpartition("/")
    if not sep or not sep2 or not namespace or not name or not run_id:
        raise ConfigError(f"{source} must be {{namespace}}/{{job name}}/{{run id}}, got {text!r}")
    return RunRef(namespace, name, _uuid(run_id, source=f"{source}'s run id"))


def _uuid(text: str, *, source: str) -> str:
    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise ConfigError(f"{source} must be a UUID, got {text!r}") from None


def _context_ref(data: Any, *, source: str) -> RunRef:
    """``{"run": {"runId": ...}, "job": {"namespace": ..., "name": ...}}`` as a run reference."""
    run = data.get("run") if isinstance(data, Mapping) else None
    job = data.get("job") if isinstance(data, Mapping) else None
    if not isinstance(run, Mapping) or not isinstance(job, Mapping):
        raise ConfigError(f'{source} must hold {{"run": {{"runId": ...}}, "job": {{"namespace": ..., "name": ...}}}}')
    namespace, name, run_id = job.get("namespace"), job.get("name"), run.get("runId")
    if not all(isinstance(v, str) and v for v in (namespace, name, run_id)):
        raise ConfigError(f"{source} needs job.namespace, job.name and run.runId as strings")
    return RunRef(str(namespace), str(name), _uuid(str(run_id), source=f"{source}.run.runId"))


def _parents(env: Mapping[str, str]) -> tuple[RunRef | None, RunRef | None]:
    """The parent and root runs given to eltops: OPENLINEAGE_CONTEXT, else OPENLINEAGE_(ROOT_)PARENT_ID."""
    context = env.get("OPENLINEAGE_CONTEXT", "").strip()
    if context:
        try:
            data = orjson.loads(context)
        except orjson.JSONDecodeError as exc:
            raise ConfigError(f"OPENLINEAGE_CONTEXT must be JSON with parent (and root): {exc}") from None
        if not isinstance(data, Mapping) or "parent" not in data:
            raise ConfigError('OPENLINEAGE_CONTEXT must be a JSON object with "parent" (and optionally "root")')
        given_root = data.get("root")
        return (
            _context_ref(data["parent"], source="OPENLINEAGE_CONTEXT.parent"),
            _context_ref(given_root, source="OPENLINEAGE_CONTEXT.root") if given_root else None,
        )
    parent_text = env.get("OPENLINEAGE_PARENT_ID", "").strip()
    root_text = env.get("OPENLINEAGE_ROOT_PARENT_ID", "").strip()
    parent = parse_parent_id(parent_text, source="OPENLINEAGE_PARENT_ID") if parent_text else None
    root = parse_parent_id(root_text, source="OPENLINEAGE_ROOT_PARENT_ID") if root_text else None
    if root is not None and parent is None:
        raise ConfigError("OPENLINEAGE_ROOT_PARENT_ID needs OPENLINEAGE_PARENT_ID (the run directly above eltops')")
    return parent, root


def _snake(key: str) -> str:
    """``apiKey`` and ``api_key`` alike as ``api_key`` (the client camelCases what the variables spell snake_case)."""
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in key).lstrip("_").lower()


def _normalised(data: Mapping[str, Any]) -> dict[str, Any]:
    return {_snake(str(k)): (_normalised(v) if isinstance(v, Mapping) else v) for k, v in data.items()}


def _env_transport(env: Mapping[str, str]) -> dict[str, Any]:
    """``OPENLINEAGE__TRANSPORT__A__B=v`` as ``{"a": {"b": "v"}}``."""
    found: dict[str, Any] = {}
    prefix = "OPENLINEAGE__TRANSPORT__"
    for name, value in env.items():
        if not name.startswith(prefix) or value == "":
            continue
        keys = [part.lower() for part in name[len(prefix) :].split("__")]
        if not all(keys):
            raise ConfigError(f"{name} has an empty key between double underscores")
        node = found
        for key in keys[:-1]:
            child = node.setdefault(key, {})
            if not isinstance(child, dict):
                raise ConfigError(f"{name} nests under a key that already has a value")
            node = child
        node[keys[-1]] = value
    return found


def _merged(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``over`` on top, nested mappings merged key by key."""
    merged = dict(base)
    for key, value in over.items():
        below = merged.get(key)
        merged[key] = _merged(below, value) if isinstance(below, Mapping) and isinstance(value, Mapping) else value
    return merged


def _config_file(env: Mapping[str, str], cwd: Path, home: Path) -> Path | None:
    named = env.get("OPENLINEAGE_CONFIG", "").strip()
    if named:
        path = Path(named)
        if not path.is_file():
            raise ConfigError(f"OPENLINEAGE_CONFIG names {named}, which is not a file")
        return path
    for candidate in (cwd / "openlineage.yml", home / ".openlineage" / "openlineage.yml"):
        if candidate.is_file():
            return candidate
    return None


def _file_transport(path: Path) -> dict[str, Any] | None:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"could not read the OpenLineage config {path}: {exc}") from None
    if data is None:
        return None
    if not isinstance(data, Mapping):
        raise ConfigError(f"the OpenLineage config {path} must be a mapping with a transport: section")
    transport = data.get("transport")
    if transport is None:
        return None
    if not isinstance(transport, Mapping):
        raise ConfigError(f"transport: in {path} must be a mapping with a type")
    return _normalised(transport)


_HTTP_KEYS = {"type", "url", "endpoint", "timeout", "auth", "compression", "verify"}
_FILE_KEYS = {"type", "log_file_path", "append"}

Field = Callable[[str], str]
"""How a message names a transport key (``auth.api_key``): the variable, or the key in the file."""


def _env_field(key: str) -> str:
    return "OPENLINEAGE__TRANSPORT__" + key.replace(".", "__").upper()


def _file_field(path: Path) -> Field:
    return lambda key: f"transport.{key} in {path}"


def _check_keys(config: Mapping[str, Any], allowed: set[str], field: Field) -> None:
    unknown = sorted(set(config) - allowed)
    if unknown:
        raise ConfigError(
            f"{', '.join(field(k) for k in unknown)}: eltops does not read it; it reads "
            f"{', '.join(field(k) for k in sorted(allowed))}"
        )


def _http(config: Mapping[str, Any], field: Field) -> HttpTransportSettings:
    _check_keys(config, _HTTP_KEYS, field)
    url_text = str(config.get("url") or "").strip()
    if not url_text:
        raise ConfigError(f"the http transport needs a url: set {field('url')}")
    auth = config.get("auth") or {}
    if not isinstance(auth, Mapping):
        raise ConfigError(f"{field('auth')} must be a mapping (type: api_key, api_key: ...)")
    auth_type = str(auth.get("type") or "api_key").strip().lower()
    if auth_type != "api_key":
        raise ConfigError(f"{field('auth.type')} {auth_type!r} is not supported; eltops sends api_key (Bearer) only")
    key_text = auth.get("api_key")
    api_key = Secret(str(key_text)) if key_text else None
    url = _collector_url(url_text, source=field("url"), with_key=api_key is not None)
    timeout = positive_seconds(str(config.get("timeout", DEFAULT_TIMEOUT_SECONDS)), source=field("timeout"))
    compression = config.get("compression")
    if compression not in (None, ""):
        raise ConfigError(f"{field('compression')} {compression!r} is not supported; eltops sends plain JSON")
    verify = config.get("verify", True)
    if verify is not True and not (isinstance(verify, str) and verify.strip().lower() in _TRUE):
        raise ConfigError(f"{field('verify')}: false is not supported; eltops always checks the collector's TLS")
    endpoint = str(config.get("endpoint") or DEFAULT_ENDPOINT).strip().lstrip("/")
    return HttpTransportSettings(url, endpoint, timeout, api_key)


def _collector_url(url: str, *, source: str, with_key: bool) -> str:
    """https anywhere; plain http to loopback, or (with no API key to leak) to any host, such as a Marquez service."""
    if with_key:
        return validate_base_url(url, variable=source)
    try:
        return validate_base_url(url, variable=source)
    except ConfigError:
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        if parts.scheme == "http" and parts.hostname:
            return url.rstrip("/")
        raise


def _transport(config: Mapping[str, Any], field: Field) -> TransportSettings:
    kind = str(config.get("type") or "").strip().lower()
    if kind == "http":
        return _http(config, field)
    if kind == "file":
        _check_keys(config, _FILE_KEYS, field)
        path_text = str(config.get("log_file_path") or "").strip()
        if not path_text:
            raise ConfigError(f"the file transport needs {field('log_file_path')}")
        append = config.get("append", True)
        if append is False or (isinstance(append, str) and append.strip().lower() in _FALSE):
            raise ConfigError(
                f"{field('append')}: false (a file per event) is not supported; eltops appends JSON Lines to one file"
            )
        return FileTransportSettings(Path(path_text))
    if kind == "console":
        _check_keys(config, {"type"}, field)
        return ConsoleTransportSettings()
    raise ConfigError(f"{field('type')} must be http, file or console, got {kind or 'nothing'!r}")


def load_lineage_settings(
    env: Mapping[str, str],
    *,
    cwd: Path | None = None,
    home: Path | None = None,
    read: Callable[[str], str | None] | None = None,
) -> LineageSettings | None:
    """The lineage settings, or None when lineage is off (nothing set, or ``OPENLINEAGE_DISABLED=true``).

    ``read`` resolves a variable (an :class:`~eltops.secrets.EnvReader`'s ``get``, for ``DATAOPS_VAULT(...)``
    values); by default the plain environment.
    """
    get = read or (lambda name: env.get(name) or None)
    disabled = env.get("OPENLINEAGE_DISABLED")
    if disabled is not None and _boolean(disabled, source="OPENLINEAGE_DISABLED"):
        return None
    config_path = _config_file(env, cwd or Path.cwd(), home or Path(os.path.expanduser("~")))
    transport: TransportSettings | None = None
    source = ""
    file_config = _file_transport(config_path) if config_path is not None else None
    env_config = _env_transport({k: get(k) or "" for k in env if k.startswith("OPENLINEAGE__TRANSPORT__")})
    if file_config is not None and config_path is not None:
        source = f"the OpenLineage config {config_path}"
        # the file wins; a key it lacks may come from the variables (a secret kept out of the file)
        merged = (
            _merged(env_config, file_config)
            if env_config.get("type", file_config.get("type")) == file_config.get("type")
            else file_config
        )
        transport = _transport(merged, _file_field(config_path))
    elif env_config:
        source = "OPENLINEAGE__TRANSPORT__*"
        transport = _transport(env_config, _env_field)
    elif get("OPENLINEAGE_URL"):
        source = "OPENLINEAGE_URL"
        key = get("OPENLINEAGE_API_KEY")
        transport = _http(
            {
                "type": "http",
                "url": get("OPENLINEAGE_URL"),
                "endpoint": get("OPENLINEAGE_ENDPOINT") or DEFAULT_ENDPOINT,
                **({"auth": {"type": "api_key", "api_key": key}} if key else {}),
            },
            lambda key: {"url": "OPENLINEAGE_URL", "endpoint": "OPENLINEAGE_ENDPOINT"}.get(key, "OPENLINEAGE_API_KEY"),
        )
    budget_text = env.get("ELTOPS_LINEAGE_BUDGET")
    budget = (
        DEFAULT_BUDGET_SECONDS if not budget_text else positive_seconds(budget_text, source="ELTOPS_LINEAGE_BUDGET")
    )
    parent, root = _parents(env)
    orchestra_namespace = _datasource(env.get("ELTOPS_LINEAGE_ORCHESTRA_NAMESPACE", "").strip())
    if transport is None:
        return None
    namespace = (env.get("OPENLINEAGE_NAMESPACE") or "").strip() or DEFAULT_NAMESPACE
    return LineageSettings(transport, namespace, budget, parent, root, source, orchestra_namespace)


def _datasource(text: str) -> str | None:
    """An OpenLineage dataset namespace: ``scheme://authority`` (``snowflake://myorg-myaccount``) or ``bigquery``."""
    if not text:
        return None
    scheme, sep, authority = text.partition("://")
    if text != "bigquery" and (not sep or not scheme or not authority or "/" in authority):
        raise ConfigError(
            "ELTOPS_LINEAGE_ORCHESTRA_NAMESPACE must be a dataset namespace as OpenLineage's naming spec writes it, "
            f"such as snowflake://myorg-myaccount or postgres://host:5432; got {text!r}"
        )
    return text
