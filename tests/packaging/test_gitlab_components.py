"""The GitLab CI/CD components: each template's job run with its inputs, as GitLab and its runner would."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

import eltops
from tests.packaging._gitlab import resolve_inputs, run_component
from tests.packaging._support import REPO, Emulators, count_rows
from tests.packaging.conftest import LeanVenv

pytestmark = pytest.mark.slow
TEMPLATES = REPO / "templates"


def _env(served: Emulators, lean_venv: LeanVenv, tmp_path: Path, **extra: str) -> dict[str, str]:
    """A job in a Python image: the lean venv's python and pip first on the PATH, the project's CI/CD variables."""
    return served.env(PATH=f"{lean_venv.bin}:/usr/bin:/bin", HOME=str(tmp_path), CI_PIPELINE_ID="4242", **extra)


@pytest.mark.parametrize("template", sorted(TEMPLATES.glob("*.yml")), ids=lambda p: p.stem)
def test_each_component_installs_the_release_it_belongs_to(template: Path) -> None:
    """Every component pins the eltops of this release (its ``eltops-version`` default is ``__version__``)."""
    spec = yaml.safe_load(template.read_text(encoding="utf-8").split("\n---\n", 1)[0])
    assert spec["spec"]["inputs"]["eltops-version"]["default"] == eltops.__version__


@pytest.mark.parametrize(
    ("inputs", "error"),
    [
        ({}, "`connector-id` input: required value not provided"),
        ({"connector-id": "a", "action": "SYNC"}, "not in the list of options"),
        ({"connector-id": "a", "timeout": "soon"}, "not a number"),
        ({"connector-id": "a", "connector": "a"}, "unknown inputs"),
    ],
    ids=["required", "options", "number", "unknown"],
)
def test_the_fivetran_spec_refuses_what_gitlab_refuses(inputs: dict[str, Any], error: str) -> None:
    """The spec makes GitLab refuse a missing connection id, an unknown action, a timeout that is not a number."""
    spec = yaml.safe_load((TEMPLATES / "fivetran-sync.yml").read_text(encoding="utf-8").split("\n---\n", 1)[0])
    with pytest.raises(ValueError, match=error):
        resolve_inputs(spec, inputs)


@pytest.mark.parametrize(
    ("inputs", "code"),
    [
        ({"connector-id": "good,crm", "poll-interval": 0.1}, 0),
        ({"connector-id": "bad", "poll-interval": 0.1}, 1),
        ({"connector-id": "good", "action": "STATUS", "unpause": True, "dont-disable-sync": True}, 0),
    ],
    ids=["start", "failed", "status-with-flags"],
)
def test_the_fivetran_sync_component(
    tmp_path: Path, served: Emulators, lean_venv: LeanVenv, inputs: dict[str, Any], code: int
) -> None:
    """The job syncs (or fails with eltops' code), writes the JUnit report it declares, in collapsible sections."""
    job = run_component(TEMPLATES / "fivetran-sync.yml", inputs, env=_env(served, lean_venv, tmp_path), cwd=tmp_path)
    assert job.code == code, job.log
    assert (tmp_path / job.job["artifacts"]["reports"]["junit"]).exists()
    assert "section_start:" in job.log


def test_the_fivetran_sync_component_records_history(tmp_path: Path, served: Emulators, lean_venv: LeanVenv) -> None:
    """With a warehouse input the job records itself, with the GitLab pipeline as its pipeline run."""
    inputs = {"connector-id": "good", "poll-interval": 0.1, "warehouse": "h.duckdb"}
    job = run_component(TEMPLATES / "fivetran-sync.yml", inputs, env=_env(served, lean_venv, tmp_path), cwd=tmp_path)
    assert job.code == 0, job.log
    assert count_rows(tmp_path / "h.duckdb", "pipeline_runs", "run_status = 'SUCCEEDED'") == 1


@pytest.mark.parametrize(
    ("pipeline", "code", "status"), [("nightly_marts", 0, "SUCCEEDED"), ("broken_marts", 1, "FAILED")]
)
def test_the_orchestra_run_component(
    tmp_path: Path, served: Emulators, lean_venv: LeanVenv, pipeline: str, code: int, status: str
) -> None:
    """The job runs the pipeline and leaves the run's id and status in its dotenv report for later jobs."""
    inputs = {"pipeline": pipeline, "poll-interval": 0.2}
    job = run_component(TEMPLATES / "orchestra-run.yml", inputs, env=_env(served, lean_venv, tmp_path), cwd=tmp_path)
    assert job.code == code, job.log
    dotenv = (tmp_path / job.job["artifacts"]["reports"]["dotenv"]).read_text(encoding="utf-8")
    assert f"ORCHESTRA_RUN_STATUS={status}\n" in dotenv
    assert "ORCHESTRA_PIPELINE_RUN_ID=" in dotenv


def test_the_orchestra_load_component(tmp_path: Path, served: Emulators, lean_venv: LeanVenv) -> None:
    """The job loads the resources it is given into the warehouse it is given."""
    inputs = {"resources": "task-runs operations", "warehouse": "o.duckdb", "rate-limit": 0}
    job = run_component(TEMPLATES / "orchestra-load.yml", inputs, env=_env(served, lean_venv, tmp_path), cwd=tmp_path)
    assert job.code == 0, job.log
    assert count_rows(tmp_path / "o.duckdb", "operations") > 0
