"""The orchestrator's behaviour, action by action, against the emulator in-process with a fake clock."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from eltops.errors import ExitCode
from eltops.fivetran import Action, ConnectionResult, FlagValues, JobResult
from eltops.fivetran.emulator import ConnectionScript, FailureBurst, FivetranEmulator, SetupTest
from tests.fivetran.conftest import KEY, SECRET, FakeTime, Harness


def test_start_succeeds_and_sets_manual_schedule(harness: Harness) -> None:
    """START sets the schedule to manual once (no setup tests), triggers a sync and waits for its success."""
    harness.connection("conn_a", script=ConnectionScript(sync_seconds=7))
    job = harness.run()
    assert job.exit_code is ExitCode.OK
    [result] = job.results
    assert result.connection is not None
    assert result.connection.succeeded_at is not None
    patches = harness.calls("PATCH")
    assert [p.json for p in patches] == [{"schedule_type": "manual", "run_setup_tests": False}]
    assert len(harness.calls("POST", "/sync")) == 1
    assert harness.emulator.snapshot("conn_a")["schedule_type"] == "manual"


@pytest.mark.parametrize(
    ("env", "schedule_type"),
    [({}, "manual"), ({"FIVETRAN_DONT_DISABLE_SYNC": "1"}, "auto")],
)
def test_no_patch_when_not_needed(harness: Harness, env: dict[str, str], schedule_type: str) -> None:
    """No PATCH is sent when the schedule is already manual, or when FIVETRAN_DONT_DISABLE_SYNC is set."""
    harness.connection("conn_a", schedule_type=schedule_type)
    assert harness.run(**env).exit_code is ExitCode.OK
    assert harness.calls("PATCH") == []


def test_failed_patch_warns_and_goes_on(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    """A PATCH that keeps failing is a warning; the sync still runs and succeeds."""
    harness.connection("conn_a", script=ConnectionScript(failures=(FailureBurst(403, count=1, method="PATCH"),)))
    assert harness.run().exit_code is ExitCode.OK
    assert "could not set schedule_type to manual" in caplog.text


def test_failed_sync_is_exit_1(harness: Harness) -> None:
    """A sync that ends with failed_at fails the job with exit 1."""
    harness.connection("conn_a", script=ConnectionScript(outcome="failure"))
    job = harness.run()
    assert job.exit_code is ExitCode.REMOTE_FAILED
    assert "the sync failed" in job.results[0].message


@pytest.mark.parametrize(
    ("previous", "outcome", "expected"),
    [
        ({"succeeded_at": "2023-11-14T22:00:00.000000Z"}, "failure", ExitCode.REMOTE_FAILED),
        ({"succeeded_at": "2023-11-14T22:00:00.000000Z"}, "success", ExitCode.OK),
        ({"failed_at": "2023-11-14T22:00:00.000000Z"}, "success", ExitCode.OK),
        ({"failed_at": "2023-11-14T22:00:00.000000Z"}, "failure", ExitCode.REMOTE_FAILED),
        ({}, "failure", ExitCode.REMOTE_FAILED),
    ],
)
def test_outcome_against_the_baseline(
    harness: Harness, previous: dict[str, str], outcome: str, expected: ExitCode
) -> None:
    """Whatever the previous sync did, the new sync's own outcome decides the exit code."""
    harness.connection("conn_a", script=ConnectionScript(outcome=outcome), **previous)  # type: ignore[arg-type]
    assert harness.run().exit_code is expected


def test_sync_finishing_before_the_first_poll_is_seen(harness: Harness) -> None:
    """A sync shorter than the poll interval is still recognised as finished on the first poll."""
    harness.connection("conn_a", script=ConnectionScript(sync_seconds=0.1))
    job = harness.run(FIVETRAN_POLL_INTERVAL="30")
    assert job.exit_code is ExitCode.OK
    assert len(harness.calls("GET", "/conn_a")) == 2  # the read before the trigger, one poll


