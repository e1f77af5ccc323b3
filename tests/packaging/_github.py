"""Run a composite action's steps as the GitHub runner does, on this machine.

For each step: the ``${{ }}`` expressions in its ``env`` and ``run`` substituted (``inputs.*`` with the action's
defaults, ``steps.<id>.outputs.*``, ``github.action_path``, ``runner.temp``: anything else fails the test, so the
action uses only what this runner understands), the script run as ``bash --noprofile --norc -eo pipefail``, with
fresh ``GITHUB_OUTPUT``, ``GITHUB_PATH`` and ``GITHUB_STEP_SUMMARY`` files; what a step appends to ``GITHUB_PATH``
goes before ``PATH`` for the steps after it; a failed step skips the rest. The action's outputs are evaluated last.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.packaging._support import SECRETS

_EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
_PATH = re.compile(r"^[A-Za-z_][\w-]*(\.[A-Za-z_][\w-]*)*$")


@dataclass
class StepRun:
    id: str
    code: int
    stdout: str
    stderr: str
    outputs: dict[str, str]
    summary: str


@dataclass
class ActionRun:
    steps: list[StepRun] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)

    @property
    def code(self) -> int:
        return self.steps[-1].code

    @property
    def log(self) -> str:
        return "".join(s.stdout + s.stderr for s in self.steps)

    @property
    def summary(self) -> str:
        return "".join(s.summary for s in self.steps)


def substitute(text: str, context: Mapping[str, Any]) -> str:
    """Replace each ``${{ a.b.c }}`` with its value in ``context`` ('' when missing, as GitHub does)."""

    def value(match: re.Match[str]) -> str:
        expression = match.group(1)
        assert _PATH.match(expression), f"the test runner only evaluates property paths, not {expression!r}"
        head, *rest = expression.split(".")
        assert head in context, f"unknown context {head!r} in {expression!r}"
        found: Any = context[head]
        for part in rest:
            found = found.get(part, "") if isinstance(found, Mapping) else ""
        return "" if found is None else str(found)

    return _EXPRESSION.sub(value, text)


def parse_outputs(text: str) -> dict[str, str]:
    """A ``GITHUB_OUTPUT`` file: ``name=value`` lines and ``name<<DELIMITER`` blocks."""
    outputs: dict[str, str] = {}
    lines = iter(text.splitlines())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            block = []
            for inner in lines:
                if inner == delimiter:
                    break
                block.append(inner)
            outputs[name] = "\n".join(block)
        elif "=" in line:
            name, value = line.split("=", 1)
            outputs[name] = value
    return outputs


def load_action(path: Path) -> dict[str, Any]:
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(spec, dict)
    assert spec["runs"]["using"] == "composite"
    return spec


def run_action(
    action_dir: Path,
    inputs: Mapping[str, str],
    *,
    env: Mapping[str, str],
    workspace: Path,
    runner_temp: Path,
    only: Sequence[str] = (),
    path: Sequence[str] = (),
    timeout: float = 300,
) -> ActionRun:
    """Run the action in ``action_dir`` with ``inputs`` (``with:``) and the step's ``env``, in ``workspace``.

    ``only``: run just these steps (by id), e.g. to reuse an install; ``path``: directories already on the PATH.
    """
    spec = load_action(action_dir / "action.yml")
    declared = spec.get("inputs", {})
    unknown = set(inputs) - set(declared)
    assert not unknown, f"inputs the action does not declare: {sorted(unknown)}"
    resolved = {name: str(inputs.get(name, d.get("default", ""))) for name, d in declared.items()}
    context: dict[str, Any] = {
        "inputs": resolved,
        "steps": {},
        "github": {"action_path": str(action_dir)},
        "runner": {"temp": str(runner_temp)},
    }
    added_path = list(path)
    result = ActionRun()
    for number, step in enumerate(spec["runs"]["steps"]):
        step_id = step.get("id", f"step{number}")
        if only and step_id not in only:
            continue
        assert step.get("shell") == "bash", "every step says shell: bash"
        files = {name: runner_temp / f"{step_id}.{name}" for name in ("output", "path", "summary")}
        for file in files.values():
            file.write_text("", encoding="utf-8")
        script = runner_temp / f"{step_id}.sh"
        script.write_text(substitute(step["run"], context), encoding="utf-8")
        step_env = {
            **env,
            "GITHUB_ACTIONS": "true",
            "GITHUB_ACTION_PATH": str(action_dir),
            "GITHUB_WORKSPACE": str(workspace),
            "RUNNER_TEMP": str(runner_temp),
            "GITHUB_OUTPUT": str(files["output"]),
            "GITHUB_PATH": str(files["path"]),
            "GITHUB_STEP_SUMMARY": str(files["summary"]),
            "PATH": ":".join([*reversed(added_path), env.get("PATH", "/usr/bin:/bin")]),
            **{name: substitute(str(value), context) for name, value in step.get("env", {}).items()},
        }
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            env=step_env,
            cwd=workspace,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        outputs = parse_outputs(files["output"].read_text(encoding="utf-8"))
        summary = files["summary"].read_text(encoding="utf-8")
        added_path += [line for line in files["path"].read_text(encoding="utf-8").splitlines() if line]
        ran = StepRun(step_id, done.returncode, done.stdout, done.stderr, outputs, summary)
        for secret in SECRETS:
            assert secret not in ran.stdout + ran.stderr + summary + str(outputs), "a secret leaked"
        result.steps.append(ran)
        context["steps"][step_id] = {"outputs": outputs, "outcome": "success" if done.returncode == 0 else "failure"}
        if done.returncode != 0:
            break
    result.outputs = {name: substitute(o["value"], context) for name, o in spec.get("outputs", {}).items()}
    return result
