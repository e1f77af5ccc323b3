"""What the app ships: eltops' own modules, copied byte for byte, and a bundle that runs on the standard library.

``snow app bundle`` (offline) builds the deploy folder; the tests check it holds everything the app's objects
refer to, that its Python is exactly eltops' sources, and that the handlers import and answer with nothing but
the standard library (``_snowflake`` stubbed, as inside Snowflake) and the modules shipped next to them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from eltops.snowflake_app import _generate

from .conftest import APP_DIR, KEY, SETUP_SCRIPT

SNOWFLAKE_PROVIDED = {"_snowflake"}  # the secret API, present only inside Snowflake's Python runtime


def test_generated_files_are_up_to_date() -> None:
    """The shipped copies and the setup script's tables match eltops' sources (run the generator otherwise)."""
    assert _generate.stale_files() == []


@pytest.mark.parametrize("name", sorted(_generate.shipped_sources()))
def test_shipped_python_is_the_source(name: str) -> None:
    """Each file in snowflake_app/python/ is byte for byte an eltops module: there is no second copy to drift."""
    source = _generate.shipped_sources()[name]
    assert (_generate.APP_PYTHON / name).read_bytes() == source.read_bytes()


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
    shutil.copytree(APP_DIR, project, ignore=shutil.ignore_patterns("output", "__pycache__"))
    home = work / "snowflake-home"
    home.mkdir()
    env = {**os.environ, "SNOWFLAKE_HOME": str(home), "NO_COLOR": "1"}
    result = subprocess.run(
        [snow, "app", "bundle"], cwd=project, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return project / "output" / "deploy"


@pytest.mark.parametrize(
    "name",
    [
        "manifest.yml",
        "setup_script.sql",
        "README.md",
        "streamlit/orchestra_ui.py",
        "streamlit/environment.yml",
        *(f"python/{n}" for n in _generate.shipped_sources()),
    ],
)
def test_deploy_folder_holds_the_app_files(deploy: Path, name: str) -> None:
    """The manifest, the setup script, the README, the handlers, the shared modules and the page are deployed."""
    assert (deploy / name).is_file()


def test_deployed_files_are_the_sources(deploy: Path) -> None:
    """What is deployed is byte for byte the setup script, eltops' handlers and eltops' shared modules."""
    assert (deploy / "setup_script.sql").read_text() == SETUP_SCRIPT.read_text()
    deployed = {p.name for p in (deploy / "python").glob("*.py")}
    assert deployed == set(_generate.shipped_sources())
    for name, source in _generate.shipped_sources().items():
        assert (deploy / "python" / name).read_bytes() == source.read_bytes(), name


def test_every_import_path_of_the_setup_script_is_deployed(deploy: Path) -> None:
    """Each function and procedure imports the handlers and the shared modules, and each path is deployed."""
    code = SETUP_SCRIPT.read_text() + "\n".join(_generate.orchestra_app.api_object_statements())
    imports = re.findall(r"IMPORTS = \(([^)]*)\)", code)
    declared = re.findall(
        r"CREATE OR REPLACE (?:PROCEDURE|FUNCTION) core\.\w+\([^)]*\)\s+RETURNS \w+ LANGUAGE PYTHON", code
    )
    assert len(imports) == len(declared) >= len(_generate.orchestra_app.API_OBJECT_NAMES) + 1
    assert tuple(_generate.shipped_sources()) == _generate.orchestra_app.SHIPPED_FILES
    expected = {f"/python/{name}" for name in _generate.shipped_sources()}
    for clause in imports:
        assert set(re.findall(r"'([^']+)'", clause)) == expected
    for path in expected:
        assert (deploy / path.lstrip("/")).is_file()


_ISOLATED = textwrap.dedent(
    """
    import json, sys, types
    sys.path.insert(0, sys.argv[1])
    stub = types.ModuleType("_snowflake")
    stub.get_generic_secret_string = {"api_key": sys.argv[3]}.__getitem__
    sys.modules["_snowflake"] = stub
    import orchestra_app
    orchestra_app.API_URL = sys.argv[2]
    orchestra_app.RATE_LIMIT_PER_MINUTE = None
    body = orchestra_app.get_task_runs(1, 100)
    api = orchestra_app.OrchestraApi(sys.argv[2], sys.argv[3], rate_limit_per_minute=None)
    pages = list(api.iter_window(orchestra_app._records.TASK_RUNS, None))
    outside = sorted(
        name for name in sys.modules
        if name.split(".")[0] not in sys.stdlib_module_names and name != "__main__"
    )
    print(json.dumps({
        "shared": [m.__name__ for m in (orchestra_app._plan, orchestra_app._records, orchestra_app._retry,
                                        orchestra_app._api_errors)],
        "modules": outside,
        "total": body["total"],
        "rows": sum(p.rows for p in pages),
    }))
    """
)


def test_handlers_run_on_the_standard_library_alone(deploy: Path, api_url: str) -> None:
    """The deployed handlers import and load pages with only the stdlib, ``_snowflake`` and the shipped modules.

    A fresh interpreter without site-packages (``-I -S``: no eltops, httpx, orjson or pyarrow) imports the deploy
    folder's ``orchestra_app``, fetches a raw page through the UDF entry point and walks a whole window from the
    emulator over a socket.
    """
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", _ISOLATED, str(deploy / "python"), api_url, KEY],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["shared"] == ["_plan", "_records", "_retry", "_api_errors"]  # the shipped top-level copies
    shipped = {Path(n).stem for n in _generate.shipped_sources()}
    assert set(report["modules"]) <= shipped | SNOWFLAKE_PROVIDED
    assert report["rows"] == report["total"] > 0
