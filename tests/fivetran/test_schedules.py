"""Schedules are never lost: what `manual` replaces is kept and said, and put back on request however the job ends."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from eltops.errors import ExitCode
from eltops.fivetran import FlagValues
from eltops.fivetran._schedule import Schedule
from eltops.fivetran.emulator import ConnectionScript, FailureBurst
from tests.fivetran.conftest import Harness

CRON = {"schedule_type": "CRON", "cron": ["0 */2 * * *"]}
QUICK = ConnectionScript(sync_seconds=3)


def patches(harness: Harness) -> list[Any]:
    return [r.json for r in harness.calls("PATCH")]


@pytest.mark.parametrize(
    ("kwargs", "described", "body"),
    [
        (
            {"schedule": CRON},
            "auto, cron 0 */2 * * *",
            {"schedule_type": "auto", "run_setup_tests": False, "schedule": CRON},
        ),
        (
            {"sync_frequency": 1440, "daily_sync_time": "03:00"},
            "auto, daily at 03:00",
            {"schedule_type": "auto", "run_setup_tests": False, "sync_frequency": 1440, "daily_sync_time": "03:00"},
        ),
        (
            {"sync_frequency": 60},
            "auto, every 60 minutes",
            {"schedule_type": "auto", "run_setup_tests": False, "sync_frequency": 60},
        ),
        (
            {"schedule": {"schedule_type": "TIME_OF_DAY", "time_of_day": "03:30", "days_of_week": ["MONDAY"]}},
            "auto, at 03:30 on MONDAY",
            None,
        ),
        ({"schedule": {"schedule_type": "INTERVAL", "interval": 90}}, "auto, every 90 minutes", None),
    ],
)
def test_what_manual_replaces_is_said_and_kept(
    harness: Harness, caplog: pytest.LogCaptureFixture, kwargs: dict[str, Any], described: str, body: Any
) -> None:
    """The log names the schedule set aside, the result keeps it, and the seed's default leaves it manual."""
    harness.connection("conn_a", script=QUICK, **kwargs)
    with caplog.at_level(logging.INFO, logger="eltops"):
        [result] = harness.run().results
    assert result.ok
    assert result.previous_schedule is not None
    assert result.previous_schedule.describe() == described
    if body is not None:
        assert result.previous_schedule.restore_body() == body
    assert any(f"replacing {described}; to put it back" in r.getMessage() for r in caplog.records)
    assert patches(harness) == [{"schedule_type": "manual", "run_setup_tests": False}]  # never manual + schedule
    snapshot = harness.emulator.snapshot("conn_a")
    assert snapshot["schedule_type"] == "manual"
    assert "schedule" not in snapshot  # Fivetran drops a flexible schedule for manual: hence the keeping
    assert result.schedule_restored is None


@pytest.mark.parametrize(
    ("script", "env", "code"),
    [
        (QUICK, {}, ExitCode.OK),
        (ConnectionScript(sync_seconds=3, outcome="failure"), {}, ExitCode.REMOTE_FAILED),
        (ConnectionScript(sync_seconds=600), {"FIVETRAN_TIMEOUT": "30"}, ExitCode.TIMEOUT),
        (
            ConnectionScript(sync_seconds=3, failures=(FailureBurst(401, count=99, method="POST"),)),
            {},
            ExitCode.API,
        ),
    ],
    ids=["success", "failure", "timeout", "api-error"],
)
def test_restore_puts_the_schedule_back_however_the_job_ends(
    harness: Harness, script: ConnectionScript, env: dict[str, str], code: ExitCode
) -> None:
    """With FIVETRAN_RESTORE_SCHEDULE the cron schedule is back when the job ends, success or not, timeout included."""
    harness.connection("conn_a", script=script, schedule=CRON)
    [result] = harness.run(FIVETRAN_RESTORE_SCHEDULE="1", **env).results
    assert result.exit_code is code
    assert result.schedule_restored is True
    snapshot = harness.emulator.snapshot("conn_a")
    assert snapshot["schedule_type"] == "auto"
    assert snapshot["schedule"] == CRON
    assert patches(harness)[-1] == {"schedule_type": "auto", "run_setup_tests": False, "schedule": CRON}


def test_restore_also_when_interrupted(harness: Harness) -> None:
    """Ctrl-C (or SIGTERM, which unwinds the same way) while waiting still puts the schedule back."""
    harness.connection("conn_a", script=ConnectionScript(sync_seconds=600), schedule=CRON)
    slept = 0
    original = harness.time.sleep

    def interrupt(seconds: float) -> None:
        nonlocal slept
        slept += 1
        original(seconds)
        if slept == 3:
            raise KeyboardInterrupt

    harness.time.sleep = interrupt  # type: ignore[method-assign]
    try:
        with pytest.raises(KeyboardInterrupt):
            harness.run(FIVETRAN_RESTORE_SCHEDULE="1")
    finally:
        harness.time.sleep = original  # type: ignore[method-assign]
    assert harness.emulator.snapshot("conn_a")["schedule"] == CRON


