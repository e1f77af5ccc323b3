"""End to end: the real ``eltops fivetran`` command says why a sync failed wherever a person looks, masked."""

from __future__ import annotations

import json
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from typing import TYPE_CHECKING

import orjson

from eltops._serve import serve_in_thread
from eltops.fivetran.emulator import ActiveError, ConnectionScript
from tests.fivetran.conftest import Served
from tests.fivetran.test_recording import _rows

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

REASON = "Salesforce rejected the OAuth token for key {api_key}"
ERROR = ActiveError(
    "reconnect",
    "Reconnect Salesforce",
    "The OAuth token expired",
    "Re-authorize the connection: open its Setup tab in Fivetran and click Reconnect",
)
SHOWN = "Salesforce rejected the OAuth token for key"
WHAT_TO_DO = "open its Setup tab in Fivetran and click Reconnect"


def _failing(served: Served) -> None:
    served.emulator.add_connection(
        "why",
        group_id="group_1",
        schema="salesforce",
        script=ConnectionScript(sync_seconds=0.3, outcome="failure", failure_reason=REASON, errors=(ERROR,)),
    )


def test_the_reason_is_everywhere_a_person_looks(served: Served) -> None:
    """Log line, JUnit failure, --json, step summary, annotation, step outputs and run history all carry the reason."""
    _failing(served)
    tmp = served.tmp
    env = served.env(
        CONNECTOR_ID="why",
        GITHUB_ACTIONS="true",
        GITHUB_STEP_SUMMARY=str(tmp / "summary.md"),
        GITHUB_OUTPUT=str(tmp / "github-output"),
        ELTOPS_DOTENV_FILE=str(tmp / "job.env"),
        FIVETRAN_JUNIT_REPORT=str(tmp / "junit.xml"),
        ELTOPS_WAREHOUSE=str(tmp / "history.duckdb"),
    )
    result = served.run("fivetran", "--json", env=env)  # SECRETS are checked absent from stdout and stderr
    assert result.code == 1, result.stderr
    assert "Traceback" not in result.stderr
    error_lines = [line for line in result.stderr.splitlines() if " ERROR " in line]
    assert any(SHOWN in line and WHAT_TO_DO in line for line in error_lines), result.stderr
    assert "::error title=Fivetran why::" in result.stderr
    annotation = next(line for line in result.stderr.splitlines() if line.startswith("::error title=Fivetran why::"))
    assert SHOWN in annotation
    [connection] = json.loads(result.stdout)["connections"]
    assert connection["reason"].startswith(SHOWN)
    assert connection["remediation"].startswith("Re-authorize the connection")
    failure = ET.parse(tmp / "junit.xml").getroot().find(".//failure")
    assert failure is not None
    assert SHOWN in (failure.get("message") or "") + (failure.text or "")
    assert SHOWN in (tmp / "summary.md").read_text()
    dotenv = dict(line.split("=", 1) for line in (tmp / "job.env").read_text().splitlines())
    assert SHOWN in orjson.loads(dotenv["ELTOPS_FIVETRAN_RESULTS"])["why"]["reason"]
    assert SHOWN in (tmp / "github-output").read_text()
    [(message,)] = _rows(tmp / "history.duckdb", "SELECT message FROM task_runs")
    assert SHOWN in message
    assert WHAT_TO_DO in message
    for where in ("summary.md", "github-output", "job.env", "junit.xml"):
        text = (tmp / where).read_text()
        assert "e2e-key" not in text, where
        assert "e2e-secret" not in text, where
    assert "e2e-key" not in message


class SlowReasons:
    """The emulator behind a stand-in whose reason endpoints answer only after ``delay`` seconds."""

    def __init__(self, served: Served, delay: float) -> None:
        self.inner = served.emulator.wsgi_app
        self.delay = delay
        self.released = threading.Event()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ["PATH_INFO"].endswith(("/sync-history", "/errors")):
            self.released.wait(self.delay)
        return self.inner(environ, start_response)


def test_a_slow_reason_never_outlives_the_deadline(served: Served) -> None:
    """Reason endpoints that hang are cut at the job's deadline: the failure is reported in time, as before."""
    _failing(served)
    stand_in = SlowReasons(served, delay=60)
    try:
        with serve_in_thread(stand_in) as server:
            started = time.monotonic()
            result = served.run(
                "fivetran", env=served.env(CONNECTOR_ID="why", FIVETRAN_API_URL=server.url, FIVETRAN_TIMEOUT="3")
            )
            took = time.monotonic() - started
    finally:
        stand_in.released.set()
    assert result.code == 1, result.stderr
    assert "see the connection's logs in Fivetran" in result.stderr
    assert "Traceback" not in result.stderr
    assert took < 3 + 5  # the deadline, and the interpreter's start and exit
