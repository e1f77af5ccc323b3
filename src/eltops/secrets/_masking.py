"""Keep secret values out of every line eltops writes.

Every secret eltops reads is registered with the process-wide :data:`MASKER` the moment it is read (the
:class:`Secret` constructor does it), together with the derived forms that could leak (the Basic auth header).
All output — log records through :class:`MaskingFilter`, command output through ``eltops.cli`` — passes
through :meth:`SecretMasker.redact`.
"""

from __future__ import annotations

import base64
import logging
import threading

MASK = "******"
MIN_MASKED_LENGTH = 4  # shorter values would blank out ordinary words and numbers; no real key is that short


class SecretMasker:
    """A set of secret values, and a function that replaces them in text."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._lock = threading.Lock()

    def add(self, value: str) -> None:
        if len(value) >= MIN_MASKED_LENGTH:
            with self._lock:
                self._values.add(value)

    def add_basic_auth(self, user: str, password: str) -> None:
        """Also mask the ``Authorization: Basic`` value built from these credentials."""
        self.add(base64.b64encode(f"{user}:{password}".encode()).decode())

    def redact(self, text: str) -> str:
        with self._lock:
            values = sorted(self._values, key=len, reverse=True)
        for value in values:
            if value in text:
                text = text.replace(value, MASK)
        return text

    def clear(self) -> None:
        with self._lock:
            self._values.clear()


MASKER = SecretMasker()


class Secret:
    """A secret string: never shown by ``str``/``repr``; ``reveal()`` is the one way to the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str, *, masker: SecretMasker = MASKER) -> None:
        self._value = value
        masker.add(value)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{MASK}')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)


class MaskingFilter(logging.Filter):
    """A logging filter that formats each record's message and masks secrets in it and in its traceback."""

    def __init__(self, masker: SecretMasker = MASKER) -> None:
        super().__init__()
        self._masker = masker

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self._masker.redact(record.getMessage())
        record.args = None
        if record.exc_info:
            formatted = logging.Formatter().formatException(record.exc_info)
            record.exc_text = self._masker.redact(formatted)
            record.exc_info = None
        return True
