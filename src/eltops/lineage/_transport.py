"""Where events go: an OpenLineage HTTP collector (on eltops' own HTTP layer), a JSON Lines file, or the console.

Each transport sends one event (already masked, as JSON bytes) and raises :class:`DeliveryError` when it could not;
``collector_down`` on the error says the collector itself is unreachable or failing (a connection error, a
timeout, a 5xx), so the emitter stops trying it for the rest of the job. A 4xx is about that one event.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol, TextIO

import orjson

from eltops import __version__
from eltops._deadline import Clock, Deadline
from eltops.errors import ApiConnectionError, ApiStatusError, EltopsError
from eltops.lineage._settings import (
    ConsoleTransportSettings,
    FileTransportSettings,
    HttpTransportSettings,
    TransportSettings,
)

__all__ = ["ConsoleTransport", "DeliveryError", "FileTransport", "HttpTransport", "Transport", "make_transport"]


class DeliveryError(Exception):
    """An event was not delivered; ``collector_down`` when the collector itself is out of reach."""

    def __init__(self, message: str, *, collector_down: bool) -> None:
        super().__init__(message)
        self.collector_down = collector_down


class Transport(Protocol):
    where: str
    timeout: float

    def send(self, body: bytes, *, timeout: float) -> None: ...

    def close(self) -> None: ...


class HttpTransport:
    """POST each event to ``{url}/{endpoint}`` (Marquez: ``/api/v1/lineage``), one attempt, within ``timeout``."""

    def __init__(
        self, settings: HttpTransportSettings, *, transport: object | None = None, clock: Clock = time.monotonic
    ):
        from eltops._http import ApiTransport, RetryPolicy

        headers = {"User-Agent": f"eltops/{__version__}"}
        if settings.api_key is not None:
            headers["Authorization"] = f"Bearer {settings.api_key.reveal()}"
        self.where = settings.where
        self.timeout = settings.timeout
        self._endpoint = "/" + settings.endpoint.lstrip("/")
        self._clock = clock
        self._api = ApiTransport(
            base_url=settings.url,
            headers=headers,
            transport=transport,  # type: ignore[arg-type]  # an httpx.BaseTransport, injected by tests
            retry=RetryPolicy(attempts=1, request_timeout=settings.timeout),
            service="the OpenLineage collector",
            auth_hint="check OPENLINEAGE_API_KEY",
        )

    def send(self, body: bytes, *, timeout: float) -> None:
        try:
            self._api.request("POST", self._endpoint, json=orjson.loads(body), deadline=Deadline(timeout, self._clock))
        except ApiStatusError as exc:
            raise DeliveryError(str(exc), collector_down=(exc.status_code or 0) >= 500) from None
        except ApiConnectionError as exc:
            raise DeliveryError(str(exc), collector_down=True) from None
        except EltopsError as exc:  # the deadline: the collector did not answer in time
            raise DeliveryError(
                f"{self.where} did not answer within {timeout:.1f} s ({exc})", collector_down=True
            ) from None

    def close(self) -> None:
        self._api.close()


class FileTransport:
    """Append each event as one line of JSON (JSON Lines): a CI artifact a catalog can ingest later."""

    timeout = 0.0

    def __init__(self, settings: FileTransportSettings) -> None:
        self.path = settings.path
        self.where = str(settings.path)
        self._lock = threading.Lock()

    def send(self, body: bytes, *, timeout: float) -> None:
        try:
            with self._lock, self.path.open("ab") as handle:
                handle.write(body + b"\n")
        except OSError as exc:
            raise DeliveryError(f"could not append to {self.path}: {exc}", collector_down=True) from None

    def close(self) -> None:
        pass


class ConsoleTransport:
    """Print each event as one line of JSON on the given stream (stderr: stdout stays the command's result)."""

    timeout = 0.0
    where = "the console"

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def send(self, body: bytes, *, timeout: float) -> None:
        try:
            self._stream.write(body.decode() + "\n")
            self._stream.flush()
        except (OSError, ValueError) as exc:
            raise DeliveryError(f"could not write to the console: {exc}", collector_down=True) from None

    def close(self) -> None:
        pass


def make_transport(
    settings: TransportSettings, *, console: TextIO, http_transport: object | None = None, clock: Clock = time.monotonic
) -> Transport:
    if isinstance(settings, HttpTransportSettings):
        return HttpTransport(settings, transport=http_transport, clock=clock)
    if isinstance(settings, FileTransportSettings):
        return FileTransport(settings)
    assert isinstance(settings, ConsoleTransportSettings)
    return ConsoleTransport(console)
