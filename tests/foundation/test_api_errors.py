"""The shared reading of an API's error answer (eltops._api_errors), as both HTTP layers use it."""

from __future__ import annotations

import json

import httpx
import pytest

from eltops._api_errors import parse_error_body
from eltops._http import default_error_parser

JSON_BODIES = [
    ({"code": "NotFound_Connector", "message": "No connector"}, ("NotFound_Connector", "No connector")),
    ({"message": "Rate limited"}, (None, "Rate limited")),
    ({"code": 7, "message": "odd code"}, (None, "odd code")),
    ({"detail": "Not authenticated"}, (None, "Not authenticated")),
    (
        {"detail": [{"loc": ["query", "page_size"], "msg": "too big"}, {"loc": [], "msg": "bad"}, "junk"]},
        (None, "query.page_size: too big; bad"),
    ),
    ({"detail": []}, (None, "FALLBACK")),
    ({"detail": {"nested": True}}, (None, "FALLBACK")),
    ({"message": None, "error": "x"}, (None, "FALLBACK")),
    (["a list"], (None, "FALLBACK")),
    ("a string", (None, "FALLBACK")),
]


@pytest.mark.parametrize(("data", "expected"), JSON_BODIES)
def test_json_error_bodies(data: object, expected: tuple[str | None, str]) -> None:
    """Fivetran's code and message, FastAPI's detail (text or loc/msg list); any other JSON gives the fallback."""
    body = json.dumps(data).encode()
    assert parse_error_body(body, fallback="FALLBACK") == expected
    assert parse_error_body(body, fallback="FALLBACK", text_chars=300) == expected


@pytest.mark.parametrize(
    ("body", "text_chars", "message"),
    [
        (b"<html>Bad gateway</html>", 0, "FALLBACK"),
        (b"<html>Bad gateway</html>", 300, "<html>Bad gateway</html>"),
        (b"  upstream down \n", 300, "upstream down"),
        (b"x" * 500, 300, "x" * 300),
        (b"   ", 300, "FALLBACK"),
        (b"", 300, "FALLBACK"),
        (b"\xff\xfe oops", 300, "\ufffd\ufffd oops"),
        (b"[" * 100_000, 0, "FALLBACK"),
    ],
)
def test_bodies_that_are_not_json(body: bytes, text_chars: int, message: str) -> None:
    """A body that is not JSON gives the fallback, or with ``text_chars`` its own text, cut, when not blank."""
    assert parse_error_body(body, fallback="FALLBACK", text_chars=text_chars) == (None, message)


@pytest.mark.parametrize(("data", "expected"), JSON_BODIES)
def test_the_http_layer_reads_errors_with_it(data: object, expected: tuple[str | None, str]) -> None:
    """eltops' own HTTP layer gives the shared reading, with the HTTP reason phrase as the fallback."""
    response = httpx.Response(404, json=data)
    code, message = expected
    assert default_error_parser(response) == (code, "Not Found" if message == "FALLBACK" else message)
    assert default_error_parser(httpx.Response(502, content=b"<html>")) == (None, "Bad Gateway")
