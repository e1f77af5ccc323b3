"""Lineage settings: read as OpenLineage's clients read them, off when unset, bad input refused before any request."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from eltops.errors import ConfigError
from eltops.lineage import VARIABLES, load_lineage_settings
from eltops.lineage._settings import (
    ConsoleTransportSettings,
    FileTransportSettings,
    HttpTransportSettings,
    RunRef,
)

RUN = "0191e3a6-8c4c-7a0b-9d2e-0f1e2d3c4b5a"


def load(env: dict[str, str], tmp_path: Path) -> object:
    return load_lineage_settings(env, cwd=tmp_path, home=tmp_path / "home")


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"FIVETRAN_API_KEY": "x"},
        {"OPENLINEAGE_NAMESPACE": "prod"},
        {"OPENLINEAGE_URL": "http://127.0.0.1:5000", "OPENLINEAGE_DISABLED": "true"},
        {"OPENLINEAGE__TRANSPORT__TYPE": "console", "OPENLINEAGE_DISABLED": "TRUE"},
    ],
)
def test_off_when_nothing_is_set_or_disabled(env: dict[str, str], tmp_path: Path) -> None:
    """No transport configured, or OPENLINEAGE_DISABLED=true, means no lineage at all."""
    assert load(env, tmp_path) is None


def test_legacy_http_variables(tmp_path: Path) -> None:
    """OPENLINEAGE_URL, OPENLINEAGE_ENDPOINT and OPENLINEAGE_API_KEY make the HTTP transport, the key a secret."""
    settings = load(
        {
            "OPENLINEAGE_URL": "https://collector.example.com/",
            "OPENLINEAGE_ENDPOINT": "/events/receive",
            "OPENLINEAGE_API_KEY": "ol-key-123",
            "OPENLINEAGE_NAMESPACE": "ci",
        },
        tmp_path,
    )
    assert settings is not None
    transport = settings.transport  # type: ignore[attr-defined]
    assert isinstance(transport, HttpTransportSettings)
    assert transport.where == "https://collector.example.com/events/receive"
    assert transport.api_key is not None
    assert transport.api_key.reveal() == "ol-key-123"
    assert "ol-key-123" not in repr(settings)
    assert settings.namespace == "ci"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {
                "OPENLINEAGE__TRANSPORT__TYPE": "http",
                "OPENLINEAGE__TRANSPORT__URL": "http://127.0.0.1:8767",
                "OPENLINEAGE__TRANSPORT__TIMEOUT": "2.5",
                "OPENLINEAGE__TRANSPORT__AUTH__TYPE": "api_key",
                "OPENLINEAGE__TRANSPORT__AUTH__API_KEY": "k",
            },
            HttpTransportSettings,
        ),
        (
            {"OPENLINEAGE__TRANSPORT__TYPE": "file", "OPENLINEAGE__TRANSPORT__LOG_FILE_PATH": "ol.jsonl"},
            FileTransportSettings,
        ),
        ({"OPENLINEAGE__TRANSPORT__TYPE": "console"}, ConsoleTransportSettings),
        # the dynamic variables beat the legacy ones, as in OpenLineage's client
        (
            {"OPENLINEAGE__TRANSPORT__TYPE": "console", "OPENLINEAGE_URL": "http://127.0.0.1:1"},
            ConsoleTransportSettings,
        ),
    ],
)
def test_dynamic_transport_variables(env: dict[str, str], expected: type, tmp_path: Path) -> None:
    """OPENLINEAGE__TRANSPORT__* variables nest by double underscores into the transport's config."""
    settings = load(env, tmp_path)
    assert settings is not None
    assert isinstance(settings.transport, expected)  # type: ignore[attr-defined]


@pytest.mark.parametrize("where", ["named", "cwd", "home"])
def test_openlineage_yml(where: str, tmp_path: Path) -> None:
    """An openlineage.yml (OPENLINEAGE_CONFIG, ./openlineage.yml, ~/.openlineage/) beats the variables."""
    text = "transport:\n  type: http\n  url: http://127.0.0.1:8767\n  auth:\n    type: api_key\n    apiKey: yml-key\n"
    env = {"OPENLINEAGE__TRANSPORT__TYPE": "console"}
    if where == "named":
        path = tmp_path / "conf" / "my.yml"
        env["OPENLINEAGE_CONFIG"] = str(path)
    elif where == "cwd":
        path = tmp_path / "openlineage.yml"
    else:
        path = tmp_path / "home" / ".openlineage" / "openlineage.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    settings = load(env, tmp_path)
    assert settings is not None
    transport = settings.transport  # type: ignore[attr-defined]
    assert isinstance(transport, HttpTransportSettings)
    assert transport.api_key is not None
    assert transport.api_key.reveal() == "yml-key"


@pytest.mark.parametrize(
    ("env", "parent", "root"),
    [
        (
            {"OPENLINEAGE_PARENT_ID": f"airflow/dag.task/{RUN}"},
            RunRef("airflow", "dag.task", RUN),
            None,
        ),
        (
            {
                "OPENLINEAGE_PARENT_ID": f"ns/a.b/{RUN}",
                "OPENLINEAGE_ROOT_PARENT_ID": f"ns/a/{RUN.replace('5a', '5b')}",
            },
            RunRef("ns", "a.b", RUN),
            RunRef("ns", "a", RUN.replace("5a", "5b")),
        ),
        (
            {
                "OPENLINEAGE_CONTEXT": orjson.dumps(
                    {"parent": {"run": {"runId": RUN}, "job": {"namespace": "n", "name": "p"}}}
                ).decode()
            },
            RunRef("n", "p", RUN),
            None,
        ),
    ],
)
def test_given_parents(env: dict[str, str], parent: RunRef, root: RunRef | None, tmp_path: Path) -> None:
    """OPENLINEAGE_PARENT_ID / OPENLINEAGE_ROOT_PARENT_ID / OPENLINEAGE_CONTEXT are read as OpenLineage writes them."""
    settings = load({"OPENLINEAGE__TRANSPORT__TYPE": "console", **env}, tmp_path)
    assert settings is not None
    assert settings.parent == parent  # type: ignore[attr-defined]
    assert settings.root == root  # type: ignore[attr-defined]


