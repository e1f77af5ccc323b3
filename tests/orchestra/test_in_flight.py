"""A listing keeps fewer pages in flight when they are large, so the fetch's memory is bounded by bytes, not pages —
the client against the emulator in-process (its ``PadField`` fault makes the records large)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import httpx
import pytest

from eltops.orchestra import TASK_RUNS, OrchestraClient
from eltops.orchestra._client import IN_FLIGHT_BYTES
from eltops.orchestra.emulator import BASE_PATH, OrchestraEmulator, PadField, Volume
from eltops.orchestra.emulator._model import Resource
from eltops.secrets import Secret
from tests._clock import NOW

KEY = "in-flight-key-2b7e41"


class Counting:
    """A WSGI app in front of the emulator that counts the listing requests it has begun to answer."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.started = 0
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        with self.lock:
            self.started += 1
        return self.app(environ, start_response)


@pytest.mark.parametrize("message_bytes", [0, 20_000, 40_000, 120_000])
def test_large_pages_are_fewer_in_flight(message_bytes: int) -> None:
    """Requests begun but not yet taken by the reader stay within IN_FLIGHT_BYTES of pages (one page at least)."""
    emulator = OrchestraEmulator(
        api_key=KEY, seed=1, volume=Volume(task_runs=3000, days=1), now=lambda: NOW, anchor=NOW
    )
    emulator.inject(PadField(Resource.TASK_RUNS, "message", message_bytes))
    app = Counting(emulator.wsgi_app)
    client = OrchestraClient.create(
        api_url=f"http://emulator{BASE_PATH}",
        api_key=Secret(KEY),
        rate_limit_per_minute=None,
        transport=httpx.WSGITransport(app=app),
    )
    ahead: list[int] = []
    page_bytes = 0
    with client:
        for taken, page in enumerate(client.iter_window(TASK_RUNS, None), start=1):
            time.sleep(0.02)  # a slow reader: the fetch runs as far ahead as it may
            ahead.append(app.started - taken)
            page_bytes = max(page_bytes, len(page.body))
    allowed = max(1, min(2 * client.concurrency, IN_FLIGHT_BYTES // page_bytes))
    assert len(ahead) > 10
    assert max(ahead) == allowed
    if message_bytes >= IN_FLIGHT_BYTES // 100:
        assert allowed == 1  # pages of 8 MB or more: one at a time
