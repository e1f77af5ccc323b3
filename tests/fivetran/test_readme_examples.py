"""The Fivetran page's terminal examples (docs/fivetran.md), run as written against the demo emulator (10x clock)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from eltops._serve import RunningServer, serve_in_thread
from eltops.fivetran.emulator import DEFAULT_API_KEY, DEFAULT_API_SECRET, DEMO_SCENARIO, FivetranEmulator
from tests._readme import eltops_shim, run_line, shell_env

PAGE = Path(__file__).resolve().parents[2] / "docs" / "fivetran.md"
SPEED = 10.0


def _examples() -> list[tuple[str, int]]:
    """Each ``eltops fivetran`` line of the "At a terminal" block, with the exit code its comment promises."""
    text = PAGE.read_text(encoding="utf-8")
    block = text.split("## At a terminal", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    examples = []
    for line in block.splitlines():
        if "eltops fivetran" in line and not line.startswith(("export ", "eltops emulate")):
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


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One working directory for the whole block, as a person at a terminal has (a line reads what one wrote)."""
    return tmp_path_factory.mktemp("readme")


def test_the_readme_has_examples() -> None:
    """The block is found and covers the new actions and selections."""
    lines = " ".join(line for line, _ in _examples())
    for part in ("list", "resync", "wait", "--no-wait", "group:", "--repair-setup", "--skip-if-synced-within"):
        assert part in lines


@pytest.mark.parametrize(("line", "code"), _examples(), ids=[line for line, _ in _examples()])
def test_readme_example(demo: RunningServer, workdir: Path, line: str, code: int) -> None:
    """The example exits with the code its comment gives, run by the shell in the page's order."""
    env = shell_env(
        eltops_shim(workdir),
        FIVETRAN_API_URL=demo.url,
        FIVETRAN_API_KEY=DEFAULT_API_KEY,
        FIVETRAN_API_SECRET=DEFAULT_API_SECRET,
        FIVETRAN_POLL_INTERVAL="0.2",
    )
    proc = run_line(line, env=env, cwd=workdir)
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr
    if "eltops fivetran wait" in line:  # it waited for the syncs the --no-wait line triggered, not an older one
        outputs = (workdir / "outputs.txt").read_text()
        (baselines,) = re.findall(r"^FIVETRAN_BASELINE=(.*)$", outputs, flags=re.MULTILINE)
        ended = dict(re.findall(r"^(\S+)\s+succeeded .*the sync succeeded at (\S+)$", proc.stderr, flags=re.MULTILINE))
        for entry in baselines.split(","):
            connection_id, _, baseline = entry.partition("=")
            assert ended[connection_id] > baseline, (connection_id, ended, baselines)
