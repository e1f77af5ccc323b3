"""The vault reader, DATAOPS_VAULT references, and masking."""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path

import pytest

from eltops.errors import ConfigError
from eltops.secrets import MASKER, EnvReader, FileVault, MaskingFilter, Secret, vault_file_from_env

VAULT_YAML = """
FIVETRAN:
  DEFAULT:
    API_KEY: "default-key-123"
    SECRET: "default-secret-456"
INGESTION:
  FIVETRAN:
    PROD:
      API_KEY: prod-key-789
      NUMBER: 12345
"""


@pytest.fixture
def vault_file(tmp_path: Path) -> Path:
    path = tmp_path / "vault.yml"
    path.write_text(VAULT_YAML)
    return path


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, Path("/secrets/vault.yml")),
        ({"DATAOPS_SECRETS_DIR": "/run/s"}, Path("/run/s/vault.yml")),
        ({"DATAOPS_SECRETS_DIR": "/run/s", "DATAOPS_VAULT_FILE": "/v.json"}, Path("/v.json")),
    ],
)
def test_vault_location(env: dict[str, str], expected: Path) -> None:
    """DATAOPS_VAULT_FILE wins, else vault.yml in DATAOPS_SECRETS_DIR, else /secrets."""
    assert vault_file_from_env(env) == expected


def test_vault_reference_is_resolved_and_masked(vault_file: Path) -> None:
    """A DATAOPS_VAULT(path) value is replaced by the vault value, which is then masked everywhere."""
    env = EnvReader({"KEY": "DATAOPS_VAULT(INGESTION.FIVETRAN.PROD.API_KEY)"}, FileVault(vault_file))
    assert env.get("KEY") == "prod-key-789"
    assert MASKER.redact("key is prod-key-789") == "key is ******"


def test_plain_values_pass_through(vault_file: Path) -> None:
    """A value that is not a whole vault reference is used as it is."""
    env = EnvReader({"A": "plain", "B": "x DATAOPS_VAULT(FIVETRAN) y"}, FileVault(vault_file))
    assert env.get("A") == "plain"
    assert env.get("B") == "x DATAOPS_VAULT(FIVETRAN) y"


def test_json_vault(tmp_path: Path) -> None:
    """A JSON vault file works like YAML, scalars becoming strings."""
    path = tmp_path / "vault.json"
    path.write_text(json.dumps({"A": {"B": 42}}))
    assert FileVault(path).get("A.B") == "42"


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("NOPE.X", "has no value at NOPE.X"),
        ("FIVETRAN.DEFAULT", "is a section"),
        ("FIVETRAN.DEFAULT.API_KEY.MORE", "has no value at"),
    ],
)
def test_vault_lookup_errors_name_the_path(vault_file: Path, path: str, message: str) -> None:
    """A missing or non-scalar vault path is a ConfigError naming the path, never a value."""
    with pytest.raises(ConfigError, match=message) as caught:
        FileVault(vault_file).get(path)
    assert "default-key-123" not in str(caught.value)
    assert caught.value.exit_code == 2


def test_missing_vault_file_names_it(tmp_path: Path) -> None:
    """A vault reference with no vault file is exit 2 naming the file."""
    env = EnvReader({"DATAOPS_SECRETS_DIR": str(tmp_path), "K": "DATAOPS_VAULT(A.B)"})
    with pytest.raises(ConfigError, match=str(tmp_path / "vault.yml")):
        env.get("K")


def test_unparseable_vault_does_not_quote_it(tmp_path: Path) -> None:
    """A broken vault file is reported without echoing its content."""
    path = tmp_path / "vault.yml"
    path.write_text("A: [unclosed super-secret-value")
    with pytest.raises(ConfigError) as caught:
        FileVault(path).get("A")
    assert "super-secret-value" not in str(caught.value)


def test_secret_hides_its_value() -> None:
    """str and repr of a Secret never show the value; reveal() does."""
    secret = Secret("hunter2-long")
    assert "hunter2" not in repr(secret)
    assert "hunter2" not in str(secret)
    assert "hunter2" not in f"{secret}"
    assert secret.reveal() == "hunter2-long"


def test_basic_auth_header_is_masked() -> None:
    """The base64 Basic auth value built from key and secret is masked too."""
    MASKER.add_basic_auth("key-1234", "secret-5678")
    header = base64.b64encode(b"key-1234:secret-5678").decode()
    assert MASKER.redact(f"Authorization: Basic {header}") == "Authorization: Basic ******"


def test_log_records_are_masked(caplog: pytest.LogCaptureFixture) -> None:
    """Secrets in log messages, their arguments and tracebacks are masked by the filter."""
    Secret("topsecretvalue")
    logger = logging.getLogger("eltops.test")
    handler = logging.StreamHandler()
    handler.addFilter(MaskingFilter())
    record = logger.makeRecord("eltops.test", logging.INFO, __file__, 1, "value=%s", ("topsecretvalue",), None)
    handler.filter(record)
    assert record.getMessage() == "value=******"
    try:
        raise RuntimeError("boom topsecretvalue")
    except RuntimeError:
        import sys

        record = logger.makeRecord("eltops.test", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    handler.filter(record)
    assert "topsecretvalue" not in (record.exc_text or "")
    assert "******" in (record.exc_text or "")


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("DATAOPS_VAULT(X.Y", "no closing parenthesis"),
        ("DATAOPS_VAULT(X.Y) trailing", "text after the closing parenthesis"),
        ("DATAOPS_VAULT()", "path between the parentheses is empty"),
        ("DATAOPS_VAULT(X. Y)", "may not hold spaces"),
        ("dataops_vault(X.Y)", "in capitals"),
    ],
)
def test_malformed_vault_reference_is_a_config_error(vault_file: Path, value: str, problem: str) -> None:
    """A value that starts like a vault reference but is malformed is exit 2 naming the variable and the problem."""
    env = EnvReader({"ORCHESTRA_API_KEY": value}, FileVault(vault_file))
    with pytest.raises(ConfigError, match=f"ORCHESTRA_API_KEY is a malformed vault reference: .*{problem}") as caught:
        env.get("ORCHESTRA_API_KEY")
    assert value not in str(caught.value)
    assert caught.value.exit_code == 2
