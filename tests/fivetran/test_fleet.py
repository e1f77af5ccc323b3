"""Fleets and the new ways to wait: group polling, already-running syncs, no-wait and WAIT, freshness, repair,
RESYNC, group selection, the request budget — against the emulator in-process with a fake clock."""

from __future__ import annotations

import logging

import httpx
import pytest

from eltops.errors import ExitCode
from eltops.fivetran import FlagValues, junit_cases, step_outputs
from eltops.fivetran.emulator import ConnectionScript, FailureBurst, FivetranEmulator, SetupTest
from tests.fivetran.conftest import KEY, SECRET, START, FakeTime, Harness

LISTING = "/v1/groups/group_1/connections"


def _fleet(harness: Harness, size: int, **script: float) -> str:
    for i in range(size):
        harness.connection(f"c{i}", script=ConnectionScript(**script))  # type: ignore[arg-type]
    return ",".join(f"c{i}" for i in range(size))


def _start_elsewhere(emulator: FivetranEmulator, connection_id: str) -> None:
    """Start a sync the way a schedule or another pipeline would (not through the job under test)."""
    with httpx.Client(
        transport=httpx.WSGITransport(app=emulator.wsgi_app), base_url="http://emulator.test", auth=(KEY, SECRET)
    ) as client:
        assert client.post(f"/v1/connections/{connection_id}/sync", json={"force": False}).status_code == 200
    emulator.clear_requests()


def test_a_fleet_is_polled_with_one_listing_per_poll(harness: Harness) -> None:
    """Twenty connections in one group cost one listing per poll, plus at most 3 requests each."""
    ids = _fleet(harness, 20, sync_seconds=9)
    job = harness.run(CONNECTOR_ID=ids)
    assert job.exit_code is ExitCode.OK
    listings = harness.calls("GET", LISTING)
    polls = len(harness.time.slept)
    assert len(listings) == polls == 5  # polls at 1, 3, 5, 7, 9 s until the 9 s syncs end
    per_connection = [r for r in harness.emulator.requests if r.path != LISTING]
    assert len(per_connection) <= 3 * 20
    assert all(r.time == START for r in harness.calls("GET", "/v1/connections/"))  # the first reads only


def test_waiting_has_no_waves(harness: Harness) -> None:
    """Forty connections all end with their syncs: the job takes one sync's time, not one per batch of 16."""
    ids = _fleet(harness, 40, sync_seconds=10)
    job = harness.run(CONNECTOR_ID=ids)
    assert job.exit_code is ExitCode.OK
    assert harness.time.monotonic() <= 12


def test_a_failing_listing_page_is_retried(harness: Harness) -> None:
    """A 503 and a 429 on the group listing are retried, and the wait goes on to success."""
    ids = _fleet(harness, 3, sync_seconds=5)
    harness.emulator.fail_requests(
        FailureBurst(503, count=1, method="GET", path_contains="/groups/"),
        FailureBurst(429, count=1, retry_after=1, method="GET", path_contains="/groups/"),
    )
    job = harness.run(CONNECTOR_ID=ids)
    assert job.exit_code is ExitCode.OK
    assert [r.time for r in harness.calls("GET", LISTING)][:3] == [START + 1] * 3  # two failures, then the page


def test_a_listing_that_keeps_failing_is_an_api_error_for_its_connections(harness: Harness) -> None:
    """When every retry of the listing fails, its connections end with exit 4 and the message."""
    ids = _fleet(harness, 2, sync_seconds=5)
    harness.emulator.fail_requests(FailureBurst(500, count=100, method="GET", path_contains="/groups/"))
    job = harness.run(CONNECTOR_ID=ids)
    assert [r.exit_code for r in job.results] == [ExitCode.API, ExitCode.API]
    assert "HTTP 500" in job.results[0].message


