"""Every form a leaked secret can take in output, so a test can look for all of them."""

from __future__ import annotations

import base64
import html
import json
from urllib.parse import quote, quote_plus


def encodings(value: str) -> set[str]:
    """``value`` raw and as JSON, XML, HTML and URLs write it."""
    return {
        value,
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        html.escape(value),
        html.escape(value, quote=False),
        value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;"),
        quote(value, safe=""),
        quote_plus(value),
    }


def secret_forms(*values: str, basic_auth: tuple[str, str] | None = None) -> set[str]:
    """Every encoding of each value and, given (key, secret), of the Basic auth header built from them."""
    if basic_auth is not None:
        values = (*values, base64.b64encode(f"{basic_auth[0]}:{basic_auth[1]}".encode()).decode())
    return {form for value in values for form in encodings(value)}


def leaks(forms: set[str], places: dict[str, str]) -> list[tuple[str, str]]:
    """(place, form) for every form found in every place's text."""
    return [(where, form) for where, text in places.items() for form in sorted(forms) if form in text]
