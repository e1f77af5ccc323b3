"""Serve a WSGI app (an emulator) over real HTTP on a loopback address, in a background thread or in the foreground."""

from __future__ import annotations

import errno
import ipaddress
import logging
import socket
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any

from werkzeug.serving import BaseWSGIServer, get_sockaddr, make_server, select_address_family

from eltops.errors import ConfigError

__all__ = ["RunningServer", "serve_in_thread", "serve_until_ctrl_c"]

WsgiApp = Callable[..., Any]


def _check_loopback(host: str) -> None:
    if host == "localhost":
        return
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        pass
    raise ConfigError(f"the emulators only listen on loopback addresses (127.0.0.1, ::1), not {host!r}")


class RunningServer:
    """A server running in a daemon thread; ``close()`` (or leaving the ``with`` block) stops it."""

    def __init__(self, server: BaseWSGIServer) -> None:
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="eltops-emulator", daemon=True)
        self._thread.start()

    @property
    def host(self) -> str:
        return str(self._server.host)

    @property
    def port(self) -> int:
        return int(self._server.port)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def make_loopback_server(app: WsgiApp, *, host: str = "127.0.0.1", port: int = 0) -> BaseWSGIServer:
    """A threaded HTTP/1.1 server for ``app`` bound to ``host:port`` (port 0 picks a free one).

    The socket is bound here rather than by werkzeug, which prints its own text and exits the process when the
    port is taken: a port in use is a :class:`ConfigError` (exit 2) that says what to do.
    """
    _check_loopback(host)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    family = select_address_family(host, port)
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as werkzeug does: no wait after a restart
        sock.bind(get_sockaddr(host, port, family))
        sock.listen(128)
        return make_server(host, port, app, threaded=True, fd=sock.fileno())
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(
                f"port {port} on {host} is already in use (an emulator already running?): stop that program, or "
                "pick another port with --port N, or --port 0 for any free one"
            ) from None
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    finally:
        sock.close()  # the server holds its own duplicate of the socket


def serve_in_thread(app: WsgiApp, *, host: str = "127.0.0.1", port: int = 0) -> RunningServer:
    """Start serving ``app`` on loopback in the background and return once it accepts connections."""
    return RunningServer(make_loopback_server(app, host=host, port=port))


def serve_until_ctrl_c(server: BaseWSGIServer, announce: Callable[[], None]) -> None:
    """Print ``announce()``, then serve in the foreground; Ctrl-C at any moment once bound is a clean stop."""
    try:
        announce()
        server.serve_forever()  # werkzeug's server returns quietly on Ctrl-C
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
