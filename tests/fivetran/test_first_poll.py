"""The first status read after a trigger comes after a second, then the waits double up to the poll interval —
with the emulator in-process on a fake clock, counting every request."""

from __future__ import annotations

import itertools

import pytest

from eltops.errors import ExitCode
from eltops.fivetran import poll_waits
from eltops.fivetran.emulator import ConnectionScript, FivetranEmulator
from tests.fivetran.conftest import KEY, SECRET, START, FakeTime, Harness

LISTING = "/v1/groups/group_1/connections"


@pytest.mark.parametrize(
    ("interval", "waits"),
    [
        (10.0, [1, 2, 4, 8, 10, 10, 10]),
        (2.0, [1, 2, 2, 2, 2, 2, 2]),
        (3.0, [1, 2, 3, 3, 3, 3, 3]),
        (0.5, [0.5] * 7),
        (60.0, [1, 2, 4, 8, 16, 32, 60]),
    ],
)
def test_poll_waits_double_up_to_the_interval(interval: float, waits: list[float]) -> None:
    """The waits start at one second (or the interval, if shorter) and double until they reach the interval."""
    assert list(itertools.islice(poll_waits(interval), 7)) == waits


@pytest.mark.parametrize("sync_seconds", [0.0, 0.5, 1.0])
def test_a_sync_that_ends_at_once_is_seen_after_a_second(harness: Harness, sync_seconds: float) -> None:
    """With the default 10 s interval, a sync that ends within a second is seen by the first read, one second in."""
    harness.connection("conn_a", script=ConnectionScript(sync_seconds=sync_seconds))
    job = harness.run(FIVETRAN_POLL_INTERVAL="10")
    assert job.exit_code is ExitCode.OK, job.results[0].message
    assert harness.time.slept == [1.0]
    reads = harness.calls("GET", "/v1/connections/conn_a")
    assert [r.time for r in reads] == [START, START + 1]  # the read before the trigger, then one status read


@pytest.mark.parametrize(("sync_seconds", "polls_at"), [(5, [1, 3, 7]), (60, [1, 3, 7, 15, 25, 35, 45, 55, 65])])
def test_a_fleet_costs_one_listing_per_poll_while_backing_off(
    harness: Harness, sync_seconds: int, polls_at: list[int]
) -> None:
    """Twenty connections in one group: each poll of the backing-off schedule is one listing, no more."""
    for i in range(20):
        harness.connection(f"c{i}", script=ConnectionScript(sync_seconds=sync_seconds))
    job = harness.run(CONNECTOR_ID=",".join(f"c{i}" for i in range(20)), FIVETRAN_POLL_INTERVAL="10")
    assert job.exit_code is ExitCode.OK
    assert [r.time - START for r in harness.calls("GET", LISTING)] == polls_at
    assert list(itertools.accumulate(harness.time.slept)) == polls_at
    per_connection = [r for r in harness.emulator.requests if r.path != LISTING]
    assert len(per_connection) <= 3 * 20


def test_a_retriggered_sync_is_looked_at_soon(harness: Harness) -> None:
    """After a rescheduled sync is triggered again, the waits start over at one second."""
    script = ConnectionScript(sync_seconds=3, reschedules=1, reschedule_wait_seconds=30)
    harness.connection("conn_a", script=script)
    job = harness.run(FIVETRAN_POLL_INTERVAL="10")
    assert job.exit_code is ExitCode.OK, job.results[0].message
    retrigger = [r.time for r in harness.calls("POST", "/sync")][1]
    after = [r.time - retrigger for r in harness.calls("GET", "/v1/connections/conn_a") if r.time >= retrigger]
    assert after == [0, 1, 3]  # the poll right after the trigger, then 1 s and 2 s waits (not 10 s)


def test_a_low_request_budget_skips_the_quick_reads() -> None:
    """When the account's budget is already low after the triggers, the first wait is the stretched interval."""
    fake = FakeTime()
    emulator = FivetranEmulator(api_key=KEY, api_secret=SECRET, clock=fake.time, rate_limit=32)
    emulator.add_group("group_1", name="Warehouse")
    env = {"FIVETRAN_ACTION": "START", "FIVETRAN_API_KEY": KEY, "FIVETRAN_API_SECRET": SECRET}
    harness = Harness(emulator, fake, {**env, "FIVETRAN_POLL_INTERVAL": "10"})
    for i in range(10):
        harness.connection(f"c{i}", script=ConnectionScript(sync_seconds=30))
    job = harness.run(CONNECTOR_ID=",".join(f"c{i}" for i in range(10)))
    assert job.exit_code is ExitCode.OK, job.results[0].message
    assert fake.slept[0] == 100  # 2 requests left of 32: polls spread out (up to 10 intervals), no 1 s read
