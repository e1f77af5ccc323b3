"""End to end: the real ``eltops orchestra run`` against the Orchestra emulator over a real socket."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import httpx
import pytest

from eltops._serve import RunningServer, serve_in_thread
from eltops.orchestra.emulator import BASE_PATH, OrchestraEmulator, PipelineScript, TaskScript, Volume

API_KEY = "orch-run-key-7f3e1b"
SPEED = 60.0  # emulator seconds per real second: a 30 s task takes half a second
LONG_LOG = "".join(f"dbt line {i:04d}\n" for i in range(2000)) + "Database Error in model fct_orders\n"
PIPELINES = (
    PipelineScript(
        "nightly",
        "Nightly marts",
        (
            TaskScript("sync", "Sync shop", "FIVETRAN", 20, log="synced\n"),
            TaskScript("build", "dbt build", "DBT_CORE", 20, log="PASS=24\n"),
        ),
    ),
    PipelineScript(
        "broken",
        "Broken marts",
        (
            TaskScript("sync", "Sync shop", "FIVETRAN", 10),
            TaskScript("build", "dbt build finance", "DBT_CORE", 20, "FAILED", log=LONG_LOG),
            TaskScript("publish", "Publish", "PYTHON", 5),
        ),
    ),
    PipelineScript("warned", "Warned marts", (TaskScript("test", "dbt test", "DBT_CORE", 20, "WARNING"),)),
    PipelineScript("endless", "Endless", (TaskScript("backfill", "Backfill", "PYTHON", None),)),
)


class FastClock:
    """The emulator's clock: an hour ago, moving ``SPEED`` times faster than the real one.

    It starts behind the real clock so that, over a test's minute, the runs it starts are never in the future of the
    loader's window (which ends at the local clock, as a real API's clock would be).
    """

    def __init__(self) -> None:
        self.origin = datetime.now(UTC) - timedelta(hours=1)
        self.started = time.monotonic()
        self.lock = threading.Lock()

    def __call__(self) -> datetime:
        with self.lock:
            return self.origin + timedelta(seconds=(time.monotonic() - self.started) * SPEED)


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str


@dataclass
class Served:
    emulator: OrchestraEmulator
    server: RunningServer
    tmp: Path

    def env(self, **extra: str) -> dict[str, str]:
        base = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(self.tmp),
            "ORCHESTRA_API_URL": self.server.url + BASE_PATH,
            "ORCHESTRA_API_KEY": API_KEY,
            "ORCHESTRA_RATE_LIMIT": "0",
            "ORCHESTRA_POLL_INTERVAL": "0.1",
            "ORCHESTRA_TIMEOUT": "60",
        }
        return {**base, **extra}

    def run(self, *args: str, env: dict[str, str] | None = None) -> Run:
        proc = subprocess.run(
            [sys.executable, "-m", "eltops", *args],
            env=env if env is not None else self.env(),
            capture_output=True,
            text=True,
            timeout=120,
            cwd=self.tmp,
            check=False,
        )
        assert API_KEY not in proc.stdout + proc.stderr, "the API key leaked into the output"
        return Run(proc.returncode, proc.stdout, proc.stderr)

    def paths(self, method: str | None = None) -> list[str]:
        return [r.path for r in self.emulator.requests if method is None or r.method == method]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    emulator = OrchestraEmulator(
        api_key=API_KEY, seed=3, volume=Volume(task_runs=40, days=1), now=FastClock(), pipelines=PIPELINES
    )
    with serve_in_thread(emulator.wsgi_app) as server:
        yield Served(emulator, server, tmp_path)


def _started_body(served: Served) -> dict[str, object]:
    """The JSON body of the one start request the emulator saw."""
    (run,) = served.emulator.runbook.runs()
    request = run.request
    return {"branch": request.branch, "commit": request.commit, "ciRunId": request.ci_run_id}


def test_success_exit_0_with_a_summary_table(served: Served) -> None:
    """A pipeline that succeeds is exit 0; each task's status change is logged once and the summary lists tasks."""
    result = served.run("orchestra", "run", "nightly")
    assert result.code == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr.count("task Sync shop (FIVETRAN): RUNNING → SUCCEEDED") == 1
    assert "Orchestra run " in result.stderr
    assert "SUCCEEDED" in result.stderr
    assert "/pipeline-runs/" in result.stderr
    summary = [line for line in result.stderr.splitlines() if line.startswith("dbt build")]
    assert summary
    assert "DBT_CORE" in summary[0]


