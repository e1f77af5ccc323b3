"""Run a GitLab CI/CD component's job as GitLab and its runner do, on this machine.

The ``spec: inputs:`` header gives each input's type, default and options; the given inputs are checked against
it (unknown, missing, wrong type or not an option fail as GitLab fails the pipeline), ``$[[ inputs.x ]]`` is
interpolated into the job, and the job's ``script:`` lines run in one shell (``bash -eo pipefail``, as GitLab's
runner does) with the job's ``variables:`` in the environment.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.packaging._support import SECRETS

_INPUT = re.compile(r"\$\[\[\s*inputs\.([\w-]+)\s*\]\]")


@dataclass(frozen=True)
class JobRun:
    name: str
    job: dict[str, Any]
    code: int
    log: str


def resolve_inputs(spec: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """The inputs GitLab would interpolate, or ValueError for what GitLab would refuse."""
    declared = spec["spec"]["inputs"]
    unknown = set(given) - set(declared)
    if unknown:
        raise ValueError(f"unknown inputs {sorted(unknown)}")
    resolved: dict[str, Any] = {}
    for name, rules in declared.items():
        if name not in given and "default" not in rules:
            raise ValueError(f"`{name}` input: required value not provided")
        value = given.get(name, rules.get("default"))
        kind = rules.get("type", "string")
        expected = {"string": str, "number": (int, float), "boolean": bool}[kind]
        if not isinstance(value, expected) or (kind == "number" and isinstance(value, bool)):
            raise ValueError(f"`{name}` input: provided value is not a {kind}")
        if "options" in rules and value not in rules["options"]:
            raise ValueError(f"`{name}` input: `{value}` cannot be used because it is not in the list of options")
        resolved[name] = value
    return resolved


def interpolate(body: str, inputs: Mapping[str, Any]) -> str:
    def value(match: re.Match[str]) -> str:
        found = inputs[match.group(1)]
        return str(found).lower() if isinstance(found, bool) else str(found)

    return _INPUT.sub(value, body)


def run_component(
    path: Path, inputs: Mapping[str, Any], *, env: Mapping[str, str], cwd: Path, timeout: float = 300
) -> JobRun:
    header, body = path.read_text(encoding="utf-8").split("\n---\n", 1)
    spec = yaml.safe_load(header)
    jobs = yaml.safe_load(interpolate(body, resolve_inputs(spec, inputs)))
    ((name, job),) = jobs.items()
    variables = {key: str(value) for key, value in job.get("variables", {}).items()}
    script = cwd / f".{name}.sh"
    script.write_text("\n".join(job["script"]) + "\n", encoding="utf-8")
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
        env={**env, "GITLAB_CI": "true", "CI": "true", **variables},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    log = done.stdout + done.stderr
    for secret in SECRETS:
        assert secret not in log, "a secret leaked"
    return JobRun(name, job, done.returncode, log)
