"""The sync state machine, driven by a fake clock: queue, sync, finish, force, pause, broken setup, reschedule."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from eltops.fivetran.emulator import ConnectionScript, FivetranEmulator

from ._support import START, FakeClock, data, make_client, make_emulator


def iso(offset: float) -> str:
    """The Fivetran timestamp of START + offset seconds."""
    from datetime import UTC, datetime

    return datetime.fromtimestamp(START + offset, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def status(client: httpx.Client, connection: str = "c1") -> dict[str, Any]:
    connection_data: dict[str, Any] = data(client.get(f"/v1/connections/{connection}"))
    return connection_data


def sync(client: httpx.Client, *, force: bool | None = None, connection: str = "c1") -> None:
    body = {} if force is None else {"force": force}
    response = client.post(f"/v1/connections/{connection}/sync", json=body)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "code": "Success",
        "message": f"Sync has been successfully triggered for connection with id '{connection}'",
    }


@pytest.mark.parametrize(
    ("offset", "sync_state", "succeeded_at"),
    [
        (0, "scheduled", None),
        (1.9, "scheduled", None),
        (2, "syncing", None),
        (11.9, "syncing", None),
        (12, "scheduled", 12),
    ],
)
def test_sync_timeline(
    client: httpx.Client, clock: FakeClock, offset: float, sync_state: str, succeeded_at: float | None
) -> None:
    """A triggered sync sits queued in 'scheduled', then 'syncing', then finishes with succeeded_at at its end."""
    sync(client)
    clock.advance(offset)
    connection = status(client)
    assert connection["status"]["sync_state"] == sync_state
    assert connection["succeeded_at"] == (None if succeeded_at is None else iso(succeeded_at))
    assert connection["failed_at"] is None


def test_finish_moment_comes_from_the_timeline_not_the_poll(client: httpx.Client, clock: FakeClock) -> None:
    """A sync that finished long before the next poll records its real finish moment."""
    sync(client)
    clock.advance(3600)
    assert status(client)["succeeded_at"] == iso(12)


def test_failure_outcome_sets_failed_at(clock: FakeClock) -> None:
    """A failing script records failed_at at the finish moment and leaves succeeded_at alone."""
    emu = make_emulator(
        clock, script=ConnectionScript(sync_seconds=5, outcome="failure"), succeeded_at="2024-11-01T00:00:00Z"
    )
    with make_client(emu) as client:
        sync(client)
        clock.advance(10)
        connection = status(client)
    assert connection["failed_at"] == iso(5)
    assert connection["succeeded_at"] == "2024-11-01T00:00:00.000000Z"
    assert connection["status"]["update_state"] == "delayed"


def test_force_true_restarts_a_running_sync(client: httpx.Client, clock: FakeClock) -> None:
    """force=true during a running sync restarts it, so it finishes a full run after the restart."""
    sync(client)
    clock.advance(6)  # syncing since 2
    sync(client, force=True)
    assert status(client)["status"]["sync_state"] == "scheduled"
    clock.advance(11.9)
    assert status(client)["succeeded_at"] is None
    clock.advance(0.1)
    assert status(client)["succeeded_at"] == iso(18)


@pytest.mark.parametrize("force", [False, None])
def test_force_false_while_syncing_does_nothing(client: httpx.Client, clock: FakeClock, force: bool | None) -> None:
    """force=false (or no body) during a running sync leaves the running one alone."""
    sync(client)
    clock.advance(6)
    sync(client, force=force)
    clock.advance(6)
    assert status(client)["succeeded_at"] == iso(12)


def test_legacy_force_endpoint_restarts(client: httpx.Client, clock: FakeClock) -> None:
    """The undocumented POST {c}/force behaves as sync with force=true."""
    sync(client)
    clock.advance(6)
    assert client.post("/v1/connectors/c1/force").json()["message"].endswith("connector with id 'c1'")
    clock.advance(12)
    assert status(client)["succeeded_at"] == iso(18)


def test_sync_force_must_be_boolean(client: httpx.Client) -> None:
    """A non-boolean force answers 400."""
    assert client.post("/v1/connections/c1/sync", json={"force": "yes"}).status_code == 400


def test_second_sync_after_the_first_finished(client: httpx.Client, clock: FakeClock) -> None:
    """After a finished sync a new trigger starts a new one that moves succeeded_at again."""
    sync(client)
    clock.advance(20)
    sync(client)
    clock.advance(12)
    assert status(client)["succeeded_at"] == iso(32)


def test_paused_connection_accepts_trigger_but_does_not_run(clock: FakeClock) -> None:
    """A paused connection answers 200 to a trigger, stays 'paused', and nothing finishes."""
    emu = make_emulator(clock, paused=True)
    with make_client(emu) as client:
        sync(client, force=True)
        clock.advance(100)
        connection = status(client)
    assert connection["status"]["sync_state"] == "paused"
    assert connection["succeeded_at"] is None
    assert connection["failed_at"] is None


def test_pausing_stops_a_running_sync(client: httpx.Client, clock: FakeClock) -> None:
    """Pausing while syncing stops the sync without a result; unpausing does not restart it."""
    sync(client)
    clock.advance(5)
    client.patch("/v1/connections/c1", json={"paused": True, "run_setup_tests": False})
    assert status(client)["status"]["sync_state"] == "paused"
    client.patch("/v1/connections/c1", json={"paused": False, "run_setup_tests": False})
    clock.advance(100)
    connection = status(client)
    assert connection["status"]["sync_state"] == "scheduled"
    assert connection["succeeded_at"] is None


@pytest.mark.parametrize("setup_state", ["broken", "incomplete"])
def test_broken_setup_fails_quickly(clock: FakeClock, setup_state: str) -> None:
    """With a broken or incomplete setup a triggered sync fails right after its queue time."""
    emu = make_emulator(clock, setup_state=setup_state)
    with make_client(emu) as client:
        sync(client)
        clock.advance(2)
        connection = status(client)
    assert connection["failed_at"] == iso(2)
    assert connection["succeeded_at"] is None
    assert connection["status"]["setup_state"] == setup_state


def test_setup_state_can_be_broken_from_outside(emu: FivetranEmulator, client: httpx.Client, clock: FakeClock) -> None:
    """set_setup_state breaks a connection; the next sync fails."""
    emu.set_setup_state("c1", "broken")
    sync(client)
    clock.advance(2)
    assert status(client)["failed_at"] == iso(2)


def rescheduling_emulator(clock: FakeClock, schedule_type: str) -> FivetranEmulator:
    script = ConnectionScript(queue_seconds=0, sync_seconds=10, reschedules=1, reschedule_wait_seconds=30)
    return make_emulator(clock, script=script, schedule_type=schedule_type)


def test_reschedule_under_manual_waits_for_a_trigger(clock: FakeClock) -> None:
    """Under manual scheduling a rescheduled sync stays so until triggered at/after rescheduled_for."""
    emu = rescheduling_emulator(clock, "manual")
    with make_client(emu) as client:
        sync(client)
        clock.advance(5)  # half-way: rescheduled at 5, until 35
        connection = status(client)
        assert connection["status"]["sync_state"] == "rescheduled"
        assert connection["status"]["rescheduled_for"] == iso(35)
        assert connection["status"]["update_state"] == "delayed"
        assert connection["succeeded_at"] is None
        clock.advance(100)  # long past rescheduled_for: manual never resumes by itself
        assert status(client)["status"]["sync_state"] == "rescheduled"
        sync(client, force=True)
        clock.advance(4.9)
        assert status(client)["status"]["sync_state"] == "syncing"
        clock.advance(0.1)
        connection = status(client)
    assert connection["succeeded_at"] == iso(110)
    assert "rescheduled_for" not in connection["status"]


def test_reschedule_trigger_before_rescheduled_for_keeps_it_rescheduled(clock: FakeClock) -> None:
    """A trigger before rescheduled_for is accepted but the sync stays rescheduled."""
    emu = rescheduling_emulator(clock, "manual")
    with make_client(emu) as client:
        sync(client)
        clock.advance(20)
        sync(client, force=True)
        connection = status(client)
        assert connection["status"]["sync_state"] == "rescheduled"
        assert connection["status"]["rescheduled_for"] == iso(35)
        clock.advance(15)  # exactly rescheduled_for
        sync(client)
        clock.advance(5)
        assert status(client)["succeeded_at"] == iso(40)


def test_reschedule_under_auto_resumes_by_itself(clock: FakeClock) -> None:
    """Under auto scheduling a rescheduled sync resumes at rescheduled_for and finishes on the timeline."""
    emu = rescheduling_emulator(clock, "auto")
    with make_client(emu) as client:
        sync(client)
        clock.advance(5)
        assert status(client)["status"]["sync_state"] == "rescheduled"
        clock.advance(30)
        assert status(client)["status"]["sync_state"] == "syncing"
        clock.advance(1000)
        assert status(client)["succeeded_at"] == iso(40)


def test_switching_to_auto_while_rescheduled_resumes(clock: FakeClock) -> None:
    """PATCHing schedule_type to auto after rescheduled_for lets the sync resume from that moment."""
    emu = rescheduling_emulator(clock, "manual")
    with make_client(emu) as client:
        sync(client)
        clock.advance(50)
        client.patch("/v1/connections/c1", json={"schedule_type": "auto", "run_setup_tests": False})
        clock.advance(5)
        assert status(client)["succeeded_at"] == iso(55)


def test_many_reschedules(clock: FakeClock) -> None:
    """With two reschedules a run pauses twice, each time for the scripted wait."""
    script = ConnectionScript(sync_seconds=9, reschedules=2, reschedule_wait_seconds=1)
    emu = make_emulator(clock, script=script, schedule_type="auto")
    with make_client(emu) as client:
        sync(client)
        clock.advance(3.5)
        assert status(client)["status"]["rescheduled_for"] == iso(4)
        clock.advance(4)
        assert status(client)["status"]["rescheduled_for"] == iso(8)
        clock.advance(100)
        assert status(client)["succeeded_at"] == iso(11)


def test_script_changes_apply_to_the_next_sync(emu: FivetranEmulator, client: httpx.Client, clock: FakeClock) -> None:
    """emu.script() changes the outcome of syncs triggered afterwards, not of the running one."""
    sync(client)
    emu.script("c1", outcome="failure", sync_seconds=1, queue_seconds=0)
    clock.advance(12)
    assert status(client)["succeeded_at"] == iso(12)
    sync(client)
    clock.advance(1)
    assert status(client)["failed_at"] == iso(13)


def test_script_rejects_unknown_fields(emu: FivetranEmulator) -> None:
    """emu.script() with a field ConnectionScript lacks raises TypeError."""
    with pytest.raises(TypeError):
        emu.script("c1", nonsense=1)
