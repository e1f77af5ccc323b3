"""Parsing the DataOps variables, the vault and flags into FivetranSettings; every bad input is exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from eltops.errors import ConfigError
from eltops.fivetran import Action, ConnectionRef, FlagValues, load_settings
from eltops.secrets import MASKER

BASE = {
    "FIVETRAN_ACTION": "START",
    "CONNECTOR_ID": "splint_shopkeepers",
    "FIVETRAN_API_KEY": "key-abcdef",
    "FIVETRAN_API_SECRET": "secret-ghijkl",
}


def _load(env: dict[str, str], flags: FlagValues | None = None):  # type: ignore[no-untyped-def]
    return load_settings(env, flags or FlagValues())


def test_defaults_match_the_dataops_page() -> None:
    """The seed's defaults: 300 s timeout, schedule set to manual, the public API, 10 s polls."""
    settings = _load(BASE)
    assert settings.action is Action.START
    assert settings.connections == (ConnectionRef(id="splint_shopkeepers"),)
    assert settings.timeout == 300
    assert settings.poll_interval == 10
    assert settings.disable_schedule is True
    assert settings.api_url == "https://api.fivetran.com"
    assert settings.api_key.reveal() == "key-abcdef"


@pytest.mark.parametrize("text", ["start", "Start", " START ", "force_resync", "FORCE-RESYNC"])
def test_action_in_any_case(text: str) -> None:
    """FIVETRAN_ACTION is read in any case, with - or _."""
    env = {**BASE, "FIVETRAN_ACTION": text, "TABLE": "t", "SCHEMA": "s"}
    assert _load(env).action.value in ("START", "FORCE_RESYNC")


def test_flags_beat_variables() -> None:
    """A flag given on the command line overrides its variable."""
    flags = FlagValues(action="status", connector_ids=("a,b", "c"), timeout=600, poll_interval=0.5)
    settings = _load({**BASE, "FIVETRAN_TIMEOUT": "60"}, flags)
    assert settings.action is Action.STATUS
    assert [str(c) for c in settings.connections] == ["a", "b", "c"]
    assert settings.timeout == 600
    assert settings.poll_interval == 0.5


def test_several_ids_and_names() -> None:
    """CONNECTOR_ID holds comma-separated ids and group/name references, duplicates dropped."""
    settings = _load({**BASE, "CONNECTOR_ID": "a, Warehouse/shop_db ,a"})
    assert settings.connections == (
        ConnectionRef(id="a"),
        ConnectionRef(group_name="Warehouse", connection_name="shop_db"),
    )


def test_force_resync_tables() -> None:
    """FORCE_RESYNC takes SCHEMA and several comma-separated TABLEs."""
    settings = _load({**BASE, "FIVETRAN_ACTION": "FORCE_RESYNC", "SCHEMA": "public", "TABLE": "orders, items"})
    assert settings.schema == "public"
    assert settings.tables == ("orders", "items")


