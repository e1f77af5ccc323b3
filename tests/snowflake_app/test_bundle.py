"""``snow app bundle`` builds the deploy folder offline, and it holds everything the app's objects refer to."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from eltops.snowflake_app import orchestra_app as app

from .conftest import APP_DIR, SETUP_SCRIPT

SNOWFLAKE_PROVIDED = {"_snowflake"}  # the secret API, present only inside Snowflake's Python runtime


def _snow() -> str | None:
    return shutil.which("snow") or next(
        (str(p) for p in [Path(sys.executable).with_name("snow")] if p.exists()),
        None,
    )


@pytest.fixture(scope="module")
def deploy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The deploy folder ``snow app bundle`` writes, from a copy of the app project and an empty Snowflake home."""
    snow = _snow()
    if snow is None:
        pytest.skip("the Snowflake CLI (snow) is not installed: pip install -e '.[dev]'")
    work = tmp_path_factory.mktemp("bundle")
    project = work / "snowflake_app"
    shutil.copytree(APP_DIR, project, ignore=shutil.ignore_patterns("output"))
    home = work / "snowflake-home"
    home.mkdir()
    env = {**os.environ, "SNOWFLAKE_HOME": str(home), "NO_COLOR": "1"}
    result = subprocess.run(
        [snow, "app", "bundle"], cwd=project, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return project / "output" / "deploy"


@pytest.mark.parametrize("name", ["manifest.yml", "setup_script.sql", "README.md", "python/orchestra_app.py"])
def test_deploy_folder_holds_the_app_files(deploy: Path, name: str) -> None:
    """The manifest, the setup script, the README and the handlers module are in the deploy folder."""
    assert (deploy / name).is_file()


def test_deployed_setup_script_and_handlers_are_the_sources(deploy: Path) -> None:
    """What is deployed is byte for byte the setup script and eltops' handlers module."""
    assert (deploy / "setup_script.sql").read_text() == SETUP_SCRIPT.read_text()
    assert (deploy / "python" / "orchestra_app.py").read_text() == Path(app.__file__).read_text()


def test_every_import_path_of_the_setup_script_is_deployed(deploy: Path) -> None:
    """Each IMPORTS path the functions and procedures name exists in the deploy folder."""
    paths = set(re.findall(r"IMPORTS = \('([^']+)'\)", SETUP_SCRIPT.read_text()))
    assert paths == {"/python/orchestra_app.py"}
    for path in paths:
        assert (deploy / path.lstrip("/")).is_file()


def test_handlers_import_only_what_the_runtime_has(deploy: Path) -> None:
    """Every module the deployed handlers import is standard library or provided by Snowflake (nothing to ship)."""
    tree = ast.parse((deploy / "python" / "orchestra_app.py").read_text())
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported.add(node.module.split(".")[0])
    imported.discard("__future__")
    missing = {m for m in imported if m not in sys.stdlib_module_names and m not in SNOWFLAKE_PROVIDED}
    local = {p.stem for p in (deploy / "python").glob("*.py")}
    assert missing - local == set()
