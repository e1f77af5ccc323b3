"""The emulated Fivetran account: its groups and connections, the request log, and the one lock over them."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eltops.fivetran.emulator._state import ApiProblem, Connection, Group

DEFAULT_API_KEY = "emulator-key"
DEFAULT_API_SECRET = "emulator-secret"  # noqa: S105 - the emulator's documented default, not a real secret


@dataclass(frozen=True)
class RecordedRequest:
    """One request the emulator received (every one, refused ones included), in arrival order."""

    method: str
    path: str
    query: dict[str, str]
    json: Any | None  # the parsed body; None when there was no body or it was not JSON
    time: float  # the emulator clock when it arrived


class Account:
    """Everything the API can see. Hold ``lock`` while reading or changing anything in it."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.lock = threading.RLock()
        self.groups: dict[str, Group] = {}
        self.connections: dict[str, Connection] = {}
        self._requests: list[RecordedRequest] = []

    def record(self, request: RecordedRequest) -> None:
        with self.lock:
            self._requests.append(request)

    def requests(self) -> list[RecordedRequest]:
        with self.lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self.lock:
            self._requests.clear()

    def group(self, group_id: str) -> Group:
        group = self.groups.get(group_id)
        if group is None:
            raise ApiProblem(404, "NotFound_Group", f"Group with id '{group_id}' does not exist.")
        return group

    def connection(self, connection_id: str, *, noun: str = "Connection") -> Connection:
        """The connection, advanced to now; a 404 worded for the path family (``Connection``/``Connector``)."""
        connection = self.connections.get(connection_id)
        if connection is None:
            raise ApiProblem(404, f"NotFound_{noun}", f"{noun} with id '{connection_id}' does not exist.")
        connection.advance(self.clock())
        return connection
