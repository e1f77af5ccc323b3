"""Which API base URLs eltops accepts: https anywhere, plain http only to loopback (where the emulators run).

Kept apart from :mod:`eltops._http` so that checking settings does not import the HTTP client.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from eltops.errors import ConfigError

__all__ = ["validate_base_url"]


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def validate_base_url(url: str, *, variable: str) -> str:
    """Return ``url`` without a trailing slash; refuse anything but https, or plain http to a loopback host."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{variable} must be an http(s) URL such as https://host/path, got {url!r}")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ConfigError(
            f"{variable} uses plain http to {parts.hostname}; credentials are only sent over https "
            "(plain http is allowed to loopback addresses such as 127.0.0.1, where the emulators run)"
        )
    return url.rstrip("/")
