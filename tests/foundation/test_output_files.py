"""The output-file guard: eltops never writes over the warehouse or a file it did not write, and never half a file."""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

import duckdb
import pytest

from eltops._paths import JUNIT, REPORT, OutputKind, append_output, output_file, write_output
from eltops._step_outputs import write_step_outputs
from eltops.cli import run_command
from eltops.cli._output import CiKind, Output
from eltops.errors import ConfigError

ENV = {
    "FIVETRAN_API_KEY": "k",
    "FIVETRAN_API_SECRET": "s",
    "ORCHESTRA_API_KEY": "k",
    "FIVETRAN_API_URL": "http://127.0.0.1:9",  # never reached: the checks come first
    "ORCHESTRA_API_URL": "http://127.0.0.1:9",
}


def _run(*args: str, cwd: Path) -> tuple[int, str]:
    """``eltops ARGS`` in-process in ``cwd``: (exit code, stderr)."""
    out = Output(ci=CiKind.NONE, colour=False, stdout=io.StringIO(), stderr=io.StringIO())
    before = Path.cwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out.stdout):
            code = run_command(list(args), env=dict(ENV), output=out)
    finally:
        os.chdir(before)
    assert isinstance(out.stderr, io.StringIO)
    return code, out.stderr.getvalue()


def _warehouse(path: Path) -> bytes:
    """A real DuckDB file at ``path`` with one table; its bytes."""
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE unrelated AS SELECT 1 AS id")
    return path.read_bytes()


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("report", "--from", "w.duckdb", "--out", "w.duckdb"), "the report w.duckdb is the warehouse"),
        (("report", "--from", "w.duckdb", "--out", "./sub/../w.duckdb"), "is the warehouse"),
        (("report", "--from", "w.duckdb", "--out", "w.duckdb", "--force"), "is the warehouse"),
        (("report", "--out", "eltops.duckdb"), "is the warehouse"),  # the default warehouse
        (("fivetran", "start", "--connector-id", "c1", "--record-to", "w.duckdb", "--junit", "w.duckdb"), "exists"),
        (
            ("fivetran", "start", "--connector-id", "c1", "--record-to", "w.duckdb", "--junit", "w.duckdb", "--force"),
            "JUnit report w.duckdb is the warehouse",
        ),
        (
            ("orchestra", "run", "nightly", "--record-to", "w.duckdb", "--junit", "w.duckdb", "--force"),
            "JUnit report w.duckdb is the warehouse",
        ),
    ],
)
def test_an_output_over_the_warehouse_is_exit_2_and_the_warehouse_is_untouched(
    tmp_path: Path, args: tuple[str, ...], said: str
) -> None:
    """An output path that resolves to the warehouse is refused (exit 2), even with --force; the file is unchanged."""
    (tmp_path / "sub").mkdir()
    warehouse = "eltops.duckdb" if "--from" not in args and "--record-to" not in args else "w.duckdb"
    before = _warehouse(tmp_path / warehouse)
    code, stderr = _run(*args, cwd=tmp_path)
    assert code == 2, stderr
    assert said in stderr
    assert (tmp_path / warehouse).read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["sub", warehouse])  # no temporary file left


@pytest.mark.parametrize(
    "args",
    [
        ("fivetran", "start", "--connector-id", "c1", "--record-to", "new.duckdb", "--junit", "new.duckdb"),
        ("orchestra", "run", "nightly", "--record-to", "new.duckdb", "--junit", "./new.duckdb"),
    ],
)
def test_a_junit_file_that_is_the_warehouse_to_be_is_refused_before_any_work(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    """A JUnit path that is the (not yet created) warehouse is exit 2 before anything is written or sent."""
    code, stderr = _run(*args, cwd=tmp_path)
    assert code == 2, stderr
    assert "is the warehouse" in stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "args",
    [
        ("report", "--from", "w.duckdb", "--out", "notes.txt"),
        ("fivetran", "start", "--connector-id", "c1", "--junit", "notes.txt"),
        ("orchestra", "run", "nightly", "--junit", "notes.txt"),
    ],
)
def test_an_existing_file_eltops_did_not_write_is_refused_without_force(tmp_path: Path, args: tuple[str, ...]) -> None:
    """An existing file that is not an earlier artefact of that kind is exit 2 naming --force, and left as it was."""
    _warehouse(tmp_path / "w.duckdb")
    (tmp_path / "notes.txt").write_text("my notes\n")
    code, stderr = _run(*args, cwd=tmp_path)
    assert code == 2, stderr
    assert "notes.txt already exists and is not an earlier" in stderr
    assert "--force" in stderr
    assert (tmp_path / "notes.txt").read_text() == "my notes\n"