def test_a_connection_gone_from_the_listing_is_read_directly(harness: Harness) -> None:
    """A connection deleted mid-wait is read with its own GET, whose 404 is its exit 4; the others succeed."""
    ids = _fleet(harness, 3, sync_seconds=6)
    sleep = harness.time.sleep

    def sleep_then_delete(seconds: float) -> None:
        sleep(seconds)
        if len(harness.time.slept) == 1:
            harness.emulator.remove_connection("c1")

    harness.time.sleep = sleep_then_delete  # type: ignore[method-assign]
    job = harness.run(CONNECTOR_ID=ids)
    assert [r.exit_code for r in job.results] == [ExitCode.OK, ExitCode.API, ExitCode.OK]
    assert "does not exist" in job.results[1].message
    assert harness.calls("GET", "/v1/connections/c1")[-1].time > START


def test_the_deadline_bounds_a_fleet(harness: Harness) -> None:
    """A fleet whose syncs outlast FIVETRAN_TIMEOUT stops at the deadline, every connection exit 3."""
    ids = _fleet(harness, 5, sync_seconds=1000)
    job = harness.run(CONNECTOR_ID=ids, FIVETRAN_TIMEOUT="30")
    assert {r.exit_code for r in job.results} == {ExitCode.TIMEOUT}
    assert sum(harness.time.slept) <= 30


@pytest.mark.parametrize(
    ("policy", "posts", "force", "min_seconds"),
    [
        ("wait", 0, None, 10),
        ("wait-then-sync", 1, False, 20),
        ("restart", 1, True, 10),
        (None, 1, False, 20),
    ],
)
def test_a_connection_already_syncing(
    harness: Harness, policy: str | None, posts: int, force: bool | None, min_seconds: float
) -> None:
    """START on a running sync waits for it, waits then syncs again (the default), or restarts it."""
    harness.connection("conn_a", schedule_type="manual", script=ConnectionScript(sync_seconds=10))
    _start_elsewhere(harness.emulator, "conn_a")
    harness.time.now += 1  # the other sync is running
    env = {"FIVETRAN_IF_SYNCING": policy} if policy else {}
    job = harness.run(**env)
    assert job.exit_code is ExitCode.OK, job.results[0].message
    sync_posts = harness.calls("POST", "/sync")
    assert len(sync_posts) == posts
    if force is not None:
        assert sync_posts[0].json == {"force": force}
    assert harness.time.monotonic() >= min_seconds


def test_an_idle_connection_is_never_triggered_with_force(harness: Harness) -> None:
    """The default trigger is force=false, so a sync a schedule started a moment ago is never thrown away."""
    harness.connection("conn_a")
    assert harness.run().exit_code is ExitCode.OK
    assert [p.json for p in harness.calls("POST", "/sync")] == [{"force": False}]


@pytest.mark.parametrize("action", ["START", "RESYNC"])
def test_no_wait_triggers_and_exits_with_the_baseline(harness: Harness, action: str) -> None:
    """FIVETRAN_WAIT=false triggers, waits for nothing, and hands the baseline to the step outputs."""
    harness.connection("conn_a", succeeded_at="2023-11-14T20:00:00.000000Z")
    harness.connection("conn_b")
    job = harness.run(FIVETRAN_ACTION=action, CONNECTOR_ID="conn_a,conn_b", FIVETRAN_WAIT="false")
    assert job.exit_code is ExitCode.OK
    assert [r.outcome for r in job.results] == ["triggered", "triggered"]
    assert harness.time.slept == []
    outputs = step_outputs(job)
    assert outputs["FIVETRAN_BASELINE"] == "conn_a=2023-11-14T20:00:00Z,conn_b=never"
    assert outputs["ELTOPS_FIVETRAN_EXIT_CODE"] == "0"


@pytest.mark.parametrize(("outcome", "code"), [("success", ExitCode.OK), ("failure", ExitCode.REMOTE_FAILED)])
def test_wait_follows_an_earlier_trigger(harness: Harness, outcome: str, code: ExitCode) -> None:
    """WAIT with the earlier job's baseline waits for that sync without triggering or patching anything."""
    harness.connection("conn_a", script=ConnectionScript(sync_seconds=8, outcome=outcome))  # type: ignore[arg-type]
    first = harness.run(FIVETRAN_WAIT="false", FIVETRAN_DONT_DISABLE_SYNC="1")
    harness.emulator.clear_requests()
    baseline = step_outputs(first)["FIVETRAN_BASELINE"]
    job = harness.run(FIVETRAN_ACTION="WAIT", FIVETRAN_BASELINE=baseline)
    assert job.exit_code is code, job.results[0].message
    assert harness.calls("POST") == []
    assert harness.calls("PATCH") == []
    assert step_outputs(job)["ELTOPS_FIVETRAN_RESULTS"].count('"sync_end":"2023-11-14T') == 1


