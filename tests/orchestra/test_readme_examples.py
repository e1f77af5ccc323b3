"""The `eltops orchestra`, `report` and `emulate` examples of the docs pages, run as written against the emulator."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from eltops._serve import RunningServer, serve_in_thread
from eltops.orchestra.emulator import BASE_PATH, DEFAULT_API_KEY, OrchestraEmulator
from tests._readme import eltops_shim, run_line, shell_env, start_line

DOCS = Path(__file__).resolve().parents[2] / "docs"
SPEED = 25.0  # the emulator's clock runs this much faster, so a 50 s pipeline ends in 2 s


def _blocks(page: str, heading: str) -> list[str]:
    """The ``sh`` blocks of the page's section that starts with ``heading`` (up to the next heading of its level)."""
    text = (DOCS / page).read_text(encoding="utf-8")
    section = text.split(heading, 1)[1]
    level = len(heading) - len(heading.lstrip("#"))
    section = re.split(rf"\n#{{1,{level}}} ", section, maxsplit=1)[0]
    return re.findall(r"```sh\n(.*?)```", section, flags=re.DOTALL)


def _examples(page: str, heading: str, prefix: str) -> list[tuple[str, int]]:
    """Each ``prefix`` line of the section's blocks with the exit code its comment promises (setup lines aside)."""
    examples = []
    for block in _blocks(page, heading):
        for line in block.splitlines():
            if line.startswith(prefix) and not line.split("#", 1)[0].rstrip().endswith("&"):
                code = re.search(r"# exit (\d+)", line)
                assert code is not None, f"the {page} example {line!r} does not say its exit code"
                examples.append((line, int(code.group(1))))
    return examples


RUN = _examples("orchestra-run.md", "# `eltops orchestra run`", "eltops ")
GET_LOAD = _examples("orchestra-load.md", "# `eltops orchestra`: Orchestra run metadata", "eltops ")


@pytest.fixture(scope="module")
def demo() -> Iterator[RunningServer]:
    base = datetime.now(UTC)
    start = time.monotonic()
    emulator = OrchestraEmulator(now=lambda: base + timedelta(seconds=(time.monotonic() - start) * SPEED))
    with serve_in_thread(emulator.wsgi_app) as server:
        yield server


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("readme")


def _env(server: RunningServer, workdir: Path) -> dict[str, str]:
    """The Orchestra runs page's ``export`` line, pointed at this test's emulator; a fast poll for `run`."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(workdir),
        "ORCHESTRA_API_URL": server.url + BASE_PATH,
        "ORCHESTRA_API_KEY": DEFAULT_API_KEY,
        "ORCHESTRA_RATE_LIMIT": "0",
        "ORCHESTRA_POLL_INTERVAL": "0.2",
    }


def test_the_readme_has_these_examples() -> None:
    """The blocks are found and cover run, get, load, the report and the export line the banner prints."""
    lines = " ".join(line for line, _ in RUN + GET_LOAD)
    for part in ("orchestra run", "--no-wait", "orchestra get", "orchestra load", "--every", "eltops report"):
        assert part in lines
    export = next(
        line
        for block in _blocks("orchestra-run.md", "# `eltops orchestra run`")
        for line in block.splitlines()
        if "export" in line
    )
    assert f"ORCHESTRA_API_KEY={DEFAULT_API_KEY}" in export
    assert "ORCHESTRA_RATE_LIMIT=0" in export


@pytest.mark.parametrize(("line", "code"), RUN + GET_LOAD, ids=[line for line, _ in RUN + GET_LOAD])
def test_readme_example(demo: RunningServer, workdir: Path, line: str, code: int) -> None:
    """The example exits with the code its comment gives, run by the shell in the pages' order (a load before
    the report), its dates relative to now."""
    env = {**_env(demo, workdir), "PATH": shell_env(eltops_shim(workdir))["PATH"]}
    if "Ctrl-C" in line:  # runs until stopped: stop it once the first load is done
        proc = start_line(line.split("#", 1)[0], env=env, cwd=workdir)
        assert proc.stderr is not None
        for text in proc.stderr:
            if "next load in" in text:
                break
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
        returncode = proc.returncode
    else:
        done = run_line(line, env=env, cwd=workdir)
        stderr, returncode = done.stderr, done.returncode
    assert returncode == code, stderr
    assert "Traceback" not in stderr
    if "--since" in line and code == 0:  # a date relative to now: the emulator's history is there
        assert "Warning" not in stderr
        if " get " in line:
            assert '"total": 0' not in done.stdout, "the window found nothing: its dates are not relative to now"


EMULATE = [
    line
    for heading in ("## `eltops emulate fivetran`", "## `eltops emulate orchestra`", "## `eltops emulate openlineage`")
    for block in _blocks("emulators.md", heading)
    for line in block.splitlines()
    if line.startswith("eltops emulate")
]


@pytest.mark.parametrize("line", EMULATE)
def test_readme_emulator_example_serves_until_ctrl_c(line: str) -> None:
    """Each emulator example starts, prints its URL, and stops cleanly on Ctrl-C (on a free port: --port 0 last)."""
    args = [*shlex.split(line, comments=True)[1:], "--port", "0"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "eltops", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=30)
    assert url.startswith("http://127.0.0.1:"), stderr
    assert proc.returncode == 0, stderr
    assert "stopped" in stderr
