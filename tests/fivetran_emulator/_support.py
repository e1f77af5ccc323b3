"""Test helpers: a hand-driven clock, an emulator on it, and an in-process httpx client."""

from __future__ import annotations

from typing import Any

import httpx

from eltops.fivetran.emulator import ConnectionScript, FivetranEmulator

START = 1_733_000_000.0  # 2024-11-30T20:53:20Z
KEY, SECRET = "k", "s"
HEADERS = {"Accept": "application/json;version=2"}


class FakeClock:
    """A wall clock that only moves when a test calls ``advance``."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_client(emu: FivetranEmulator, **kwargs: Any) -> httpx.Client:
    kwargs.setdefault("auth", (KEY, SECRET))
    kwargs.setdefault("headers", HEADERS)
    return httpx.Client(transport=httpx.WSGITransport(app=emu.wsgi_app), base_url="http://fivetran.test", **kwargs)


def make_emulator(
    clock: FakeClock, *, paths: str = "both", script: ConnectionScript | None = None, **conn: Any
) -> FivetranEmulator:
    emu = FivetranEmulator(api_key=KEY, api_secret=SECRET, clock=clock, paths=paths)  # type: ignore[arg-type]
    emu.add_group("g1", name="Warehouse")
    conn.setdefault("schedule_type", "manual")
    emu.add_connection(
        "c1",
        group_id="g1",
        schema="shop_db",
        tables={"public": ["orders", "customers"]},
        script=script or ConnectionScript(queue_seconds=2, sync_seconds=10),
        **conn,
    )
    return emu


def data(response: httpx.Response) -> Any:
    """The ``data`` of a 200 answer (fails the test with the body otherwise)."""
    assert response.status_code == 200, response.text
    return response.json()["data"]