def test_a_failed_restore_is_a_warning_with_the_schedule_not_another_exit_code(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """A restore Fivetran refuses leaves the exit code as it was and warns with what to put back by hand."""
    harness.connection("conn_a", script=QUICK, schedule=CRON)
    refused = FailureBurst(403, count=5, method="PATCH")
    with caplog.at_level(logging.INFO, logger="eltops"):
        job = _run_refusing_the_restore(harness, refused)
    [result] = job.results
    assert result.exit_code is ExitCode.OK
    assert result.schedule_restored is False
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    [warning] = [w for w in warnings if "put the schedule back" in w]
    assert "restore it by hand in Fivetran: auto, cron 0 */2 * * *" in warning
    assert '"schedule":{"schedule_type":"CRON","cron":["0 */2 * * *"]}' in warning


def _run_refusing_the_restore(harness: Harness, refused: FailureBurst) -> Any:
    """Run the job; once the connection is manual, every PATCH of it is refused."""
    original = harness.emulator.wsgi_app

    def app(environ: Any, start_response: Any) -> Any:
        if environ["REQUEST_METHOD"] == "PATCH" and harness.emulator.snapshot("conn_a")["schedule_type"] == "manual":
            harness.emulator.script("conn_a", failures=(refused,))
        return original(environ, start_response)

    return harness.run(app=app, FIVETRAN_RESTORE_SCHEDULE="1")


def test_nothing_to_restore_when_already_manual(harness: Harness) -> None:
    """A connection that was manual already is not patched at all, before or after."""
    harness.connection("conn_a", script=QUICK, schedule_type="manual")
    [result] = harness.run(FIVETRAN_RESTORE_SCHEDULE="1").results
    assert result.previous_schedule is None
    assert patches(harness) == []


def test_dont_disable_sync_touches_nothing(harness: Harness) -> None:
    """FIVETRAN_DONT_DISABLE_SYNC: no PATCH, the flexible schedule stays."""
    harness.connection("conn_a", script=QUICK, schedule=CRON)
    [result] = harness.run(FlagValues(dont_disable_sync=True)).results
    assert result.ok
    assert patches(harness) == []
    assert harness.emulator.snapshot("conn_a")["schedule"] == CRON


def test_schedule_reads_what_fivetran_sent() -> None:
    """A connection without a frequency reads as Fivetran's default; a strange flexible schedule is shown as JSON."""
    from eltops.fivetran import Connection

    bare = Connection.from_api({"id": "c", "schedule_type": "auto"})
    assert Schedule.of(bare).describe() == "auto, Fivetran's default frequency"
    odd = Connection.from_api({"id": "c", "schedule_type": "auto", "schedule": {"schedule_type": "SMART"}})
    assert Schedule.of(odd).describe() == 'auto, schedule {"schedule_type":"SMART"}'


def test_an_interrupted_switch_to_manual_is_put_back(harness: Harness) -> None:
    """Ctrl-C while the PATCH to manual is in flight (Fivetran may have applied it): the schedule is put back."""
    harness.connection("conn_a", script=QUICK, schedule=CRON)
    inner = harness.emulator.wsgi_app
    interrupted = False

    def app(environ: Any, start_response: Any) -> Any:
        nonlocal interrupted
        answer = inner(environ, start_response)
        if environ["REQUEST_METHOD"] == "PATCH" and not interrupted:
            interrupted = True  # Fivetran applied it; the answer never arrives
            raise KeyboardInterrupt
        return answer

    with pytest.raises(KeyboardInterrupt):
        harness.run(app=app, FIVETRAN_RESTORE_SCHEDULE="1")
    snapshot = harness.emulator.snapshot("conn_a")
    assert (snapshot["schedule_type"], snapshot["schedule"]) == ("auto", CRON)


@pytest.mark.parametrize(
    ("flags", "says"),
    [(FlagValues(dont_disable_sync=True), "data delayed"), (FlagValues(), "data on schedule")],
)
def test_status_says_whether_the_data_is_delayed(harness: Harness, flags: FlagValues, says: str) -> None:
    """STATUS names status.update_state: delayed past the data delay threshold on its own schedule, not once manual."""
    harness.connection(
        "conn_a",
        schedule=CRON,
        succeeded_at="2023-11-14T20:00:00Z",  # 2 h 13 min before the harness's clock
        data_delay_sensitivity="CUSTOM",
        data_delay_threshold=60,
    )
    [result] = harness.run(flags, FIVETRAN_ACTION="STATUS").results
    assert result.message.endswith(says), result.message
