"""The lock files in requirements/ agree with pyproject.toml's ranges, with each other, and with what is installed.

``make install`` installs requirements/demo.txt and requirements/dev.txt (exact versions, with hashes), so the
toolchain that checks a commit is the one its lock names; ``make check-oldest`` installs requirements/oldest.txt,
the lowest versions the runtime ranges allow. These tests keep the three honest when pyproject.toml changes.
"""

from __future__ import annotations

import importlib.metadata
import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
LOCKS = ROOT / "requirements"
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", re.MULTILINE)


def pins(name: str) -> dict[str, str]:
    """The exact versions a lock file names, by canonical package name."""
    text = (LOCKS / name).read_text()
    found = {canonicalize_name(package): version for package, version in _PIN.findall(text)}
    assert found, f"no pins in requirements/{name}"
    return found


def requirements(*groups: str) -> list[Requirement]:
    """pyproject.toml's runtime dependencies and those of the named extras (self-references left out)."""
    listed = [Requirement(text) for text in PROJECT["dependencies"]]
    for group in groups:
        listed += [Requirement(text) for text in PROJECT["optional-dependencies"][group]]
    return [req for req in listed if canonicalize_name(req.name) != "eltops"]


RUNTIME = requirements("report", "snowflake")


@pytest.mark.parametrize(
    ("lock", "groups"), [("dev.txt", ("report", "snowflake", "docs", "dev")), ("demo.txt", ("report",))]
)
def test_a_lock_pins_every_requirement_within_its_range(lock: str, groups: tuple[str, ...]) -> None:
    """Every requirement of pyproject.toml the lock is for is pinned there, at a version its range allows."""
    locked = pins(lock)
    wrong = {
        str(req): locked.get(canonicalize_name(req.name))
        for req in requirements(*groups)
        if locked.get(canonicalize_name(req.name)) is None
        or not req.specifier.contains(locked[canonicalize_name(req.name)], prereleases=True)
    }
    assert wrong == {}, f"requirements/{lock} is stale for these (run `make lock`): {wrong}"


def test_the_demo_lock_is_a_subset_of_the_dev_lock() -> None:
    """make demo installs the same versions make check tests (demo.txt is compiled with dev.txt as constraints)."""
    dev = pins("dev.txt")
    assert {name: version for name, version in pins("demo.txt").items() if dev.get(name) != version} == {}


def test_the_oldest_lock_holds_each_lower_bound() -> None:
    """requirements/oldest.txt pins each runtime requirement at its range's lower bound, so check-oldest tests it."""
    oldest = pins("oldest.txt")
    off = {}
    for req in RUNTIME:
        lower = [spec.version for spec in req.specifier if spec.operator in (">=", "==", "~=")]
        assert lower, f"{req} has no lower bound: a range must say the oldest version it claims to work with"
        pinned = oldest.get(canonicalize_name(req.name))
        if pinned is None or Version(pinned) != Version(lower[0]):
            off[str(req)] = pinned
    assert off == {}, f"requirements/oldest.txt does not hold these lower bounds (run `make lock`): {off}"


def test_the_oldest_lock_runs_the_tests_with_the_dev_locks_runner() -> None:
    """The test runner and build backend of the oldest check are the versions the dev lock has."""
    dev, oldest = pins("dev.txt"), pins("oldest.txt")
    tools = [line.split("==")[0] for line in (LOCKS / "oldest-tools.in").read_text().split()]
    assert {
        name: (oldest.get(name), dev[name]) for name in map(canonicalize_name, tools) if oldest.get(name) != dev[name]
    } == {}


def test_the_environment_is_the_dev_lock() -> None:
    """What this test run imports is exactly what requirements/dev.txt pins (make install installs the lock)."""
    drift = {}
    for name, version in pins("dev.txt").items():
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            installed = None
        if installed != version:
            drift[name] = f"locked {version}, installed {installed}"
    assert drift == {}, f"the environment is not the lock (run `make install`): {drift}"


def test_the_constraints_are_the_dev_lock_without_hashes() -> None:
    """requirements/constraints.txt (for fresh venvs and isolated builds) pins exactly what dev.txt does."""
    assert pins("constraints.txt") == pins("dev.txt")
