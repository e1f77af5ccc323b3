"""Helpers: the Orchestra emulator on a real socket with a clock the test moves, and the real CLI against it."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from eltops._serve import RunningServer, serve_in_thread
from eltops.orchestra.emulator import BASE_PATH, OrchestraEmulator, Volume

API_KEY = "orch-e2e-key-5c1d9a"
WsgiApp = Callable[..., Any]


@dataclass
class Clock:
    """The emulator's clock: starts a day behind the real one (so the CLI's own clock is never behind it)."""

    now: datetime = field(default_factory=lambda: datetime.now(UTC) - timedelta(days=1))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self) -> datetime:
        with self.lock:
            return self.now

    def advance(self, delta: timedelta) -> None:
        with self.lock:
            self.now += delta


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str


@dataclass
class Served:
    """An emulator served over HTTP, and a way to run ``eltops`` against it in a working directory."""

    emulator: OrchestraEmulator
    server: RunningServer
    clock: Clock
    tmp: Path

    @property
    def api_url(self) -> str:
        return self.server.url + BASE_PATH

    def env(self, **extra: str) -> dict[str, str]:
        base = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(self.tmp),
            "ORCHESTRA_API_URL": self.api_url,
            "ORCHESTRA_API_KEY": API_KEY,
            "ORCHESTRA_RATE_LIMIT": "0",
        }
        return {**base, **extra}

    def start(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "eltops", *args],
            env=env if env is not None else self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=self.tmp,
        )

    def run(self, *args: str, env: dict[str, str] | None = None, timeout: float = 120) -> Run:
        proc = subprocess.run(
            [sys.executable, "-m", "eltops", *args],
            env=env if env is not None else self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.tmp,
            check=False,
        )
        assert API_KEY not in proc.stdout + proc.stderr, "the API key leaked into the output"
        return Run(proc.returncode, proc.stdout, proc.stderr)

    def load(self, *args: str, db: str = "eltops.duckdb", **env: str) -> Run:
        return self.run("orchestra", "load", "--to", db, *args, env=self.env(**env))

    def requests_since(self, count: int) -> list[Any]:
        return self.emulator.requests[count:]


def rows(db: Path, table: str) -> set[tuple[Any, ...]]:
    """Every row of ``table`` without ``loaded_at`` (JSON as text), for exact comparisons."""
    with duckdb.connect(str(db), read_only=True) as con:
        return set(con.execute(f"SELECT * EXCLUDE (loaded_at) FROM {table}").fetchall())


def count(db: Path, table: str) -> tuple[int, int]:
    """(rows, distinct ids) of ``table``."""
    with duckdb.connect(str(db), read_only=True) as con:
        found = con.execute(f"SELECT count(*), count(DISTINCT id) FROM {table}").fetchone()
    assert found is not None
    return int(found[0]), int(found[1])


def make_served(
    tmp_path: Path, *, volume: Volume, wrap: Callable[[WsgiApp], WsgiApp] | None = None, **kwargs: Any
) -> Iterator[Served]:
    clock = Clock()
    emulator = OrchestraEmulator(api_key=API_KEY, seed=7, volume=volume, now=clock, anchor=clock.now, **kwargs)
    app = emulator.wsgi_app if wrap is None else wrap(emulator.wsgi_app)
    with serve_in_thread(app) as server:
        yield Served(emulator, server, clock, tmp_path)


# six days of history a day behind the real clock: all of it inside the explicit 7-day window of a first load
SMALL = Volume(task_runs=600, days=6, tasks_per_pipeline_run=4, operations_per_task_run=2)
