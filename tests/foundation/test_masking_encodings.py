"""The masker finds a secret in every encoding (JSON, XML, HTML, URLs), in data before encoding and in raw JSON
pages; the JUnit writer keeps every control character out of the XML."""

from __future__ import annotations

import html
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote, quote_plus

import orjson
import pytest

from eltops._junit import JUnitCase, write_junit
from eltops.secrets import MASKER
from tests._leaks import encodings

SECRETS = [
    'quo"te-9a1b',
    "back\\slash-2c3d",
    "angle<bracket>-4e5f",
    "amp&ersand-6a7b",
    "per%cent%41-8c9d",
    "sp ace  twice-0e1f",
    "unicodé-ü☃-2a3b",
    "ctl\x01\ttab\nnl-4c5d",
    "sla/sh'apos-6e7f",
]

ENCODERS: dict[str, Callable[[str], str]] = {
    "orjson": lambda text: orjson.dumps({"m": text}).decode(),
    "json ensure_ascii": lambda text: json.dumps({"m": text}),
    "json, then HTML": lambda text: html.escape(json.dumps({"m": text})),
    "html": html.escape,
    "xml attribute and text": lambda text: (
        ET.tostring(ET.Element("e", m=text), encoding="unicode")
        + ET.tostring(ET.Element("t"), encoding="unicode").replace("<t />", f"<t>{html.escape(text, quote=False)}</t>")
    ),
    "url": lambda text: quote(text, safe=""),
    "url path": quote,
    "form": quote_plus,
}


@pytest.mark.parametrize("secret", SECRETS)
@pytest.mark.parametrize("encoder", list(ENCODERS))
def test_every_encoding_of_a_secret_is_masked(secret: str, encoder: str) -> None:
    """Text holding an encoded secret comes out with the mask and no form of the secret left."""
    MASKER.add(secret)
    masked = MASKER.redact(ENCODERS[encoder](f"before {secret} after"))
    assert "******" in masked
    assert [form for form in encodings(secret) if form in masked] == []


@pytest.mark.parametrize("secret", SECRETS)
def test_data_is_masked_before_encoding(secret: str) -> None:
    """redact_data masks keys and strings at any depth and leaves other values as they are."""
    MASKER.add(secret)
    data = {"a": [secret, 1, 2.5, None, True], secret: {"deep": f"x{secret}y"}}
    assert MASKER.redact_data(data) == {"a": ["******", 1, 2.5, None, True], "******": {"deep": "x******y"}}


@pytest.mark.parametrize("secret", SECRETS)
@pytest.mark.parametrize(
    "encode", [orjson.dumps, lambda v: json.dumps(v).encode(), lambda v: json.dumps(v).replace("/", "\\/").encode()]
)
def test_json_pages_are_masked_only_when_they_hold_a_secret(secret: str, encode: Callable[[object], bytes]) -> None:
    """A page without a secret is passed on as the same bytes; one with a secret is masked, numbers kept."""
    MASKER.add(secret)
    clean = encode({"results": [{"id": "a", "n": 12345678901, "f": 0.1}]})
    assert MASKER.redact_json_bytes(clean) is clean
    dirty = encode({"results": [{"id": "a", "message": f"key {secret}!", "n": 12345678901, "f": 0.1}]})
    assert MASKER.contains_secret(dirty)
    assert orjson.loads(MASKER.redact_json_bytes(dirty)) == {
        "results": [{"id": "a", "message": "key ******!", "n": 12345678901, "f": 0.1}]
    }


def test_short_values_are_not_masked() -> None:
    """Values shorter than four characters are never registered (they would blank out ordinary words)."""
    MASKER.add('a"b')
    assert MASKER.redact('a"b a\\"b') == 'a"b a\\"b'


ALLOWED = {0x09, 0x0A, 0x0D}


@pytest.mark.parametrize("code", [*range(0x20), 0x7F, 0x85, 0xD800, 0xDFFF, 0xFFFE, 0xFFFF])
def test_junit_is_valid_xml_with_any_control_character(tmp_path: Path, code: int) -> None:
    """Every text with a control character parses as XML; forbidden ones appear as visible escapes."""
    char = chr(code)
    text = f"a{char}b"
    path = tmp_path / "junit.xml"
    case = JUnitCase(name=text, classname=f"c{char}", failure=text, error=text, output=text)
    write_junit(path, suite=f"s{char}", cases=[case])
    root = ET.parse(path).getroot()
    [node] = root.iter("testcase")
    forbidden = not (code in ALLOWED or 0x20 <= code < 0xD800 or 0xE000 <= code < 0xFFFE)
    expected = (f"a\\x{code:02x}b" if code < 0x100 else f"a\\u{code:04x}b") if forbidden else text
    if code == 0x0D:  # XML parsers normalise a literal CR in text; the attribute keeps it as &#13;
        assert node.get("name") == text
        return
    assert node.get("name") == expected
    failure = node.find("failure")
    assert failure is not None
    assert failure.text == expected