def test_report_replaces_an_earlier_report_and_with_force_any_file(tmp_path: Path) -> None:
    """A report may be written over an earlier report without --force, and over any other file with it."""
    _warehouse(tmp_path / "w.duckdb")
    (tmp_path / "notes.txt").write_text("my notes\n")
    assert _run("report", "--from", "w.duckdb", "--out", "r.html", cwd=tmp_path)[0] == 0
    assert _run("report", "--from", "w.duckdb", "--out", "r.html", cwd=tmp_path)[0] == 0
    code, stderr = _run("report", "--from", "w.duckdb", "--out", "notes.txt", "--force", cwd=tmp_path)
    assert code == 0, stderr
    assert REPORT.written_before(tmp_path / "notes.txt")


@pytest.mark.parametrize(
    ("kind", "content", "earlier"),
    [
        (
            REPORT,
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>eltops run history</title>',
            True,
        ),
        (REPORT, '<html><head><meta name="generator" content="eltops 1.2.3">', True),
        (REPORT, "<html><head><title>My dashboard</title>", False),
        (JUNIT, "<?xml version='1.0' encoding='utf-8'?>\n<testsuites name=\"eltops\" tests=\"1\">", True),
        (JUNIT, '<?xml version="1.0"?>\n<testsuites name="pytest">', False),
        (JUNIT, "<title>eltops run history</title>", False),  # a report is not a JUnit file
    ],
)
def test_an_earlier_artefact_is_recognised_by_its_kind(
    tmp_path: Path, kind: OutputKind, content: str, earlier: bool
) -> None:
    """Only an earlier file of the same kind passes the check without --force."""
    path = tmp_path / "out"
    path.write_text(content)
    assert kind.written_before(path) is earlier
    if earlier:
        assert output_file(path, kind) == path
    else:
        with pytest.raises(ConfigError, match="already exists"):
            output_file(path, kind)
    assert output_file(path, kind, force=True) == path


def test_a_failed_write_leaves_the_old_file_whole_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the rename fails, the old file is as it was and the temporary file is gone: never half a file."""
    path = tmp_path / "r.html"
    path.write_text("old report")

    def broken(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(ConfigError, match=r"cannot write the report .*No space left"):
        write_output(path, "x" * 100_000, REPORT)
    assert path.read_text() == "old report"
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]


def test_write_output_keeps_the_mode_a_plain_write_gives(tmp_path: Path) -> None:
    """A new file gets 0666 less the umask (not mkstemp's 0600); a replaced one keeps its mode."""
    umask = os.umask(0o022)
    try:
        write_output(tmp_path / "new.xml", "x", JUNIT)
        (tmp_path / "old.xml").write_text("y")
        (tmp_path / "old.xml").chmod(0o640)
        write_output(tmp_path / "old.xml", "x", JUNIT)
    finally:
        os.umask(umask)
    assert (tmp_path / "new.xml").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "old.xml").stat().st_mode & 0o777 == 0o640


def test_step_outputs_append_and_never_write_into_a_binary_file(tmp_path: Path) -> None:
    """GITHUB_OUTPUT is appended to (earlier lines kept); one naming the warehouse is left untouched, with a warning."""
    text = tmp_path / "out.txt"
    text.write_text("earlier=1\n")
    before = _warehouse(tmp_path / "w.duckdb")
    write_step_outputs({"RUN": "7"}, {"GITHUB_OUTPUT": str(text)})
    write_step_outputs({"RUN": "7"}, {"GITHUB_OUTPUT": str(tmp_path / "w.duckdb")})
    assert text.read_text() == "earlier=1\nRUN=7\n"
    assert (tmp_path / "w.duckdb").read_bytes() == before


def test_append_output_warns_on_a_binary_file(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The warning says why nothing was written."""
    path = tmp_path / "blob"
    path.write_bytes(b"DUCK\x00\x00")
    append_output(path, "x\n", "the step summary")
    assert path.read_bytes() == b"DUCK\x00\x00"
    assert "binary file" in caplog.text
