"""The ``eltops`` command: a thin layer that parses options, calls the library, and maps errors to exit codes."""

from __future__ import annotations

import os
import sys

from eltops.cli._app import AppContext, cli, run_command

__all__ = ["AppContext", "cli", "main", "run_command"]


def main() -> None:
    """Console-script entry point: the only place that reads the process environment."""
    sys.exit(run_command(sys.argv[1:], env=dict(os.environ)))