def test_failure_shows_the_failed_tasks_log_tail(served: Served) -> None:
    """A failed task is exit 1; the end of its log is shown, bounded, with a note of how much was cut."""
    result = served.run("orchestra", "run", "broken", env=served.env(ORCHESTRA_LOG_TAIL_BYTES="200"))
    assert result.code == 1, result.stderr
    assert "Database Error in model fct_orders" in result.stderr
    assert "dbt line 0000" not in result.stderr
    assert "bytes cut" in result.stderr
    assert "Log of failed task dbt build finance" in result.stderr
    assert "task dbt build finance (DBT_CORE) failed" in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, errors  # one Error: line, the last
    assert result.stderr.rstrip().splitlines()[-1] == errors[0]
    assert any("Range" in str(r) or r.path.endswith("/logs/download") for r in served.emulator.requests)


def test_the_links_it_prints_and_hands_out_open_pages_the_emulator_serves(served: Served) -> None:
    """The run link `orchestra run` prints and each task's platformLink open the emulator's page of that run (HTML,
    the task marked; JSON on request); an unknown run's page is a 404 that says why."""
    result = served.run("orchestra", "run", "broken")
    assert result.code == 1, result.stderr
    (link,) = re.findall(r"^  (http://\S+/lineage)$", result.stderr, flags=re.MULTILINE)
    assert link.startswith(served.server.url)
    page = httpx.get(link)
    assert page.status_code == 200
    assert "text/html" in page.headers["Content-Type"]
    assert "Broken pipeline: FAILED" in page.text or ": FAILED</h1>" in page.text
    as_json = httpx.get(link, headers={"Accept": "application/json"}).json()
    assert as_json["pipelineRun"]["runStatus"] == "FAILED"
    links = [t["platformLink"] for t in as_json["taskRuns"] if t["platformLink"]]
    assert links
    for task_link in links:
        assert task_link.startswith(served.server.url), task_link
        task_page = httpx.get(task_link)
        assert task_page.status_code == 200
        chosen = task_link.rsplit("taskRunId=", 1)[1]
        assert f'<tr id="{chosen}" class=chosen>' in task_page.text
    missing = httpx.get(
        link.replace(served.emulator.runbook.run_id(served.emulator.runbook.runs()[0]), str(uuid.uuid4()))
    )
    assert missing.status_code == 404
    assert "started on this emulator" in missing.text


def test_warning_is_exit_0_with_a_warning_line_unless_asked_to_fail(served: Served) -> None:
    """WARNING succeeds with a warning line; --fail-on-warning makes it exit 1."""
    result = served.run("orchestra", "run", "warned")
    assert result.code == 0, result.stderr
    assert "Warning: the run ended with warnings" in result.stderr
    assert served.run("orchestra", "run", "warned", "--fail-on-warning").code == 1


def test_timeout_cancels_the_run(served: Served) -> None:
    """At the deadline the run is cancelled (POST .../cancel), the job says so and exits 3."""
    result = served.run("orchestra", "run", "endless", env=served.env(ORCHESTRA_TIMEOUT="2"))
    assert result.code == 3, result.stderr
    assert "eltops cancelled it" in result.stderr
    assert [p for p in served.paths("POST") if p.endswith("/cancel")]
    (run,) = served.emulator.runbook.runs()
    assert run.cancelled_at is not None