def test_queued_sync_is_not_mistaken_for_done(harness: Harness) -> None:
    """A sync sitting in 'scheduled' before 'syncing' is awaited, not reported as finished."""
    harness.connection("conn_a", script=ConnectionScript(queue_seconds=9, sync_seconds=5, outcome="failure"))
    job = harness.run()
    assert job.exit_code is ExitCode.REMOTE_FAILED
    assert harness.time.monotonic() >= 14


def test_timeout_is_exit_3_and_says_the_sync_goes_on(harness: Harness) -> None:
    """A sync longer than FIVETRAN_TIMEOUT stops the wait at the deadline with exit 3."""
    harness.connection("conn_a", script=ConnectionScript(sync_seconds=1000))
    job = harness.run(FIVETRAN_TIMEOUT="60")
    assert job.exit_code is ExitCode.TIMEOUT
    assert "goes on in Fivetran" in job.results[0].message
    assert 60 <= harness.time.monotonic() <= 61


def test_reschedule_under_manual_is_triggered_again(harness: Harness) -> None:
    """A rescheduled sync under manual scheduling is triggered again at rescheduled_for and then succeeds."""
    script = ConnectionScript(sync_seconds=10, reschedules=1, reschedule_wait_seconds=30)
    harness.connection("conn_a", script=script)
    job = harness.run()
    assert job.exit_code is ExitCode.OK, job.results[0].message
    assert len(harness.calls("POST", "/sync")) == 2


def test_reschedule_past_the_deadline_fails_at_once(harness: Harness) -> None:
    """A reschedule whose rescheduled_for is after the deadline fails right away, saying when it resumes."""
    script = ConnectionScript(sync_seconds=10, reschedules=1, reschedule_wait_seconds=3600)
    harness.connection("conn_a", script=script)
    job = harness.run(FIVETRAN_TIMEOUT="300")
    assert job.exit_code is ExitCode.TIMEOUT
    assert "resume at 2023-11-14T" in job.results[0].message
    assert harness.time.monotonic() < 30


def test_reschedule_under_auto_resumes_by_itself(harness: Harness) -> None:
    """With the schedule left on auto, Fivetran resumes a rescheduled sync and eltops only waits."""
    script = ConnectionScript(sync_seconds=10, reschedules=1, reschedule_wait_seconds=30)
    harness.connection("conn_a", script=script)
    job = harness.run(FIVETRAN_DONT_DISABLE_SYNC="1")
    assert job.exit_code is ExitCode.OK
    assert len(harness.calls("POST", "/sync")) == 1


def test_paused_connection_fails_fast(harness: Harness) -> None:
    """A paused connection fails with exit 1 and a hint, without triggering anything."""
    harness.connection("conn_a", paused=True)
    job = harness.run()
    assert job.exit_code is ExitCode.REMOTE_FAILED
    assert "--unpause" in job.results[0].message
    assert harness.calls("POST") == []


def test_unpause_then_sync(harness: Harness) -> None:
    """With FIVETRAN_UNPAUSE the connection is resumed, synced, and succeeds."""
    harness.connection("conn_a", paused=True)
    assert harness.run(FIVETRAN_UNPAUSE="1").exit_code is ExitCode.OK
    assert {"paused": False} in [p.json for p in harness.calls("PATCH")]


@pytest.mark.parametrize("setup_state", ["broken", "incomplete"])
def test_broken_setup_fails_fast(harness: Harness, setup_state: str) -> None:
    """A broken or incomplete setup fails with exit 1, pointing at TEST, without a sync."""
    harness.connection("conn_a", setup_state=setup_state)  # type: ignore[arg-type]
    job = harness.run()
    assert job.exit_code is ExitCode.REMOTE_FAILED
    assert "FIVETRAN_ACTION=TEST" in job.results[0].message
    assert harness.calls("POST", "/sync") == []


