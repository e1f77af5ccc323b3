"""Each command imports what it uses: a command's start does not pay for the others' dependencies."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("pyarrow", "pandas", "plotly", "werkzeug", "duckdb")

_PROBE = """
import contextlib, io, json, sys
from eltops.cli import run_command
out = io.StringIO()
with contextlib.redirect_stdout(out):
    code = run_command(sys.argv[1:], env={})
print(json.dumps({"code": code, "help": out.getvalue(), "modules": sorted({m.split(".")[0] for m in sys.modules})}))
"""


def _imported_by(*args: str) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", _PROBE, *args], capture_output=True, text=True, check=True)
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.parametrize(
    ("args", "allowed"),
    [(("orchestra", "load", "--help"), ()), (("fivetran", "--help"), ()), (("report", "--help"), ("duckdb", "plotly"))],
)
def test_a_command_imports_none_of_the_others_heavy_dependencies(
    args: tuple[str, ...], allowed: tuple[str, ...]
) -> None:
    """Showing a command's help imports none of pyarrow, pandas, Plotly, werkzeug or DuckDB it does not use."""
    result = _imported_by(*args)
    assert result["code"] == 0
    assert "Usage: eltops" in str(result["help"])
    modules = result["modules"]
    assert isinstance(modules, list)
    assert [m for m in HEAVY if m in modules and m not in allowed] == []


def test_the_top_level_help_still_lists_every_command() -> None:
    """Lazy loading keeps ``eltops --help`` complete."""
    result = _imported_by("--help")
    assert result["code"] == 0
    for command in ("demo", "emulate", "fivetran", "orchestra", "report"):
        assert f"  {command}" in str(result["help"])
