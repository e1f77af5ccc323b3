"""The package as released: ``python -m build`` makes a wheel and an sdist that twine accepts, and the wheel
installed alone into a fresh venv runs the Fivetran orchestrator and an Orchestra load against the emulators."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import eltops
from tests.packaging._support import Emulators, count_rows, run
from tests.packaging.conftest import Built, LeanVenv

pytestmark = pytest.mark.slow


def test_twine_accepts_the_wheel_and_the_sdist(built: Built) -> None:
    """``twine check --strict`` passes both distributions (metadata, README rendering)."""
    done = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", str(built.wheel), str(built.sdist)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("PASSED") == 2


def test_the_version_comes_from_one_place(built: Built) -> None:
    """Both file names and the wheel's metadata carry ``eltops.__version__``, and the changelog names it."""
    assert built.wheel.name.startswith(f"eltops-{eltops.__version__}-")
    assert built.sdist.name == f"eltops-{eltops.__version__}.tar.gz"
    with zipfile.ZipFile(built.wheel) as wheel:
        metadata = wheel.read(f"eltops-{eltops.__version__}.dist-info/METADATA").decode()
    assert f"\nVersion: {eltops.__version__}\n" in metadata
    assert f"## [{eltops.__version__}]" in (Path(__file__).parents[2] / "CHANGELOG.md").read_text(encoding="utf-8")


def test_the_wheel_holds_the_package_and_its_data_and_no_tests(built: Built) -> None:
    """The wheel has the typed package with both emulators; the sdist adds the tests, README and changelog."""
    with zipfile.ZipFile(built.wheel) as wheel:
        names = set(wheel.namelist())
    assert {"eltops/py.typed", "eltops/cli/__init__.py", "eltops/fivetran/emulator/__init__.py"} <= names
    assert not [n for n in names if n.startswith("tests/")]
    with zipfile.ZipFile(built.wheel) as wheel:
        metadata = wheel.read(f"eltops-{eltops.__version__}.dist-info/METADATA").decode()
    requires = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    base = [r for r in requires if "extra ==" not in r]
    assert not [r for r in base if any(m in r for m in ("pyarrow", "plotly", "pandas", "snowflake"))]
    assert {"report", "snowflake", "all"} <= {
        line.split()[-1] for line in metadata.splitlines() if "Provides-Extra" in line
    }
    with tarfile.open(built.sdist) as sdist:
        members = {m.name.split("/", 1)[1] for m in sdist.getmembers() if "/" in m.name}
    assert {"README.md", "CHANGELOG.md", "pyproject.toml", "src/eltops/__init__.py"} <= members


def test_the_lean_install_has_no_extra(lean_venv: LeanVenv) -> None:
    """``pip install eltops`` brings neither pyarrow, pandas, Plotly nor the Snowflake connector."""
    done = subprocess.run(
        [str(lean_venv.bin / "python"), "-m", "pip", "list", "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    installed = {p["name"].lower() for p in json.loads(done.stdout)}
    assert "eltops" in installed
    assert installed.isdisjoint({"pyarrow", "pandas", "plotly", "snowflake-connector-python"})


def test_eltops_help_and_version_from_the_wheel(tmp_path: Path, lean_venv: LeanVenv) -> None:
    """The installed console script answers ``--help`` (every command listed) and ``--version``."""
    done = run([lean_venv.eltops, "--help"], env={"PATH": str(lean_venv.bin)}, cwd=tmp_path)
    assert done.code == 0, done.stderr
    assert all(f"  {c}" in done.stdout for c in ("emulate", "fivetran", "orchestra", "report"))
    version = run([lean_venv.eltops, "--version"], env={"PATH": str(lean_venv.bin)}, cwd=tmp_path)
    assert version.stdout.strip() == f"eltops, version {eltops.__version__}"


def test_fivetran_start_from_the_wheel(tmp_path: Path, lean_venv: LeanVenv, served: Emulators) -> None:
    """START on two connections with DuckDB run history, from the lean venv: exit 0 and the history written."""
    env = served.env(FIVETRAN_ACTION="START", CONNECTOR_ID="good,crm", ELTOPS_WAREHOUSE="history.duckdb")
    done = run([lean_venv.eltops, "fivetran"], env=env, cwd=tmp_path)
    assert done.code == 0, done.stderr
    assert count_rows(tmp_path / "history.duckdb", "operations", "operation_status = 'SUCCEEDED'") == 2


def test_a_failed_sync_from_the_wheel_exits_1(tmp_path: Path, lean_venv: LeanVenv, served: Emulators) -> None:
    """A failing connection fails the job (exit 1), as from a checkout."""
    done = run([lean_venv.eltops, "fivetran", "start", "--connector-id", "bad"], env=served.env(), cwd=tmp_path)
    assert done.code == 1, done.stderr


def test_orchestra_load_from_the_wheel(tmp_path: Path, lean_venv: LeanVenv, served: Emulators) -> None:
    """``eltops orchestra load`` into DuckDB from the lean venv loads all three tables."""
    done = run([lean_venv.eltops, "orchestra", "load", "--to", "o.duckdb", "--json"], env=served.env(), cwd=tmp_path)
    assert done.code == 0, done.stderr
    for table in ("pipeline_runs", "task_runs", "operations"):
        assert count_rows(tmp_path / "o.duckdb", table) > 0


def test_the_report_from_the_wheel_names_its_extra(tmp_path: Path, lean_venv: LeanVenv) -> None:
    """Without the report extra, ``eltops report`` exits 2 with the pip command, no traceback."""
    done = run([lean_venv.eltops, "report"], env={"PATH": str(lean_venv.bin)}, cwd=tmp_path)
    assert done.code == 2
    assert "pip install 'eltops[report]'" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_emulator_serves_from_the_wheel(tmp_path: Path, lean_venv: LeanVenv) -> None:
    """``eltops emulate fivetran --port 0`` from the lean venv prints its URL and answers a connection request."""
    import httpx

    proc = subprocess.Popen(
        [str(lean_venv.eltops), "emulate", "fivetran", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        answer = httpx.get(f"{url}/v1/connections/demo_shop", auth=("emulator-key", "emulator-secret"), timeout=10)
        assert answer.status_code == 200
        assert answer.json()["data"]["id"] == "demo_shop"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
