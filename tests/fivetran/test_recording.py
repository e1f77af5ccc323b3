"""The orchestrator records its own runs in pipeline_runs, task_runs and operations (the Orchestra tables)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import duckdb
import pytest

from eltops.errors import ExitCode
from eltops.history import pipeline_status, task_status
from tests.fivetran.conftest import SECRETS, Served

GITLAB = {
    "GITLAB_CI": "true",
    "CI_PROJECT_PATH": "acme/analytics",
    "CI_PIPELINE_ID": "4711",
    "CI_PIPELINE_URL": "https://gitlab.example.com/acme/analytics/-/pipelines/4711",
    "CI_COMMIT_REF_NAME": "main",
    "CI_COMMIT_SHA": "9fceb02d0ae598e95dc970b74767f19372d61af8",
    "CI_JOB_ID": "101",
    "CI_JOB_NAME": "fivetran-start",
}


def _rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` on the warehouse, waiting while another process holds the file."""
    for _ in range(100):
        try:
            con = duckdb.connect(str(db), read_only=True)
        except duckdb.IOException:
            time.sleep(0.1)
            continue
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()
    raise AssertionError(f"{db} stayed locked")


def test_a_run_records_pipeline_task_and_operations(served: Served) -> None:
    """A START of two connections in GitLab writes one pipeline run, one task run and one operation each."""
    db = served.tmp / "history.duckdb"
    result = served.run("fivetran", env=served.env(**GITLAB, CONNECTOR_ID="good,bad", ELTOPS_WAREHOUSE=str(db)))
    assert result.code == 1
    [pipeline] = _rows(
        db, "SELECT id, pipeline_name, run_status, branch, commit, completed_at, message FROM pipeline_runs"
    )
    assert uuid.UUID(pipeline[0])
    assert pipeline[1:5] == ("acme/analytics", "FAILED", "main", GITLAB["CI_COMMIT_SHA"])
    assert pipeline[5] is not None
    assert pipeline[6].startswith("Task 'fivetran-start' failed: bad: failed: the sync failed")
    [task] = _rows(
        db,
        "SELECT pipeline_run_id, task_name, integration, integration_job, status, external_status, message, "
        "platform_link, connection_id, task_parameters->>'action', run_parameters->>'pipeline_url', "
        "external_message FROM task_runs",
    )
    assert task[0] == pipeline[0]
    assert task[1:6] == ("fivetran-start", "FIVETRAN", "START", "FAILED", "failed")
    assert "bad: failed: the sync failed" in task[6]
    assert task[7:] == (
        "https://fivetran.com/dashboard/connectors/bad",  # the connection a person has to look at
        "good,bad",
        "START",
        GITLAB["CI_PIPELINE_URL"],
        None,  # Fivetran itself said nothing (no status.tasks or warnings): not a copy of eltops' message
    )
    operations = _rows(
        db,
        "SELECT external_id, operation_name, operation_type, operation_status, external_status, integration, "
        "integration_job, operation_duration > 0, task_run_id = (SELECT id FROM task_runs), "
        "started_at <= completed_at, external_detail LIKE 'service=%; schema=' || "
        "CASE external_id WHEN 'good' THEN 'shop_db' ELSE 'crm' END || '; group_id=group_1; %' "
        "FROM operations ORDER BY external_id",
    )
    assert operations == [
        ("bad", "sync bad", "INGESTION", "FAILED", "scheduled", "FIVETRAN", "START", True, True, True, True),
        ("good", "sync good", "INGESTION", "SUCCEEDED", "scheduled", "FIVETRAN", "START", True, True, True, True),
    ]


def test_jobs_of_one_pipeline_share_its_row(served: Served) -> None:
    """Two jobs of one CI pipeline write one pipeline run whose status sums up both task runs."""
    db = served.tmp / "history.duckdb"
    env = served.env(**GITLAB, ELTOPS_WAREHOUSE=str(db))
    assert served.run("fivetran", env={**env, "CONNECTOR_ID": "good"}).code == 0
    assert _rows(db, "SELECT run_status, message FROM pipeline_runs") == [("SUCCEEDED", "Pipeline run succeeded")]
    bad_job = {"CONNECTOR_ID": "bad", "CI_JOB_ID": "102", "CI_JOB_NAME": "fivetran-crm"}
    assert served.run("fivetran", env={**env, **bad_job}).code == 1
    [(status, message)] = _rows(db, "SELECT run_status, message FROM pipeline_runs")
    assert status == "FAILED"
    assert message.startswith("Task 'fivetran-crm' failed: bad: failed: the sync failed")
    assert served.run("fivetran", env={**env, "CONNECTOR_ID": "good", "CI_JOB_ID": "103"}).code == 0
    assert _rows(db, "SELECT run_status, message FROM pipeline_runs") == [("FAILED", message)]  # still says why
    assert _rows(db, "SELECT count(*), count(DISTINCT id) FROM task_runs") == [(3, 3)]