@pytest.mark.parametrize(("after", "expected_polls"), [("2023-11-14T22:00:00Z", 0), ("2023-11-14T22:13:20Z", 3)])
def test_wait_completed_after(harness: Harness, after: str, expected_polls: int) -> None:
    """WAIT with FIVETRAN_COMPLETED_AFTER is done at once when a sync already ended after it, else polls."""
    harness.connection("conn_a", succeeded_at="2023-11-14T22:10:00.000000Z", script=ConnectionScript(sync_seconds=5))
    if expected_polls:
        _start_elsewhere(harness.emulator, "conn_a")
    job = harness.run(FIVETRAN_ACTION="WAIT", FIVETRAN_COMPLETED_AFTER=after)
    assert job.exit_code is ExitCode.OK
    assert len(harness.time.slept) == expected_polls


@pytest.mark.parametrize(("age_seconds", "skipped"), [(600, True), (7200, False)])
def test_skip_if_synced_within(harness: Harness, age_seconds: int, skipped: bool) -> None:
    """START is skipped when the last success is within the window by the API's clock, else it syncs."""
    harness.connection("conn_a", succeeded_at=harness.time.now - age_seconds)
    job = harness.run(FIVETRAN_SKIP_IF_SYNCED_WITHIN="30m")
    assert job.exit_code is ExitCode.OK
    assert (job.results[0].outcome == "skipped") is skipped
    assert len(harness.calls("POST", "/sync")) == (0 if skipped else 1)


@pytest.mark.parametrize(
    ("flags", "env", "named"),
    [
        (FlagValues(skip_if_synced_within="30m"), {}, "--skip-if-synced-within is 1800 s"),
        (FlagValues(), {"FIVETRAN_SKIP_IF_SYNCED_WITHIN": "30m"}, "FIVETRAN_SKIP_IF_SYNCED_WITHIN is 1800 s"),
    ],
)
def test_a_skip_names_the_setting_as_the_user_gave_it(
    harness: Harness, flags: FlagValues, env: dict[str, str], named: str
) -> None:
    """The skip message names the flag when the flag was used, the variable otherwise; JUnit marks it skipped."""
    harness.connection("conn_a", succeeded_at=harness.time.now - 600)
    job = harness.run(flags, **env)
    assert named in job.results[0].message
    (case,) = junit_cases(job)
    assert case.skipped == job.results[0].message


@pytest.mark.parametrize(
    ("flags", "env", "named", "not_named"),
    [
        (FlagValues(wait=False), {}, "(--no-wait)", "FIVETRAN_WAIT"),
        (FlagValues(), {"FIVETRAN_WAIT": "false"}, "(FIVETRAN_WAIT=false)", "--no-wait"),
        (FlagValues(timeout=3), {}, "Raise --timeout", "FIVETRAN_TIMEOUT"),
        (FlagValues(), {"FIVETRAN_TIMEOUT": "3"}, "Raise FIVETRAN_TIMEOUT", "--timeout"),
    ],
)
def test_messages_name_the_flag_or_the_variable_the_user_gave(
    harness: Harness, flags: FlagValues, env: dict[str, str], named: str, not_named: str
) -> None:
    """A message about a setting names it as the user set it (settings keep each one's source: FLAG_OF)."""
    harness.connection("conn_a", script=ConnectionScript(sync_seconds=600))
    message = harness.run(flags, **env).results[0].message
    assert named in message
    assert not_named not in message


