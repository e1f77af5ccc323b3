"""README lines run as a person pastes them: through ``sh``, with ``eltops`` on the PATH, in one working directory.

A line may use the shell (``$(date -u -d '3 days ago' +%F)``, ``VAR=value eltops ...``, a file an earlier line
wrote), so the examples can use dates relative to now and pass step outputs along, as a real pipeline would.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path


def eltops_shim(directory: Path) -> Path:
    """A directory holding an ``eltops`` command that runs this interpreter's eltops (prepend it to PATH)."""
    bin_dir = directory / "bin"
    bin_dir.mkdir(exist_ok=True)
    shim = bin_dir / "eltops"
    shim.write_text(f'#!/bin/sh\nexec {sys.executable} -m eltops "$@"\n')
    shim.chmod(shim.stat().st_mode | stat.S_IXUSR)
    return bin_dir


def shell_env(shim: Path, **extra: str) -> dict[str, str]:
    """An environment with the shim first on PATH, and ``extra``."""
    return {"PATH": f"{shim}{os.pathsep}{os.environ.get('PATH', '')}", **extra}


def run_line(line: str, *, env: dict[str, str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``line`` run by ``sh -c`` (its trailing ``# comment`` is the shell's to ignore)."""
    return subprocess.run(
        ["/bin/sh", "-c", line], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )


def start_line(line: str, *, env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    """``line`` started by ``sh -c 'exec ...'`` (so a signal reaches eltops itself), stderr piped."""
    return subprocess.Popen(["/bin/sh", "-c", f"exec {line}"], env=env, cwd=cwd, stderr=subprocess.PIPE, text=True)
