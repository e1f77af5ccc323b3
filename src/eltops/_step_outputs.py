"""Step outputs: values a CI job hands to later steps or jobs (a run id, a status, a link).

- GitHub Actions: appended to the file named by ``GITHUB_OUTPUT`` as ``name=value``, or, for a value with a line
  break, as ``name<<DELIMITER`` / value / ``DELIMITER`` with a random delimiter that is not in the value.
- GitLab CI: appended as ``NAME=value`` lines to the dotenv file named by ``ELTOPS_DOTENV_FILE``, which the job
  declares as ``artifacts: reports: dotenv:``. A dotenv value is one line, so line breaks become spaces.

Every value goes through the masker first. Writing is a courtesy: an unwritable file is a warning, never the job's
outcome.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from pathlib import Path

from eltops.secrets import MASKER

__all__ = ["write_step_outputs"]

log = logging.getLogger("eltops")


def _github_lines(outputs: Mapping[str, str]) -> str:
    lines = []
    for name, value in outputs.items():
        if "\n" in value or "\r" in value:
            delimiter = f"ghadelimiter_{secrets.token_hex(8)}"
            while delimiter in value:
                delimiter = f"ghadelimiter_{secrets.token_hex(8)}"
            lines.append(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
        else:
            lines.append(f"{name}={value}\n")
    return "".join(lines)


def _dotenv_lines(outputs: Mapping[str, str]) -> str:
    return "".join(f"{name}={' '.join(value.splitlines())}\n" for name, value in outputs.items())


def _append(path: Path, text: str) -> None:
    try:
        with path.open("a", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        log.warning("could not write the step outputs to %s: %s", path, exc.strerror or exc)


def write_step_outputs(outputs: Mapping[str, str], environ: Mapping[str, str]) -> None:
    """Append ``outputs`` (masked) to GitHub's ``GITHUB_OUTPUT`` and/or GitLab's ``ELTOPS_DOTENV_FILE``."""
    masked = {name: MASKER.redact(value) for name, value in outputs.items()}
    github = environ.get("GITHUB_OUTPUT")
    if github:
        _append(Path(github), _github_lines(masked))
    dotenv = environ.get("ELTOPS_DOTENV_FILE")
    if dotenv:
        _append(Path(dotenv), _dotenv_lines(masked))
