"""The orchestrator's observer hook: told once per awaited sync, and never able to change a job's outcome."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import pytest

from eltops._deadline import Deadline
from eltops.errors import ExitCode
from eltops.fivetran import Connection, ConnectionResult, FivetranClient, FlagValues, Orchestrator, load_settings
from eltops.fivetran.emulator import ConnectionScript
from tests.fivetran.conftest import Harness, harness  # noqa: F401


class Recorder:
    def __init__(self, *, explode: bool = False) -> None:
        self.explode = explode
        self.calls: list[tuple[str, str]] = []

    def sync_started(self, connection: Connection, baseline: datetime | None, at: datetime) -> None:
        self.calls.append(("started", connection.id))
        if self.explode:
            raise RuntimeError("observer bug")

    def sync_ended(self, result: ConnectionResult) -> None:
        self.calls.append(("ended", result.connection_id or ""))
        if self.explode:
            raise RuntimeError("observer bug")


def _run(h: Harness, observer: Any, **env: str) -> Any:
    settings = load_settings({**h.env, **env}, FlagValues())
    client = FivetranClient.create(
        api_url="http://emulator.test",
        api_key=settings.api_key,
        api_secret=settings.api_secret,
        deadline=Deadline(settings.timeout, h.time.monotonic),
        transport=httpx.WSGITransport(app=h.emulator.wsgi_app),
    )
    with client:
        return Orchestrator(client, settings, wall_clock=h.time.time, sleep=h.time.sleep, observer=observer).run()


@pytest.mark.parametrize(
    ("env", "calls"),
    [
        (
            {"FIVETRAN_ACTION": "START"},
            [("started", "conn_a"), ("ended", "conn_a"), ("started", "conn_b"), ("ended", "conn_b")],
        ),
        ({"FIVETRAN_ACTION": "STATUS"}, []),
        ({"FIVETRAN_ACTION": "TEST"}, []),
        (
            {"FIVETRAN_ACTION": "START", "FIVETRAN_WAIT": "false"},
            [("started", "conn_a"), ("ended", "conn_a"), ("started", "conn_b"), ("ended", "conn_b")],
        ),
    ],
)
def test_told_once_per_awaited_sync(harness: Harness, env: dict[str, str], calls: list[tuple[str, str]]) -> None:  # noqa: F811
    """Each triggered sync is started and ended once (per connection, in order); STATUS and TEST start none."""
    harness.connection("conn_a", script=ConnectionScript(sync_seconds=5))
    harness.connection("conn_b", script=ConnectionScript(sync_seconds=5, outcome="failure"))
    recorder = Recorder()
    _run(harness, recorder, CONNECTOR_ID="conn_a,conn_b", **env)
    assert sorted(recorder.calls, key=lambda c: (c[1], c[0] == "ended")) == calls


def test_an_observer_that_raises_changes_nothing(harness: Harness) -> None:  # noqa: F811
    """An observer whose every call raises leaves each connection's outcome exactly as without it."""
    harness.connection("conn_a", script=ConnectionScript(sync_seconds=5))
    harness.connection("conn_b", script=ConnectionScript(sync_seconds=5, outcome="failure"))
    exploding = Recorder(explode=True)
    job = _run(harness, exploding, CONNECTOR_ID="conn_a,conn_b")
    assert [(r.connection_id, r.exit_code) for r in job.results] == [
        ("conn_a", ExitCode.OK),
        ("conn_b", ExitCode.REMOTE_FAILED),
    ]
    assert len(exploding.calls) == 4
