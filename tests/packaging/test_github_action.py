"""The GitHub Action: each step of ``action.yml`` run as the runner runs it, against the emulators."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import eltops
from tests.packaging._github import ActionRun, run_action
from tests.packaging._support import REPO, Emulators, count_rows
from tests.packaging.conftest import ActionInstall

pytestmark = pytest.mark.slow


def _run(install: ActionInstall, served: Emulators, tmp_path: Path, inputs: dict[str, str], **env: str) -> ActionRun:
    """The action's ``run`` step with ``inputs``, the installed eltops on the PATH, the step's ``env``."""
    return run_action(
        REPO,
        inputs,
        env=served.env(HOME=str(tmp_path), **env),
        workspace=tmp_path,
        runner_temp=install.runner_temp,
        only=("run",),
        path=[str(install.bin)],
    )


def test_the_install_step_pins_the_actions_own_version(action_install: ActionInstall) -> None:
    """The install step installs ``eltops==<the version in src/eltops/__init__.py>`` and says so."""
    assert action_install.outputs["version"] == eltops.__version__
    assert (action_install.bin / "eltops").exists()


def test_a_fivetran_sync(tmp_path: Path, action_install: ActionInstall, served: Emulators) -> None:
    """START on two connections: exit-code 0, the Fivetran outputs, grouped log, step summary, JUnit and history."""
    inputs = {"connector-id": "good,crm", "action": "start", "junit": "ft.xml", "warehouse": "h.duckdb"}
    done = _run(action_install, served, tmp_path, inputs)
    assert done.code == 0, done.log
    assert done.outputs["exit-code"] == "0"
    assert done.outputs["fivetran-outcome"] == "succeeded"
    assert {r["outcome"] for r in json.loads(done.outputs["fivetran-results"]).values()} == {"succeeded"}
    assert done.outputs["fivetran-baseline"].count("=") == 2  # one baseline per connection, for a later WAIT
    assert done.outputs["fivetran-synced"] == "good,crm"  # both synced: what a later dbt job selects on
    assert done.outputs["fivetran-schemas"]
    assert "::group::" in done.log
    assert "good" in done.summary
    assert "crm" in done.summary
    assert (tmp_path / "ft.xml").exists()
    assert count_rows(tmp_path / "h.duckdb", "operations", "operation_status = 'SUCCEEDED'") == 2


def test_a_failed_sync_fails_the_step_with_an_annotation(
    tmp_path: Path, action_install: ActionInstall, served: Emulators
) -> None:
    """A failing connection fails the step with eltops' exit code, as an output and an ::error annotation."""
    done = _run(action_install, served, tmp_path, {"connector-id": "bad", "action": "START"})
    assert done.code == 1
    assert done.outputs["exit-code"] == "1"
    assert "::error" in done.log


@pytest.mark.parametrize(
    ("inputs", "env", "code"),
    [
        ({"connector-id": "good", "action": "START", "timeout": "abc"}, {}, 2),
        ({"connector-id": "good", "action": "START"}, {"FIVETRAN_TIMEOUT": "abc"}, 2),
        ({"connector-id": "good", "action": "START", "timeout": "60"}, {"FIVETRAN_TIMEOUT": "abc"}, 0),
        ({"connector-id": "good", "action": "START", "unpause": "false"}, {}, 0),
    ],
    ids=["input-checked", "env-passes-through", "input-wins-over-env", "false-flag-not-set"],
)
def test_inputs_and_the_steps_env(
    tmp_path: Path,
    action_install: ActionInstall,
    served: Emulators,
    inputs: dict[str, str],
    env: dict[str, str],
    code: int,
) -> None:
    """A set input becomes eltops' variable and wins over the step's env; an unset one leaves the env's."""
    done = _run(action_install, served, tmp_path, inputs, **env)
    assert done.code == code, done.log
    assert done.outputs["exit-code"] == str(code)


def test_no_input_can_inject_shell_code(tmp_path: Path, action_install: ActionInstall, served: Emulators) -> None:
    """An input holding shell syntax is passed to eltops as text: nothing runs, eltops rejects the id."""
    evil = '$(touch pwned)"; touch pwned; echo "'
    done = _run(action_install, served, tmp_path, {"connector-id": evil, "action": "STATUS", "pipeline": evil})
    assert not (tmp_path / "pwned").exists()
    assert done.code in (2, 4), done.log


def test_an_orchestra_run_sets_the_actions_outputs(
    tmp_path: Path, action_install: ActionInstall, served: Emulators
) -> None:
    """``orchestra-run`` waits for the pipeline and maps eltops' step outputs to the action's outputs."""
    done = _run(action_install, served, tmp_path, {"command": "orchestra-run", "pipeline": "nightly_marts"})
    assert done.code == 0, done.log
    assert done.outputs["run-status"] == "SUCCEEDED"
    assert done.outputs["pipeline-run-id"]
    assert done.outputs["run-link"].endswith(f"/pipeline-runs/{done.outputs['pipeline-run-id']}/lineage")


def test_a_failed_orchestra_run_fails_the_step(
    tmp_path: Path, action_install: ActionInstall, served: Emulators
) -> None:
    """A FAILED run fails the step (exit 1) and still sets the run's outputs."""
    done = _run(action_install, served, tmp_path, {"command": "orchestra-run", "pipeline": "broken_marts"})
    assert done.code == 1
    assert done.outputs["run-status"] == "FAILED"


def test_an_orchestra_load(tmp_path: Path, action_install: ActionInstall, served: Emulators) -> None:
    """``orchestra-load`` with two resources and a warehouse loads just those tables."""
    inputs = {"command": "orchestra-load", "resources": "pipeline-runs, task-runs", "warehouse": "o.duckdb"}
    done = _run(action_install, served, tmp_path, inputs)
    assert done.code == 0, done.log
    assert count_rows(tmp_path / "o.duckdb", "task_runs") > 0


def test_an_unknown_command_is_exit_2(tmp_path: Path, action_install: ActionInstall, served: Emulators) -> None:
    """A command the action does not know fails with exit 2 and says which it knows."""
    done = _run(action_install, served, tmp_path, {"command": "dbt"})
    assert done.code == 2
    assert "use fivetran, orchestra-run or orchestra-load" in done.log
