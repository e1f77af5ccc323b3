"""The Fivetran page's TRANSFORM, FIVETRAN_THEN_TRANSFORM and CHECK examples, run against the demo emulator."""

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
SECTION = "## Transformations, the freshness gate and what dbt needs next"
SPEED = 10.0


def _examples() -> list[tuple[str, int]]:
    """Each ``eltops fivetran`` line of the section's first block, with the exit code its comment promises."""
    block = PAGE.read_text(encoding="utf-8").split(SECTION, 1)[1].split("```sh", 1)[1].split("```", 1)[0]
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


def test_the_section_covers_the_new_actions() -> None:
    """The block shows TRANSFORM, FIVETRAN_THEN_TRANSFORM and CHECK, failing and passing."""
    lines = " ".join(line for line, _ in _examples())
    for part in ("transform --transformation-id", "--then-transform", "check", "--max-age", "--allow-partial"):
        assert part in lines
    assert {code for _, code in _examples()} == {0, 1, 2}


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


def _dbt_lines(kind: str) -> list[str]:
    """The shell lines of the page's GitLab (``script:``) or GitHub (``run:``) dbt job that use the outputs."""
    section = PAGE.read_text(encoding="utf-8").split(SECTION, 1)[1]
    block = section.split(f"# {kind}", 1)[1].split("```", 1)[0]
    lines = [line.strip().removeprefix("- ").removeprefix("run: ") for line in block.splitlines()]
    return [line for line in lines if "dbt build" in line or line.startswith("test -n")]


@pytest.mark.parametrize("kind", ["GitLab", "GitHub Actions"])
def test_the_dbt_job_selects_what_the_sync_job_synced(demo: RunningServer, tmp_path: Path, kind: str) -> None:
    """A START job's real step outputs, handed to the page's dbt lines (dbt stubbed), select the synced schemas."""
    dotenv = tmp_path / "fivetran.env"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "FIVETRAN_API_URL": demo.url,
        "FIVETRAN_API_KEY": DEFAULT_API_KEY,
        "FIVETRAN_API_SECRET": DEFAULT_API_SECRET,
        "FIVETRAN_POLL_INTERVAL": "0.2",
        "ELTOPS_DOTENV_FILE": str(dotenv),
    }
    args = ["fivetran", "start", "--connector-id", "demo_shop,demo_crm,demo_ads"]
    done = subprocess.run([sys.executable, "-m", "eltops", *args], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr  # demo_crm fails: only the others' schemas got new data
    outputs = dict(line.split("=", 1) for line in dotenv.read_text(encoding="utf-8").splitlines() if "=" in line)
    script = 'dbt() { echo "dbt $*"; }\n' + "\n".join(_dbt_lines(kind))
    job_env = {"PATH": os.environ.get("PATH", ""), "ELTOPS_FIVETRAN_SCHEMAS": outputs["ELTOPS_FIVETRAN_SCHEMAS"]}
    job_env["SCHEMAS"] = outputs["ELTOPS_FIVETRAN_SCHEMAS"]  # what the GitHub step's env maps it to
    ran = subprocess.run(["bash", "-c", script], env=job_env, capture_output=True, text=True, check=True)
    assert ran.stdout.strip() == "dbt build --select source:shop_db+ source:google_ads+"
