"""Snowflake connections found as the Snowflake CLI and the connector find them: files, precedence, keys, errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from eltops.errors import ConfigError
from eltops.secrets import EnvReader
from eltops.warehouse._snowflake_config import SnowflakeSettings, config_dir, snowflake_settings

PROD = 'account = "acme-eu"\nuser = "loader"\ndatabase = "RAW"\nschema = "ORCH"\n'


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o600)
    return path


def settings(home: Path, url: str = "snowflake://prod", **env: str) -> SnowflakeSettings:
    return snowflake_settings(url, EnvReader({"SNOWFLAKE_HOME": str(home), **env}))


@pytest.mark.parametrize(
    ("config_toml", "connections_toml"),
    [
        (f"[connections.prod]\n{PROD}", None),
        (None, f"[prod]\n{PROD}"),
        (f'[connections.prod]\naccount = "ignored"\n{PROD.split(chr(10), 1)[1]}', f"[prod]\n{PROD}"),
    ],
    ids=["config.toml only", "connections.toml only", "both: connections.toml wins"],
)
def test_a_connection_is_found_in_either_file(
    tmp_path: Path, config_toml: str | None, connections_toml: str | None
) -> None:
    """[connections.NAME] in config.toml and [NAME] in connections.toml both work; connections.toml wins."""
    if config_toml is not None:
        write(tmp_path / "config.toml", config_toml)
    if connections_toml is not None:
        write(tmp_path / "connections.toml", connections_toml)
    found = settings(tmp_path)
    assert found.connection_name == "prod"
    assert dict(found.params) == {"account": "acme-eu", "user": "loader", "database": "RAW", "schema": "ORCH"}


@pytest.mark.parametrize(
    ("config_toml", "connections_toml"),
    [
        (f"[connections.prod]\n{PROD}", None),
        (None, f"[prod]\n{PROD}\n[other]\naccount = 'x'\n"),
        ('default_connection_name = "prod"\n[connections.prod]\naccount = "ignored"\n', f"[prod]\n{PROD}"),
    ],
    ids=["config.toml only", "connections.toml only", "both"],
)
def test_eltops_finds_what_the_connectors_config_manager_finds(
    tmp_path: Path, config_toml: str | None, connections_toml: str | None
) -> None:
    """The connector's own ConfigManager, over the same two files, resolves the same connection."""
    manager_module = pytest.importorskip("snowflake.connector.config_manager")
    import tomlkit

    if config_toml is not None:
        write(tmp_path / "config.toml", config_toml)
    if connections_toml is not None:
        write(tmp_path / "connections.toml", connections_toml)
    manager = manager_module.ConfigManager(
        name="CONFIG_MANAGER",
        file_path=tmp_path / "config.toml",
        _slices=[
            manager_module.ConfigSlice(
                tmp_path / "connections.toml", manager_module.ConfigSliceOptions(check_permissions=True), "connections"
            )
        ],
    )
    manager.add_option(name="connections", parse_str=tomlkit.parse, default={}, env_name=False)
    assert dict(manager["connections"]["prod"]) == dict(settings(tmp_path).params)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"SNOWFLAKE_ROLE": "GENERIC"}, "FILE"),
        ({"SNOWFLAKE_CONNECTIONS_PROD_ROLE": "SPECIFIC", "SNOWFLAKE_ROLE": "GENERIC"}, "SPECIFIC"),
        ({"SNOWFLAKE_CONNECTIONS_PROD_ROLE": "SPECIFIC", "URL": "?role=URL"}, "URL"),
    ],
    ids=["file beats generic", "connection variable beats file", "URL beats all"],
)
def test_precedence_is_the_snowflake_clis(tmp_path: Path, env: dict[str, str], expected: str) -> None:
    """Generic SNOWFLAKE_* < the connection's file section < SNOWFLAKE_CONNECTIONS_<NAME>_<KEY> < the URL."""
    write(tmp_path / "connections.toml", f'[prod]\n{PROD}role = "FILE"\n')
    query = env.pop("URL", "")
    assert settings(tmp_path, f"snowflake://prod{query}", **env).params["role"] == expected


def test_generic_variables_fill_what_the_file_leaves_out(tmp_path: Path) -> None:
    """A generic variable still sets an option the connection does not have (the lowest layer)."""
    write(tmp_path / "connections.toml", '[prod]\naccount = "acme-eu"\n')
    found = settings(tmp_path, SNOWFLAKE_DATABASE="RAW", SNOWFLAKE_SCHEMA="ORCH", SNOWFLAKE_PASSWORD="pw-123456")
    assert (found.database, found.schema) == ("RAW", "ORCH")
    assert found.connect_kwargs()["password"] == "pw-123456"
    assert "pw-123456" not in repr(found)


