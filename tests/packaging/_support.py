"""Helpers for the packaging tests: both emulators on real sockets, and processes whose imports miss modules."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from eltops._serve import serve_in_thread
from eltops.fivetran.emulator import ConnectionScript, FivetranEmulator
from eltops.orchestra.emulator import BASE_PATH, OrchestraEmulator, PipelineScript, TaskScript, Volume

REPO = Path(__file__).resolve().parents[2]
FIVETRAN_KEY, FIVETRAN_SECRET = "pkg-key-3e1f0b", "pkg-secret-7a9c2d55"
ORCHESTRA_KEY = "pkg-orchestra-key-41bd"
SECRETS = (FIVETRAN_KEY, FIVETRAN_SECRET, ORCHESTRA_KEY)

LEAN = ("plotly", "pyarrow", "pandas", "snowflake")
"""What the base install does not bring (the extras' modules)."""

_BLOCKER = '''
import os, sys

_MISSING = frozenset(os.environ.get("ELTOPS_TEST_MISSING_MODULES", "").split(","))


class _Missing:
    """A meta-path finder before all others: the listed top-level modules are not installed."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname.split(".")[0] in _MISSING:
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
        return None


sys.meta_path.insert(0, _Missing())
'''


QUICK_PIPELINES = (
    PipelineScript(
        "nightly_marts",
        "Nightly marts",
        (
            TaskScript("sync_shop", "Sync shop", "FIVETRAN", 0.5, log="12 tables synced\n"),
            TaskScript("dbt_build_marts", "dbt build marts", "DBT_CORE", 0.5, log="Done. PASS=24\n"),
        ),
    ),
    PipelineScript(
        "broken_marts",
        "Broken marts",
        (TaskScript("dbt_build_finance", "dbt build finance", "DBT_CORE", 0.5, "FAILED", "Database Error\n"),),
    ),
)
"""The emulator's default pipelines, each task half a second instead of tens."""


@dataclass(frozen=True)
class Emulators:
    """Both emulators served on loopback: ``good`` syncs in 0.3 s, ``bad`` fails; Orchestra's default pipelines."""

    fivetran_url: str
    orchestra_url: str

    def env(self, **extra: str) -> dict[str, str]:
        """A CI job's environment (credentials, API URLs) without the test runner's own variables."""
        base = {
            "PATH": os.environ.get("PATH", ""),
            "LANG": "C.UTF-8",
            "FIVETRAN_API_URL": self.fivetran_url,
            "FIVETRAN_API_KEY": FIVETRAN_KEY,
            "FIVETRAN_API_SECRET": FIVETRAN_SECRET,
            "FIVETRAN_POLL_INTERVAL": "0.1",
            "ORCHESTRA_API_URL": self.orchestra_url,
            "ORCHESTRA_API_KEY": ORCHESTRA_KEY,
            "ORCHESTRA_RATE_LIMIT": "0",
            "ORCHESTRA_POLL_INTERVAL": "0.2",
        }
        return {**base, **extra}


@contextmanager
def emulators() -> Iterator[Emulators]:
    """Serve a Fivetran and an Orchestra emulator on loopback for the length of the block."""
    fivetran = FivetranEmulator(api_key=FIVETRAN_KEY, api_secret=FIVETRAN_SECRET)
    fivetran.add_group("group_1", name="Warehouse")
    quick = {"sync_seconds": 0.3}
    fivetran.add_connection("good", group_id="group_1", schema="shop", script=ConnectionScript(**quick))
    fivetran.add_connection("shop_db", group_id="group_1", schema="shop_db", script=ConnectionScript(**quick))
    fivetran.add_connection("crm", group_id="group_1", schema="crm", script=ConnectionScript(**quick))
    fivetran.add_connection(
        "bad", group_id="group_1", schema="ads", script=ConnectionScript(outcome="failure", **quick)
    )
    anchor = datetime.now(UTC) - timedelta(days=1)
    orchestra = OrchestraEmulator(
        api_key=ORCHESTRA_KEY, seed=3, volume=Volume(task_runs=300, days=5), anchor=anchor, pipelines=QUICK_PIPELINES
    )
    with ExitStack() as stack:
        ft = stack.enter_context(serve_in_thread(fivetran.wsgi_app))
        orch = stack.enter_context(serve_in_thread(orchestra.wsgi_app))
        yield Emulators(fivetran_url=ft.url, orchestra_url=orch.url + BASE_PATH)


@dataclass(frozen=True)
class Done:
    code: int
    stdout: str
    stderr: str


def run(
    command: Sequence[str | Path],
    *,
    env: Mapping[str, str],
    cwd: Path,
    missing: Sequence[str] = (),
    timeout: float = 120,
) -> Done:
    """Run ``command``; with ``missing``, in every Python process it starts those modules cannot be imported.

    The blocker is a ``sitecustomize`` on ``PYTHONPATH``, so the processes eltops starts itself (the load's
    fetch process) miss the same modules.
    """
    env = dict(env)
    if missing:
        site = cwd / ".missing-modules"
        site.mkdir(exist_ok=True)
        (site / "sitecustomize.py").write_text(_BLOCKER, encoding="utf-8")
        env["PYTHONPATH"] = str(site)
        env["ELTOPS_TEST_MISSING_MODULES"] = ",".join(missing)
    done = subprocess.run(
        [str(part) for part in command], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    for secret in SECRETS:
        assert secret not in done.stdout + done.stderr, "a secret leaked into the output"
    return Done(done.returncode, done.stdout, done.stderr)


def eltops(*args: str) -> list[str]:
    """The ``eltops`` command of the interpreter running the tests."""
    return [sys.executable, "-m", "eltops", *args]


def count_rows(db: Path, table: str, where: str = "true") -> int:
    with duckdb.connect(str(db), read_only=True) as con:
        found = con.execute(f"SELECT count(*) FROM {table} WHERE {where}").fetchone()
    assert found is not None
    return int(found[0])


def readme_block(marker: str) -> str:
    """The first fenced block after the ``<!-- tested: ...marker -->`` line of the docs page that holds it."""
    pages = [page.read_text(encoding="utf-8") for page in sorted((REPO / "docs").glob("*.md"))]
    (text,) = [page for page in pages if f"::{marker} -->" in page]
    start = text.index(f"::{marker} -->")
    fence = text.index("```", start)
    body = text.index("\n", fence) + 1
    return text[body : text.index("```", body)]


def pip_find_links(*extra: Path) -> str:
    """``PIP_FIND_LINKS`` with ``extra`` before what pip's configuration already names (the variable replaces it)."""
    done = subprocess.run(
        [sys.executable, "-m", "pip", "config", "get", "global.find-links"], capture_output=True, text=True, check=False
    )
    configured = done.stdout.strip() if done.returncode == 0 else ""
    return " ".join([*(str(p) for p in extra), configured]).strip()


def locked_pip() -> dict[str, str]:
    """The environment that makes pip in a fresh venv or an isolated build take the lock's versions.

    ``pip install eltops`` resolves eltops' ranges against whatever PyPI has today; the tests that do it (and
    ``python -m build``'s isolated build environment) take requirements/constraints.txt instead, so a release
    elsewhere cannot change what ``make check`` tests until the lock is refreshed (``make lock-upgrade``).
    """
    return {"PIP_CONSTRAINT": str(REPO / "requirements" / "constraints.txt")}
