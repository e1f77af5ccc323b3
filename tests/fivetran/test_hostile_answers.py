"""End to end: faulty and hostile Fivetran answers, served by the emulator's fault injection, never leak a secret,
never crash, and leave a valid JUnit file, a --json result, history rows and a report."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest

from eltops._serve import serve_in_thread
from eltops.fivetran.emulator import ActiveError, ConnectionScript, FailureBurst, FivetranEmulator, SetupTest
from tests._leaks import leaks, secret_forms
from tests.fivetran.conftest import Run, Served

# credentials with every character an encoding changes: JSON (" \), XML/HTML (< & " '), URLs (% space /), unicode
HOSTILE_KEY = 'ft"key\\<&%  é/ü-7c3a'
HOSTILE_SECRET = "sec'ret&amp;\\u00e9 <x>%41 ☃-0b9d"


FORMS = secret_forms(HOSTILE_KEY, HOSTILE_SECRET, basic_auth=(HOSTILE_KEY, HOSTILE_SECRET))
ECHO = "refused: key={api_key} secret={api_secret} Authorization: Basic {basic_auth}"
CONTROL = "".join(chr(c) for c in range(32)) + "\x7f\ufffe"
OLD = {"succeeded_at": "2024-12-01T15:43:29.013729Z", "failed_at": "2024-11-30T10:00:00.000000Z"}

CASES: dict[str, dict[str, Any]] = {
    "setup test echoes credentials": {
        "script": ConnectionScript(setup_tests=(SetupTest(f"Auth {ECHO}", "FAILED", ECHO), SetupTest("Host"))),
        "action": "TEST",
        "code": 1,
        "says": "1 passed, 1 failed",
    },
    "error message echoes credentials": {
        "script": ConnectionScript(failures=(FailureBurst(status=403, count=99, method="GET", message=ECHO),)),
        "action": "START",
        "code": 4,
        "says": "HTTP 403",
    },
    "control characters in setup tests": {
        "script": ConnectionScript(setup_tests=(SetupTest(f"T{CONTROL}", "FAILED", f"M{CONTROL}"),)),
        "action": "TEST",
        "code": 1,
        "says": "0 passed, 1 failed",
    },
    "failure reason and errors echo credentials": {
        "script": ConnectionScript(
            sync_seconds=0.3,
            outcome="failure",
            failure_reason=ECHO,
            errors=(ActiveError("reconnect", ECHO, ECHO, ECHO),),
        ),
        "action": "START",
        "code": 1,
        "says": "the sync failed at",
    },
    "control characters in a failure reason": {
        "script": ConnectionScript(
            sync_seconds=0.3,
            outcome="failure",
            failure_reason=f"R{CONTROL}",
            errors=(ActiveError("reconnect", f"T{CONTROL}", f"W{CONTROL}", f"M{CONTROL}"),),
        ),
        "action": "START",
        "code": 1,
        "says": "the sync failed at",
    },
    "zone-less succeeded_at beside a zoned failed_at": {
        "script": ConnectionScript(sync_seconds=0.3, zoneless_timestamps=("succeeded_at",)),
        "action": "START",
        "code": 0,
        "says": "the sync succeeded",
    },
    "paused is the string false": {
        "script": ConnectionScript(overrides={"paused": "false"}),
        "action": "START",
        "code": 4,
        "says": "paused='false' (str), which is not a JSON boolean",
    },
}


@dataclass
class Outcome:
    run: Run
    junit: str
    json: Any
    history: str
    report: str
    summary: str


@pytest.fixture
def hostile(tmp_path: Path) -> Iterator[Served]:
    """An emulator whose account takes the hostile credentials, with one connection per case."""
    emulator = FivetranEmulator(api_key=HOSTILE_KEY, api_secret=HOSTILE_SECRET)
    emulator.add_group("group_1", name="Warehouse")
    for index, case in enumerate(CASES.values()):
        emulator.add_connection(
            f"c{index}", group_id="group_1", schema=f"s{index}", schedule_type="manual", script=case["script"], **OLD
        )
    with serve_in_thread(emulator.wsgi_app) as server:
        yield Served(emulator, server, tmp_path)


def _everything(served: Served, connection: str, action: str) -> Outcome:
    """Run the job with --json, a JUnit file, a step summary and history; then the report of that history."""
    tmp = served.tmp
    db, junit, summary, report = tmp / "h.duckdb", tmp / "junit.xml", tmp / "summary.md", tmp / "report.html"
    env = served.env(
        FIVETRAN_API_KEY=HOSTILE_KEY,
        FIVETRAN_API_SECRET=HOSTILE_SECRET,
        FIVETRAN_ACTION=action,
        CONNECTOR_ID=connection,
        FIVETRAN_TIMEOUT="20",
        GITHUB_ACTIONS="true",
        GITHUB_STEP_SUMMARY=str(summary),
    )
    run = served.run("-vv", "fivetran", "--json", "--junit", str(junit), "--record-to", str(db), env=env)
    reported = served.run("report", "--from", str(db), "--out", str(report), env=served.env())
    assert reported.code == 0, reported.stderr
    with duckdb.connect(str(db), read_only=True) as con:
        history = "\n".join(
            str(row)
            for table in ("pipeline_runs", "task_runs", "operations")
            for row in con.execute(f"SELECT * FROM {table}").fetchall()
        )
    return Outcome(
        run, junit.read_text(encoding="utf-8"), json.loads(run.stdout), history, report.read_text(), summary.read_text()
    )


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_answer_end_to_end(hostile: Served, name: str) -> None:
    """Each faulty answer ends with its exit code and no secret in any output, file, row or report."""
    index = list(CASES).index(name)
    case = CASES[name]
    outcome = _everything(hostile, f"c{index}", case["action"])
    assert outcome.run.code == case["code"], outcome.run.stderr
    assert case["says"] in outcome.run.stderr
    assert "Traceback" not in outcome.run.stderr
    assert outcome.json["exit_code"] == case["code"]
    ET.fromstring(outcome.junit.encode())  # valid XML
    places = {
        "stdout": outcome.run.stdout,
        "stderr": outcome.run.stderr,
        "junit": outcome.junit,
        "history": outcome.history,
        "report": outcome.report,
        "step summary": outcome.summary,
    }
    assert leaks(FORMS, places) == []


def test_echoed_credentials_are_masked_where_they_were(hostile: Served) -> None:
    """The echoed setup test still says what it said, with the mask where each credential was."""
    outcome = _everything(hostile, "c0", "TEST")
    [failed] = [t for t in outcome.json["connections"][0]["setup_tests"] if t["status"] == "FAILED"]
    assert failed["message"] == "refused: key=****** secret=****** Authorization: Basic ******"
    assert "refused: key=****** secret=******" in outcome.history


def test_control_characters_are_kept_visible_in_junit(hostile: Served) -> None:
    """Characters XML forbids are written as visible escapes; the ones it allows stay as they are."""
    outcome = _everything(hostile, "c2", "TEST")
    [case] = ET.fromstring(outcome.junit.encode()).iter("testcase")
    assert (
        case.get("name")
        == "T\\x00\\x01\\x02\\x03\\x04\\x05\\x06\\x07\\x08\t\n\\x0b\\x0c\r"
        + "".join(f"\\x{c:02x}" for c in range(14, 32))
        + "\x7f\\ufffe"
    )
