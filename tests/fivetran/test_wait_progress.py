"""What a long Fivetran wait shows: a live line on a terminal, a heartbeat line in CI logs, on the injected clock."""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence

import httpx
import pytest

from eltops._deadline import Deadline
from eltops.cli._fivetran import WaitLine
from eltops.cli._output import CiKind, Output
from eltops.fivetran import FivetranClient, FlagValues, JobResult, Orchestrator, load_settings
from eltops.fivetran.emulator import ConnectionScript
from tests.fivetran.conftest import Harness

Seen = list[tuple[list[tuple[str, str]], float]]


def _run(harness: Harness, seen: Seen | None, **env: str) -> JobResult:
    """START with a progress callback that keeps what it is told (None: no callback), on the fake clock."""
    settings = load_settings({**harness.env, **env}, FlagValues())

    def progress(states: Sequence[tuple[str, str]], elapsed: float) -> None:
        assert seen is not None
        seen.append((list(states), elapsed))

    client = FivetranClient.create(
        api_url="http://emulator.test",
        api_key=settings.api_key,
        api_secret=settings.api_secret,
        deadline=Deadline(settings.timeout, harness.time.monotonic),
        transport=httpx.WSGITransport(app=harness.emulator.wsgi_app),
    )
    with client:
        orchestrator = Orchestrator(
            client,
            settings,
            wall_clock=harness.time.time,
            sleep=harness.time.sleep,
            progress=progress if seen is not None else None,
        )
        return orchestrator.run()


def test_the_live_line_is_told_each_poll_from_the_start(harness: Harness) -> None:
    """The progress callback hears at once (0 s) and after every poll, by the job's clock, until nothing is left."""
    harness.connection("conn_a", script=ConnectionScript(sync_seconds=30))
    seen: Seen = []
    job = _run(harness, seen, FIVETRAN_POLL_INTERVAL="10")
    assert job.results[0].ok
    assert seen[0][1] == 0.0  # at once, not after the first poll interval
    assert [ref for ref, _ in seen[0][0]] == ["conn_a"]
    assert [elapsed for _, elapsed in seen] == sorted(elapsed for _, elapsed in seen)
    assert any(states == [("conn_a", "syncing")] for states, _ in seen)
    assert seen[-1][0] == []  # the last word: nothing is awaited any more
    assert 30 <= seen[-1][1] <= 50


def test_ci_logs_get_a_heartbeat_every_minute(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    """Without a terminal, a "still waiting" line every 60 s of the job's (fake) clock says the wait is alive."""
    harness.connection("conn_a", script=ConnectionScript(sync_seconds=200))
    with caplog.at_level(logging.INFO, logger="eltops.fivetran"):
        job = _run(harness, None, FIVETRAN_POLL_INTERVAL="10", FIVETRAN_TIMEOUT="600")
    assert job.results[0].ok
    beats = [r.getMessage() for r in caplog.records if "still waiting" in r.getMessage()]
    assert len(beats) == 3, beats  # at 60, 120 and 180 s of a 200 s sync
    assert "1 syncing" in beats[0]


def test_the_live_line_says_how_many_in_which_state_and_for_how_long() -> None:
    """On a terminal the line names the count, the states, the seconds and the connections."""
    stderr = io.StringIO()
    out = Output(ci=CiKind.NONE, colour=True, stdout=io.StringIO(), stderr=stderr)
    line = WaitLine(out)
    line.update([("demo_shop", "syncing"), ("demo_ads", "rescheduled")], 12.4)
    out.console().print("")  # rich draws a live line at its next refresh; a print forces one
    line.stop()
    text = stderr.getvalue()
    assert "waiting for 2 connections (1 rescheduled, 1 syncing) · 12s · demo_shop" in text  # 80 columns here
