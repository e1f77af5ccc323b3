"""Fixtures for lineage: the vendored OpenLineage schemas as the oracle, a receiver, and collectors that misbehave."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from eltops._serve import RunningServer, serve_in_thread
from eltops.lineage import SpecValidator
from eltops.lineage.receiver import LineageReceiver
from tests.fivetran.conftest import Served, served  # noqa: F401  (the real command against the Fivetran emulator)

TEST_SPEC = Path(__file__).parent.parent / "specs" / "openlineage"
"""The spec as OpenLineage publishes it, vendored for the tests: the oracle, apart from the copy eltops ships."""

ORACLE = SpecValidator(TEST_SPEC)


def assert_valid(event: Any) -> None:
    """The event is valid OpenLineage (core and every known facet), by the tests' own copy of the spec."""
    problems = ORACLE.problems(event)
    assert not problems, problems


@dataclass
class Receiving:
    receiver: LineageReceiver
    server: RunningServer

    @property
    def url(self) -> str:
        return self.server.url

    def events(self) -> list[dict[str, Any]]:
        return self.receiver.events


@pytest.fixture
def receiving() -> Iterator[Receiving]:
    """``eltops emulate openlineage``'s app on a real loopback socket, checking events against the tests' spec."""
    receiver = LineageReceiver(validator=ORACLE)
    with serve_in_thread(receiver) as server:
        yield Receiving(receiver, server)


class StandIn:
    """A collector on loopback that misbehaves: ``hang`` (accepts, never answers), ``close`` (reads, hangs up),
    or answers every request with HTTP ``status``. It counts the connections it got, and stops by itself."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.connections = 0
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        self._held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def _serve(self) -> None:
        deadline = time.monotonic() + 120  # bounded: never outlives a test run
        while not self._stop.is_set() and time.monotonic() < deadline:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            self.connections += 1
            if self.mode == "hang":
                self._held.append(conn)  # never answered
                continue
            conn.settimeout(2)
            try:
                conn.recv(65536)
                if self.mode != "close":
                    body = b'{"error": "stand-in"}'
                    conn.sendall(
                        f"HTTP/1.1 {self.mode} Stand-in\r\nContent-Type: application/json\r\n"
                        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                        + body
                    )
            except OSError:
                pass
            finally:
                conn.close()

    def close(self) -> None:
        self._stop.set()
        for conn in self._held:
            conn.close()
        self._sock.close()


@pytest.fixture
def stand_in() -> Iterator[Callable[[str], StandIn]]:
    made: list[StandIn] = []

    def make(mode: str) -> StandIn:
        made.append(StandIn(mode))
        return made[-1]

    yield make
    for one in made:
        one.close()
