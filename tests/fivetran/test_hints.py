"""The commands ``eltops fivetran`` prints after an interrupted wait run as printed against the emulator."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from tests._hints import hinted_commands
from tests.fivetran.conftest import Served


def test_the_sigterm_hints_run_as_printed(served: Served) -> None:
    """After SIGTERM mid-wait, `status` and `wait --completed-after <baseline>` are printed and neither is exit 2."""
    env = served.env(CONNECTOR_ID="slow,good", FIVETRAN_TIMEOUT="120")
    proc = subprocess.Popen(
        [sys.executable, "-m", "eltops", "fivetran"],
        env=env,
        cwd=served.tmp,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not any(
            r.method == "POST" and "slow" in r.path for r in served.emulator.requests
        ):
            time.sleep(0.1)
        time.sleep(1)  # let the orchestrator reach its wait
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=15)
    finally:
        proc.kill()
    assert proc.returncode == 143, stderr
    commands = hinted_commands(stderr)
    assert [c[:3] for c in commands] == [["eltops", "fivetran", "status"], ["eltops", "fivetran", "wait"]], stderr
    status, wait = commands
    assert status[3:5] == ["--connector-id", "slow,good"]
    assert wait[3:5] == ["--connector-id", "slow"]
    assert wait[5] == "--completed-after"
    # the credentials of the interrupted job; a short timeout: the slow sync goes on
    for name in ("FIVETRAN_ACTION", "CONNECTOR_ID", "FIVETRAN_API_URL"):  # the command names the API itself
        env.pop(name)
    for command in commands:
        run = served.run(*command[1:], env={**env, "FIVETRAN_TIMEOUT": "2"})
        assert run.code != 2, (command, run.stderr)
    assert served.run(*status[1:], env=env).code == 0
    assert served.run(*wait[1:], env={**env, "FIVETRAN_TIMEOUT": "2"}).code == 3  # it waits for the slow sync


@pytest.mark.parametrize(
    ("given", "nearest"),
    [
        ("goood", "good"),  # a typo of an id
        ("shop_db", None),  # a schema name is no connection's id or name
        ("sloww", "slow"),
    ],
)
def test_an_unknown_connection_id_says_so_with_the_nearest_and_how_to_name_one(
    served: Served, given: str, nearest: str | None
) -> None:
    """An id no connection has is exit 2 saying so, with the nearest ids and the way to list them, not a raw 404."""
    run = served.run("fivetran", "status", "--connector-id", given)
    assert run.code == 2, run.stderr
    assert f"no Fivetran connection has the id {given!r}" in run.stderr
    assert "<group name>/<connection name>" in run.stderr
    if nearest is not None:
        assert f"the nearest: {nearest}" in run.stderr
    assert {tuple(c) for c in hinted_commands(run.stderr)} == {("eltops", "fivetran", "list")}
    command = ["eltops", "fivetran", "list"]
    assert served.run(*command[1:]).code == 0
    assert "HTTP 404" not in run.stderr
