"""The CLI's surface: a busy emulator port, help that ends with examples, -v/-q anywhere, one output-path rule."""

from __future__ import annotations

import io
import json
import os
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
    out = _output()
    code = run_command(list(args), env=env or {}, output=out)
    assert isinstance(out.stdout, io.StringIO) and isinstance(out.stderr, io.StringIO)
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
    assert process.stdout is not None and process.stderr is not None
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