def test_timeout_can_leave_the_run_going(served: Served) -> None:
    """With ORCHESTRA_CANCEL_ON_TIMEOUT=false the deadline is exit 3 and no cancel is sent."""
    env = served.env(ORCHESTRA_TIMEOUT="1.5", ORCHESTRA_CANCEL_ON_TIMEOUT="false")
    result = served.run("orchestra", "run", "endless", env=env)
    assert result.code == 3
    assert "it goes on in Orchestra" in result.stderr
    assert not [p for p in served.paths("POST") if p.endswith("/cancel")]


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_sigterm_and_ctrl_c_cancel_the_run(served: Served, sig: signal.Signals, code: int) -> None:
    """When CI cancels the job (SIGTERM) or on Ctrl-C, eltops cancels the Orchestra run before it exits."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "eltops", "orchestra", "run", "endless"],
        env=served.env(),
        cwd=served.tmp,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not [p for p in served.paths("GET") if p.endswith("/task_runs")]:
            time.sleep(0.05)
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == code, stderr
    assert "cancel requested" in stderr
    assert API_KEY not in stderr
    (run,) = served.emulator.runbook.runs()
    assert run.cancelled_at is not None


def test_api_errors_are_retried_then_exit_4(served: Served) -> None:
    """5xx answers are retried and the run still succeeds; a lasting 500 is exit 4 naming the call."""
    served.emulator.fail_next(503, count=2)
    assert served.run("orchestra", "run", "nightly").code == 0
    served.emulator.fail_next(500, count=1000)
    result = served.run("orchestra", "run", "nightly", env=served.env(ORCHESTRA_TIMEOUT="3"))
    assert result.code == 4, result.stderr
    assert "HTTP 500" in result.stderr


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        ((), {}, "ORCHESTRA_PIPELINE is required"),
        (("nightly", "--run-inputs", "{oops"), {}, "--run-inputs must be a JSON object"),
        (("nightly",), {"ORCHESTRA_RUN_INPUTS": "[1, 2]"}, "ORCHESTRA_RUN_INPUTS must be a JSON object"),
        (("nightly",), {"ORCHESTRA_TIMEOUT": "soon"}, "ORCHESTRA_TIMEOUT must be a number"),
        (("nightly", "--timeout", "-5"), {}, "must be a positive number"),
        (("nightly",), {"ORCHESTRA_API_KEY": ""}, "ORCHESTRA_API_KEY is not set"),
        (("nightly",), {"ORCHESTRA_LOG_TAIL_BYTES": "lots"}, "ORCHESTRA_LOG_TAIL_BYTES"),
        (("nightly",), {"ELTOPS_WAREHOUSE": "mysql://db/x"}, "mysql"),
    ],
)
def test_bad_input_is_exit_2_before_any_request(
    served: Served, args: tuple[str, ...], env: dict[str, str], message: str
) -> None:
    """Bad input is exit 2 with a message naming it, and no request reaches the API."""
    result = served.run("orchestra", "run", *args, env=served.env(**env))
    assert result.code == 2, result.stderr
    assert message in result.stderr
    assert served.emulator.requests == []


def test_unknown_pipeline_is_exit_4_naming_it(served: Served) -> None:
    """A pipeline Orchestra does not know is the API's 404: exit 4 with a message naming the pipeline."""
    result = served.run("orchestra", "run", "ghost")
    assert result.code == 4
    assert "Orchestra knows no pipeline 'ghost'" in result.stderr


def test_wrong_key_is_exit_4(served: Served) -> None:
    """A wrong key is the API's 401: exit 4, and the key is not printed."""
    result = served.run("orchestra", "run", "nightly", env=served.env(ORCHESTRA_API_KEY="wrong-key-123456"))
    assert result.code == 4
    assert "HTTP 401" in result.stderr
    assert "wrong-key-123456" not in result.stderr


def test_flags_beat_variables_and_ci_defaults_fill_the_body(served: Served) -> None:
    """Branch, commit and ciRunId come from GitHub's variables; the PIPELINE argument beats ORCHESTRA_PIPELINE."""
    env = served.env(
        ORCHESTRA_PIPELINE="endless",
        GITHUB_ACTIONS="true",
        GITHUB_REF_NAME="main",
        GITHUB_SHA="abc123",
        GITHUB_RUN_ID="987",
    )
    assert served.run("orchestra", "run", "nightly", env=env).code == 0
    assert _started_body(served) == {"branch": "main", "commit": "abc123", "ciRunId": "987"}
    assert served.emulator.runbook.runs()[0].pipeline.alias == "nightly"


def test_gitlab_output_sections_and_dotenv(served: Served) -> None:
    """In GitLab CI the log is in collapsible sections, CI_PIPELINE_ID is the ciRunId, outputs go to the dotenv file."""
    dotenv = served.tmp / "orchestra.env"
    env = served.env(
        GITLAB_CI="true",
        CI_PIPELINE_ID="555",
        CI_COMMIT_REF_NAME="dev",
        CI_COMMIT_SHA="f00",
        ELTOPS_DOTENV_FILE=str(dotenv),
    )
    result = served.run("orchestra", "run", "broken", env=env)
    assert result.code == 1
    assert "section_start:" in result.stderr
    assert ":orchestra_log_build[collapsed=true]" in result.stderr
    assert "Log of failed task dbt build finance" in result.stderr
    assert _started_body(served) == {"branch": "dev", "commit": "f00", "ciRunId": "555"}
    values = dict(line.split("=", 1) for line in dotenv.read_text().splitlines())
    assert values["ORCHESTRA_RUN_STATUS"] == "FAILED"
    assert values["ORCHESTRA_PIPELINE_RUN_ID"] == served.emulator.runbook.run_id(served.emulator.runbook.runs()[0])
    assert values["ORCHESTRA_RUN_LINK"].endswith("/lineage")


