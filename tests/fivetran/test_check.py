"""CHECK: every reason a connection fails the gate, its requests (one listing per group), and waiting until fresh."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from eltops.errors import ExitCode
from eltops.fivetran import Connection, step_outputs
from eltops.fivetran._check import default_margin, format_age, judge
from eltops.fivetran.emulator import ConnectionScript, FailureBurst
from tests.fivetran.conftest import Harness

CHECK = {"FIVETRAN_ACTION": "CHECK"}
HOUR = 3600.0


@pytest.mark.parametrize(
    ("connection", "env", "code", "said"),
    [
        ({"succeeded_at_ago": 600}, {}, ExitCode.OK, "fresh: last success 10m ago"),
        ({"succeeded_at_ago": 600}, {"FIVETRAN_MAX_AGE": "5m"}, ExitCode.REMOTE_FAILED, "stale: last success 10m"),
        ({"succeeded_at_ago": 8 * HOUR}, {}, ExitCode.OK, "limit 9h00m (its sync frequency 6h00m + margin"),
        ({"succeeded_at_ago": 10 * HOUR}, {}, ExitCode.REMOTE_FAILED, "stale"),
        ({"succeeded_at_ago": 10 * HOUR, "sync_frequency": 1440}, {}, ExitCode.OK, "limit 36h00m"),
        ({"succeeded_at_ago": 60, "paused": True}, {}, ExitCode.REMOTE_FAILED, "paused"),
        ({"succeeded_at_ago": 60, "setup_state": "broken"}, {}, ExitCode.REMOTE_FAILED, "setup is broken"),
        ({"succeeded_at_ago": 60, "setup_state": "incomplete"}, {}, ExitCode.REMOTE_FAILED, "setup is incomplete"),
        ({"succeeded_at_ago": 120, "failed_at_ago": 60}, {}, ExitCode.REMOTE_FAILED, "last sync failed at"),
        ({"succeeded_at_ago": 60, "delayed": True}, {}, ExitCode.REMOTE_FAILED, "update_state is delayed"),
        ({}, {}, ExitCode.REMOTE_FAILED, "never synced successfully"),
    ],
)
def test_each_reason_fails_the_gate(
    harness: Harness, connection: dict[str, Any], env: dict[str, str], code: ExitCode, said: str
) -> None:
    """Fresh passes; stale (by FIVETRAN_MAX_AGE or its own frequency), paused, broken, delayed, failed do not."""
    now = harness.time.now
    kwargs: dict[str, Any] = {"sync_frequency": connection.get("sync_frequency", 360)}
    if "succeeded_at_ago" in connection:
        kwargs["succeeded_at"] = now - connection["succeeded_at_ago"]
    if "failed_at_ago" in connection:
        kwargs["failed_at"] = now - connection["failed_at_ago"]
    for key in ("paused", "setup_state"):
        if key in connection:
            kwargs[key] = connection[key]
    if connection.get("delayed"):
        kwargs["script"] = ConnectionScript(overrides={"status.update_state": "delayed"})
    harness.connection("conn_a", **kwargs)
    job = harness.run(**CHECK, **env)
    assert job.exit_code is code
    assert said in job.results[0].message
    assert job.results[0].outcome == ("fresh" if code is ExitCode.OK else "not fresh")


def test_check_triggers_and_changes_nothing(harness: Harness) -> None:
    """CHECK sends only reads: no sync, no PATCH (not even the schedule), whatever FIVETRAN_DONT_DISABLE_SYNC says."""
    harness.connection("conn_a", succeeded_at=harness.time.now - 60)
    harness.connection("conn_b", failed_at=harness.time.now - 60)
    harness.run(**CHECK, CONNECTOR_ID="conn_a,conn_b", FIVETRAN_WAIT_UNTIL_FRESH="1", FIVETRAN_TIMEOUT="10")
    assert {r.method for r in harness.emulator.requests} == {"GET"}


@pytest.mark.parametrize("size", [1, 100, 500])
def test_a_group_costs_two_requests_whatever_its_size(harness: Harness, size: int) -> None:
    """group:<name> reads the groups listing and the group's listing: no request per connection."""
    for index in range(size):
        harness.connection(f"c{index:03d}", succeeded_at=harness.time.now - 60)
    job = harness.run(**CHECK, CONNECTOR_ID="group:Warehouse")
    assert job.exit_code is ExitCode.OK
    assert len(job.results) == size
    assert [r.path for r in harness.emulator.requests] == ["/v1/groups", "/v1/groups/group_1/connections"]