def test_status_reads_without_syncing(harness: Harness) -> None:
    """STATUS reads the connection and triggers nothing."""
    harness.connection("conn_a")
    job = harness.run(FIVETRAN_ACTION="STATUS")
    assert job.exit_code is ExitCode.OK
    assert job.results[0].connection is not None
    assert job.results[0].connection.raw["id"] == "conn_a"
    assert harness.calls("POST") == []


@pytest.mark.parametrize(
    ("tests", "expected", "summary"),
    [
        ((SetupTest("Connecting", "PASSED"), SetupTest("Permissions", "PASSED")), ExitCode.OK, "2 passed, 0 failed"),
        (
            (SetupTest("Connecting", "PASSED"), SetupTest("Permissions", "FAILED", "no USAGE on schema")),
            ExitCode.REMOTE_FAILED,
            "1 passed, 1 failed",
        ),
        (
            (SetupTest("Validating certificate", "WARNING", "self-signed"),),
            ExitCode.REMOTE_FAILED,
            "0 passed, 1 failed",
        ),
        ((SetupTest("Something new", "JOB_FAILED"),), ExitCode.REMOTE_FAILED, "0 passed, 1 failed"),
    ],
)
def test_setup_tests(harness: Harness, tests: tuple[SetupTest, ...], expected: ExitCode, summary: str) -> None:
    """TEST passes only when every setup test is PASSED, and lists each failing title and message."""
    harness.connection("conn_a", script=ConnectionScript(setup_tests=tests))
    job = harness.run(FIVETRAN_ACTION="TEST")
    assert job.exit_code is expected
    result = job.results[0]
    assert summary in result.message
    assert len(result.setup_tests) == len(tests)
    for test in tests:
        if test.status != "PASSED":
            assert test.title in result.message
            assert test.message in result.message


def test_force_resync_resyncs_the_tables_and_waits(harness: Harness) -> None:
    """FORCE_RESYNC posts the schema's tables to the table re-sync endpoint and waits for the sync."""
    harness.connection("conn_a", tables={"public": ["orders", "items"]}, script=ConnectionScript(sync_seconds=5))
    job = harness.run(FIVETRAN_ACTION="FORCE_RESYNC", SCHEMA="public", TABLE="orders,items")
    assert job.exit_code is ExitCode.OK, job.results[0].message
    [call] = harness.calls("POST", "/schemas/tables/resync")
    assert call.json == {"public": ["orders", "items"]}


def test_force_resync_of_an_unknown_table_is_an_api_error(harness: Harness) -> None:
    """Fivetran's 400 for an unknown table becomes exit 4 with its message."""
    harness.connection("conn_a", tables={"public": ["orders"]})
    job = harness.run(FIVETRAN_ACTION="FORCE_RESYNC", SCHEMA="public", TABLE="nope")
    assert job.exit_code is ExitCode.API


def test_several_connections_run_concurrently(harness: Harness) -> None:
    """Several ids are synced together; one failure fails the job and every result is reported."""
    harness.connection("conn_a", script=ConnectionScript(sync_seconds=20))
    harness.connection("conn_b", script=ConnectionScript(sync_seconds=5, outcome="failure"))
    job = harness.run(CONNECTOR_ID="conn_a,conn_b")
    assert [r.ref for r in job.results] == ["conn_a", "conn_b"]
    assert [r.exit_code for r in job.results] == [ExitCode.OK, ExitCode.REMOTE_FAILED]
    assert job.exit_code is ExitCode.REMOTE_FAILED


def test_lookup_by_group_and_connection_name(harness: Harness) -> None:
    """<group name>/<connection name> is resolved to the connection id through the groups API."""
    harness.connection("conn_a", schema="shop_db")
    harness.connection("conn_b", schema="crm")
    job = harness.run(CONNECTOR_ID="Warehouse/crm")
    assert job.results[0].connection_id == "conn_b"
    assert job.exit_code is ExitCode.OK


@pytest.mark.parametrize("ref", ["Nowhere/crm", "Warehouse/nothing"])
def test_lookup_that_finds_nothing(harness: Harness, ref: str) -> None:
    """A name that matches no group or connection is exit 2 naming it."""
    harness.connection("conn_a")
    job = harness.run(CONNECTOR_ID=ref)
    assert job.exit_code is ExitCode.CONFIG
    assert ref.split("/")[0] in job.results[0].message


