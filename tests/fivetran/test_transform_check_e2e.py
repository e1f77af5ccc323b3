"""End to end: the real ``eltops fivetran`` running TRANSFORM, START with FIVETRAN_THEN_TRANSFORM and CHECK against
the Fivetran emulator over a real socket: exit codes, step outputs, --json, JUnit, the run history, signals."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import duckdb
import pytest

from eltops.fivetran.emulator import TransformationScript
from tests.fivetran.conftest import SECRETS, Served

QUICK = {"queue_seconds": 0.1, "run_seconds": 0.4}


@pytest.fixture
def account(served: Served) -> Served:
    """The served account, with a transformation for each outcome and one that never ends."""
    for outcome in ("SUCCEEDED", "FAILED", "PARTIALLY_SUCCEEDED", "BLOCKED"):
        served.emulator.add_transformation(
            outcome.lower(),
            group_id="group_1",
            output_model_names=["orders_daily", "revenue"],
            script=TransformationScript(outcome=outcome, **QUICK),  # type: ignore[arg-type]
        )
    served.emulator.add_transformation(
        "endless", group_id="group_1", script=TransformationScript(run_seconds=None, cancel_seconds=0.2)
    )
    return served


def _transform_env(served: Served, ids: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in served.env().items() if k != "CONNECTOR_ID"}
    return {**env, "FIVETRAN_ACTION": "TRANSFORM", "TRANSFORMATION_ID": ids, **extra}


def _outputs(path: str) -> dict[str, str]:
    with open(path, encoding="utf-8") as handle:
        return dict(line.rstrip("\n").split("=", 1) for line in handle if "=" in line)


@pytest.mark.parametrize(
    ("ids", "extra", "code", "said"),
    [
        ("succeeded", {}, 0, "SUCCEEDED at"),
        ("failed", {}, 1, "FAILED at"),
        ("blocked", {}, 1, "BLOCKED at"),
        ("partially_succeeded", {}, 1, "FIVETRAN_ALLOW_PARTIAL=1 accepts"),
        ("partially_succeeded", {"FIVETRAN_ALLOW_PARTIAL": "1"}, 0, "accepted (FIVETRAN_ALLOW_PARTIAL)"),
        ("succeeded,failed", {}, 1, "1 of 2 transformations did not succeed"),
        ("endless", {"FIVETRAN_TIMEOUT": "3"}, 3, "eltops cancelled the run"),
        ("ghost", {}, 2, "Fivetran has no transformation 'ghost'; the transformations are: succeeded"),
    ],
)
def test_transform_exit_codes(account: Served, ids: str, extra: dict[str, str], code: int, said: str) -> None:
    """Each outcome of TRANSFORM has its exit code and says what Fivetran said."""
    result = account.run("fivetran", env=_transform_env(account, ids, **extra))
    assert result.code == code, result.stderr
    assert said in result.stderr
    if code == 3:
        assert result.seconds < 15
        assert [r for r in account.emulator.requests if r.path.endswith("/endless/cancel")]


def test_transform_reports_json_junit_and_step_outputs(account: Served) -> None:
    """--json carries each transformation's status and models; JUnit has one case each; outputs name the models."""
    junit = account.tmp / "t.xml"
    outputs = account.tmp / "outputs.txt"
    env = _transform_env(account, "succeeded,failed", GITHUB_OUTPUT=str(outputs), FIVETRAN_FULL_REFRESH="1")
    result = account.run("fivetran", "--json", "--junit", str(junit), env=env)
    assert result.code == 1
    body = json.loads(result.stdout)
    assert [(t["transformation_id"], t["status"]) for t in body["transformations"]] == [
        ("succeeded", "SUCCEEDED"),
        ("failed", "FAILED"),
    ]
    assert body["transformations"][0]["output_models"] == ["orders_daily", "revenue"]
    cases = ET.parse(junit).getroot().iter("testcase")
    assert [(c.get("name"), c.find("failure") is not None) for c in cases] == [("succeeded", False), ("failed", True)]
    written = _outputs(str(outputs))
    assert written["ELTOPS_FIVETRAN_MODELS"] == "orders_daily,revenue"
    assert json.loads(written["ELTOPS_FIVETRAN_TRANSFORMATIONS"])["failed"]["status"] == "FAILED"
    assert account.emulator.transformation_runs("succeeded") == [True]


