"""Step outputs: GitHub's GITHUB_OUTPUT file and GitLab's dotenv report, masked."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from eltops._step_outputs import write_step_outputs
from eltops.secrets import MASKER


def test_github_outputs_single_and_multi_line(tmp_path: Path) -> None:
    """One-line values are name=value; a multi-line value uses the name<<DELIMITER form, appended to the file."""
    out = tmp_path / "github_output"
    out.write_text("earlier=1\n")
    write_step_outputs({"run_id": "abc", "log": "line 1\nline 2"}, {"GITHUB_OUTPUT": str(out)})
    lines = out.read_text().splitlines()
    assert lines[:2] == ["earlier=1", "run_id=abc"]
    name, _, delimiter = lines[2].partition("<<")
    assert name == "log"
    assert lines[3:] == ["line 1", "line 2", delimiter]


def test_gitlab_dotenv(tmp_path: Path) -> None:
    """GitLab gets KEY=value lines in ELTOPS_DOTENV_FILE; a line break cannot live in a dotenv value."""
    out = tmp_path / "build.env"
    write_step_outputs({"STATUS": "FAILED", "NOTE": "a\nb"}, {"ELTOPS_DOTENV_FILE": str(out)})
    assert out.read_text() == "STATUS=FAILED\nNOTE=a b\n"


@pytest.mark.parametrize("variable", ["GITHUB_OUTPUT", "ELTOPS_DOTENV_FILE"])
def test_values_are_masked(tmp_path: Path, variable: str) -> None:
    """A registered secret never reaches an outputs file."""
    MASKER.add("s3cr3t-value")
    out = tmp_path / "out"
    write_step_outputs({"link": "https://x/?token=s3cr3t-value"}, {variable: str(out)})
    assert "s3cr3t-value" not in out.read_text()
    assert "link=" in out.read_text()


def test_nothing_is_written_outside_ci(tmp_path: Path) -> None:
    """Without either variable nothing is written anywhere."""
    write_step_outputs({"a": "b"}, {})
    assert list(tmp_path.iterdir()) == []


def test_an_unwritable_file_is_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A file that cannot be written logs a warning and raises nothing."""
    with caplog.at_level(logging.WARNING):
        write_step_outputs({"a": "b"}, {"GITHUB_OUTPUT": str(tmp_path / "missing" / "out")})
    assert "could not write the step outputs" in caplog.text
