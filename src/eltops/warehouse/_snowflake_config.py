"""Snowflake connection settings, found where the Snowflake CLI and the Python connector find them.

A ``snowflake://[CONNECTION][/DATABASE[/SCHEMA]][?warehouse=..&role=..]`` target names a connection; its options
come, lowest precedence first, from:

1. generic variables (``SNOWFLAKE_USER``, ``SNOWFLAKE_PASSWORD``, ... for the Snowflake CLI's keys);
2. the connection in ``connections.toml`` (``[NAME]``) or, when that file does not exist, in ``config.toml``
   (``[connections.NAME]``, what ``snow connection add`` writes);
3. ``SNOWFLAKE_CONNECTIONS_<NAME>_<KEY>`` variables;
4. the URL (user, database, schema, query options).

That is the precedence the Snowflake CLI documents. The files live in ``$SNOWFLAKE_HOME`` (default
``~/.snowflake``) when that directory exists, else in the platform's configuration directory as the connector
finds it with ``platformdirs`` (``$XDG_CONFIG_HOME/snowflake`` or ``~/.config/snowflake`` on Linux,
``~/Library/Application Support/snowflake`` on macOS, ``%LOCALAPPDATA%\\snowflake`` on Windows). The connection is
the one named in the URL, else ``SNOWFLAKE_DEFAULT_CONNECTION_NAME``, else ``default_connection_name`` in
``config.toml``, else ``default``; the whole connections table may also come from ``SNOWFLAKE_CONNECTIONS`` (TOML),
as the connector allows. Every option is passed to ``snowflake.connector.connect`` as it is (authenticator flows,
``token_file_path``, ``passcode``, ``login_timeout`` ...); ``private_key_raw`` (a PEM in the settings, a Snowflake
CLI option) becomes the connector's ``private_key``. An encrypted key's passphrase is ``PRIVATE_KEY_PASSPHRASE``
(the Snowflake CLI's variable, which wins), else the connection's ``private_key_file_pwd`` or
``private_key_passphrase``.

This module reads the files with the standard library only (no connector, no pyarrow), so naming a target costs
nothing; a test checks that it finds what the connector's own ``ConfigManager`` finds in the same files.
"""

from __future__ import annotations

import stat
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from eltops.errors import ConfigError
from eltops.secrets import EnvReader, Secret

__all__ = ["SnowflakeSettings", "config_dir", "snowflake_settings"]

# The Snowflake CLI's keys that a generic SNOWFLAKE_<KEY> variable sets (its CliEnvironment source), plus the
# connector's spelling of the passphrase, which eltops documented before.
GENERIC_KEYS = (
    "account",
    "user",
    "password",
    "database",
    "schema",
    "role",
    "warehouse",
    "protocol",
    "host",
    "port",
    "region",
    "authenticator",
    "workload_identity_provider",
    "private_key_file",
    "private_key_path",
    "private_key_raw",
    "private_key_passphrase",
    "private_key_file_pwd",
    "token",
    "session_token",
    "master_token",
    "token_file_path",
    "oauth_client_id",
    "oauth_client_secret",
    "oauth_authorization_url",
    "oauth_token_request_url",
    "oauth_redirect_uri",
    "oauth_scope",
    "oauth_enable_pkce",
    "oauth_enable_refresh_tokens",
    "oauth_enable_single_use_refresh_tokens",
    "client_store_temporary_credential",
    "secondary_roles",
    "server_session_keep_alive",
    "passcode",
    "login_timeout",
)
SECRET_KEYS = frozenset(
    {
        "password",
        "passcode",
        "token",
        "session_token",
        "master_token",
        "private_key_raw",
        "private_key_file_pwd",
        "private_key_passphrase",
        "oauth_client_secret",
    }
)
_ALIASES = {"private_key_path": "private_key_file", "private_key_passphrase": "private_key_file_pwd"}
# a value from a variable is text; these options the connector wants typed
_INTEGER_KEYS = frozenset({"port", "login_timeout", "network_timeout", "socket_timeout"})
_BOOLEAN_KEYS = frozenset(
    {
        "oauth_enable_pkce",
        "oauth_enable_refresh_tokens",
        "oauth_enable_single_use_refresh_tokens",
        "client_store_temporary_credential",
        "server_session_keep_alive",
        "client_session_keep_alive",
        "passcode_in_password",
    }
)
_SECRET_IN_URL = SECRET_KEYS | {"private_key_file"}