@pytest.mark.parametrize("paths", ["connections", "connectors", "both"])
def test_either_path_family(paths: str) -> None:
    """The client works whichever path family the account answers on."""
    fake = FakeTime()
    emulator = FivetranEmulator(api_key=KEY, api_secret=SECRET, clock=fake.time, paths=paths)  # type: ignore[arg-type]
    emulator.add_group("group_1", name="Warehouse")
    harness = Harness(
        emulator, fake, {"CONNECTOR_ID": "conn_a", "FIVETRAN_API_KEY": KEY, "FIVETRAN_API_SECRET": SECRET}
    )
    harness.connection("conn_a")
    for action in ("START", "TEST"):
        assert harness.run(FIVETRAN_ACTION=action).exit_code is ExitCode.OK
    assert harness.run(FIVETRAN_ACTION="STATUS", CONNECTOR_ID="Warehouse/conn_a_db").exit_code is ExitCode.OK


def test_unknown_connection_is_exit_2(harness: Harness) -> None:
    """A connection id Fivetran does not know is bad input (exit 2) saying no connection has it, not a raw 404."""
    job = harness.run(CONNECTOR_ID="ghost")
    assert job.exit_code is ExitCode.CONFIG
    assert "no Fivetran connection has the id 'ghost'" in job.results[0].message


def test_wrong_credentials_are_exit_4(harness: Harness) -> None:
    """A 401 fails at once with exit 4 and a hint, without retries."""
    harness.connection("conn_a")
    job = harness.run(FIVETRAN_API_SECRET="wrong-secret-000")
    assert job.exit_code is ExitCode.API
    assert "401" in job.results[0].message
    assert len(harness.emulator.requests) == 1


@pytest.mark.parametrize("status", [429, 500, 503])
def test_transient_errors_are_retried(harness: Harness, status: int) -> None:
    """A burst of 429 (with Retry-After) or 5xx answers is retried through to success."""
    burst = FailureBurst(status, count=3, retry_after=2 if status == 429 else None)
    harness.connection("conn_a", script=ConnectionScript(failures=(burst,)))
    assert harness.run().exit_code is ExitCode.OK


@pytest.mark.parametrize(
    ("codes", "expected"),
    [
        ([ExitCode.OK, ExitCode.OK], ExitCode.OK),
        ([ExitCode.OK, ExitCode.TIMEOUT], ExitCode.TIMEOUT),
        ([ExitCode.TIMEOUT, ExitCode.REMOTE_FAILED], ExitCode.REMOTE_FAILED),
        ([ExitCode.REMOTE_FAILED, ExitCode.API, ExitCode.TIMEOUT], ExitCode.API),
        ([ExitCode.CONFIG, ExitCode.REMOTE_FAILED], ExitCode.CONFIG),
    ],
)
def test_exit_code_severity(codes: list[ExitCode], expected: ExitCode) -> None:
    """Several outcomes give the most severe code: API error > bad input > failure > timeout > success."""
    moment = datetime(2024, 1, 1, tzinfo=UTC)
    results = tuple(
        ConnectionResult(
            ref=f"c{i}", connection_id=None, exit_code=code, message="", started_at=moment, finished_at=moment
        )
        for i, code in enumerate(codes)
    )
    assert JobResult(Action.START, results, moment, moment).exit_code is expected


def test_flags_drive_the_same_run(harness: Harness) -> None:
    """Flags alone (no FIVETRAN_ACTION) run the action they name."""
    harness.connection("conn_a")
    env_without_action = {k: v for k, v in harness.env.items() if k != "FIVETRAN_ACTION"}
    harness.env = env_without_action
    job = harness.run(FlagValues(action="start", connector_ids=("conn_a",), timeout=100))
    assert job.exit_code is ExitCode.OK
