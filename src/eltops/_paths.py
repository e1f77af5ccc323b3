"""The one rule for the files eltops writes (a report, a JUnit file, a DuckDB warehouse): checked before any work.

An output file's directory must already exist and be writable; eltops never creates directories, so a typo in a
path fails at once (exit 2, naming the directory) instead of writing somewhere unexpected or failing after an hour
of syncing. A read-only file system is the same case: exit 2.

An output file never replaces something eltops did not write: a path that is the warehouse (the same file, by
resolved path), or an existing file that is not an earlier eltops artefact of the same kind (an earlier report for
a report, an earlier JUnit file of eltops for a JUnit file), is refused with exit 2 before anything is written,
unless the user says ``--force``. A file is written whole or not at all: into a temporary file beside it, then
renamed over it (:func:`write_output`), so a failure halfway never leaves half a file.

Files a CI system hands out to be appended to (``GITHUB_OUTPUT``, ``GITHUB_STEP_SUMMARY``, a GitLab dotenv file) are
appended to by contract and never truncated; :func:`append_output` refuses (with a warning: these are courtesies) a
file that is binary, such as a DuckDB warehouse named there by mistake.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from eltops.errors import ConfigError

__all__ = ["JUNIT", "REPORT", "OutputKind", "append_output", "not_the_warehouse", "output_file", "write_output"]

log = logging.getLogger("eltops.ci")

_HEAD_BYTES = 4096  # an artefact's signature is in its first lines


@dataclass(frozen=True)
class OutputKind:
    """A kind of file eltops writes: what to call it, and the bytes near its start that mark an earlier one."""

    what: str
    signatures: tuple[bytes, ...]

    def written_before(self, path: Path) -> bool:
        """Whether ``path`` starts like a file of this kind that eltops wrote."""
        try:
            with path.open("rb") as handle:
                head = handle.read(_HEAD_BYTES)
        except OSError:
            return False
        return any(signature in head for signature in self.signatures)


REPORT = OutputKind("the report", (b'<meta name="generator" content="eltops', b"<title>eltops run history</title>"))
JUNIT = OutputKind("the JUnit report", (b'<testsuites name="eltops"',))


def output_file(
    path: Path,
    what: str | OutputKind,
    *,
    force: bool = False,
    protect: Iterable[Path | None] = (),
) -> Path:
    """``path`` if ``what`` (e.g. "the JUnit report", or a kind) can be written there, else a ConfigError saying why.

    With a kind, ``path`` must also not be one of ``protect`` (the warehouse) and, when it exists, must be an earlier
    file of that kind, unless ``force``.
    """
    name = what.what if isinstance(what, OutputKind) else what
    parent = path.parent
    if path.is_dir():
        raise ConfigError(f"{name} {path} is a directory; name a file")
    if not parent.is_dir():
        raise ConfigError(
            f"the directory of {name} {path} does not exist: create {parent} first (eltops creates no directories)"
        )
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ConfigError(f"{name} {path} cannot be written there (a read-only file system, or no permission)")
    if not isinstance(what, OutputKind):
        return path
    for protected in protect:
        not_the_warehouse(path, protected, what)
    if path.exists() and not force and not what.written_before(path):
        raise ConfigError(
            f"{name} {path} already exists and is not an earlier {name.removeprefix('the ')} of eltops, so it was "
            "left alone: name another file, or add --force to replace it"
        )
    return path


def not_the_warehouse(path: Path | None, warehouse: Path | None, what: str | OutputKind) -> None:
    """A ConfigError when ``path`` is the warehouse file ``warehouse`` (by resolved path), whatever ``--force`` says:
    writing a report or a JUnit file over the warehouse is never what anyone means."""
    if path is None or warehouse is None or path.resolve() != warehouse.resolve():
        return
    name = what.what if isinstance(what, OutputKind) else what
    raise ConfigError(
        f"{name} {path} is the warehouse {warehouse}: writing it there would destroy the recorded history; "
        "name another file"
    )


def write_output(path: Path, text: str, what: str | OutputKind) -> None:
    """Write ``text`` to ``path`` whole or not at all (a temporary file beside it, then renamed); ConfigError if not.

    The new file gets the mode a plain ``open(path, "w")`` would give it (the old file's, else 0666 less the umask).
    """
    name = what.what if isinstance(what, OutputKind) else what
    try:
        mode = path.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    temporary: str | None = None
    try:
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
        temporary = None
    except OSError as exc:
        raise ConfigError(f"cannot write {name} {path}: {exc.strerror or exc}") from None
    finally:
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary)


def append_output(path: Path, text: str, what: str) -> None:
    """Append ``text`` to ``path`` (created if missing; never truncated); a warning instead when it cannot be.

    A file that is binary (a NUL byte in its first 4 KiB: a DuckDB warehouse, say) is never appended to.
    """
    if not text:
        return
    try:
        with path.open("rb") as handle:
            binary = b"\x00" in handle.read(_HEAD_BYTES)
    except FileNotFoundError:
        binary = False
    except OSError as exc:
        log.warning("could not write %s to %s: %s", what, path, exc.strerror or exc)
        return
    if binary:
        log.warning("did not write %s to %s: it is a binary file (a warehouse?), not a text file", what, path)
        return
    try:
        with path.open("a", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
    except OSError as exc:
        log.warning("could not write %s to %s: %s", what, path, exc.strerror or exc)
