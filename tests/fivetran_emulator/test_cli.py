"""``eltops emulate fivetran``: options, the printed URL, serving, and a clean stop on Ctrl-C."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from eltops.cli._emulate_fivetran import fivetran_emulator
from eltops.errors import ConfigError
from eltops.fivetran.emulator import DEFAULT_API_KEY, DEFAULT_API_SECRET

DIRECT = "from eltops.cli._emulate_fivetran import fivetran_emulator as c; c(prog_name='eltops emulate fivetran')"


def start(*args: str, via_main: bool) -> tuple[subprocess.Popen[str], str]:
    launcher = ["-m", "eltops", "emulate", "fivetran"] if via_main else ["-c", DIRECT]
    process = subprocess.Popen(
        [sys.executable, *launcher, "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    url = process.stdout.readline().strip()
    return process, url


def stop(process: subprocess.Popen[str]) -> tuple[int, str]:
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=10)
    return process.returncode, stderr


@pytest.mark.parametrize("via_main", [False, True], ids=["command", "eltops-main"])
def test_serves_the_demo_until_ctrl_c(via_main: bool) -> None:
    """Started on port 0 it prints the base URL, serves the demo with the default credentials, and stops on SIGINT."""
    process, url = start(via_main=via_main)
    try:
        assert url.startswith("http://127.0.0.1:")
        with httpx.Client(base_url=url, auth=(DEFAULT_API_KEY, DEFAULT_API_SECRET), timeout=5) as client:
            assert client.get("/v1/connections/demo_shop").json()["data"]["schema"] == "shop_db"
            assert client.get("/v1/connectors/demo_crm").status_code == 200
            assert client.get("/v1/groups/demo_warehouse/connections").json()["data"]["next_cursor"] is None
    finally:
        code, stderr = stop(process)
    assert code == 0
    assert f"FIVETRAN_API_URL={url}" in stderr
    assert "stopped" in stderr


def test_scenario_credentials_and_paths(tmp_path: Path) -> None:
    """--scenario, --api-key/--api-secret and --paths shape what is served."""
    scenario = tmp_path / "s.yaml"
    scenario.write_text("groups: [{id: g}]\nconnections: [{id: mine, group_id: g, schema: my_db}]\n")
    process, url = start(
        "--scenario", str(scenario), "--api-key", "ck", "--api-secret", "cs", "--paths", "connectors", via_main=False
    )
    try:
        with httpx.Client(base_url=url, auth=("ck", "cs"), timeout=5) as client:
            assert client.get("/v1/connectors/mine").json()["data"]["schema"] == "my_db"
            assert client.get("/v1/connections/mine").json()["code"] == "NotFound"
            assert client.get("/v1/connectors/demo_shop").status_code == 404
            assert client.get("/v1/connectors/mine", auth=(DEFAULT_API_KEY, DEFAULT_API_SECRET)).status_code == 401
    finally:
        code, stderr = stop(process)
    assert code == 0
    assert "cs" not in stderr.split("FIVETRAN_API_SECRET=")[1]


def test_help_documents_the_options() -> None:
    """--help lists every option with the defaults."""
    result = CliRunner().invoke(fivetran_emulator, ["--help"])
    assert result.exit_code == 0
    for text in ("--port", "8765", "--host", "--api-key", DEFAULT_API_KEY, "--api-secret", "--scenario", "--paths"):
        assert text in result.output


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--host", "0.0.0.0"], ConfigError),  # noqa: S104 - the point is that it is refused
        (["--paths", "some"], SystemExit),
        (["--port", "70000"], SystemExit),
        (["--scenario", "/no/such/file.yaml"], SystemExit),
    ],
)
def test_bad_options_are_refused(args: list[str], expected: type[BaseException]) -> None:
    """A non-loopback host, an unknown path family, a bad port or a missing scenario file stops before serving."""
    result = CliRunner().invoke(fivetran_emulator, ["--port", "0", *args])
    assert result.exit_code != 0
    assert isinstance(result.exception, expected)
