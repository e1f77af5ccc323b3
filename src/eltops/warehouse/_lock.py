"""A DuckDB file another process is writing: who holds it, and waiting for it within a bound.

DuckDB lets one process write a database file at a time (and none read it meanwhile): it locks the file, and
another process that opens it fails at once with ``Could not set lock on file "...": Conflicting lock is held in
/usr/bin/python3 (PID 1234)`` (https://duckdb.org/docs/current/connect/concurrency). eltops turns that into
:class:`WarehouseBusy`, which says which process holds the file, and :func:`open_when_free` retries the opening
every half second until the file is free or the wait is over.

Which process: while eltops holds a file it keeps a small sidecar, ``<file>.holder``, with its PID
(:class:`HolderMark`). A busy file whose sidecar names the PID DuckDB reports is held by eltops; any other holder
is "another process". Nothing is read from the holder's command line, which says where Python and the
virtual environment live, not what runs (a clone in a folder named ``eltops`` would make every Python there
look like eltops). A sidecar left by a killed process names a PID that no longer holds the file, so it is
ignored, and the next eltops that opens the file writes its own.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from eltops._deadline import Clock, Sleep
from eltops.errors import JobTimeout
from eltops.warehouse._target import WarehouseError

__all__ = ["POLL_SECONDS", "HolderMark", "WarehouseBusy", "busy_error", "open_when_free"]

log = logging.getLogger("eltops.warehouse")

POLL_SECONDS = 0.5
_LOCKED = re.compile(r"Could not set lock on file .*?\(PID (\d+)\)", re.DOTALL)

T = TypeVar("T")


class WarehouseBusy(WarehouseError):
    """Another process holds the DuckDB file's lock (exit 1; waiting for it with ``--wait`` and failing is 3)."""

    def __init__(self, path: Path, pid: int | None, *, hint: str) -> None:
        self.path = path
        self.pid = pid
        self.holder = _holder(path, pid)
        self.hint = hint
        super().__init__(f"{self.holder} is writing to {path}{hint}")


def busy_error(path: Path, exc: Exception, *, hint: str = "") -> WarehouseBusy | None:
    """The :class:`WarehouseBusy` DuckDB's error ``exc`` means, or None when it is about something else."""
    match = _LOCKED.search(str(exc))
    if match is None:
        return None
    return WarehouseBusy(path, int(match.group(1)), hint=hint)


def _holder(path: Path, pid: int | None) -> str:
    """ "another eltops process (PID n)" when ``path``'s sidecar names that PID, else "another process (PID n)"."""
    if pid is None:
        return "another process"
    eltops = HolderMark(path).pid() == pid
    return f"another {'eltops ' if eltops else ''}process (PID {pid})"


class HolderMark:
    """The sidecar ``<file>.holder`` saying which eltops process holds a DuckDB file: written once the lock is ours."""

    def __init__(self, path: Path) -> None:
        self.path = path.with_name(path.name + ".holder")

    def pid(self) -> int | None:
        """The PID the sidecar names, or None when there is none (or it is not one eltops wrote)."""
        try:
            text = self.path.read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            return None
        return int(text) if text.isdigit() else None

    def claim(self) -> None:
        """Write this process's PID, replacing whatever an earlier (killed) holder left; best effort."""
        scratch = self.path.with_name(f"{self.path.name}.{os.getpid()}")
        try:
            scratch.write_text(f"{os.getpid()}\n", encoding="ascii")
            scratch.replace(self.path)
        except OSError:  # a read-only folder: the busy message then says "another process", nothing worse
            with contextlib.suppress(OSError):
                scratch.unlink()

    def release(self) -> None:
        """Remove the sidecar if it is still this process's."""
        if self.pid() == os.getpid():
            with contextlib.suppress(OSError):
                self.path.unlink()


def open_when_free(
    open_target: Callable[[], T],
    *,
    wait_seconds: float,
    clock: Clock = time.monotonic,
    sleep: Sleep = time.sleep,
    hint: str = "",
) -> T:
    """``open_target()``, tried again while the file is busy, for at most ``wait_seconds`` (0: once).

    Logs once that it waits, and for whom; raises :class:`WarehouseBusy` at once without a wait (its message
    ending with ``hint``: how to wait), and
    :class:`~eltops.errors.JobTimeout` (exit 3) when the other process still holds the file at the end of it.
    """
    deadline = clock() + wait_seconds
    waited = False
    while True:
        try:
            return open_target()
        except WarehouseBusy as exc:
            if wait_seconds <= 0:
                raise WarehouseBusy(exc.path, exc.pid, hint=hint) from None
            remaining = deadline - clock()
            if remaining <= 0:
                raise JobTimeout(
                    f"{exc.holder} was still writing to {exc.path} after {wait_seconds:g} s of waiting for it"
                ) from None
            if not waited:
                log.warning(
                    "%s is writing to %s; waiting up to %g s for it to finish", exc.holder, exc.path, wait_seconds
                )
                waited = True
            sleep(min(POLL_SECONDS, remaining))
