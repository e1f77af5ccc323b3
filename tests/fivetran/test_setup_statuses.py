"""Every setup-test status the 2026 definition documents has a defined outcome, named in the log and the JUnit file."""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET

import pytest

from eltops.errors import ExitCode
from eltops.fivetran import junit_cases
from eltops.fivetran.emulator import ConnectionScript, SetupTest
from tests.fivetran.conftest import Harness, Served


def _tests(*statuses: str) -> ConnectionScript:
    return ConnectionScript(
        setup_tests=tuple(SetupTest(f"{s.lower()} check", s, f"{s.lower()} says") for s in statuses)
    )


@pytest.mark.parametrize(
    ("statuses", "allow", "code", "summary"),
    [
        (("PASSED",), "", ExitCode.OK, "1 passed, 0 failed"),
        (("PASSED", "FAILED"), "", ExitCode.REMOTE_FAILED, "1 passed, 1 failed"),
        (("PASSED", "JOB_FAILED"), "WARNING,SKIPPED", ExitCode.REMOTE_FAILED, "1 passed, 1 failed"),
        (("WARNING",), "", ExitCode.REMOTE_FAILED, "0 passed, 1 failed"),
        (("SKIPPED",), "", ExitCode.REMOTE_FAILED, "0 passed, 1 failed"),
        (("PASSED", "WARNING"), "WARNING", ExitCode.OK, "1 passed, 1 accepted (WARNING), 0 failed"),
        (("SKIPPED", "WARNING"), "WARNING", ExitCode.REMOTE_FAILED, "0 passed, 1 accepted (WARNING), 1 failed"),
        (("SKIPPED", "WARNING"), "SKIPPED,WARNING", ExitCode.OK, "0 passed, 2 accepted (SKIPPED, WARNING), 0 failed"),
        (("MYSTERY",), "WARNING,SKIPPED", ExitCode.REMOTE_FAILED, "0 passed, 1 failed"),
    ],
)
def test_each_status_has_its_outcome(
    harness: Harness, statuses: tuple[str, ...], allow: str, code: ExitCode, summary: str
) -> None:
    """PASSED passes; FAILED and JOB_FAILED fail; WARNING and SKIPPED fail unless accepted; unknown ones fail."""
    harness.connection("conn_a", script=_tests(*statuses))
    [result] = harness.run(FIVETRAN_ACTION="TEST", FIVETRAN_TEST_ALLOW=allow).results
    assert result.exit_code is code, result.message
    assert summary in result.message


def test_a_failing_warning_says_how_to_accept_it(harness: Harness) -> None:
    """A WARNING or SKIPPED that fails the job names the variable that would accept it; FAILED gets no such hint."""
    harness.connection("conn_a", script=_tests("FAILED", "WARNING", "SKIPPED"))
    [result] = harness.run(FIVETRAN_ACTION="TEST").results
    assert result.message.endswith("; to accept SKIPPED and WARNING, set FIVETRAN_TEST_ALLOW=SKIPPED,WARNING (--allow)")
    harness.emulator.script("conn_a", setup_tests=_tests("FAILED").setup_tests)
    [result] = harness.run(FIVETRAN_ACTION="TEST").results
    assert "FIVETRAN_TEST_ALLOW" not in result.message


def test_job_failed_is_named_for_what_it_means(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    """JOB_FAILED is said as the test job itself failing, in the message and the JUnit failure."""
    harness.connection("conn_a", script=_tests("PASSED", "JOB_FAILED"))
    with caplog.at_level(logging.INFO, logger="eltops"):
        job = harness.run(FIVETRAN_ACTION="TEST")
    assert "job_failed check [JOB_FAILED: the test job itself failed]: job_failed says" in job.results[0].message
    failures = [case.failure for case in junit_cases(job) if case.failure]
    assert failures == ["JOB_FAILED (the setup test job itself failed): job_failed says"]
    assert any("JOB_FAILED" in r.getMessage() and "job_failed check" in r.getMessage() for r in caplog.records)


def test_accepted_statuses_are_named_in_the_log_and_junit(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    """An accepted WARNING is a passing JUnit case that says it was accepted, and its log line says so too."""
    harness.connection("conn_a", script=_tests("PASSED", "WARNING"))
    with caplog.at_level(logging.INFO, logger="eltops"):
        job = harness.run(FIVETRAN_ACTION="TEST", FIVETRAN_TEST_ALLOW="WARNING")
    [_, warned] = junit_cases(job)
    assert warned.failure is None
    assert warned.output == "WARNING: warning says (accepted: FIVETRAN_TEST_ALLOW)"
    assert any("warning check: warning says (accepted: FIVETRAN_TEST_ALLOW)" in r.getMessage() for r in caplog.records)


def test_repair_setup_accepts_what_is_allowed(harness: Harness) -> None:
    """--repair-setup goes on when the setup tests repair the setup, naming only the tests not accepted otherwise."""
    script = ConnectionScript(
        sync_seconds=3, repair_on_test=True, setup_tests=(SetupTest("binlog", "WARNING", "short retention"),)
    )
    harness.connection("conn_a", setup_state="broken", script=script)
    [result] = harness.run(FIVETRAN_ACTION="START", FIVETRAN_REPAIR_SETUP="1", FIVETRAN_TEST_ALLOW="WARNING").results
    assert result.ok, result.message


def test_the_command_with_allow(served: Served) -> None:
    """The real command: --allow WARNING turns the `tested` connection's WARNING into a pass; FAILED still fails."""
    report = served.tmp / "junit.xml"
    result = served.run(
        "fivetran", "test", "--connector-id", "tested", "--allow", "WARNING", "--junit", str(report), env=served.env()
    )
    assert result.code == 1
    assert "1 passed, 1 accepted (WARNING), 1 failed" in result.stderr
    suite = ET.parse(report).getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures")) == ("3", "1")
