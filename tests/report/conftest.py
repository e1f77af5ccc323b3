"""One real ``eltops demo`` run for the whole session: the report and demo tests assert on its output and files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

# The console script's entry point, as `eltops demo` runs it, then which threads are still alive once it returned.
DEMO = """
import json, sys, threading
from eltops.cli import main
try:
    main()
except SystemExit as exc:
    code = exc.code
alive = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
print(json.dumps({"code": code, "alive": alive}))
"""


@dataclass(frozen=True)
class DemoRun:
    directory: Path  # the working directory it ran in, where it writes by default
    code: int
    stderr: str
    alive: list[str]  # threads left running after it returned

    @property
    def db(self) -> Path:
        return self.directory / "eltops-demo.duckdb"

    @property
    def report(self) -> Path:
        return self.directory / "eltops-demo-report.html"


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """`eltops demo` in a fresh directory and process, run once; what it printed, wrote and left running."""
    directory = tmp_path_factory.mktemp("demo")
    done = subprocess.run(
        [sys.executable, "-c", DEMO, "demo"],
        cwd=directory,
        env={"PATH": os.environ.get("PATH", ""), "HOME": str(directory)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    assert lines, f"the demo process printed nothing on stdout: {done.stderr[-3000:]}"
    ending = json.loads(lines[-1])
    return DemoRun(directory, ending["code"], done.stderr, ending["alive"])
