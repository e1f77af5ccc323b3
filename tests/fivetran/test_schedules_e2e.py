"""End to end: the real command keeps a connection's cron schedule, says it, and puts it back however it ends."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import orjson
import pytest

from eltops.fivetran.emulator import ConnectionScript
from tests.fivetran.conftest import Served
from tests.fivetran.test_recording import _rows

CRON = {"schedule_type": "CRON", "cron": ["15 */4 * * 1-5"]}


def _scheduled(served: Served, *, sync_seconds: float) -> None:
    served.emulator.add_connection(
        "cron",
        group_id="group_1",
        schema="events_api",
        schedule_type="auto",
        schedule=CRON,
        script=ConnectionScript(sync_seconds=sync_seconds),
    )


def test_outputs_and_history_keep_the_previous_schedule(served: Served) -> None:
    """The log says what manual replaces; the step outputs and the run history hold the PATCH to put it back."""
    _scheduled(served, sync_seconds=0.3)
    db, dotenv = served.tmp / "history.duckdb", served.tmp / "job.env"
    env = served.env(CONNECTOR_ID="cron", ELTOPS_DOTENV_FILE=str(dotenv), ELTOPS_WAREHOUSE=str(db))
    result = served.run("fivetran", env=env)
    assert result.code == 0, result.stderr
    assert "replacing auto, cron 15 */4 * * 1-5; to put it back when the job ends, set FIVETRAN_RESTORE_SCHEDULE=1" in (
        result.stderr
    )
    lines = dict(line.split("=", 1) for line in dotenv.read_text().splitlines())
    previous = orjson.loads(lines["ELTOPS_FIVETRAN_RESULTS"])["cron"]["previous_schedule"]
    assert previous["describe"] == "auto, cron 15 */4 * * 1-5"
    assert previous["patch"]["schedule"] == CRON
    assert previous["restored"] is None
    [(detail,)] = _rows(db, "SELECT external_detail FROM operations")
    assert 'previous schedule (left manual): {"schedule_type":"auto"' in detail
    assert served.emulator.snapshot("cron")["schedule_type"] == "manual"


@pytest.mark.parametrize(
    ("sync_seconds", "extra", "code"),
    [(0.3, {}, 0), (600, {"FIVETRAN_TIMEOUT": "2"}, 3)],
    ids=["success", "timeout"],
)
def test_restore_when_the_job_ends(served: Served, sync_seconds: float, extra: dict[str, str], code: int) -> None:
    """--restore-schedule puts the cron schedule back after a success and after a timeout, within a few seconds,
    and --json says it did."""
    _scheduled(served, sync_seconds=sync_seconds)
    started = time.monotonic()
    result = served.run("fivetran", "--restore-schedule", "--json", env=served.env(CONNECTOR_ID="cron", **extra))
    took = time.monotonic() - started
    assert result.code == code, result.stderr
    [connection] = orjson.loads(result.stdout)["connections"]
    assert connection["previous_schedule"]["restored"] is True
    assert "schedule put back: auto, cron 15 */4 * * 1-5 (FIVETRAN_RESTORE_SCHEDULE)" in result.stderr
    snapshot = served.emulator.snapshot("cron")
    assert (snapshot["schedule_type"], snapshot["schedule"]) == ("auto", CRON)
    assert took < 2 + 5 + 5  # the deadline, the grace, and the interpreter's start and exit


def test_restore_on_sigterm(served: Served) -> None:
    """SIGTERM (how CI cancels a job) while waiting: exit 143, and the schedule is back."""
    _scheduled(served, sync_seconds=600)
    env = served.env(CONNECTOR_ID="cron", FIVETRAN_RESTORE_SCHEDULE="1", FIVETRAN_TIMEOUT="120")
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
        while time.monotonic() < deadline and not any(r.path.endswith("/sync") for r in served.emulator.requests):
            time.sleep(0.1)
        time.sleep(0.5)  # into the wait
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=15)
    finally:
        proc.kill()
    assert proc.returncode == 143, stderr
    assert "schedule put back" in stderr
    assert "Traceback" not in stderr
    assert served.emulator.snapshot("cron")["schedule"] == CRON


def test_list_shows_each_schedule(served: Served) -> None:
    """`eltops fivetran list` shows a flexible schedule as it reads, a frequency as minutes, manual as manual."""
    _scheduled(served, sync_seconds=0.3)
    result = served.run("fivetran", "list", env=served.env())
    assert result.code == 0, result.stderr
    rows = {line.split()[1]: line for line in result.stdout.splitlines()[1:]}
    assert "cron 15 */4 * * 1-5" in rows["cron"]
    assert "every 360 minutes" in rows["good"]
    as_json = orjson.loads(served.run("fivetran", "list", "--json", env=served.env()).stdout)
    [cron] = [c for c in as_json[0]["connections"] if c["id"] == "cron"]
    assert cron["schedule"] == "auto, cron 15 */4 * * 1-5"
