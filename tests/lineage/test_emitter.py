"""The emitter never gets in the job's way: off its path, within a budget, one warning, secrets masked."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from eltops.lineage import Emitter, EventType, JobKind, RunRef, run_event
from eltops.lineage._settings import FileTransportSettings, HttpTransportSettings
from eltops.lineage._transport import FileTransport, HttpTransport
from eltops.secrets import Secret
from tests.lineage.conftest import Receiving, StandIn, assert_valid


def _event(error: str | None = None) -> dict[str, object]:
    run = RunRef("default", "fivetran.shop", str(uuid.uuid4()))
    return run_event(
        EventType.FAIL if error else EventType.START,
        run=run,
        kind=JobKind("FIVETRAN", "SYNC"),
        at=datetime.now(UTC),
        error=error,
    )


def _http(url: str, timeout: float = 5.0) -> HttpTransport:
    return HttpTransport(HttpTransportSettings(url, timeout=timeout))


def test_events_arrive_in_order_and_valid(receiving: Receiving) -> None:
    """Queued events reach the collector in order, each accepted by the spec-checking receiver."""
    emitter = Emitter(_http(receiving.url), budget=5)
    sent = [_event() for _ in range(5)]
    for event in sent:
        emitter.emit(event)
    report = emitter.close()
    assert (report.sent, report.failed) == (5, 0)
    got = receiving.events()
    assert [e["run"]["runId"] for e in got] == [e["run"]["runId"] for e in sent]  # type: ignore[index]
    for event in got:
        assert_valid(event)


def test_secrets_never_leave(receiving: Receiving, tmp_path: Path) -> None:
    """A secret that found its way into an event (an error message quoting it) is masked before it leaves."""
    Secret("hunter2-secret-value")
    emitter = Emitter(_http(receiving.url), budget=5)
    emitter.emit(_event(error="login failed with password hunter2-secret-value"))
    file_emitter = Emitter(FileTransport(FileTransportSettings(tmp_path / "ol.jsonl")), budget=5)
    file_emitter.emit(_event(error="hunter2-secret-value"))
    emitter.close()
    file_emitter.close()
    assert "hunter2-secret-value" not in orjson.dumps(receiving.events()).decode()
    assert "hunter2-secret-value" not in (tmp_path / "ol.jsonl").read_text()
    assert "******" in receiving.events()[0]["run"]["facets"]["errorMessage"]["message"]


@pytest.mark.parametrize(("mode", "tries"), [("500", 1), ("close", 1), ("400", 3)])
def test_a_failing_collector_costs_one_warning(
    mode: str, tries: int, stand_in: Callable[[str], StandIn], caplog: pytest.LogCaptureFixture
) -> None:
    """A collector that is down (5xx, hangs up) is tried once; a 4xx refuses only its event; one warning either way."""
    collector = stand_in(mode)
    emitter = Emitter(_http(collector.url), budget=5)
    for _ in range(3):
        emitter.emit(_event())
    with caplog.at_level(logging.WARNING, logger="eltops.lineage"):
        report = emitter.close()
    assert (report.sent, report.failed) == (0, 3)
    assert collector.connections == tries
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "3 of 3 event(s) not delivered" in warnings[0].getMessage()


def test_a_hanging_collector_costs_at_most_the_budget(
    stand_in: Callable[[str], StandIn], caplog: pytest.LogCaptureFixture
) -> None:
    """A collector that never answers holds the job at most the lineage budget once the job is done."""
    collector = stand_in("hang")
    emitter = Emitter(_http(collector.url, timeout=30), budget=1.0)
    for _ in range(3):
        emitter.emit(_event())
    time.sleep(0.2)  # the first request is in flight when the job ends
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="eltops.lineage"):
        report = emitter.close()
    assert time.monotonic() - started < 3.0  # the budget (1 s) and some slack for a loaded machine
    assert report.sent == 0
    assert report.failed >= 3
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1


def test_nothing_listening_is_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    """A collector that is not there at all (connection refused) drops every event after one try."""
    emitter = Emitter(_http("http://127.0.0.1:9"), budget=5)
    for _ in range(4):
        emitter.emit(_event())
    with caplog.at_level(logging.WARNING, logger="eltops.lineage"):
        report = emitter.close()
    assert (report.sent, report.failed) == (0, 4)
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1


def test_file_transport_writes_json_lines(tmp_path: Path) -> None:
    """The file transport appends one valid event per line (a CI artifact), across emitters."""
    path = tmp_path / "ol.jsonl"
    for _ in range(2):
        emitter = Emitter(FileTransport(FileTransportSettings(path)), budget=5)
        emitter.emit(_event())
        emitter.emit(_event(error="boom"))
        assert emitter.close().sent == 2
    lines = path.read_text().splitlines()
    assert len(lines) == 4
    for line in lines:
        assert_valid(orjson.loads(line))


def test_an_event_that_cannot_be_made_is_counted_not_raised(tmp_path: Path) -> None:
    """A bug while making an event (its source raises) is one failed event, never an exception in the job."""
    emitter = Emitter(FileTransport(FileTransportSettings(tmp_path / "ol.jsonl")), budget=5)

    def broken() -> dict[str, object]:
        raise RuntimeError("no")

    emitter.emit(broken)
    emitter.emit(_event())
    report = emitter.close()
    assert (report.sent, report.failed) == (1, 1)
