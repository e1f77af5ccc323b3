"""A ``fivetran`` job imports what it uses: without ``--record-to``, no warehouse, Orchestra or history code, no
warehouse driver and not httpx's own command-line tool — checked in the real command's own process against the
emulator over a socket."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.fivetran.conftest import Served

_PROBE = """
import contextlib, io, json, os, sys
from eltops.cli import run_command
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    code = run_command(sys.argv[1:], env=dict(os.environ))
print(json.dumps({"code": code, "modules": sorted(m for m, module in sys.modules.items() if module is not None)}))
"""

UNUSED_WITHOUT_A_WAREHOUSE = (
    "eltops.orchestra",
    "eltops.history",
    "eltops.load",
    "eltops.report",
    "eltops.warehouse._target",
    "eltops.warehouse._duckdb",
    "eltops.warehouse._snowflake",
    "eltops.warehouse._snowflake_config",
    "eltops.warehouse._lock",
    "eltops.warehouse._ddl",
    "duckdb",
    "pyarrow",
    "snowflake.connector",
    "xml.sax",
    "pygments",  # httpx's own command-line tool (httpx._main) imports it, with rich.syntax, when installed
    "rich.syntax",
)
"""Only the warehouse name's parser (``eltops.warehouse._spec``, standard library) is imported, to see none is set."""


def _modules_of(served: Served, *args: str) -> tuple[int, list[str]]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *args],
        env=served.env(),
        cwd=served.tmp,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result["code"], result["modules"]


def _present(modules: list[str], names: tuple[str, ...]) -> list[str]:
    return [name for name in names if any(m == name or m.startswith(name + ".") for m in modules)]


@pytest.mark.parametrize("action", ["start", "status"])
def test_a_job_without_a_warehouse_imports_no_warehouse_code(served: Served, action: str) -> None:
    """START and STATUS without ``--record-to`` run to exit 0 with no Orchestra, history or warehouse module loaded."""
    code, modules = _modules_of(served, "fivetran", action)
    assert code == 0
    assert _present(modules, UNUSED_WITHOUT_A_WAREHOUSE) == []
    assert "eltops.fivetran._orchestrator" in modules


def test_a_job_that_records_imports_the_warehouse(served: Served) -> None:
    """With ``--record-to`` a DuckDB file the same job loads DuckDB and the history (so the check above can fail)."""
    code, modules = _modules_of(served, "fivetran", "start", "--record-to", str(served.tmp / "runs.duckdb"))
    assert code == 0
    assert _present(modules, ("duckdb", "eltops.history", "eltops.warehouse._duckdb")) == [
        "duckdb",
        "eltops.history",
        "eltops.warehouse._duckdb",
    ]