@pytest.mark.parametrize(("repairs", "code"), [(True, ExitCode.OK), (False, ExitCode.REMOTE_FAILED)])
def test_repair_before_failing(harness: Harness, repairs: bool, code: ExitCode) -> None:
    """With FIVETRAN_REPAIR_SETUP a broken setup runs the setup tests and syncs if they repaired it."""
    tests = (SetupTest("Connecting", "PASSED"), SetupTest("Permissions", "FAILED", "no USAGE"))
    harness.connection(
        "conn_a", setup_state="broken", script=ConnectionScript(repair_on_test=repairs, setup_tests=tests)
    )
    job = harness.run(FIVETRAN_REPAIR_SETUP="1")
    assert job.exit_code is code, job.results[0].message
    assert len(harness.calls("POST", "/test")) == 1
    assert len(harness.calls("POST", "/sync")) == (1 if repairs else 0)
    if not repairs:
        assert "did not repair it" in job.results[0].message
        assert "Permissions" in job.results[0].message


@pytest.mark.parametrize(
    ("env", "body"),
    [
        ({}, None),
        (
            {"TABLE": "public.orders,sales.items,public.items"},
            {"scope": {"public": ["orders", "items"], "sales": ["items"]}},
        ),
        ({"SCHEMA": "public", "TABLE": "orders"}, {"scope": {"public": ["orders"]}}),
    ],
)
def test_resync(harness: Harness, env: dict[str, str], body: object) -> None:
    """RESYNC re-syncs the whole connection, or a scope across schemas, and waits for the sync."""
    harness.connection("conn_a", tables={"public": ["orders", "items"], "sales": ["items"]})
    job = harness.run(FIVETRAN_ACTION="RESYNC", **env)
    assert job.exit_code is ExitCode.OK, job.results[0].message
    [call] = harness.calls("POST", "/resync")
    assert call.json == body


def test_resync_declined_with_409(harness: Harness) -> None:
    """A 409 on RESYNC is exit 1 with its own outcome and a message saying nothing was re-synced."""
    harness.connection("conn_a", script=ConnectionScript(resync_conflict=True))
    job = harness.run(FIVETRAN_ACTION="RESYNC")
    assert job.exit_code is ExitCode.REMOTE_FAILED
    assert job.results[0].outcome == "declined"
    assert "Nothing was re-synced" in job.results[0].message


def test_a_whole_group(harness: Harness) -> None:
    """CONNECTOR_ID=group:<name> selects every connection of the group, listed once."""
    _fleet(harness, 4)
    job = harness.run(CONNECTOR_ID="group:Warehouse")
    assert [r.connection_id for r in job.results] == ["c0", "c1", "c2", "c3"]
    assert job.exit_code is ExitCode.OK
    assert len(harness.calls("GET", "/v1/groups")) - len(harness.calls("GET", LISTING)) == 1


@pytest.mark.parametrize(
    ("ref", "lists"),
    [("group:Nowhere", "the groups are: Warehouse"), ("Warehouse/nothing", "c0_db (c0), c1_db (c1)")],
)
def test_a_name_that_matches_nothing_lists_what_exists(harness: Harness, ref: str, lists: str) -> None:
    """An unknown group or connection name is exit 2 and the message lists what there is."""
    _fleet(harness, 2)
    job = harness.run(CONNECTOR_ID=ref)
    assert job.exit_code is ExitCode.CONFIG
    assert lists in job.results[0].message


def test_a_low_request_budget_slows_the_polls(caplog: pytest.LogCaptureFixture) -> None:
    """When X-Rate-Limit-Remaining runs low, polls are spread out and the log says so."""
    fake = FakeTime()
    emulator = FivetranEmulator(api_key=KEY, api_secret=SECRET, clock=fake.time, rate_limit=100)
    emulator.add_group("group_1", name="Warehouse")
    env = {"FIVETRAN_ACTION": "START", "FIVETRAN_API_KEY": KEY, "FIVETRAN_API_SECRET": SECRET}
    harness = Harness(emulator, fake, {**env, "FIVETRAN_POLL_INTERVAL": "2"})
    ids = _fleet(harness, 30, sync_seconds=120)
    with caplog.at_level(logging.WARNING, logger="eltops.fivetran"):
        job = harness.run(CONNECTOR_ID=ids, FIVETRAN_TIMEOUT="600")
    assert job.exit_code is ExitCode.OK
    assert "requests this hour: polling every" in caplog.text
    assert max(fake.slept) > 2
