"""The troubleshooting page's messages, each command run as written against the demo emulators."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from eltops._serve import RunningServer, serve_in_thread
from eltops.fivetran.emulator import DEFAULT_API_KEY, DEFAULT_API_SECRET, DEMO_SCENARIO, FivetranEmulator
from eltops.orchestra.emulator import BASE_PATH, OrchestraEmulator
from eltops.orchestra.emulator import DEFAULT_API_KEY as ORCHESTRA_KEY

PAGE = Path(__file__).resolve().parents[2] / "docs" / "troubleshooting.md"


def _examples() -> list[tuple[str, int, list[str]]]:
    """Each ``$ command  # exit N`` line of the page's console blocks, with the lines printed under it."""
    examples: list[tuple[str, int, list[str]]] = []
    for block in re.findall(r"```console\n(.*?)```", PAGE.read_text(encoding="utf-8"), flags=re.DOTALL):
        for line in block.splitlines():
            if line.startswith("$ "):
                code = re.search(r"# exit (\d+)\s*$", line)
                assert code is not None, f"the page's example {line!r} does not say its exit code"
                examples.append((line.removeprefix("$ "), int(code.group(1)), []))
            else:
                examples[-1][2].append(line)
    return examples


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, str]]:
    fivetran = FivetranEmulator.from_scenario(DEMO_SCENARIO)
    with serve_in_thread(fivetran.wsgi_app) as ft, serve_in_thread(OrchestraEmulator().wsgi_app) as orch:
        yield _exported(ft, orch)


def _exported(fivetran: RunningServer, orchestra: RunningServer) -> dict[str, str]:
    """The variables the emulators print, as the page says they are exported."""
    return {
        "FIVETRAN_API_URL": fivetran.url,
        "FIVETRAN_API_KEY": DEFAULT_API_KEY,
        "FIVETRAN_API_SECRET": DEFAULT_API_SECRET,
        "FIVETRAN_POLL_INTERVAL": "0.5",
        "ORCHESTRA_API_URL": orchestra.url + BASE_PATH,
        "ORCHESTRA_API_KEY": ORCHESTRA_KEY,
        "ORCHESTRA_RATE_LIMIT": "0",
        "ORCHESTRA_POLL_INTERVAL": "0.5",
    }


def test_the_page_covers_every_failing_exit_code() -> None:
    """The page shows real messages for exit codes 1, 2, 3 and 4."""
    assert {code for _, code, _ in _examples()} == {1, 2, 3, 4}
    assert all(printed for _, _, printed in _examples())


@pytest.mark.parametrize(("line", "code", "printed"), _examples(), ids=[line for line, _, _ in _examples()])
def test_the_message_is_the_real_one(
    servers: dict[str, str], tmp_path: Path, line: str, code: int, printed: list[str]
) -> None:
    """The command exits with its code and prints each line shown under it (``...`` standing for what varies)."""
    words = shlex.split(line, comments=True)
    assignments = {}
    while "=" in words[0]:
        name, _, value = words.pop(0).partition("=")
        assignments[name] = value
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "NO_COLOR": "1", **servers, **assignments}
    assert words[0] == "eltops"
    done = subprocess.run(
        [sys.executable, "-m", "eltops", *words[1:]],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = " ".join((done.stdout + done.stderr).split())
    assert done.returncode == code, output
    assert "Traceback" not in output
    for expected in printed:
        pattern = ".*?".join(re.escape(" ".join(part.split())) for part in expected.split("..."))
        assert re.search(pattern, output), f"{expected!r} is not in what it printed:\n{output}"
