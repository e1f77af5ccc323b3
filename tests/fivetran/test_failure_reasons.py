"""Why a sync failed, in Fivetran's words: read only on a failure, a few requests at most, and never at any cost."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pytest

from eltops.errors import ExitCode
from eltops.fivetran.emulator import ActiveError, ConnectionScript, FailureBurst
from tests.fivetran.conftest import Harness

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

REASON = "Salesforce rejected the OAuth token (INVALID_SESSION_ID)"
RECONNECT = ActiveError(
    "reconnect", "Reconnect Salesforce", "The OAuth token expired", "Re-authorize the connection in Fivetran"
)
FAILING = ConnectionScript(
    queue_seconds=1, sync_seconds=3, outcome="failure", failure_reason=REASON, errors=(RECONNECT,)
)
FALLBACK = "(see the connection's logs in Fivetran)"


def reason_requests(harness: Harness) -> list[str]:
    return [r.path for r in harness.emulator.requests if r.path.endswith(("/sync-history", "/errors"))]


def test_a_failed_sync_says_why_and_what_to_do(harness: Harness) -> None:
    """The failure message carries the sync history's reason and the active error's remediation text."""
    harness.connection("conn_a", script=FAILING)
    [result] = harness.run().results
    assert result.exit_code is ExitCode.REMOTE_FAILED
    assert result.reason is not None
    assert result.reason.reason == REASON
    assert result.reason.remediation == "Re-authorize the connection in Fivetran."
    assert result.message.startswith("the sync failed at ")
    assert f": {REASON} (what to do: Re-authorize the connection in Fivetran.)" in result.message
    assert reason_requests(harness) == ["/v1/connections/conn_a/sync-history", "/v1/connections/conn_a/errors"]


def test_the_window_runs_from_the_baseline_to_now(harness: Harness) -> None:
    """The sync history is asked for the job's window: from the last sync before the trigger to after the failure."""
    harness.connection("conn_a", script=FAILING, failed_at="2023-11-14T20:00:00Z")
    harness.run()
    [query] = [r.query for r in harness.emulator.requests if r.path.endswith("/sync-history")]
    assert query["start_time"] == "2023-11-14T20:00:00Z"
    assert query["end_time"] > query["start_time"]
    assert query["limit"] == "100"


def test_a_success_costs_no_extra_request(harness: Harness) -> None:
    """A sync that succeeds never asks the sync history or the errors."""
    harness.connection("conn_a", script=ConnectionScript(sync_seconds=3))
    [result] = harness.run().results
    assert result.ok
    assert result.reason is None
    assert reason_requests(harness) == []


def test_only_the_errors_when_the_history_has_no_reason(harness: Harness) -> None:
    """With no reason in the sync history, the active error's title and reason say why."""
    harness.connection("conn_a", script=ConnectionScript(sync_seconds=3, outcome="failure", errors=(RECONNECT,)))
    [result] = harness.run().results
    assert result.reason is not None
    assert result.reason.reason == "Reconnect Salesforce: The OAuth token expired"


def test_a_broken_setup_says_why(harness: Harness) -> None:
    """A connection whose setup is broken names Fivetran's active error (one request), and the sync is not tried."""
    harness.connection("conn_a", setup_state="broken", script=FAILING)
    [result] = harness.run().results
    assert result.exit_code is ExitCode.REMOTE_FAILED
    assert "setup is broken (Reconnect Salesforce: The OAuth token expired (what to do: Re-author" in result.message
    assert reason_requests(harness) == ["/v1/connections/conn_a/errors"]
    assert harness.calls("POST", "/sync") == []


def test_a_reason_on_several_lines_is_said_on_one(harness: Harness) -> None:
    """Line breaks in Fivetran's text never break a log line, a summary table cell or an annotation."""
    error = ActiveError("reconnect", "Reconnect", "Token\nexpired", "Step 1: open Setup.\r\nStep 2: Reconnect")
    script = ConnectionScript(sync_seconds=3, outcome="failure", failure_reason="Auth\n failed.\n", errors=(error,))
    harness.connection("conn_a", script=script)
    [result] = harness.run().results
    assert "\n" not in result.message
    assert "\r" not in result.message
    assert result.message.endswith(": Auth failed (what to do: Step 1: open Setup. Step 2: Reconnect.)")


def test_nothing_said_leaves_today_s_message(harness: Harness) -> None:
    """A failure Fivetran gives no reason for keeps the message it always had."""
    harness.connection("conn_a", script=ConnectionScript(sync_seconds=3, outcome="failure"))
    [result] = harness.run().results
    assert result.reason is None
    assert result.message.endswith(FALLBACK)


# -- faults: the endpoints missing, failing, slow, looping or talking nonsense --------------------------------------


