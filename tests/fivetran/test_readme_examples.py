"""The Fivetran page's terminal examples (docs/fivetran.md), run as written against the demo emulator (10x clock)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from eltops._serve import RunningServer, serve_in_thread
from eltops.fivetran.emulator import DEFAULT_API_KEY, DEFAULT_API_SECRET, DEMO_SCENARIO, FivetranEmulator

PAGE = Path(__file__).resolve().parents[2] / "docs" / "fivetran.md"
SPEED = 10.0


def _examples() -> list[tuple[str, int]]:
    """Each ``eltops fivetran`` line of the "At a terminal" block, with the exit code its comment promises."""
    text = PAGE.read_text(encoding="utf-8")
    block = text.split("## At a terminal", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    examples = []
    for line in block.splitlines():
        if line.startswith("eltops fivetran"):
            code = re.search(r"# exit (\d)", line)
            assert code is not None, f"the Fivetran page's example {line!r} does not say its exit code"
            examples.append((line, int(code.group(1))))
    return examples


@pytest.fixture(scope="module")
def demo() -> Iterator[RunningServer]:
    base = time.time()
    emulator = FivetranEmulator.from_scenario(DEMO_SCENARIO, clock=lambda: base + (time.time() - base) * SPEED)
    with serve_in_thread(emulator.wsgi_app) as server:
        yield server


def test_the_readme_has_examples() -> None:
    """The block is found and covers the new actions and selections."""
    lines = " ".join(line for line, _ in _examples())
    for part in ("list", "resync", "wait", "--no-wait", "group:", "--repair-setup", "--skip-if-synced-within"):
        assert part in lines


@pytest.mark.parametrize(("line", "code"), _examples(), ids=[line for line, _ in _examples()])
def test_readme_example(demo: RunningServer, tmp_path: Path, line: str, code: int) -> None:
    """The example exits with the code its comment gives, in the order the page lists them."""
    args = shlex.split(line, comments=True)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "FIVETRAN_API_URL": demo.url,
        "FIVETRAN_API_KEY": DEFAULT_API_KEY,
        "FIVETRAN_API_SECRET": DEFAULT_API_SECRET,
        "FIVETRAN_POLL_INTERVAL": "0.2",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "eltops", *args[1:]],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        check=False,
    )
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr
