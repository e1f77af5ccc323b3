"""The commands ``eltops report`` and ``eltops demo`` print as next steps run as printed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from eltops._serve import serve_in_thread
from eltops.orchestra.emulator import BASE_PATH, OrchestraEmulator, Volume
from tests._hints import hinted_commands
from tests.report.conftest import DemoRun

KEY = "hint-key"


def _eltops(command: list[str], *, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``command`` (starting ``eltops`` or a path to it) run as the console script would, in ``cwd``."""
    base = {"PATH": os.environ.get("PATH", ""), "HOME": str(cwd)}
    return subprocess.run(
        [sys.executable, "-m", "eltops", *command[1:]],
        cwd=cwd,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_missing_warehouse_hints_run_as_printed(tmp_path: Path) -> None:
    """`report` on a missing warehouse names a load into that very file; run as printed, the report then works."""
    missing = _eltops(["eltops", "report", "--from", "history.duckdb"], cwd=tmp_path)
    assert missing.returncode == 2
    commands = hinted_commands(missing.stderr)
    assert [c[:3] for c in commands] == [["eltops", "orchestra", "load"], ["eltops", "demo"]], missing.stderr
    emulator = OrchestraEmulator(api_key=KEY, volume=Volume(task_runs=50, days=2))
    with serve_in_thread(emulator.wsgi_app) as server:
        env = {"ORCHESTRA_API_URL": server.url + BASE_PATH, "ORCHESTRA_API_KEY": KEY, "ORCHESTRA_RATE_LIMIT": "0"}
        for command in commands:
            done = _eltops(command, cwd=tmp_path, env=env)
            assert done.returncode == 0, (command, done.stderr)
    report = _eltops(["eltops", "report", "--from", "history.duckdb"], cwd=tmp_path)
    assert report.returncode == 0, report.stderr


def test_the_demos_next_hint_runs_as_printed(demo_run: DemoRun) -> None:
    """The demo's "Next:" command reaches this installation's eltops (on the PATH or by its full path) and works,
    in the demo's directory, from a shell whose PATH has no virtual environment on it."""
    assert demo_run.code == 0, demo_run.stderr[-2000:]
    (next_line,) = [line for line in demo_run.stderr.splitlines() if line.startswith("Next:")]
    (command,) = hinted_commands(next_line)
    if command[0] != "eltops":  # not on the PATH (the fixture's PATH has no .venv/bin): the full path
        assert Path(command[0]).is_absolute()
        assert "/bin/activate` first" in demo_run.stderr.split("Next:", 1)[1]
    done = subprocess.run(
        command if command[0] != "eltops" else [sys.executable, "-m", "eltops", *command[1:]],
        cwd=demo_run.directory,
        env={"PATH": "/usr/bin:/bin", "HOME": str(demo_run.directory)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert (demo_run.directory / "report.html").is_file()