def test_transform_is_recorded_in_the_history(account: Served) -> None:
    """Each transformation's run is an operation of type TRANSFORMATION in the warehouse."""
    db = account.tmp / "history.duckdb"
    result = account.run("fivetran", env=_transform_env(account, "succeeded,failed", ELTOPS_WAREHOUSE=str(db)))
    assert result.code == 1
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            "SELECT external_id, operation_type, operation_status FROM operations ORDER BY external_id"
        ).fetchall()
    assert rows == [("failed", "TRANSFORMATION", "FAILED"), ("succeeded", "TRANSFORMATION", "SUCCEEDED")]


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_sigterm_and_ctrl_c_cancel_the_transformation(account: Served, sig: signal.Signals, code: int) -> None:
    """When CI cancels the job (SIGTERM) or on Ctrl-C, eltops cancels the run before it exits."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "eltops", "fivetran"],
        env=_transform_env(account, "endless", FIVETRAN_TIMEOUT="120"),
        cwd=account.tmp,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not [r for r in account.emulator.requests if r.path.endswith("/run")]:
            time.sleep(0.05)
        time.sleep(0.5)  # into the wait
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == code, stderr
    assert "eltops cancelled the run" in stderr
    assert [r for r in account.emulator.requests if r.path.endswith("/endless/cancel")]
    for secret in SECRETS:
        assert secret not in stderr


def test_start_then_transform_in_one_job(account: Served) -> None:
    """START then FIVETRAN_THEN_TRANSFORM: the transformation runs after the sync; outputs name schema and models."""
    outputs = account.tmp / "outputs.txt"
    env = account.env(FIVETRAN_THEN_TRANSFORM="succeeded", GITHUB_OUTPUT=str(outputs))
    result = account.run("fivetran", env=env)
    assert result.code == 0, result.stderr
    assert "every sync succeeded: running transformation(s) succeeded" in result.stderr
    written = _outputs(str(outputs))
    assert written["ELTOPS_FIVETRAN_SCHEMAS"] == "shop_db"
    assert written["ELTOPS_FIVETRAN_SYNCED"] == "good"


def test_a_failed_sync_runs_no_transformation(account: Served) -> None:
    """A failed sync: exit 1, the transformation not run and the log says why."""
    result = account.run("fivetran", env=account.env(CONNECTOR_ID="good,bad", FIVETRAN_THEN_TRANSFORM="succeeded"))
    assert result.code == 1
    assert "not run: 1 sync(s) did not succeed (bad), so no transformation ran" in result.stderr
    assert account.emulator.transformation_runs("succeeded") == []


def test_check_a_group(account: Served) -> None:
    """CHECK group:<name>: exit 1 with a row per connection saying why; JUnit one case each; nothing triggered."""
    junit = account.tmp / "fresh.xml"
    env = account.env(FIVETRAN_ACTION="CHECK", CONNECTOR_ID="group:Warehouse")
    result = account.run("fivetran", "--junit", str(junit), env=env)
    assert result.code == 1
    for connection_id in ("good", "bad", "slow", "tested"):
        assert f"{connection_id} " in result.stderr
    assert "never synced successfully" in result.stderr
    assert {r.method for r in account.emulator.requests} == {"GET"}
    assert len(account.emulator.requests) == 2
    assert len(list(ET.parse(junit).getroot().iter("testcase"))) == 4


def test_check_passes_after_a_sync(account: Served) -> None:
    """A connection synced a moment ago passes CHECK with FIVETRAN_MAX_AGE=30m: exit 0."""
    assert account.run("fivetran").code == 0
    result = account.run("fivetran", "check", "--max-age", "30m", env=account.env(FIVETRAN_ACTION="CHECK"))
    assert result.code == 0, result.stderr
    assert "fresh: last success" in result.stderr


def test_check_waits_until_fresh(account: Served) -> None:
    """--wait-until-fresh: a connection that never synced passes once a sync (here another job's) succeeds: exit 0."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "eltops", "fivetran", "check", "--wait-until-fresh", "--max-age", "1h"],
        env=account.env(FIVETRAN_ACTION="CHECK", FIVETRAN_TIMEOUT="60"),
        cwd=account.tmp,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not account.emulator.requests:
            time.sleep(0.05)
        time.sleep(0.5)  # CHECK found it never synced and waits
        assert proc.poll() is None
        other_job = account.run("fivetran", env=account.env(FIVETRAN_DONT_DISABLE_SYNC="1"))
        assert other_job.code == 0
        _, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, stderr
    assert "not fresh yet (never synced successfully)" in stderr
    assert "fresh: last success" in stderr