def test_github_groups_annotations_summary_and_outputs(served: Served) -> None:
    """In GitHub Actions: groups, an ::error:: annotation per failed task, a step summary and step outputs."""
    summary, outputs = served.tmp / "summary.md", served.tmp / "outputs"
    env = served.env(GITHUB_ACTIONS="true", GITHUB_STEP_SUMMARY=str(summary), GITHUB_OUTPUT=str(outputs))
    result = served.run("orchestra", "run", "broken", env=env)
    assert result.code == 1
    assert "::group::Log of failed task dbt build finance" in result.stderr
    assert "::error title=Orchestra Broken marts: dbt build finance::" in result.stderr
    assert "| dbt build finance | DBT_CORE | FAILED |" in summary.read_text()
    assert "ORCHESTRA_RUN_STATUS=FAILED" in outputs.read_text()


def test_json_and_junit(served: Served) -> None:
    """--json prints one result object; --junit writes one test case per task run, the failed one failing."""
    junit = served.tmp / "orchestra.xml"
    result = served.run("orchestra", "run", "broken", "--json", "--junit", str(junit))
    assert result.code == 1
    body = json.loads(result.stdout)
    assert body["status"] == "FAILED"
    assert body["exitCode"] == 1
    assert [t["status"] for t in body["taskRuns"]] == ["SUCCEEDED", "FAILED", "SKIPPED"]
    assert "fct_orders" in body["taskRuns"][1]["logTail"]
    cases = ET.parse(junit).getroot().findall(".//testcase")
    assert [c.get("name") for c in cases] == ["Sync shop", "dbt build finance", "Publish"]
    assert [c.find("failure") is not None for c in cases] == [False, True, False]
    assert [c.find("skipped") is not None for c in cases] == [False, False, True]  # SKIPPED is not a pass
    assert ET.parse(junit).getroot().get("skipped") == "1"


def test_no_wait_only_starts(served: Served) -> None:
    """--no-wait starts the run, prints its id and exits 0 without polling."""
    result = served.run("orchestra", "run", "endless", "--no-wait", "--json")
    assert result.code == 0
    assert json.loads(result.stdout)["status"] == "CREATED"
    assert not [p for p in served.paths() if p.endswith("/status")]


def test_recording_lines_up_with_a_later_load(served: Served) -> None:
    """With a warehouse, the job records itself; its operation's external id is the run a later load reads."""
    db = served.tmp / "history.duckdb"
    env = served.env(ELTOPS_WAREHOUSE=str(db), GITLAB_CI="true", CI_PIPELINE_ID="77", CI_PROJECT_PATH="acme/data")
    assert served.run("orchestra", "run", "nightly", env=env).code == 0
    assert served.run("orchestra", "load", "pipeline-runs", "--to", str(db), env=served.env()).code == 0
    with duckdb.connect(str(db), read_only=True) as con:
        task = con.execute(
            "SELECT status, integration, integration_job FROM task_runs WHERE integration = 'ORCHESTRA'"
        ).fetchall()
        joined = con.execute(
            "SELECT o.operation_status, p.run_status, p.pipeline_name FROM operations o "
            "JOIN pipeline_runs p ON p.id = o.external_id WHERE o.integration = 'ORCHESTRA'"
        ).fetchall()
    assert task == [("SUCCEEDED", "ORCHESTRA", "RUN_PIPELINE")]
    assert joined == [("SUCCEEDED", "SUCCEEDED", "Nightly marts")]


def test_no_secret_in_any_output_at_any_verbosity(served: Served) -> None:
    """At -vv, with a vault key, the key appears nowhere: stdout, stderr, JUnit, JSON, step outputs."""
    vault = served.tmp / "vault.yml"
    vault.write_text(f"ORCHESTRA:\n  KEY: {API_KEY}\n")
    junit, outputs = served.tmp / "j.xml", served.tmp / "out"
    env = served.env(
        ORCHESTRA_API_KEY="DATAOPS_VAULT(ORCHESTRA.KEY)",
        DATAOPS_VAULT_FILE=str(vault),
        GITHUB_OUTPUT=str(outputs),
        ORCHESTRA_RUN_INPUTS=json.dumps({"echo": API_KEY}),
    )
    result = served.run("-vv", "orchestra", "run", "broken", "--json", "--junit", str(junit), env=env)
    assert result.code == 1, result.stderr
    assert "HTTP Request" in result.stderr  # -vv logs every request
    for text in (result.stdout, result.stderr, junit.read_text(), outputs.read_text()):
        assert API_KEY not in text
