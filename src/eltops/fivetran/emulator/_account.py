"""The emulated Fivetran account: its groups and connections, the request log, and the one lock over them."""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eltops.fivetran.emulator._script import FailureBurst
from eltops.fivetran.emulator._state import ApiProblem, BurstCounter, Connection, Group
from eltops.fivetran.emulator._transformations import TransformationBook

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


RATE_WINDOW_SECONDS = 3600.0
TOO_MANY_REQUESTS = "Max {limit} api calls allowed in one-hour rolling time period"


class Account:
    """Everything the API can see. Hold ``lock`` while reading or changing anything in it.

    ``rate_limit`` is the account's budget of requests in any rolling hour (Fivetran: 20,000 on paid plans, 500
    on trials); every authenticated request spends one, and a request past it is answered 429.
    """

    def __init__(self, clock: Callable[[], float], *, rate_limit: int = 20_000) -> None:
        if rate_limit < 1:
            raise ValueError("rate_limit must be at least 1")
        self.clock = clock
        self.lock = threading.RLock()
        self.groups: dict[str, Group] = {}
        self.connections: dict[str, Connection] = {}
        self.transformations = TransformationBook()
        self.rate_limit = rate_limit
        self._requests: list[RecordedRequest] = []
        self._spent: deque[float] = deque()
        self._bursts: list[BurstCounter] = []

    def add_bursts(self, bursts: tuple[FailureBurst, ...]) -> None:
        with self.lock:
            self._bursts.extend(BurstCounter(burst, burst.count) for burst in bursts)

    def take_burst(self, method: str, path: str) -> FailureBurst | None:
        """Consume one answer from the first account-wide failure burst that matches this request, if any."""
        with self.lock:
            for counter in self._bursts:
                if counter.remaining > 0 and counter.burst.matches(method, path):
                    counter.remaining -= 1
                    return counter.burst
        return None

    def spend_request(self) -> int:
        """Count one request against the rolling hour; the requests left after it, or a 429 past the budget."""
        with self.lock:
            now = self.clock()
            while self._spent and self._spent[0] <= now - RATE_WINDOW_SECONDS:
                self._spent.popleft()
            if len(self._spent) >= self.rate_limit:
                retry_after = max(1, math.ceil(self._spent[0] + RATE_WINDOW_SECONDS - now))
                raise ApiProblem(
                    429,
                    "TooManyRequests",
                    TOO_MANY_REQUESTS.format(limit=self.rate_limit),
                    {"Retry-After": str(retry_after), **self.rate_headers(0)},
                )
            self._spent.append(now)
            return self.rate_limit - len(self._spent)

    def rate_headers(self, remaining: int) -> dict[str, str]:
        return {"X-Rate-Limit": str(self.rate_limit), "X-Rate-Limit-Remaining": str(remaining)}

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
