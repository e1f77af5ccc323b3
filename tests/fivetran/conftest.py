"""Fixtures for the orchestrator: an emulator and an orchestrator sharing one fake clock, so no test waits."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from eltops._deadline import Deadline
from eltops._serve import RunningServer, serve_in_thread
from eltops.fivetran import FivetranClient, FlagValues, JobResult, Orchestrator, load_settings
from eltops.fivetran.emulator import ConnectionScript, FivetranEmulator, SetupTest

START = 1_700_000_000.0
KEY, SECRET = "test-key-1234", "test-secret-5678"


@dataclass
class FakeTime:
    """Wall clock, monotonic clock and sleep in one: sleeping moves both clocks forward."""

    now: float = START
    slept: list[float] = field(default_factory=list)

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now - START

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@dataclass
class Harness:
    emulator: FivetranEmulator
    time: FakeTime
    env: dict[str, str]

    def connection(self, connection_id: str, **kwargs: Any) -> None:
        script = kwargs.pop("script", ConnectionScript())
        kwargs.setdefault("group_id", "group_1")
        kwargs.setdefault("schema", f"{connection_id}_db")
        self.emulator.add_connection(connection_id, script=script, **kwargs)

    def run(self, flags: FlagValues | None = None, *, app: Any = None, **env: str) -> JobResult:
        """Run the orchestrator against the emulator (or ``app``, a WSGI stand-in in front of it)."""
        settings = load_settings({**self.env, **env}, flags or FlagValues())
        client = FivetranClient.create(
            api_url="http://emulator.test",
            api_key=settings.api_key,
            api_secret=settings.api_secret,
            deadline=Deadline(settings.timeout, self.time.monotonic),
            transport=httpx.WSGITransport(app=app or self.emulator.wsgi_app),
        )
        with client:
            return Orchestrator(client, settings, wall_clock=self.time.time, sleep=self.time.sleep).run()

    def calls(self, method: str, path_part: str = "") -> list[Any]:
        return [r for r in self.emulator.requests if r.method == method and path_part in r.path]


@pytest.fixture
def harness() -> Harness:
    fake = FakeTime()
    emulator = FivetranEmulator(api_key=KEY, api_secret=SECRET, clock=fake.time)
    emulator.add_group("group_1", name="Warehouse")
    env = {
        "FIVETRAN_ACTION": "START",
        "CONNECTOR_ID": "conn_a",
        "FIVETRAN_API_KEY": KEY,
        "FIVETRAN_API_SECRET": SECRET,
        "FIVETRAN_POLL_INTERVAL": "2",
    }
    return Harness(emulator, fake, env)


HarnessFactory = Callable[..., Harness]


# -- the real command against the emulator over a socket ---------------------------------------------------

E2E_KEY, E2E_SECRET = "e2e-key-9f8e7d", "e2e-secret-1a2b3c4d"
SECRETS = [E2E_KEY, E2E_SECRET, base64.b64encode(f"{E2E_KEY}:{E2E_SECRET}".encode()).decode()]


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str
    seconds: float


@dataclass
class Served:
    emulator: FivetranEmulator
    server: RunningServer
    tmp: Path

    def env(self, **extra: str) -> dict[str, str]:
        base = {
            "PATH": os.environ.get("PATH", ""),
            "FIVETRAN_API_URL": self.server.url,
            "FIVETRAN_API_KEY": E2E_KEY,
            "FIVETRAN_API_SECRET": E2E_SECRET,
            "FIVETRAN_POLL_INTERVAL": "0.1",
            "FIVETRAN_ACTION": "START",
            "CONNECTOR_ID": "good",
        }
        return {**base, **extra}

    def run(self, *args: str, env: dict[str, str] | None = None, timeout: float = 60) -> Run:
        started = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-m", "eltops", *args],
            env=env if env is not None else self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.tmp,
            check=False,
        )
        result = Run(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - started)
        for secret in SECRETS:
            assert secret not in result.stdout, "a secret leaked to stdout"
            assert secret not in result.stderr, "a secret leaked to stderr"
        return result


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    emulator = FivetranEmulator(api_key=E2E_KEY, api_secret=E2E_SECRET)
    emulator.add_group("group_1", name="Warehouse")
    quick = {"sync_seconds": 0.3}
    emulator.add_connection("good", group_id="group_1", schema="shop_db", script=ConnectionScript(**quick))
    emulator.add_connection(
        "bad", group_id="group_1", schema="crm", script=ConnectionScript(outcome="failure", **quick)
    )
    emulator.add_connection("slow", group_id="group_1", schema="events", script=ConnectionScript(sync_seconds=600))
    emulator.add_connection(
        "tested",
        group_id="group_1",
        schema="erp",
        tables={"public": ["orders", "items"]},
        script=ConnectionScript(
            setup_tests=(
                SetupTest("Connecting to host", "PASSED"),
                SetupTest("Checking permissions", "FAILED", "role lacks USAGE on schema public"),
                SetupTest("Validating certificate", "WARNING", "self-signed certificate"),
            ),
            **quick,
        ),
    )
    with serve_in_thread(emulator.wsgi_app) as server:
        yield Served(emulator, server, tmp_path)
