"""Lint what CI users pick up (``make lint-ship``): the GitHub Action, the GitLab components, the DataOps image.

- ``action.yml`` against GitHub's action metadata schema (check-jsonschema ``vendor.github-actions``), and the
  docs/ci.md's workflow example with actionlint, pointed at this checkout (``uses: ./``), so every ``with:`` is checked
  against the action's inputs;
- each ``templates/*.yml`` component: its ``spec:`` header and its job, interpolated with the inputs' defaults as
  GitLab does, against GitLab's CI schema (``vendor.gitlab-ci``; the schema takes one YAML document at a time);
- ``docker/dataops/Dockerfile`` with hadolint, and the ``/dataops`` script with ``sh -n``.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ACTION_REF = re.compile(r"uses: eltops/eltops@v[\w.]+")
_INPUT = re.compile(r"\$\[\[\s*(inputs|component)\.([\w-]+)\s*\]\]")


def readme_block(marker: str) -> str:
    """The first fenced block after the ``<!-- tested: ...marker -->`` line of docs/ci.md (picking eltops up)."""
    text = (REPO / "docs" / "ci.md").read_text(encoding="utf-8")
    start = text.index(marker)
    fence = text.index("```", start)
    body = text.index("\n", fence) + 1
    return text[body : text.index("```", body)]


def interpolate(template: str, inputs: dict[str, object], version: str) -> str:
    """A component's job with ``$[[ inputs.x ]]`` and ``$[[ component.version ]]`` replaced, as GitLab does."""

    def value(match: re.Match[str]) -> str:
        if match.group(1) == "component":
            assert match.group(2) == "version", match.group(0)
            return version
        found = inputs[match.group(2)]
        return str(found).lower() if isinstance(found, bool) else str(found)

    return _INPUT.sub(value, template)


def split_component(path: Path) -> tuple[dict[str, object], str]:
    """The ``spec:`` header (parsed) and the job's YAML text of a component file."""
    header, body = path.read_text(encoding="utf-8").split("\n---\n", 1)
    spec = yaml.safe_load(header)
    assert isinstance(spec, dict)
    return spec, body


def version() -> str:
    text = (REPO / "src" / "eltops" / "__init__.py").read_text(encoding="utf-8")
    match = re.search(r'^__version__ = "(.+)"$', text, re.MULTILINE)
    assert match
    return match.group(1)


def run(*command: str | Path) -> bool:
    print("+", " ".join(str(c) for c in command), flush=True)
    return subprocess.run([str(c) for c in command], check=False).returncode == 0


def main() -> int:
    ok = run(BIN / "check-jsonschema", "--builtin-schema", "vendor.github-actions", REPO / "action.yml")
    with tempfile.TemporaryDirectory(dir=REPO, prefix=".lint-ship-") as tmp:
        work = Path(tmp)
        workflow = work / "readme-workflow.yml"  # inside the checkout: actionlint finds ./action.yml from it
        workflow.write_text(ACTION_REF.sub("uses: ./", readme_block("test_the_github_example")), encoding="utf-8")
        ok &= run(BIN / "actionlint", "-shellcheck=", "-pyflakes=", workflow)
        for component in sorted((REPO / "templates").glob("*.yml")):
            spec, body = split_component(component)
            inputs = spec["spec"]["inputs"]  # type: ignore[index]
            defaults = {name: d.get("default", f"example-{name}") for name, d in inputs.items()}
            header = work / f"{component.stem}.spec.yml"
            header.write_text(yaml.safe_dump(spec), encoding="utf-8")
            job = work / f"{component.stem}.job.yml"
            job.write_text(interpolate(body, defaults, version()), encoding="utf-8")
            ok &= run(BIN / "check-jsonschema", "--builtin-schema", "vendor.gitlab-ci", header, job)
    ok &= run(BIN / "hadolint", REPO / "docker" / "dataops" / "Dockerfile")
    ok &= run("sh", "-n", REPO / "docker" / "dataops" / "dataops")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
