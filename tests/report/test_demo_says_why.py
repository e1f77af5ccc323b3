"""The demo shows a failed sync with its reason, in its log and in the run history it records."""

from __future__ import annotations

import duckdb

from tests.report.conftest import DemoRun

REASON = "Salesforce rejected the connection's OAuth token (INVALID_SESSION_ID)"


def test_the_demo_failure_says_why(demo_run: DemoRun) -> None:
    """demo_crm's failure names Fivetran's reason and what to do, in the log and in the task run's message."""
    lines = [line for line in demo_run.stderr.splitlines() if "demo_crm" in line and "the sync failed" in line]
    assert any(REASON in line and "what to do: Re-authorize the connection" in line for line in lines), lines
    con = duckdb.connect(str(demo_run.db), read_only=True)
    try:
        messages = [
            m for (m,) in con.execute("SELECT message FROM operations WHERE external_id = 'demo_crm'").fetchall()
        ]
    finally:
        con.close()
    assert messages
    assert all(REASON in message for message in messages)
