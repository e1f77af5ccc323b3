"""Fixtures for the orchestrator: an emulator and an orchestrator sharing one fake clock, so no test waits."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from eltops.fivetran import FivetranClient, FlagValues, JobResult, Orchestrator, load_settings
from eltops.fivetran.emulator import ConnectionScript, FivetranEmulator

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

    def run(self, flags: FlagValues | None = None, **env: str) -> JobResult:
        settings = load_settings({**self.env, **env}, flags or FlagValues())
        client = FivetranClient.create(
            api_url="http://emulator.test",
            api_key=settings.api_key,
            api_secret=settings.api_secret,
            transport=httpx.WSGITransport(app=self.emulator.wsgi_app),
        )
        with client:
            return Orchestrator(
                client, settings, clock=self.time.monotonic, wall_clock=self.time.time, sleep=self.time.sleep
            ).run()

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