@dataclass(frozen=True)
class SnowflakeSettings:
    """Everything needed to connect: the connector's options, secrets kept as :class:`Secret`."""

    params: Mapping[str, Any]
    secrets: Mapping[str, Secret] = field(default_factory=dict)
    connection_name: str | None = None

    @property
    def database(self) -> str:
        return str(self.params["database"])

    @property
    def schema(self) -> str:
        return str(self.params["schema"])

    @property
    def description(self) -> str:
        where = f"{self.database}.{self.schema}"
        via = f" (connection {self.connection_name})" if self.connection_name else ""
        account = str(self.params.get("account", ""))
        return f"Snowflake {account + ' ' if account else ''}{where}{via}"

    def connect_kwargs(self) -> dict[str, Any]:
        """The keyword arguments for ``snowflake.connector.connect`` (secrets revealed: pass them on, never log)."""
        kwargs: dict[str, Any] = dict(self.params)
        revealed = {k: v.reveal() for k, v in self.secrets.items()}
        raw_key = revealed.pop("private_key_raw", None)
        if raw_key is not None:
            kwargs["private_key"] = _der_private_key(raw_key, revealed.pop("private_key_file_pwd", None))
        kwargs.update(revealed)
        return kwargs


def config_dir(env: Mapping[str, str]) -> Path:
    """Where the connector looks for ``config.toml`` and ``connections.toml`` (``snowflake.connector.sf_dirs``)."""
    home = env.get("SNOWFLAKE_HOME") or "~/.snowflake"
    directory = _expand(home, env)
    if directory.exists():
        return directory
    import platformdirs

    return Path(platformdirs.user_config_dir("snowflake", appauthor=False))


def _expand(path: str, env: Mapping[str, str]) -> Path:
    if path.startswith("~") and env.get("HOME"):
        return Path(env["HOME"] + path[1:])
    return Path(path).expanduser()


def _read_toml(path: Path) -> dict[str, Any] | None:
    """The file's table, or None when there is none; a file others may write is refused, as the connector does."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    if sys.platform != "win32" and mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise ConfigError(f"{path} is writable by group or others; restrict it: chmod 0600 {path}")
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None


@dataclass(frozen=True)
class _Files:
    connections: Mapping[str, Any]
    default_name: str
    looked_at: str


def _connections(env: EnvReader) -> _Files:
    """The connections table and default name as the connector's ``CONFIG_MANAGER`` resolves them."""
    directory = config_dir(env.env)
    config_path, connections_path = directory / "config.toml", directory / "connections.toml"
    config = _read_toml(config_path) or {}
    in_connections_file = _read_toml(connections_path)
    # connections.toml, when it exists, replaces config.toml's [connections] (a slice of the same document)
    connections: Any = in_connections_file if in_connections_file is not None else config.get("connections", {})
    looked_at = f"{connections_path} and {config_path}"
    from_env = env.get("SNOWFLAKE_CONNECTIONS")
    if from_env is not None:
        try:
            connections = tomllib.loads(from_env)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"SNOWFLAKE_CONNECTIONS is not TOML: {exc}") from None
        looked_at = "SNOWFLAKE_CONNECTIONS"
    if not isinstance(connections, Mapping):
        raise ConfigError(f"the connections in {looked_at} are not a table")
    default_name = env.get("SNOWFLAKE_DEFAULT_CONNECTION_NAME") or str(config.get("default_connection_name", "default"))
    return _Files(connections, default_name, looked_at)


def _typed(key: str, value: str) -> Any:
    if key in _INTEGER_KEYS:
        try:
            return int(value)
        except ValueError:
            raise ConfigError(f"the Snowflake option {key} must be a whole number, got {value!r}") from None
    if key in _BOOLEAN_KEYS:
        lowered = value.strip().lower()
        if lowered in ("true", "1", "yes", "on"):
            return True
        if lowered in ("false", "0", "no", "off"):
            return False
        raise ConfigError(f"the Snowflake option {key} must be true or false, got {value!r}")
    return value


