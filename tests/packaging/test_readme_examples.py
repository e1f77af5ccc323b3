"""The copy-paste examples of each way to pick eltops up (docs/ci.md), run as written against the emulators.

Only what must point at the emulators changes: the credentials (the secrets and CI/CD variables they name), the
API URLs (``FIVETRAN_API_URL``/``ORCHESTRA_API_URL`` in the job's environment) and, for GitLab, the poll interval.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

import eltops
from tests.packaging._github import run_action, substitute
from tests.packaging._gitlab import run_component
from tests.packaging._support import (
    FIVETRAN_KEY,
    FIVETRAN_SECRET,
    ORCHESTRA_KEY,
    REPO,
    Emulators,
    count_rows,
    readme_block,
    run,
)
from tests.packaging.conftest import ActionInstall, LeanVenv

pytestmark = pytest.mark.slow
SECRETS = {"FIVETRAN_API_KEY": FIVETRAN_KEY, "FIVETRAN_API_SECRET": FIVETRAN_SECRET, "ORCHESTRA_API_KEY": ORCHESTRA_KEY}


def test_the_pip_example(tmp_path: Path, served: Emulators, lean_venv: LeanVenv) -> None:
    """After ``pip install eltops`` (the lean venv), each command of the example succeeds and fills the history."""
    lines = [line for line in readme_block("test_the_pip_example").splitlines() if line.strip()]
    assert lines[0] == "pip install eltops"
    env = served.env(PATH=f"{lean_venv.bin}:/usr/bin:/bin", HOME=str(tmp_path))
    for line in lines[1:]:
        done = run(["bash", "-c", line], env=env, cwd=tmp_path)
        assert done.code == 0, f"{line}: {done.stderr}"
    db = tmp_path / "history.duckdb"
    assert count_rows(db, "operations", "external_id IN ('shop_db', 'crm') AND operation_status = 'SUCCEEDED'") == 2
    assert count_rows(db, "task_runs", "integration <> 'FIVETRAN'") > 0  # the Orchestra load's


def test_the_github_example(tmp_path: Path, served: Emulators, action_install: ActionInstall) -> None:
    """Each step of the example workflow: the action's steps with its ``with:``, then the ``run:`` step."""
    workflow = yaml.safe_load(readme_block("test_the_github_example"))
    (job,) = workflow["jobs"].values()
    context: dict[str, object] = {"secrets": SECRETS, "steps": {}}
    for step in job["steps"]:
        env = {name: substitute(str(value), context) for name, value in step.get("env", {}).items()}
        if "uses" in step:
            assert step["uses"] == f"eltops/eltops@v{eltops.__version__}"
            done = run_action(
                REPO,
                {name: str(value) for name, value in step.get("with", {}).items()},
                env={**served.env(HOME=str(tmp_path)), **env},
                workspace=tmp_path,
                runner_temp=action_install.runner_temp,
                only=("run",),
                path=[str(action_install.bin)],
            )
            assert done.code == 0, done.log
            if "id" in step:
                context["steps"] = {step["id"]: {"outputs": done.outputs}}
        else:
            shown = subprocess.run(
                ["bash", "-eo", "pipefail", "-c", step["run"]], env=env, capture_output=True, text=True, check=True
            )
            assert re.fullmatch(r"Orchestra run \S+ ended SUCCEEDED\n", shown.stdout)
    assert (tmp_path / "fivetran-junit.xml").exists()
    assert count_rows(tmp_path / "orchestra.duckdb", "pipeline_runs") > 0


def test_the_gitlab_example(tmp_path: Path, served: Emulators, lean_venv: LeanVenv) -> None:
    """Each included component, found in ``templates/`` at this release, runs its job with the example's inputs."""
    pipeline = yaml.safe_load(readme_block("test_the_gitlab_example"))
    project = {"FIVETRAN_KEY": FIVETRAN_KEY, "FIVETRAN_SECRET": FIVETRAN_SECRET, "ORCHESTRA_KEY": ORCHESTRA_KEY}
    variables = {name: project[value.lstrip("$")] for name, value in pipeline["variables"].items()}
    env = {**served.env(PATH=f"{lean_venv.bin}:/usr/bin:/bin", HOME=str(tmp_path)), **variables}
    for include in pipeline["include"]:
        match = re.fullmatch(r"\$CI_SERVER_FQDN/data-platform/eltops/([\w-]+)@([\w.]+)", include["component"])
        assert match, include["component"]
        assert match.group(2) == eltops.__version__
        inputs = (
            {**include["inputs"], "poll-interval": 0.2} if match.group(1) != "orchestra-load" else include["inputs"]
        )
        job = run_component(REPO / "templates" / f"{match.group(1)}.yml", inputs, env=env, cwd=tmp_path)
        assert job.code == 0, job.log
        assert job.job["stage"] in pipeline["stages"]
    assert count_rows(tmp_path / "orchestra.duckdb", "task_runs") > 0


def test_the_dataops_example(tmp_path: Path, served: Emulators, lean_venv: LeanVenv) -> None:
    """The DataOps job's variables and its ``/dataops`` script line, with the vault the DATAOPS_VAULT paths name."""
    ((name, job),) = yaml.safe_load(readme_block("test_the_dataops_example")).items()
    assert job["image"] == "$DATAOPS_FIVETRAN_RUNNER_IMAGE"
    assert job["script"] == ["/dataops"]
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    vault = {"INGESTION": {"FIVETRAN": {"PROD": {"API_KEY": FIVETRAN_KEY, "API_SECRET": FIVETRAN_SECRET}}}}
    (secrets / "vault.yml").write_text(yaml.safe_dump(vault), encoding="utf-8")
    env = {
        "PATH": f"{lean_venv.bin}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "DATAOPS_SECRETS_DIR": str(secrets),
        "FIVETRAN_API_URL": served.fivetran_url,
        "FIVETRAN_POLL_INTERVAL": "0.1",
        **{key: str(value) for key, value in job["variables"].items()},
    }
    done = run(["sh", REPO / "docker" / "dataops" / "dataops"], env=env, cwd=tmp_path)
    assert done.code == 0, f"{name}: {done.stderr}"