def test_the_default_connection_follows_the_connectors_order(tmp_path: Path) -> None:
    """No name in the URL: SNOWFLAKE_DEFAULT_CONNECTION_NAME, else config.toml's default_connection_name."""
    write(tmp_path / "config.toml", 'default_connection_name = "prod"\n')
    write(tmp_path / "connections.toml", f"[prod]\n{PROD}\n[dev]\n{PROD.replace('acme-eu', 'acme-dev')}")
    assert settings(tmp_path, "snowflake://").connection_name == "prod"
    assert settings(tmp_path, "snowflake://", SNOWFLAKE_DEFAULT_CONNECTION_NAME="dev").params["account"] == "acme-dev"


def test_every_option_is_passed_to_the_connector(tmp_path: Path) -> None:
    """Options eltops never heard of reach connect() typed as written; secrets among them stay secret."""
    write(
        tmp_path / "connections.toml",
        f'[prod]\n{PROD}authenticator = "OAUTH"\ntoken_file_path = "/run/token"\nlogin_timeout = 30\n'
        'client_session_keep_alive = true\npasscode = "123456"\nworkload_identity_provider = "AWS"\n',
    )
    found = settings(tmp_path, SNOWFLAKE_CONNECTIONS_PROD_NETWORK_TIMEOUT="90")
    kwargs = found.connect_kwargs()
    assert kwargs["authenticator"] == "OAUTH"
    assert kwargs["token_file_path"] == "/run/token"
    assert (kwargs["login_timeout"], kwargs["network_timeout"]) == (30, 90)
    assert kwargs["client_session_keep_alive"] is True
    assert kwargs["workload_identity_provider"] == "AWS"
    assert kwargs["passcode"] == "123456"
    assert "123456" not in repr(found)


@pytest.fixture(scope="module")
def encrypted_key_pem() -> bytes:
    """An RSA key in encrypted PKCS#8 PEM, passphrase 'key-passphrase-1'."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"key-passphrase-1"),
    )


@pytest.mark.parametrize(
    ("in_file", "env"),
    [
        ("", {"PRIVATE_KEY_PASSPHRASE": "key-passphrase-1"}),
        ('private_key_file_pwd = "wrong"\n', {"PRIVATE_KEY_PASSPHRASE": "key-passphrase-1"}),
        ("", {"SNOWFLAKE_PRIVATE_KEY_PASSPHRASE": "key-passphrase-1"}),
        ("", {"SNOWFLAKE_PRIVATE_KEY_FILE_PWD": "key-passphrase-1"}),
        ("", {"SNOWFLAKE_CONNECTIONS_PROD_PRIVATE_KEY_PASSPHRASE": "key-passphrase-1"}),
        ('private_key_file_pwd = "key-passphrase-1"\n', {}),
        ('private_key_passphrase = "key-passphrase-1"\n', {}),
    ],
    ids=[
        "PRIVATE_KEY_PASSPHRASE",
        "PRIVATE_KEY_PASSPHRASE beats the file",
        "SNOWFLAKE_PRIVATE_KEY_PASSPHRASE",
        "SNOWFLAKE_PRIVATE_KEY_FILE_PWD",
        "SNOWFLAKE_CONNECTIONS_PROD_PRIVATE_KEY_PASSPHRASE",
        "private_key_file_pwd in the file",
        "private_key_passphrase in the file",
    ],
)
def test_an_encrypted_key_file_opens_with_each_passphrase_source(
    tmp_path: Path, encrypted_key_pem: bytes, in_file: str, env: dict[str, str]
) -> None:
    """The connector's own key loader decrypts private_key_file with the passphrase eltops resolved."""
    connection = pytest.importorskip("snowflake.connector.connection")
    key_file = tmp_path / "rsa_key.p8"
    key_file.write_bytes(encrypted_key_pem)
    write(tmp_path / "connections.toml", f'[prod]\n{PROD}private_key_file = "{key_file}"\n{in_file}')
    kwargs = settings(tmp_path, **env).connect_kwargs()
    der = connection._get_private_bytes_from_file(kwargs["private_key_file"], kwargs["private_key_file_pwd"])
    assert der.startswith(b"0\x82")  # a DER SEQUENCE: the key was decrypted


