"""The one rule for the files eltops writes (a report, a JUnit file, a DuckDB warehouse): checked before any work.

An output file's directory must already exist and be writable; eltops never creates directories, so a typo in a
path fails at once (exit 2, naming the directory) instead of writing somewhere unexpected or failing after an hour
of syncing. A read-only file system is the same case: exit 2.
"""

from __future__ import annotations

import os
from pathlib import Path

from eltops.errors import ConfigError

__all__ = ["output_file"]


def output_file(path: Path, what: str) -> Path:
    """``path`` if ``what`` (e.g. "the JUnit report") can be written there, else a ConfigError saying why."""
    parent = path.parent
    if path.is_dir():
        raise ConfigError(f"{what} {path} is a directory; name a file")
    if not parent.is_dir():
        raise ConfigError(
            f"the directory of {what} {path} does not exist: create {parent} first (eltops creates no directories)"
        )
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ConfigError(f"{what} {path} cannot be written there (a read-only file system, or no permission)")
    return path