class StandIn:
    """The emulator, except that the reason endpoints answer ``body`` (JSON, or raw bytes) with ``status``."""

    def __init__(self, inner: WSGIApplication, status: int, body: Any, *, endpoints: Iterable[str]) -> None:
        self.inner, self.status, self.body, self.endpoints = inner, status, body, tuple(endpoints)
        self.hits = 0

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if not environ["PATH_INFO"].endswith(self.endpoints):
            return self.inner(environ, start_response)
        self.hits += 1
        body = self.body(self.hits) if callable(self.body) else self.body
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        start_response(f"{self.status} Whatever", [("Content-Type", "application/json")])
        return [raw]


def _endless(hit: int) -> dict[str, Any]:
    return {"code": "Success", "data": {"items": [], "next_cursor": f"page-{hit}"}}


FAULTS: dict[str, tuple[int, Any]] = {
    "404-no-such-endpoint": (404, {"code": "NotFound", "message": "No API endpoint matches"}),
    "410-gone": (410, {"code": "Gone", "message": "gone"}),
    "500": (500, {"code": "InternalError", "message": "oops"}),
    "not-json": (200, b"<html>proxy error</html>"),
    "no-items": (200, {"code": "Success", "data": {}}),
    "items-not-objects": (200, {"code": "Success", "data": {"items": [1, "two"], "next_cursor": None}}),
    "wrong-types": (200, {"code": "Success", "data": {"items": [{"status": 7, "reason": ["x"]}]}}),
    "same-cursor-forever": (200, {"code": "Success", "data": {"items": [], "next_cursor": "again"}}),
    "new-cursor-forever": (200, _endless),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_fault_never_changes_the_outcome(harness: Harness, caplog: pytest.LogCaptureFixture, fault: str) -> None:
    """Whatever the reason endpoints do, the failure stays exit 1 with today's message, said in one INFO line at most
    (endless pages are cut at the page cap: an answer, with no reason in it)."""
    harness.connection("conn_a", script=FAILING)
    status, body = FAULTS[fault]
    stand_in = StandIn(harness.emulator.wsgi_app, status, body, endpoints=("/sync-history", "/errors"))
    with caplog.at_level(logging.INFO, logger="eltops"):
        [result] = harness.run(app=stand_in).results
    assert result.exit_code is ExitCode.REMOTE_FAILED
    assert result.reason is None
    assert result.message.endswith(FALLBACK)
    said = [r for r in caplog.records if "did not say why" in r.getMessage() and r.levelno >= logging.INFO]
    assert len(said) == (0 if fault == "new-cursor-forever" else 1)
    assert all(record.levelno == logging.INFO for record in said)
    assert stand_in.hits <= 3 + 2  # at most MAX_HISTORY_PAGES + MAX_ERROR_PAGES pages, none retried


def test_a_missing_endpoint_is_not_asked_again_in_the_job(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    """With 20 failures and no such endpoints, each is asked once, and the log says so once: no warning storm."""
    ids = [f"conn_{i}" for i in range(20)]
    for connection_id in ids:
        harness.connection(connection_id, script=FAILING)
    stand_in = StandIn(
        harness.emulator.wsgi_app, 404, {"code": "NotFound", "message": "x"}, endpoints=("/sync-history", "/errors")
    )
    with caplog.at_level(logging.INFO, logger="eltops"):
        job = harness.run(app=stand_in, CONNECTOR_ID=",".join(ids))
    assert {r.exit_code for r in job.results} == {ExitCode.REMOTE_FAILED}
    assert stand_in.hits == 2
    assert sum("did not say why" in r.getMessage() for r in caplog.records if r.levelno >= logging.INFO) == 1
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING and "did not say" in r.getMessage()]


def test_an_account_on_the_old_paths_keeps_today_s_message(harness: Harness) -> None:
    """Against an account that only answers /v1/connectors, the reason endpoints 404 and the failure is as before."""
    from eltops.fivetran.emulator import FivetranEmulator
    from tests.fivetran.conftest import KEY, SECRET

    harness.emulator = FivetranEmulator(api_key=KEY, api_secret=SECRET, clock=harness.time.time, paths="connectors")
    harness.emulator.add_group("group_1", name="Warehouse")
    harness.connection("conn_a", script=FAILING)
    [result] = harness.run().results
    assert result.exit_code is ExitCode.REMOTE_FAILED
    assert result.message.endswith(FALLBACK)


def test_a_scripted_failure_of_the_history_is_not_retried(harness: Harness) -> None:
    """The emulator's fault injection: a 503 on the sync history is not retried; the errors' text is the reason."""
    script = ConnectionScript(
        sync_seconds=3,
        outcome="failure",
        failure_reason=REASON,
        errors=(RECONNECT,),
        failures=(FailureBurst(503, count=50, method="GET", path_contains="/sync-history"),),
    )
    harness.connection("conn_a", script=script)
    [result] = harness.run().results
    assert result.exit_code is ExitCode.REMOTE_FAILED
    assert result.reason is not None
    assert result.reason.reason == "Reconnect Salesforce: The OAuth token expired"
