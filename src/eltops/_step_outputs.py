"""Step outputs: values a later CI step or job reads, written where the CI system looks for them.

- GitHub Actions: appended to the file named by ``GITHUB_OUTPUT``, ``name=value`` per line; a multi-line value in
  the ``name<<DELIMITER`` form with a random delimiter (what GitHub's own toolkit does), so no value can end it.
- GitLab CI: appended as ``KEY=value`` lines to the dotenv file named by ``ELTOPS_DOTENV_FILE``, which the job
  declares as its ``artifacts:reports:dotenv``. GitLab's dotenv rules: a key is ASCII letters, digits and
  underscores; a value is one line (no multi-line values, quotes are kept as they are, nothing is expanded);
  the file stays under 5 KB and 20 variables (GitLab.com's smallest plan limit), else GitLab refuses the report.
  A value that does not fit is left out with a warning rather than spoiling the whole report.

Every value passes through the secrets masker first. Writing is a courtesy: a file that cannot be written (or
that is binary, such as a warehouse named there by mistake) is a warning, never a change of the command's outcome.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Mapping
from pathlib import Path

from eltops._paths import append_output
from eltops.secrets import MASKER

__all__ = ["DOTENV_MAX_BYTES", "DOTENV_MAX_VARIABLES", "write_step_outputs"]

log = logging.getLogger("eltops.ci")

DOTENV_MAX_BYTES = 5 * 1024
DOTENV_MAX_VARIABLES = 20
_DOTENV_KEY = re.compile(r"[A-Za-z0-9_]+")
_GITHUB_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def write_step_outputs(outputs: Mapping[str, str], environ: Mapping[str, str]) -> None:
    """Append ``outputs`` to GitHub's ``$GITHUB_OUTPUT`` and/or GitLab's dotenv file ``$ELTOPS_DOTENV_FILE``."""
    masked = {name: MASKER.redact(value) for name, value in outputs.items()}
    github = environ.get("GITHUB_OUTPUT")
    if github:
        _append(Path(github), "".join(_github_entry(name, value) for name, value in masked.items()))
    dotenv = environ.get("ELTOPS_DOTENV_FILE")
    if dotenv:
        _append_dotenv(Path(dotenv), masked)


def _github_entry(name: str, value: str) -> str:
    if not _GITHUB_NAME.fullmatch(name):
        raise ValueError(f"{name!r} is not a valid GitHub step output name")
    if "\n" not in value and "\r" not in value:
        return f"{name}={value}\n"
    delimiter = f"ghadelimiter_{uuid.uuid4()}"
    return f"{name}<<{delimiter}\n{value}\n{delimiter}\n"


def _append_dotenv(path: Path, outputs: Mapping[str, str]) -> None:
    try:
        existing = path.read_bytes() if path.exists() else b""
    except OSError as exc:
        log.warning("could not read the dotenv file %s, so no step outputs were written to it: %s", path, exc)
        return
    size = len(existing)
    count = sum(1 for line in existing.splitlines() if b"=" in line)
    lines: list[str] = []
    for name, value in outputs.items():
        if not _DOTENV_KEY.fullmatch(name):
            raise ValueError(f"{name!r} is not a valid GitLab dotenv variable name")
        line = f"{name}={' '.join(value.split())}\n"  # one line: GitLab has no multi-line dotenv values
        encoded = len(line.encode())
        if size + encoded > DOTENV_MAX_BYTES or count + 1 > DOTENV_MAX_VARIABLES:
            log.warning(
                "left %s out of the dotenv file %s: GitLab refuses a dotenv report over %d bytes or %d variables",
                name,
                path,
                DOTENV_MAX_BYTES,
                DOTENV_MAX_VARIABLES,
            )
            continue
        lines.append(line)
        size += encoded
        count += 1
    prefix = "\n" if existing and not existing.endswith(b"\n") else ""
    _append(path, prefix + "".join(lines))


def _append(path: Path, text: str) -> None:
    append_output(path, text, "step outputs")  # appended, never truncated; never into a binary file