BAD = [(v.name, v.example_bad) for v in VARIABLES if v.example_bad is not None]


@pytest.mark.parametrize(("name", "value"), BAD)
def test_every_bad_value_is_refused_naming_it(name: str, value: str, tmp_path: Path) -> None:
    """Each variable's bad example is a ConfigError (exit 2) whose message names the variable."""
    env = {"OPENLINEAGE__TRANSPORT__TYPE": "console", name: value}
    if name.startswith("OPENLINEAGE__TRANSPORT__") and name != "OPENLINEAGE__TRANSPORT__TYPE":
        env["OPENLINEAGE__TRANSPORT__TYPE"] = "http"
        env.setdefault("OPENLINEAGE__TRANSPORT__URL", "http://127.0.0.1:8767")
    if name == "OPENLINEAGE_URL":
        del env["OPENLINEAGE__TRANSPORT__TYPE"]
    with pytest.raises(ConfigError) as caught:
        load(env, tmp_path)
    assert name in str(caught.value)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"OPENLINEAGE__TRANSPORT__TYPE": "http"}, "needs a url"),
        ({"OPENLINEAGE__TRANSPORT__TYPE": "file"}, "OPENLINEAGE__TRANSPORT__LOG_FILE_PATH"),
        ({"OPENLINEAGE__TRANSPORT__TYPE": "console", "OPENLINEAGE__TRANSPORT__COLOR": "x"}, "does not read"),
        (
            {"OPENLINEAGE_URL": "http://collector.internal:5000", "OPENLINEAGE_API_KEY": "k"},
            "credentials are only sent over https",
        ),
        (
            {"OPENLINEAGE_URL": "http://127.0.0.1:1", "OPENLINEAGE_ROOT_PARENT_ID": f"a/b/{RUN}"},
            "needs OPENLINEAGE_PARENT_ID",
        ),
        ({"OPENLINEAGE_URL": "http://127.0.0.1:1", "OPENLINEAGE_PARENT_ID": "a/b/not-a-uuid"}, "must be a UUID"),
    ],
)
def test_bad_combinations(env: dict[str, str], message: str, tmp_path: Path) -> None:
    """Incomplete or unsafe transports are refused with a message saying what to fix."""
    with pytest.raises(ConfigError, match=message):
        load(env, tmp_path)


def test_plain_http_without_a_key_may_go_to_a_service_host(tmp_path: Path) -> None:
    """Plain http to a non-loopback host (a Marquez service in CI) is allowed when no API key could leak."""
    settings = load({"OPENLINEAGE_URL": "http://marquez:5000"}, tmp_path)
    assert settings is not None


def test_a_key_kept_out_of_the_file_comes_from_the_variables(tmp_path: Path) -> None:
    """openlineage.yml wins, and a key it lacks (the API key) may come from OPENLINEAGE__TRANSPORT__AUTH__*."""
    (tmp_path / "openlineage.yml").write_text("transport:\n  type: http\n  url: https://lineage.example.com\n")
    settings = load(
        {
            "OPENLINEAGE__TRANSPORT__AUTH__TYPE": "api_key",
            "OPENLINEAGE__TRANSPORT__AUTH__API_KEY": "from-env",
            "OPENLINEAGE__TRANSPORT__URL": "https://ignored.example.com",
        },
        tmp_path,
    )
    assert settings is not None
    transport = settings.transport  # type: ignore[attr-defined]
    assert isinstance(transport, HttpTransportSettings)
    assert transport.url == "https://lineage.example.com"
    assert transport.api_key is not None
    assert transport.api_key.reveal() == "from-env"


@pytest.mark.parametrize("variable", [v.name for v in VARIABLES])
def test_every_variable_is_documented(variable: str) -> None:
    """The lineage page of the docs names every variable eltops reads for lineage."""
    section = (Path(__file__).resolve().parents[2] / "docs" / "lineage.md").read_text()
    short = variable.removeprefix("OPENLINEAGE__TRANSPORT")
    assert f"`{variable}`" in section or f"`{short}`" in section or f"{short}`" in section


def test_the_key_may_come_from_the_dataops_vault(tmp_path: Path) -> None:
    """OPENLINEAGE_API_KEY=DATAOPS_VAULT(PATH) is read from the vault and masked like every vault value."""
    from eltops.secrets import MASKER, EnvReader

    vault = tmp_path / "vault.yml"
    vault.write_text("LINEAGE:\n  KEY: vaulted-ol-key-42\n")
    env = {
        "OPENLINEAGE_URL": "https://lineage.example.com",
        "OPENLINEAGE_API_KEY": "DATAOPS_VAULT(LINEAGE.KEY)",
        "DATAOPS_VAULT_FILE": str(vault),
    }
    settings = load_lineage_settings(env, cwd=tmp_path, home=tmp_path, read=EnvReader(env).get)
    assert settings is not None
    transport = settings.transport
    assert isinstance(transport, HttpTransportSettings)
    assert transport.api_key is not None
    assert transport.api_key.reveal() == "vaulted-ol-key-42"
    assert MASKER.redact("key vaulted-ol-key-42") == "key ******"