def snowflake_settings(url: str, env: EnvReader) -> SnowflakeSettings:
    """Parse ``snowflake://[CONNECTION][/DATABASE[/SCHEMA]][?warehouse=..&role=..]`` with the connection settings."""
    parts = urlsplit(url)
    if parts.password:
        raise ConfigError("put the Snowflake password in SNOWFLAKE_PASSWORD or the connection, not in the URL")
    named = unquote(parts.hostname or "") or None
    path_parts = [unquote(p) for p in parts.path.split("/") if p]
    if len(path_parts) > 2:
        raise ConfigError(f"a Snowflake target is snowflake://[CONNECTION][/DATABASE[/SCHEMA]], got {url!r}")
    files = _connections(env)
    chosen = named or files.default_name
    # the URL's host is folded to lower case by urlsplit: match a connection name case-insensitively
    section_name = next((k for k in files.connections if str(k).lower() == chosen.lower()), None)
    if named is not None and section_name is None:
        known = ", ".join(sorted(map(str, files.connections))) or "none"
        raise ConfigError(
            f"there is no Snowflake connection named {named!r} in {files.looked_at} (known: {known}); "
            "add it with `snow connection add` or set SNOWFLAKE_HOME"
        )
    raw: dict[str, Any] = {}
    for key in GENERIC_KEYS:
        value = env.get(f"SNOWFLAKE_{key.upper()}")
        if value is not None:
            raw[_ALIASES.get(key, key)] = _typed(key, value)
    section = files.connections.get(section_name, {}) if section_name is not None else {}
    if not isinstance(section, Mapping):
        raise ConfigError(f"the Snowflake connection {section_name!r} in {files.looked_at} is not a table")
    for key, value in section.items():
        raw[_ALIASES.get(str(key), str(key))] = value
    prefix = f"SNOWFLAKE_CONNECTIONS_{chosen.upper()}_"
    for variable in sorted(env.env):
        if variable.startswith(prefix) and len(variable) > len(prefix):
            value = env.get(variable)
            key = variable[len(prefix) :].lower()
            if value is not None:
                raw[_ALIASES.get(key, key)] = _typed(key, value)
    passphrase = env.get("PRIVATE_KEY_PASSPHRASE")  # the Snowflake CLI's variable: it beats every setting
    if passphrase is not None:
        raw["private_key_file_pwd"] = passphrase
    if parts.username:
        raw["user"] = unquote(parts.username)
    if path_parts:
        raw["database"] = path_parts[0]
    if len(path_parts) == 2:
        raw["schema"] = path_parts[1]
    for key, value in parse_qsl(parts.query):
        if key in _SECRET_IN_URL:
            raise ConfigError(f"put the Snowflake option {key} in the connection's settings, not in the URL")
        raw[_ALIASES.get(key, key)] = _typed(key, value)
    missing = [k for k in ("database", "schema") if not raw.get(k)]
    if missing:
        raise ConfigError(
            f"the Snowflake target needs a {' and a '.join(missing)}: snowflake://CONNECTION/DATABASE/SCHEMA, "
            f"SNOWFLAKE_DATABASE/SNOWFLAKE_SCHEMA, or the connection's settings (looked in {files.looked_at})"
        )
    if not raw.get("account") and not raw.get("host"):
        raise ConfigError(
            f"the Snowflake target needs an account: SNOWFLAKE_ACCOUNT or a connection (looked in {files.looked_at})"
        )
    secrets = {k: Secret(str(raw.pop(k))) for k in sorted(SECRET_KEYS) if raw.get(k) not in (None, "")}
    settings = SnowflakeSettings(params=raw, secrets=secrets, connection_name=section_name)
    if "private_key_raw" in secrets:
        settings.connect_kwargs()  # a key that cannot be read is a configuration error, found before connecting
    return settings


def _der_private_key(pem: str, passphrase: str | None) -> bytes:
    """A PEM private key (``private_key_raw``) as the DER bytes the connector's ``private_key`` takes."""
    from cryptography.hazmat.primitives import serialization

    try:
        key = serialization.load_pem_private_key(pem.encode(), passphrase.encode() if passphrase else None)
    except (ValueError, TypeError):
        raise ConfigError(
            "the Snowflake private_key_raw is not a PKCS#8 PEM key, or its passphrase (PRIVATE_KEY_PASSPHRASE or "
            "private_key_file_pwd) is wrong or missing"
        ) from None
    return key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
