"""Session fixtures: the wheel and sdist built once, and a fresh venv with the wheel installed (no extras)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.packaging._support import REPO, Emulators, emulators, locked_pip


@dataclass(frozen=True)
class Built:
    wheel: Path
    sdist: Path


@dataclass(frozen=True)
class LeanVenv:
    """A venv holding the built wheel and its base dependencies only."""

    path: Path

    @property
    def bin(self) -> Path:
        return self.path / "bin"

    @property
    def eltops(self) -> Path:
        return self.bin / "eltops"


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """``python -m build``: the wheel and the sdist, as a release makes them."""
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(REPO)],
        check=True,
        capture_output=True,
        env={**os.environ, **locked_pip()},
    )
    (wheel,) = out.glob("eltops-*.whl")
    (sdist,) = out.glob("eltops-*.tar.gz")
    return Built(wheel, sdist)


@pytest.fixture(scope="session")
def lean_venv(tmp_path_factory: pytest.TempPathFactory, built: Built) -> LeanVenv:
    """A fresh venv with ``pip install <the wheel>``: what ``pip install eltops`` gives a CI job."""
    venv = tmp_path_factory.mktemp("lean") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run(
        [*pip, str(built.wheel)], check=True, capture_output=True, timeout=300, env={**os.environ, **locked_pip()}
    )
    return LeanVenv(venv)


@pytest.fixture(scope="module")
def served() -> Iterator[Emulators]:
    """Both emulators on loopback for a module's tests."""
    with emulators() as both:
        yield both


@dataclass(frozen=True)
class ActionInstall:
    """The action's install step, run once: its runner temp directory and the venv it put on the PATH."""

    runner_temp: Path
    bin: Path
    outputs: dict[str, str]


@pytest.fixture(scope="session")
def action_install(tmp_path_factory: pytest.TempPathFactory, built: Built) -> ActionInstall:
    """Run the action's ``install`` step as the runner would, installing ``eltops==<version>`` (the built wheel)."""
    from tests.packaging._github import run_action
    from tests.packaging._support import pip_find_links

    runner_temp = tmp_path_factory.mktemp("runner-temp")
    workspace = tmp_path_factory.mktemp("workspace")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(workspace),
        "PIP_FIND_LINKS": pip_find_links(built.wheel.parent),
        **locked_pip(),
    }
    done = run_action(REPO, {}, env=env, workspace=workspace, runner_temp=runner_temp, only=("install",))
    assert done.code == 0, done.log
    (path,) = done.steps[0].outputs and [
        line for line in (runner_temp / "install.path").read_text(encoding="utf-8").splitlines() if line
    ]
    return ActionInstall(runner_temp, Path(path), done.steps[0].outputs)