def test_the_table_lists_every_connection_and_the_outputs_split_them(harness: Harness) -> None:
    """Every connection has a row saying why; the step outputs list the fresh and the not fresh ones."""
    harness.connection("conn_a", succeeded_at=harness.time.now - 60)
    harness.connection("conn_b", paused=True, succeeded_at=harness.time.now - 60)
    job = harness.run(**CHECK, CONNECTOR_ID="group:Warehouse")
    assert [r.connection_id for r in job.results] == ["conn_a", "conn_b"]
    outputs = step_outputs(job)
    assert outputs["ELTOPS_FIVETRAN_FRESH"] == "conn_a"
    assert outputs["ELTOPS_FIVETRAN_STALE"] == "conn_b"
    assert "ELTOPS_FIVETRAN_SCHEMAS" not in outputs  # CHECK syncs nothing


def test_wait_until_fresh_waits_for_a_sync_within_the_deadline(harness: Harness) -> None:
    """A stale connection that a schedule syncs while CHECK waits passes; one that stays stale is exit 3 at the end."""
    harness.connection("conn_a", succeeded_at=harness.time.now - 10 * HOUR, script=ConnectionScript(sync_seconds=30))
    harness.connection("conn_b", succeeded_at=harness.time.now - 10 * HOUR)
    real_sleep = harness.time.sleep
    started: list[bool] = []

    def a_schedule_syncs_conn_a(seconds: float) -> None:
        if not started:
            started.append(True)
            harness.emulator._account.connections["conn_a"].trigger(harness.time.now, force=False)
        real_sleep(seconds)

    harness.time.sleep = a_schedule_syncs_conn_a  # type: ignore[method-assign]
    job = harness.run(**CHECK, CONNECTOR_ID="conn_a,conn_b", FIVETRAN_WAIT_UNTIL_FRESH="1", FIVETRAN_TIMEOUT="120")
    by_id = {r.connection_id: r for r in job.results}
    assert by_id["conn_a"].exit_code is ExitCode.OK
    assert by_id["conn_b"].exit_code is ExitCode.TIMEOUT
    assert "still not fresh after waiting 120 s" in by_id["conn_b"].message
    assert harness.time.monotonic() <= 120 + 1e-6


def test_wait_until_fresh_does_not_wait_for_what_no_sync_mends(harness: Harness) -> None:
    """A paused or broken connection fails at once even with FIVETRAN_WAIT_UNTIL_FRESH: no sync would mend it."""
    harness.connection("conn_a", paused=True)
    job = harness.run(**CHECK, FIVETRAN_WAIT_UNTIL_FRESH="1", FIVETRAN_TIMEOUT="600")
    assert job.exit_code is ExitCode.REMOTE_FAILED
    assert harness.time.slept == []


def test_ages_are_measured_on_the_api_clock() -> None:
    """The verdict takes ``now`` from the caller (the API's Date), so a runner's wrong clock cannot pass or fail it."""
    succeeded = datetime(2024, 12, 1, tzinfo=UTC)
    connection = Connection.from_api(
        {"id": "c", "succeeded_at": "2024-12-01T00:00:00Z", "sync_frequency": 60, "status": {}}
    )
    assert judge(connection, now=succeeded + timedelta(minutes=89), max_age=None).passed
    assert not judge(connection, now=succeeded + timedelta(minutes=91), max_age=None).passed


@pytest.mark.parametrize(
    ("frequency", "margin"), [(60.0, 15 * 60.0), (15 * 60.0, 15 * 60.0), (6 * HOUR, 3 * HOUR), (24 * HOUR, 12 * HOUR)]
)
def test_the_default_margin(frequency: float, margin: float) -> None:
    """Half the sync frequency, at least 15 minutes (README, "CHECK")."""
    assert default_margin(frequency) == margin


@pytest.mark.parametrize(("seconds", "text"), [(5, "5s"), (600, "10m"), (7500, "2h05m"), (3 * 86400, "3d00h")])
def test_ages_read_as_people_write_them(seconds: float, text: str) -> None:
    """Ages and limits are said as 5s, 10m, 2h05m, 3d00h."""
    assert format_age(seconds) == text


@pytest.mark.parametrize("status", [429, 502])
def test_check_retries_rate_limits_and_server_errors(harness: Harness, status: int) -> None:
    """429 and 5xx on the group listing are retried as for syncs; the gate still decides."""
    harness.connection("conn_a", succeeded_at=harness.time.now - 60)
    harness.emulator.fail_requests(FailureBurst(status, count=2, path_contains="/connections", retry_after=1))
    job = harness.run(**CHECK, CONNECTOR_ID="group:Warehouse")
    assert job.exit_code is ExitCode.OK
    assert len(harness.emulator.requests) == 4  # the groups listing, two refused listings, the listing
