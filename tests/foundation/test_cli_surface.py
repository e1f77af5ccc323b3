"""The CLI's surface: a busy emulator port, help that ends with examples, -v/-q anywhere, one output-path rule."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from eltops.cli import run_command
from eltops.cli._output import CiKind, Output
from eltops.orchestra.emulator import DEFAULT_API_KEY


def _output() -> Output:
    return Output(ci=CiKind.NONE, colour=False, stdout=io.StringIO(), stderr=io.StringIO())


def _run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """``eltops ARGS`` in-process: (exit code, stdout with click's help, stderr)."""
    out = _output()
    with contextlib.redirect_stdout(out.stdout):
        code = run_command(list(args), env=env or {}, output=out)
    assert isinstance(out.stdout, io.StringIO)
    assert isinstance(out.stderr, io.StringIO)
    return code, out.stdout.getvalue(), out.stderr.getvalue()


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield int(sock.getsockname()[1])


@pytest.mark.parametrize("emulator", ["fivetran", "orchestra"])
def test_busy_port_says_so_and_suggests_port_0(busy_port: int, emulator: str) -> None:
    """An emulator port already in use is exit 2 saying so and suggesting --port 0, not werkzeug's text."""
    code, _, stderr = _run("emulate", emulator, "--port", str(busy_port))
    assert code == 2
    assert f"port {busy_port} on 127.0.0.1 is already in use" in stderr
    assert "--port 0" in stderr
    assert "Either identify and stop that program" not in stderr


def test_orchestra_emulator_banner_prints_the_variables_to_paste(tmp_path: Path) -> None:
    """The banner's variables, pasted as they are, point `eltops orchestra get` at the emulator, with no rate limit."""
    process = subprocess.Popen(
        [sys.executable, "-m", "eltops", "emulate", "orchestra", "--port", "0", "--task-runs", "40"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stderr is not None
    try:
        url = process.stdout.readline().strip()
        banner = ""
        while "Point eltops at it with" not in banner:
            banner = process.stderr.readline()
        assigned = dict(part.split("=", 1) for part in banner.split("with", 1)[1].split())
        assert assigned == {"ORCHESTRA_API_URL": url, "ORCHESTRA_API_KEY": DEFAULT_API_KEY, "ORCHESTRA_RATE_LIMIT": "0"}
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), **assigned}
        done = subprocess.run(
            [sys.executable, "-m", "eltops", "orchestra", "get", "pipeline-runs"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["total"] > 0
    finally:
        process.send_signal(signal.SIGINT)
        _, rest = process.communicate(timeout=10)
    assert process.returncode == 0
    assert "Orchestra emulator stopped." in rest


def _command_paths() -> list[tuple[str, ...]]:
    """Every command and group of the CLI, as the words that name it (the root is ``()``)."""
    import click

    from eltops.cli import cli

    paths: list[tuple[str, ...]] = []

    def walk(command: click.Command, path: tuple[str, ...]) -> None:
        paths.append(path)
        if isinstance(command, click.Group):
            ctx = click.Context(command)
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                assert sub is not None
                walk(sub, (*path, name))

    walk(cli, ())
    return paths


COMMANDS = _command_paths()


def test_the_walk_finds_every_command() -> None:
    """The walk reaches the nested commands, so the checks below cover all of them."""
    assert {("orchestra", "run"), ("orchestra", "get"), ("orchestra", "load"), ("emulate", "orchestra")} <= set(
        COMMANDS
    )
    assert ("fivetran",) in COMMANDS
    assert ("demo",) in COMMANDS
    assert ("report",) in COMMANDS


@pytest.mark.parametrize("path", COMMANDS, ids=[" ".join(p) or "eltops" for p in COMMANDS])
def test_every_help_ends_with_examples_and_names_variables_plainly(path: tuple[str, ...]) -> None:
    """Each --help ends with runnable examples, shows variables as `Variable: X`, and writes defaults one way."""
    code, stdout, _ = _run(*path, "--help")
    assert code == 0
    assert "\n  Examples:\n" in stdout
    examples = stdout.split("\n  Examples:\n", 1)[1]
    assert all(line.strip().startswith("eltops") for line in examples.splitlines() if line.strip())
    options = stdout.split("\nOptions:\n", 1)[1]  # the usage line's [OPTIONS] and [ACTION] are metavariables
    assert re.search(r"\[[A-Z][A-Z_]+\]", options) is None, "a variable shown as [VARIABLE]"
    assert "(default" not in stdout, "defaults are written [default: X]"
    assert "[default: (" not in stdout, "defaults are written [default: X]"
    assert "-v, --verbose" in stdout
    assert "-q, --quiet" in stdout


@pytest.mark.parametrize("path", [p for p in COMMANDS if p in {(), ("orchestra",), ("emulate",)}])
def test_command_lists_show_whole_summaries(path: tuple[str, ...]) -> None:
    """A group's list of commands shows each one-line summary whole, never cut with `...`."""
    _, stdout, _ = _run(*path, "--help")
    listing = stdout.split("Commands:\n", 1)[1].split("\n\n", 1)[0]
    assert listing.strip()
    assert "..." not in listing


def test_fivetran_examples_cover_every_action() -> None:
    """`eltops fivetran --help` has an example of each action, list included."""
    from eltops.fivetran import Action

    _, stdout, _ = _run("fivetran", "--help")
    examples = stdout.split("Examples:", 1)[1]
    for action in [a.value.lower().replace("_", "-") for a in Action if a.value != "STATUS"] + ["status", "list"]:
        assert f"eltops fivetran {action} " in examples, action


def test_get_lists_the_valid_statuses() -> None:
    """`orchestra get --help` lists the statuses each resource accepts."""
    _, stdout, _ = _run("orchestra", "get", "--help")
    for status in ("CREATED", "QUEUED", "SUCCEEDED", "CANCELLING", "REUSED"):
        assert status in stdout


@pytest.mark.parametrize("path", [p for p in COMMANDS if p not in {(), ("orchestra",), ("emulate",)}])
def test_verbosity_is_accepted_after_every_command(path: tuple[str, ...]) -> None:
    """-v and -q parse after every command's name (shown here with --help, which stops before any work)."""
    code, stdout, stderr = _run(*path, "-v", "-q", "--help")
    assert code == 0, stderr
    assert "Usage: eltops" in stdout


@pytest.mark.parametrize(
    ("args", "what"),
    [
        (("report", "--out", "{missing}/r.html"), "the report"),
        (("orchestra", "load", "--to", "{missing}/w.duckdb"), "the DuckDB target"),
        (("fivetran", "start", "--connector-id", "c1", "--junit", "{missing}/j.xml"), "the JUnit report"),
        (("orchestra", "run", "nightly_marts", "--junit", "{missing}/j.xml"), "the JUnit report"),
        (("fivetran", "start", "--connector-id", "c1", "--record-to", "{missing}/w.duckdb"), "the DuckDB target"),
    ],
)
def test_an_output_file_in_a_missing_directory_is_exit_2(tmp_path: Path, args: tuple[str, ...], what: str) -> None:
    """Every output file follows one rule: a missing directory is exit 2 naming it, and nothing is created."""
    missing = tmp_path / "nonexistent"
    env = {
        "FIVETRAN_API_KEY": "k",
        "FIVETRAN_API_SECRET": "s",
        "ORCHESTRA_API_KEY": "k",
        "FIVETRAN_API_URL": "http://127.0.0.1:9",  # never reached: the check comes first
        "ORCHESTRA_API_URL": "http://127.0.0.1:9",
    }
    code, _, stderr = _run(*(a.format(missing=missing) for a in args), env=env)
    assert code == 2, stderr
    assert f"the directory of {what} {missing}/" in stderr
    assert "does not exist" in stderr
    assert not missing.exists()