@pytest.mark.parametrize("variable", ["PRIVATE_KEY_PASSPHRASE", "SNOWFLAKE_CONNECTIONS_PROD_PRIVATE_KEY_FILE_PWD"])
def test_private_key_raw_becomes_the_connectors_private_key(
    tmp_path: Path, encrypted_key_pem: bytes, variable: str
) -> None:
    """A PEM given as private_key_raw (variable or file) reaches connect() as unencrypted DER bytes."""
    from cryptography.hazmat.primitives import serialization

    write(tmp_path / "connections.toml", f"[prod]\n{PROD}")
    env = {"SNOWFLAKE_PRIVATE_KEY_RAW": encrypted_key_pem.decode(), variable: "key-passphrase-1"}
    found = settings(tmp_path, **env)
    kwargs = found.connect_kwargs()
    assert "private_key_raw" not in kwargs
    assert serialization.load_der_private_key(kwargs["private_key"], None).key_size == 2048
    assert "key-passphrase-1" not in repr(found)


def test_a_wrong_passphrase_for_private_key_raw_is_a_config_error(tmp_path: Path, encrypted_key_pem: bytes) -> None:
    """A raw key that cannot be decrypted is found when the target is named, before any connection."""
    write(tmp_path / "connections.toml", f"[prod]\n{PROD}")
    with pytest.raises(ConfigError, match="passphrase"):
        settings(tmp_path, SNOWFLAKE_PRIVATE_KEY_RAW=encrypted_key_pem.decode(), PRIVATE_KEY_PASSPHRASE="nope")


@pytest.mark.parametrize(
    ("url", "files", "message"),
    [
        ("snowflake://missing", {"connections.toml": f"[prod]\n{PROD}"}, r"connections\.toml and .*config\.toml"),
        ("snowflake://missing", {}, r"known: none"),
        ("snowflake://prod/DB", {"connections.toml": '[prod]\naccount = "a"\n'}, r"schema.*looked in .*connections"),
        ("snowflake://prod?password=x", {"connections.toml": f"[prod]\n{PROD}"}, "not in the URL"),
        ("snowflake://prod", {"connections.toml": "[prod\n"}, "cannot read"),
    ],
    ids=["unknown name", "no files", "no schema", "secret in URL", "bad TOML"],
)
def test_errors_name_the_files_looked_at(tmp_path: Path, url: str, files: dict[str, str], message: str) -> None:
    """A connection that cannot be found or completed is a ConfigError saying where eltops looked."""
    for name, text in files.items():
        write(tmp_path / name, text)
    with pytest.raises(ConfigError, match=message):
        settings(tmp_path, url)


def test_a_file_others_may_write_is_refused(tmp_path: Path) -> None:
    """As the connector does, a connections file writable by group or others is not trusted."""
    write(tmp_path / "connections.toml", f"[prod]\n{PROD}").chmod(0o666)
    with pytest.raises(ConfigError, match="chmod 0600"):
        settings(tmp_path)


@pytest.mark.parametrize("home_exists", [True, False])
def test_the_directory_is_the_connectors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, home_exists: bool) -> None:
    """SNOWFLAKE_HOME when it exists, else the platform's directory: what snowflake.connector.sf_dirs picks."""
    sf_dirs = pytest.importorskip("snowflake.connector.sf_dirs")
    home = tmp_path / "sfhome"
    if home_exists:
        home.mkdir()
    env = {"SNOWFLAKE_HOME": str(home), "XDG_CONFIG_HOME": str(tmp_path / "xdg"), "HOME": str(tmp_path)}
    monkeypatch.setattr(os, "environ", {**os.environ, **env})
    assert config_dir(env) == Path(sf_dirs._resolve_platform_dirs().user_config_path)


def test_naming_a_snowflake_target_imports_neither_the_connector_nor_pyarrow(tmp_path: Path) -> None:
    """Parsing snowflake://... reads the files with the standard library (a URL costs no heavy import)."""
    write(tmp_path / "connections.toml", f"[prod]\n{PROD}")
    code = (
        "import sys; from eltops.secrets import EnvReader; from eltops.warehouse import parse_warehouse; "
        f"parse_warehouse('snowflake://prod', EnvReader({{'SNOWFLAKE_HOME': {str(tmp_path)!r}}})); "
        "print(sorted(m for m in ('pyarrow', 'pandas', 'snowflake.connector') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
