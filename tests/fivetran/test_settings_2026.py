"""The settings of issue 20: accepted setup-test statuses, restoring schedules, and Fivetran's combined API key."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from eltops.errors import ConfigError
from eltops.fivetran import FlagValues, load_settings
from eltops.secrets import MASKER
from tests.fivetran.conftest import Served

BASE = {"FIVETRAN_ACTION": "TEST", "CONNECTOR_ID": "c", "FIVETRAN_API_KEY": "key-abcdef", "FIVETRAN_API_SECRET": "s-1"}


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    ("env", "flags", "allowed"),
    [
        ({}, FlagValues(), frozenset()),
        ({"FIVETRAN_TEST_ALLOW": "warning"}, FlagValues(), frozenset({"WARNING"})),
        ({"FIVETRAN_TEST_ALLOW": "WARNING, SKIPPED"}, FlagValues(), frozenset({"WARNING", "SKIPPED"})),
        ({"FIVETRAN_TEST_ALLOW": "WARNING"}, FlagValues(test_allow="SKIPPED"), frozenset({"SKIPPED"})),
    ],
)
def test_test_allow(env: dict[str, str], flags: FlagValues, allowed: frozenset[str]) -> None:
    """FIVETRAN_TEST_ALLOW (or --allow, which beats it) names the statuses to accept, in any case."""
    assert load_settings({**BASE, **env}, flags).test_allow == allowed


@pytest.mark.parametrize(
    ("env", "flags", "restore"),
    [
        ({}, FlagValues(), False),
        ({"FIVETRAN_RESTORE_SCHEDULE": "1"}, FlagValues(), True),
        ({"FIVETRAN_RESTORE_SCHEDULE": "false"}, FlagValues(), False),
        ({}, FlagValues(restore_schedule=True), True),
    ],
)
def test_restore_schedule(env: dict[str, str], flags: FlagValues, restore: bool) -> None:
    """FIVETRAN_RESTORE_SCHEDULE is a true/false variable; --restore-schedule sets it; off by default (the seed's)."""
    settings = load_settings({**BASE, **env}, flags)
    assert settings.restore_schedule is restore
    assert settings.disable_schedule is True


BAD = [
    ({"FIVETRAN_TEST_ALLOW": "FAILED"}, "FIVETRAN_TEST_ALLOW may accept WARNING and SKIPPED"),
    ({"FIVETRAN_TEST_ALLOW": "WARNING,JOB_FAILED"}, "not JOB_FAILED: FAILED and JOB_FAILED always fail"),
    ({"FIVETRAN_TEST_ALLOW": "warnings"}, "not WARNINGS"),
    ({"FIVETRAN_RESTORE_SCHEDULE": "maybe"}, "FIVETRAN_RESTORE_SCHEDULE must be true or false"),
    (
        {"FIVETRAN_RESTORE_SCHEDULE": "1", "FIVETRAN_DONT_DISABLE_SYNC": "1"},
        "with FIVETRAN_DONT_DISABLE_SYNC it replaces none",
    ),
    ({"FIVETRAN_API_SECRET": "", "FIVETRAN_API_KEY": "not-base64!"}, "FIVETRAN_API_KEY must be the base64 of"),
    ({"FIVETRAN_API_SECRET": "", "FIVETRAN_API_KEY": _b64("no-colon")}, "FIVETRAN_API_KEY must be the base64 of"),
    ({"FIVETRAN_API_SECRET": "", "FIVETRAN_API_KEY": _b64("key:")}, "FIVETRAN_API_KEY must be the base64 of"),
    ({"FIVETRAN_API_SECRET": "", "FIVETRAN_API_KEY": _b64(":secret")}, "FIVETRAN_API_KEY must be the base64 of"),
    ({"FIVETRAN_API_SECRET": "", "FIVETRAN_API_KEY": _b64("k ey:secret")}, "FIVETRAN_API_KEY must be the base64 of"),
    ({"FIVETRAN_API_SECRET": "", "FIVETRAN_API_KEY": "////"}, "FIVETRAN_API_KEY must be the base64 of"),
    ({"FIVETRAN_API_KEY": "", "FIVETRAN_API_SECRET": ""}, "FIVETRAN_API_KEY and FIVETRAN_API_SECRET must be set"),
]


@pytest.mark.parametrize(("changes", "message"), BAD)
def test_bad_input_is_a_config_error(changes: dict[str, str], message: str) -> None:
    """Each invalid new variable gives a ConfigError (exit 2) naming it."""
    with pytest.raises(ConfigError, match=message) as caught:
        load_settings({**BASE, **changes}, FlagValues())
    assert caught.value.exit_code == 2


def test_bad_allow_flag_names_the_flag() -> None:
    """A bad --allow is named as the flag, not the variable."""
    with pytest.raises(ConfigError, match="--allow may accept"):
        load_settings(BASE, FlagValues(test_allow="PASSED"))


def test_a_combined_key_is_split_and_every_form_masked() -> None:
    """FIVETRAN_API_KEY as base64(key:secret) with no secret set works like the two, and all three are masked."""
    combined = _b64("comb-key-77:comb-secret-88")
    settings = load_settings({**BASE, "FIVETRAN_API_KEY": combined, "FIVETRAN_API_SECRET": ""}, FlagValues())
    assert (settings.api_key.reveal(), settings.api_secret.reveal()) == ("comb-key-77", "comb-secret-88")
    assert MASKER.redact(f"{combined} comb-key-77 comb-secret-88") == "****** ****** ******"


def test_a_combined_key_from_the_vault(tmp_path: Path) -> None:
    """The combined key may come from the vault, as DATAOPS_VAULT(path)."""
    combined = _b64("vault-comb-key:vault-comb-secret")
    (tmp_path / "vault.yml").write_text(f"FIVETRAN:\n  CLI:\n    API_KEY: {combined}\n")
    env = {
        **BASE,
        "DATAOPS_SECRETS_DIR": str(tmp_path),
        "FIVETRAN_API_KEY": "DATAOPS_VAULT(FIVETRAN.CLI.API_KEY)",
        "FIVETRAN_API_SECRET": "",
    }
    settings = load_settings(env, FlagValues())
    assert settings.api_secret.reveal() == "vault-comb-secret"


def test_both_set_is_taken_as_is() -> None:
    """With FIVETRAN_API_SECRET set, FIVETRAN_API_KEY is the key as given, even if it happens to decode."""
    key = _b64("looks:combined")
    settings = load_settings({**BASE, "FIVETRAN_API_KEY": key}, FlagValues())
    assert settings.api_key.reveal() == key


@pytest.mark.parametrize(("changes", "message"), BAD[:6])
def test_bad_input_sends_no_request(served: Served, changes: dict[str, str], message: str) -> None:
    """The real command: exit 2 naming the variable, before any request reaches the API."""
    result = served.run("fivetran", env=served.env(FIVETRAN_ACTION="TEST", CONNECTOR_ID="tested", **changes))
    assert result.code == 2, result.stderr
    assert message.split(" must")[0].split(" may")[0] in result.stderr
    assert served.emulator.requests == []


def test_the_command_takes_a_combined_key(served: Served) -> None:
    """The real command, given only a combined key (Fivetran CLI style), authenticates, and never prints any form."""
    combined = base64.b64encode(b"e2e-key-9f8e7d:e2e-secret-1a2b3c4d").decode()
    result = served.run(
        "fivetran", env=served.env(FIVETRAN_ACTION="STATUS", FIVETRAN_API_KEY=combined, FIVETRAN_API_SECRET="")
    )
    assert result.code == 0, result.stderr
    assert combined not in result.stdout + result.stderr
