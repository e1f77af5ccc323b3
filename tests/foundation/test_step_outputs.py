"""Step outputs for GitHub ($GITHUB_OUTPUT) and GitLab (a dotenv report): formats, limits, masking."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from eltops._step_outputs import DOTENV_MAX_BYTES, write_step_outputs
from eltops.secrets import MASKER


def test_github_single_and_multi_line_values(tmp_path: Path) -> None:
    """A one-line value is name=value; a multi-line one uses name<<DELIMITER with a random delimiter."""
    target = tmp_path / "output"
    target.write_text("earlier=1\n")
    write_step_outputs({"A": "one", "B": "two\nlines"}, {"GITHUB_OUTPUT": str(target)})
    text = target.read_text()
    match = re.fullmatch(r"earlier=1\nA=one\nB<<(ghadelimiter_[0-9a-f-]{36})\ntwo\nlines\n\1\n", text)
    assert match is not None, text


def test_the_delimiter_differs_every_time(tmp_path: Path) -> None:
    """Two writes use two delimiters, so no value can guess and end the block early."""
    target = tmp_path / "output"
    for _ in range(2):
        write_step_outputs({"B": "x\ny"}, {"GITHUB_OUTPUT": str(target)})
    delimiters = re.findall(r"^B<<(\S+)$", target.read_text(), flags=re.MULTILINE)
    assert len(set(delimiters)) == 2


def test_gitlab_dotenv_lines(tmp_path: Path) -> None:
    """GitLab gets KEY=value lines, a multi-line value folded onto one line, after what was there."""
    target = tmp_path / "job.env"
    target.write_text("OTHER=1")  # no trailing newline
    write_step_outputs({"A": "one", "B": "two\n  lines"}, {"ELTOPS_DOTENV_FILE": str(target)})
    assert target.read_text() == "OTHER=1\nA=one\nB=two lines\n"


@pytest.mark.parametrize("variable", ["GITHUB_OUTPUT", "ELTOPS_DOTENV_FILE"])
def test_secrets_are_masked(tmp_path: Path, variable: str) -> None:
    """A registered secret inside a value is written masked."""
    MASKER.add("hunter2-secret")
    target = tmp_path / "out"
    write_step_outputs({"MESSAGE": "login hunter2-secret failed"}, {variable: str(target)})
    assert "hunter2-secret" not in target.read_text()
    assert "******" in target.read_text()


@pytest.mark.parametrize(
    ("existing", "outputs", "kept"),
    [
        ("", {"BIG": "x" * DOTENV_MAX_BYTES, "SMALL": "y"}, ["SMALL"]),
        ("".join(f"V{i}=1\n" for i in range(19)), {"A": "1", "B": "2"}, ["A"]),
    ],
)
def test_gitlab_limits_leave_a_value_out_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, existing: str, outputs: dict[str, str], kept: list[str]
) -> None:
    """A value past GitLab's 5 KB or 20-variable limit is left out (and said), the others are written."""
    target = tmp_path / "job.env"
    target.write_text(existing)
    with caplog.at_level(logging.WARNING, logger="eltops.ci"):
        write_step_outputs(outputs, {"ELTOPS_DOTENV_FILE": str(target)})
    written = [line.split("=")[0] for line in target.read_text().splitlines()[existing.count("\n") :]]
    assert written == kept
    assert "GitLab refuses a dotenv report" in caplog.text


def test_nothing_configured_writes_nothing(tmp_path: Path) -> None:
    """Outside CI (neither variable set) nothing is written anywhere."""
    write_step_outputs({"A": "1"}, {})
    assert list(tmp_path.iterdir()) == []


def test_an_unwritable_file_is_only_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A step-output file that cannot be written warns and raises nothing."""
    with caplog.at_level(logging.WARNING, logger="eltops.ci"):
        write_step_outputs({"A": "1"}, {"GITHUB_OUTPUT": str(tmp_path / "missing" / "out")})
    assert "could not write step outputs" in caplog.text