@pytest.mark.parametrize(
    ("env", "flags", "tables", "warnings"),
    [
        ({"TABLE": "orders,orders"}, FlagValues(), ("orders",), ["TABLE names 'orders' 2 times"]),
        (
            {},
            FlagValues(table="a, b,a,b , a,c"),
            ("a", "b", "c"),
            ["--table names 'a' 3 times", "--table names 'b' 2 times"],
        ),
        ({"TABLE": "orders,items"}, FlagValues(), ("orders", "items"), []),
    ],
)
def test_repeated_tables_are_sent_once_with_a_warning(
    env: dict[str, str],
    flags: FlagValues,
    tables: tuple[str, ...],
    warnings: list[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A table named twice is re-synced once (Fivetran refuses repeats) and a warning names the repeat."""
    settings = _load({**BASE, "FIVETRAN_ACTION": "FORCE_RESYNC", "SCHEMA": "public", **env}, flags)
    assert settings.tables == tables
    assert [r.getMessage().split(";")[0] for r in caplog.records if r.levelname == "WARNING"] == warnings


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"FIVETRAN_ACTION": ""}, "FIVETRAN_ACTION is required"),
        ({"FIVETRAN_ACTION": "SYNC"}, "must be one of STATUS, START, TEST, FORCE_RESYNC"),
        ({"CONNECTOR_ID": ""}, "CONNECTOR_ID is required"),
        ({"CONNECTOR_ID": " , "}, "CONNECTOR_ID is required"),
        ({"CONNECTOR_ID": "group/"}, "<group name>/<connection name>"),
        ({"FIVETRAN_API_KEY": ""}, "FIVETRAN_API_KEY must be set"),
        ({"FIVETRAN_API_SECRET": ""}, "FIVETRAN_API_SECRET must be set"),
        ({"FIVETRAN_TIMEOUT": "ten"}, "FIVETRAN_TIMEOUT must be a number"),
        ({"FIVETRAN_TIMEOUT": "-1"}, "FIVETRAN_TIMEOUT must be a positive"),
        ({"FIVETRAN_TIMEOUT": "0"}, "FIVETRAN_TIMEOUT must be a positive"),
        ({"FIVETRAN_TIMEOUT": "nan"}, "FIVETRAN_TIMEOUT must be a positive"),
        ({"FIVETRAN_POLL_INTERVAL": "x"}, "FIVETRAN_POLL_INTERVAL must be a number"),
        ({"FIVETRAN_API_URL": "http://api.fivetran.com"}, "plain http"),
        ({"FIVETRAN_API_URL": "not a url"}, "FIVETRAN_API_URL must be an http"),
        ({"FIVETRAN_ACTION": "FORCE_RESYNC"}, "FORCE_RESYNC needs TABLE and SCHEMA"),
        ({"FIVETRAN_ACTION": "FORCE_RESYNC", "TABLE": "t"}, "FORCE_RESYNC needs SCHEMA"),
        ({"FIVETRAN_ACTION": "FORCE_RESYNC", "SCHEMA": "s"}, "FORCE_RESYNC needs TABLE"),
    ],
)
def test_bad_input_is_a_config_error(changes: dict[str, str], message: str) -> None:
    """Each invalid variable gives a ConfigError (exit 2) naming it."""
    with pytest.raises(ConfigError, match=message) as caught:
        _load({**BASE, **changes})
    assert caught.value.exit_code == 2


def test_keys_from_the_default_vault_paths(tmp_path: Path) -> None:
    """SET_FIVETRAN_KEYS_TO_ENV reads FIVETRAN.DEFAULT.API_KEY and API_SECRET from the vault, masked."""
    (tmp_path / "vault.yml").write_text(
        "FIVETRAN:\n  DEFAULT:\n    API_KEY: vault-key-1\n    API_SECRET: vault-secret-1\n    SECRET: old-secret\n"
    )
    env = {
        "FIVETRAN_ACTION": "STATUS",
        "CONNECTOR_ID": "c",
        "SET_FIVETRAN_KEYS_TO_ENV": "1",
        "DATAOPS_SECRETS_DIR": str(tmp_path),
    }
    settings = _load(env)
    assert settings.api_key.reveal() == "vault-key-1"
    assert settings.api_secret.reveal() == "vault-secret-1"
    assert MASKER.redact("vault-key-1 vault-secret-1") == "****** ******"


def test_secret_falls_back_to_the_old_vault_key(tmp_path: Path) -> None:
    """Without FIVETRAN.DEFAULT.API_SECRET the vault's FIVETRAN.DEFAULT.SECRET is used (the seed's table)."""
    path = tmp_path / "v.yml"
    path.write_text("FIVETRAN:\n  DEFAULT:\n    API_KEY: vault-key-1\n    SECRET: old-secret-2\n")
    env = {
        "FIVETRAN_ACTION": "STATUS",
        "CONNECTOR_ID": "c",
        "SET_FIVETRAN_KEYS_TO_ENV": "yes",
        "DATAOPS_VAULT_FILE": str(path),
    }
    assert _load(env).api_secret.reveal() == "old-secret-2"


def test_keys_from_any_vault_path(tmp_path: Path) -> None:
    """FIVETRAN_API_KEY/SECRET given as DATAOPS_VAULT(...) are read from those paths."""
    path = tmp_path / "vault.yml"
    path.write_text("INGESTION:\n  FIVETRAN:\n    PROD:\n      API_KEY: prod-key-1\n      API_SECRET: prod-secret-1\n")
    env = {
        **BASE,
        "DATAOPS_VAULT_FILE": str(path),
        "FIVETRAN_API_KEY": "DATAOPS_VAULT(INGESTION.FIVETRAN.PROD.API_KEY)",
        "FIVETRAN_API_SECRET": "DATAOPS_VAULT(INGESTION.FIVETRAN.PROD.API_SECRET)",
    }
    settings = _load(env)
    assert (settings.api_key.reveal(), settings.api_secret.reveal()) == ("prod-key-1", "prod-secret-1")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SET_FIVETRAN_KEYS_TO_ENV": "1"}, "vault.yml does not exist"),
        ({"FIVETRAN_API_KEY": "DATAOPS_VAULT(A.B)"}, "vault.yml does not exist"),
    ],
)
def test_missing_vault_file(tmp_path: Path, env: dict[str, str], message: str) -> None:
    """A vault that is needed but absent is exit 2 naming its path."""
    with pytest.raises(ConfigError, match=message):
        _load({**BASE, "DATAOPS_SECRETS_DIR": str(tmp_path), **env})


def test_missing_vault_path(tmp_path: Path) -> None:
    """SET_FIVETRAN_KEYS_TO_ENV with no key in the vault names the paths it looked for."""
    (tmp_path / "vault.yml").write_text("OTHER: 1\n")
    with pytest.raises(ConfigError, match=r"FIVETRAN\.DEFAULT\.API_KEY"):
        _load({**BASE, "DATAOPS_SECRETS_DIR": str(tmp_path), "SET_FIVETRAN_KEYS_TO_ENV": "1"})


@pytest.mark.parametrize(
    ("env", "flags", "disable"),
    [
        ({}, FlagValues(), True),
        ({"FIVETRAN_DONT_DISABLE_SYNC": "1"}, FlagValues(), False),
        ({"FIVETRAN_DONT_DISABLE_SYNC": ""}, FlagValues(), True),
        ({}, FlagValues(dont_disable_sync=True), False),
    ],
)
def test_dont_disable_sync(env: dict[str, str], flags: FlagValues, disable: bool) -> None:
    """Any non-empty FIVETRAN_DONT_DISABLE_SYNC (or the flag) keeps the schedule."""
    assert _load({**BASE, **env}, flags).disable_schedule is disable


def test_junit_from_variable(tmp_path: Path) -> None:
    """FIVETRAN_JUNIT_REPORT names the JUnit file when --junit is not given."""
    path = tmp_path / "r.xml"
    assert _load({**BASE, "FIVETRAN_JUNIT_REPORT": str(path)}).junit_path == path
