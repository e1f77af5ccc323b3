"""Keep secret values out of every line eltops writes.

Every secret eltops reads is registered with the process-wide :data:`MASKER` the moment it is read (the
:class:`Secret` constructor does it), together with the derived forms that could leak (the Basic auth header).
All output — log records through :class:`MaskingFilter`, command output through ``eltops.cli`` — passes
through :meth:`SecretMasker.redact`; structured values (a ``--json`` result, warehouse rows) are masked value
by value with :meth:`SecretMasker.redact_data` before they are encoded, and an API page kept as raw JSON bytes
goes through :meth:`SecretMasker.redact_json_bytes`.

Masking the encoded text alone would miss a secret that the encoding changed (``ab"c`` is ``ab\\"c`` in JSON,
``ab&quot;c`` in XML, ``ab%22c`` in a URL), so each secret is registered with every encoding it can appear in
(:func:`encoded_forms`), and text is masked for all of them.
"""

from __future__ import annotations

import base64
import html
import json
import logging
import re
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, quote_plus

import orjson

MASK = "******"
MIN_MASKED_LENGTH = 4  # shorter values would blank out ordinary words and numbers; no real key is that short


def xml_escape(value: str, entities: dict[str, str] | None = None) -> str:
    """``xml.sax.saxutils.escape``: ``&``, ``<``, ``>`` and then ``entities``; local, since importing ``saxutils``
    (it pulls in ``urllib.request``, ``http.client`` and ``email``) was a fifth of ``eltops --help``'s start-up."""
    value = value.replace("&", "&amp;").replace(">", "&gt;").replace("<", "&lt;")
    for character, entity in (entities or {}).items():
        value = value.replace(character, entity)
    return value


def _json_ascii(value: str) -> str:
    return json.dumps(value)[1:-1]


def _json_ascii_upper(value: str) -> str:
    return re.sub(r"\\u([0-9a-f]{4})", lambda m: "\\u" + m.group(1).upper(), _json_ascii(value))


def _json_minimal(value: str) -> str:
    return orjson.dumps(value).decode()[1:-1]


def _percent_lower(value: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), quote(value, safe=""))


_JSON_ENCODINGS: tuple[Callable[[str], str], ...] = (
    _json_minimal,  # orjson, most encoders: only " \\ and control characters escaped
    _json_ascii,  # Python's json, ensure_ascii: every non-ASCII character as \\uXXXX
    _json_ascii_upper,
    lambda v: _json_minimal(v).replace("/", "\\/"),  # PHP and some Java encoders escape the slash
)
_ENCODINGS: tuple[Callable[[str], str], ...] = (
    *_JSON_ENCODINGS,
    xml_escape,  # XML text: & < >
    lambda v: xml_escape(v, {'"': "&quot;", "\n": "&#10;", "\r": "&#13;", "\t": "&#09;"}),  # XML attribute (ET)
    lambda v: xml_escape(v, {'"': "&quot;", "'": "&apos;"}),
    lambda v: html.escape(v, quote=True),  # HTML (the report)
    lambda v: quote(v, safe=""),  # URL, query value
    lambda v: quote(v),  # URL path
    lambda v: quote_plus(v, safe=""),  # form encoding
    _percent_lower,
)


def encoded_forms(value: str) -> set[str]:
    """``value`` and every form it takes in JSON, XML, HTML and URLs, also one encoding inside another."""
    forms = {value}
    for _ in range(2):  # JSON inside HTML, a URL inside JSON, ...
        forms |= {encode(form) for form in forms for encode in _ENCODINGS}
    return forms


def json_forms(value: str) -> set[str]:
    """The forms ``value`` can take inside a JSON string literal (raw included)."""
    return {value} | {encode(value) for encode in _JSON_ENCODINGS}


class SecretMasker:
    """A set of secret values, and functions that replace them (in every encoding) in text, data and JSON."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._forms: list[str] = []  # every encoded form of every value, longest first
        self._json_bytes: list[bytes] = []  # every JSON form of every value, as UTF-8
        self._lock = threading.Lock()

    def add(self, value: str) -> None:
        if len(value) < MIN_MASKED_LENGTH:
            return
        with self._lock:
            if value in self._values:
                return
            self._values.add(value)
            forms = set(self._forms) | encoded_forms(value)
            self._forms = sorted(forms, key=len, reverse=True)
            self._json_bytes = sorted({f.encode() for v in self._values for f in json_forms(v)}, key=len, reverse=True)

    def add_basic_auth(self, user: str, password: str) -> None:
        """Also mask the ``Authorization: Basic`` value built from these credentials."""
        self.add(base64.b64encode(f"{user}:{password}".encode()).decode())

    def redact(self, text: str) -> str:
        """``text`` with every secret, in any of its encodings, replaced by the mask."""
        for form in self._forms:
            if form in text:
                text = text.replace(form, MASK)
        return text

    def redact_data(self, value: Any) -> Any:
        """A copy of a JSON-like value (dicts, lists, tuples, strings) with every string masked, keys included."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, dict):
            return {self.redact_data(k): self.redact_data(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.redact_data(v) for v in value]
        return value

    def contains_secret(self, data: bytes) -> bool:
        """Whether a secret occurs in ``data`` (UTF-8 JSON) in any form a JSON encoder writes it."""
        return any(form in data for form in self._json_bytes)

    def redact_json_bytes(self, body: bytes) -> bytes:
        """A JSON document with every secret masked in its strings; the same bytes when it holds none (fast).

        Only a body that holds a secret is decoded and encoded again, so its numbers and structure are kept
        and the mask never lands inside JSON syntax. A body that is not JSON is masked as text.
        """
        if not self.contains_secret(body):
            return body
        try:
            return orjson.dumps(self.redact_data(orjson.loads(body)))
        except orjson.JSONDecodeError:
            return self.redact(body.decode("utf-8", "replace")).encode()

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
            self._forms = []
            self._json_bytes = []


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
