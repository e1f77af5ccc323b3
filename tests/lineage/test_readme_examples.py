"""The lineage page's examples (docs/lineage.md), run as written: the terminal lines against the emulators, the CI
jobs' eltops steps as their CI would run them (the next step's dbt-ol stands in for the parent it would read)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from eltops._serve import RunningServer, serve_in_thread
from eltops.fivetran.emulator import (
    DEFAULT_API_KEY,
    DEFAULT_API_SECRET,
    DEMO_SCENARIO,
    ConnectionScript,
    FivetranEmulator,
)
from tests.lineage.conftest import Receiving, assert_valid
from tests.packaging._support import readme_block

README_URL = "http://127.0.0.1:8767"
SPEED = 10.0


@pytest.fixture
def fivetran() -> Iterator[RunningServer]:
    base = time.time()
    emulator = FivetranEmulator.from_scenario(DEMO_SCENARIO, clock=lambda: base + (time.time() - base) * SPEED)
    # the CI examples' connection, as the README names it
    emulator.add_connection(
        "shop_db",
        group_id="demo_warehouse",
        schema="shop_db",
        schedule_type="manual",
        tables={"public": ["orders", "customers"]},
        script=ConnectionScript(sync_seconds=5),
    )
    with serve_in_thread(emulator.wsgi_app) as server:
        yield server


def _env(fivetran: RunningServer, **extra: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "FIVETRAN_API_URL": fivetran.url,
        "FIVETRAN_API_KEY": DEFAULT_API_KEY,
        "FIVETRAN_API_SECRET": DEFAULT_API_SECRET,
        "FIVETRAN_POLL_INTERVAL": "0.2",
        **extra,
    }


def _eltops(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eltops", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_readme_terminal_example(fivetran: RunningServer, receiving: Receiving, tmp_path: Path) -> None:
    """Each line exits as its comment says and does what it says, the receiver standing in for port 8767."""
    block = readme_block("test_readme_terminal_example")
    lines = [line for line in block.splitlines() if line.strip()]
    assert len(lines) == 5
    for line in lines:
        words = shlex.split(line.replace(README_URL, receiving.url), comments=True)
        if words[0] == "curl":
            url = words[-1]
            assert url == f"{receiving.url}/api/v1/lineage"
            assert len(httpx.get(url).json()["events"]) == 4
            continue
        variables = dict(w.split("=", 1) for w in words if "=" in w and not w.startswith("-") and w[0].isupper())
        args = words[len(variables) + 1 :]
        code = int(re.search(r"# exit (\d)", line).group(1))  # type: ignore[union-attr]
        done = _eltops(args, _env(fivetran, **variables), tmp_path)
        assert done.returncode == code, done.stderr
        if "4 events" in line:
            events = receiving.events()
            assert [e["eventType"] for e in events].count("START") == 2
            assert len(events) == 4
            for event in events:
                assert_valid(event)
        if "lineage.jsonl" in line:
            assert len((tmp_path / "lineage.jsonl").read_text().splitlines()) == 2
        if "one warning" in line:
            assert done.stderr.count("OpenLineage:") == 1
        if "exit 2" in line:
            assert "OPENLINEAGE__TRANSPORT__TYPE" in done.stderr


def test_the_gitlab_two_job_example(fivetran: RunningServer, receiving: Receiving, tmp_path: Path) -> None:
    """The sync job's dotenv report carries the CI run as OPENLINEAGE_PARENT_ID, in the form dbt-ol splits; a later
    job that gets it (as GitLab hands it on) nests under the same CI run."""
    pipeline = yaml.safe_load(readme_block("test_the_gitlab_two_job_example"))
    ci = {"GITLAB_CI": "true", "CI_PROJECT_PATH": "acme/analytics", "CI_PIPELINE_ID": "4711"}
    variables = {
        k: str(v).replace("https://lineage.example.com", receiving.url) for k, v in pipeline["variables"].items()
    }
    sync = pipeline["fivetran-sync"]
    env = _env(fivetran, **variables, **ci, CI_JOB_ID="1", CI_JOB_NAME="fivetran-sync", **sync["variables"])
    (command,) = sync["script"]
    done = _eltops(shlex.split(command)[1:], env, tmp_path)
    assert done.returncode == 0, done.stderr
    report = tmp_path / sync["artifacts"]["reports"]["dotenv"]
    handed_on = dict(line.split("=", 1) for line in report.read_text().splitlines())
    parent = handed_on["OPENLINEAGE_PARENT_ID"]
    namespace, job, run_id = parent.split("/")  # dbt-ol's own parsing: exactly three parts
    assert namespace == "acme-ci"
    first = receiving.events()
    assert {e["run"]["facets"]["parent"]["root"]["run"]["runId"] for e in first} == {run_id}
    assert {e["run"]["facets"]["parent"]["root"]["job"]["name"] for e in first} == {job}
    # the next job: GitLab sets the dotenv's variables in it; an eltops step there hangs under the same CI run
    dbt = pipeline["dbt-build"]
    assert dbt["needs"] == ["fivetran-sync"]
    later = _env(fivetran, **variables, **ci, CI_JOB_ID="2", CI_JOB_NAME="dbt-build", **handed_on)
    later |= {"FIVETRAN_ACTION": "START", "CONNECTOR_ID": "demo_shop"}
    assert _eltops(["fivetran"], later, tmp_path).returncode == 0
    second = receiving.events()[len(first) :]
    assert {e["run"]["facets"]["parent"]["root"]["run"]["runId"] for e in second} == {run_id}
    assert {e["run"]["facets"]["parent"]["job"]["name"] for e in second} == {"gitlab.acme.analytics.dbt-build"}


def test_the_github_two_job_example(fivetran: RunningServer, receiving: Receiving, tmp_path: Path) -> None:
    """The workflow's outputs are the action's, which are eltops' step outputs OPENLINEAGE_(ROOT_)PARENT_ID."""
    workflow = yaml.safe_load(readme_block("test_the_github_two_job_example"))
    action = yaml.safe_load((Path(__file__).resolve().parents[2] / "action.yml").read_text())
    sync, dbt = workflow["jobs"]["sync"], workflow["jobs"]["dbt"]
    wanted = {}
    for name, expression in sync["outputs"].items():
        output = re.fullmatch(r"\$\{\{ steps\.fivetran\.outputs\.([\w-]+) \}\}", expression).group(1)  # type: ignore[union-attr]
        step_output = re.search(r"steps\.run\.outputs\.(\w+)", action["outputs"][output]["value"]).group(1)  # type: ignore[union-attr]
        wanted[name] = step_output
    assert sorted(wanted.values()) == ["OPENLINEAGE_PARENT_ID", "OPENLINEAGE_ROOT_PARENT_ID"]
    assert dbt["steps"][0]["env"] == {
        "OPENLINEAGE_PARENT_ID": "${{ needs.sync.outputs.parent }}",
        "OPENLINEAGE_ROOT_PARENT_ID": "${{ needs.sync.outputs.root }}",
    }
    step = sync["steps"][0]
    github_output = tmp_path / "github_output"
    env = _env(
        fivetran,
        **{k: v.replace("https://lineage.example.com", receiving.url) for k, v in workflow["env"].items()},
        GITHUB_ACTIONS="true",
        GITHUB_REPOSITORY="acme/analytics",
        GITHUB_WORKFLOW=workflow["name"],
        GITHUB_RUN_ID="99",
        GITHUB_JOB="sync",
        GITHUB_OUTPUT=str(github_output),
        FIVETRAN_ACTION=step["with"]["action"],
        CONNECTOR_ID=step["with"]["connector-id"],
    )
    assert _eltops(["fivetran"], env, tmp_path).returncode == 0
    outputs = dict(line.split("=", 1) for line in github_output.read_text().splitlines() if "=" in line)
    root = receiving.events()[0]["run"]["facets"]["parent"]["root"]
    assert outputs["OPENLINEAGE_PARENT_ID"] == f"acme-ci/{root['job']['name']}/{root['run']['runId']}"
    assert outputs["OPENLINEAGE_ROOT_PARENT_ID"] == outputs["OPENLINEAGE_PARENT_ID"]