def test_a_rerun_updates_rows_in_place(served: Served) -> None:
    """Running the same job again updates its rows instead of adding new ones."""
    db = served.tmp / "history.duckdb"
    env = served.env(**GITLAB, ELTOPS_WAREHOUSE=str(db))
    for _ in range(2):
        assert served.run("fivetran", env=env).code == 0
    counts = [_rows(db, f"SELECT count(*) FROM {t}")[0][0] for t in ("pipeline_runs", "task_runs", "operations")]
    assert counts == [1, 1, 1]


def test_a_timeout_records_an_unknown_operation(served: Served) -> None:
    """A timed-out sync is an UNKNOWN operation (it goes on in Fivetran) and a FAILED task run."""
    db = served.tmp / "history.duckdb"
    env = served.env(CONNECTOR_ID="slow", FIVETRAN_TIMEOUT="3", ELTOPS_WAREHOUSE=str(db))
    assert served.run("fivetran", env=env).code == 3
    assert _rows(db, "SELECT operation_status FROM operations") == [("UNKNOWN",)]
    assert _rows(db, "SELECT status, external_status FROM task_runs") == [("FAILED", "timed out")]


@pytest.mark.parametrize(("action", "operations"), [("STATUS", 0), ("TEST", 1)])
def test_operations_per_action(served: Served, action: str, operations: int) -> None:
    """STATUS records no operation; TEST records one of type TEST per connection."""
    db = served.tmp / "history.duckdb"
    served.run("fivetran", env=served.env(FIVETRAN_ACTION=action, ELTOPS_WAREHOUSE=str(db)))
    assert _rows(db, "SELECT count(*) FROM operations") == [(operations,)]
    if operations:
        assert _rows(db, "SELECT operation_type FROM operations") == [("TEST",)]


def test_outside_ci_each_run_is_its_own_pipeline(served: Served) -> None:
    """Without CI variables every run is a new local pipeline run with a random UUID."""
    db = served.tmp / "history.duckdb"
    for _ in range(2):
        served.run("fivetran", "--record-to", str(db))
    assert _rows(db, "SELECT count(DISTINCT id), min(pipeline_name) FROM pipeline_runs") == [(2, "eltops (local)")]


def test_github_actions_run(served: Served) -> None:
    """In GitHub Actions the workflow run is the pipeline run, with its URL and attempt."""
    db = served.tmp / "history.duckdb"
    github = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_REPOSITORY": "acme/analytics",
        "GITHUB_WORKFLOW": "nightly",
        "GITHUB_RUN_ID": "99",
        "GITHUB_RUN_ATTEMPT": "2",
        "GITHUB_JOB": "ingest",
        "GITHUB_REF_NAME": "main",
        "GITHUB_SHA": "abc123",
    }
    served.run("fivetran", env=served.env(**github, ELTOPS_WAREHOUSE=str(db)))
    assert _rows(db, "SELECT pipeline_name, branch FROM pipeline_runs") == [("acme/analytics: nightly", "main")]
    assert _rows(db, "SELECT task_name, number_of_attempts, run_parameters->>'job_url' FROM task_runs") == [
        ("ingest: fivetran START", 2, "https://github.com/acme/analytics/actions/runs/99/attempts/2")
    ]


def test_no_secret_reaches_the_warehouse(served: Served) -> None:
    """Not one recorded value holds the API key, the secret or the Basic auth header."""
    db = served.tmp / "history.duckdb"
    served.run("fivetran", env=served.env(**GITLAB, CONNECTOR_ID="good,bad", ELTOPS_WAREHOUSE=str(db)))
    for table in ("pipeline_runs", "task_runs", "operations"):
        text = str(_rows(db, f"SELECT * FROM {table}"))
        for secret in SECRETS:
            assert secret not in text


def test_an_unusable_warehouse_warns_and_keeps_the_exit_code(served: Served) -> None:
    """A warehouse that cannot be opened is a warning; the job still succeeds."""
    broken = served.tmp / "broken.duckdb"
    broken.write_bytes(b"this is not a database" * 100)
    result = served.run("fivetran", env=served.env(ELTOPS_WAREHOUSE=str(broken)))
    assert result.code == 0
    assert "could not record" in result.stderr
    assert "the sync succeeded" in result.stderr


@pytest.mark.parametrize("target", ["mysql://db/x", "/nonexistent/dir/history.duckdb"])
def test_a_malformed_warehouse_is_exit_2_before_any_request(served: Served, target: str) -> None:
    """A warehouse name that cannot work is exit 2, and no request reaches Fivetran."""
    result = served.run("fivetran", env=served.env(ELTOPS_WAREHOUSE=target))
    assert result.code == 2
    assert served.emulator.requests == []


