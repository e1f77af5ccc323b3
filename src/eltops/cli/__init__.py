"""The ``eltops`` command: a thin layer that parses options, calls the library, and maps errors to exit codes."""

from __future__ import annotations

import os
import signal
import sys
import types

from eltops.cli._app import AppContext, cli, run_command

__all__ = ["AppContext", "cli", "main", "run_command"]

# httpx imports its own command-line tool (and with it rich's syntax highlighting and pygments) whenever click, rich
# and pygments are installed, as they are for eltops: about 45 ms of every job's start, for a tool eltops never runs.
# Within the eltops command that import fails, and httpx falls back to its stub, as when they are not installed
# (the Orchestra fetch process does the same, eltops.load._fetch).
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]


def _terminated(signum: int, frame: types.FrameType | None) -> None:
    """SIGTERM (how CI systems cancel a job) unwinds like Ctrl-C, so recorders and reports see it."""
    raise SystemExit(128 + signum)


def main() -> None:
    """Console-script entry point: the only place that reads the process environment."""
    signal.signal(signal.SIGTERM, _terminated)
    sys.exit(run_command(sys.argv[1:], env=dict(os.environ)))