def test_sigterm_leaves_a_cancelled_row(served: Served) -> None:
    """A job cancelled by SIGTERM while waiting records CANCELLED, an operation per sync, and says what goes on."""
    db = served.tmp / "history.duckdb"
    env = served.env(**GITLAB, CONNECTOR_ID="slow,good", ELTOPS_WAREHOUSE=str(db), FIVETRAN_TIMEOUT="120")
    proc = subprocess.Popen(
        [sys.executable, "-m", "eltops", "fivetran"],
        env=env,
        cwd=served.tmp,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if db.exists() and _rows(db, "SELECT status FROM task_runs") == [("RUNNING",)]:
                break
            time.sleep(0.2)
        time.sleep(1)  # let the orchestrator reach its wait
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=15)
    finally:
        proc.kill()
    assert proc.returncode == 143, stderr
    assert _rows(db, "SELECT status FROM task_runs") == [("CANCELLED",)]
    assert _rows(db, "SELECT run_status FROM pipeline_runs") == [("CANCELLED",)]
    operations = _rows(db, "SELECT external_id, operation_status FROM operations ORDER BY external_id")
    assert operations == [("good", "SUCCEEDED"), ("slow", "CANCELLED")]
    assert "Terminated (SIGTERM): eltops stopped waiting; a sync it started goes on in Fivetran" in stderr
    assert "eltops fivetran status --connector-id slow,good" in stderr


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([], "CREATED"),
        (["SUCCEEDED"], "SUCCEEDED"),
        (["SUCCEEDED", "FAILED"], "FAILED"),
        (["FAILED", "RUNNING"], "RUNNING"),
        (["SUCCEEDED", "CANCELLED"], "CANCELLED"),
        (["SUCCEEDED", "WARNING"], "WARNING"),
    ],
)
def test_pipeline_status_sums_up_its_tasks(statuses: list[str], expected: str) -> None:
    """A pipeline run is running while any task runs, else failed, cancelled, warning or succeeded."""
    assert pipeline_status(statuses) == expected


@pytest.mark.parametrize(
    ("code", "cancelled", "expected"),
    [
        (None, False, "RUNNING"),
        (ExitCode.OK, False, "SUCCEEDED"),
        (ExitCode.TIMEOUT, False, "FAILED"),
        (ExitCode.API, False, "FAILED"),
        (None, True, "CANCELLED"),
    ],
)
def test_task_status(code: ExitCode | None, cancelled: bool, expected: str) -> None:
    """A task run's status follows the job's exit code, or its cancellation."""
    assert task_status(code, cancelled=cancelled) == expected


@pytest.mark.parametrize(
    ("status", "external_message", "detail_tail"),
    [
        ({"tasks": [], "warnings": []}, None, "failed_at=null"),
        (
            {"tasks": [{"code": "reconnect", "message": "Reconnect the source"}], "warnings": []},
            "shop: reconnect: Reconnect the source",
            "fivetran says: reconnect: Reconnect the source",
        ),
        (
            {"tasks": [], "warnings": [{"code": "table_skipped", "message": "orders has no primary key"}]},
            "shop: table_skipped: orders has no primary key",
            "fivetran says: table_skipped: orders has no primary key",
        ),
    ],
)
def test_fivetran_own_words_land_in_the_external_columns(
    status: dict[str, Any], external_message: str | None, detail_tail: str
) -> None:
    """The task run's external_message and the operation's detail carry Fivetran's tasks and warnings, nothing else."""
    from datetime import UTC, datetime

    from eltops.fivetran import Action, Connection, ConnectionResult, FlagValues, JobResult, load_settings
    from eltops.history import detect_ci_run
    from eltops.history._records import operations, task_run

    env = {**GITLAB, "FIVETRAN_API_KEY": "k" * 8, "FIVETRAN_API_SECRET": "s" * 8}
    settings = load_settings(env, FlagValues(action="START", connector_ids=("shop",)))
    ci = detect_ci_run(env, job_label="fivetran START")
    when = datetime(2026, 1, 1, tzinfo=UTC)
    connection = Connection.from_api(
        {
            "id": "shop",
            "group_id": "g",
            "service": "postgres",
            "schema": "shop_db",
            "status": {"sync_state": "scheduled", **status},
        }
    )
    result = ConnectionResult("shop", "shop", ExitCode.OK, "the sync succeeded", when, when, connection)
    job = JobResult(Action.START, (result,), when, when)
    task = task_run(ci, settings, status="SUCCEEDED", message="shop: ok", started_at=when, now=when, job=job)
    assert (task.message, task.external_message) == ("shop: ok", external_message)
    [operation] = operations(ci, job)
    assert operation.operation_name == "sync shop"
    assert operation.external_detail is not None
    assert operation.external_detail.startswith("service=postgres; schema=shop_db; group_id=g; sync_state=scheduled")
    assert operation.external_detail.endswith(detail_tail)
