"""A JUnit XML report, the format GitLab (``artifacts:reports:junit``) and GitHub test reporters read."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from eltops._paths import JUNIT, write_output
from eltops.secrets import MASKER

# XML 1.0 allows TAB, LF, CR and everything from U+0020 except the surrogates, U+FFFE and U+FFFF; a character
# reference cannot name the others either, so they are written out as visible text (``\x1b``) instead.
_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml_text(text: str) -> str:
    """``text`` masked, with every character XML forbids shown as its escape (``\\x00``, ``\\ud800``)."""
    return _XML_FORBIDDEN.sub(_visible, MASKER.redact(text))


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


@dataclass(frozen=True)
class JUnitCase:
    name: str
    classname: str
    seconds: float = 0.0
    failure: str | None = None  # the remote operation failed (a failed test)
    error: str | None = None  # it could not be run or finished (timeout, API error)
    output: str = ""
    skipped: str | None = None  # it was not run, on purpose (an Orchestra task SKIPPED, a sync not needed): why


def write_junit(path: Path, *, suite: str, cases: list[JUnitCase]) -> None:
    """Write one ``<testsuite>`` with ``cases`` to ``path`` (whole or not at all), every text masked and XML-safe;
    ConfigError if unwritable. The path was checked by :func:`eltops._paths.output_file` before any work."""
    failures = sum(1 for c in cases if c.failure is not None)
    errors = sum(1 for c in cases if c.error is not None)
    skipped = sum(1 for c in cases if c.skipped is not None)
    root = ET.Element(
        "testsuites",
        name="eltops",
        tests=str(len(cases)),
        failures=str(failures),
        errors=str(errors),
        skipped=str(skipped),
    )
    element = ET.SubElement(
        root,
        "testsuite",
        name=_xml_text(suite),
        tests=str(len(cases)),
        failures=str(failures),
        errors=str(errors),
        skipped=str(skipped),
        time=f"{sum(c.seconds for c in cases):.3f}",
    )
    for case in cases:
        node = ET.SubElement(
            element,
            "testcase",
            name=_xml_text(case.name),
            classname=_xml_text(case.classname),
            time=f"{case.seconds:.3f}",
        )
        if case.failure is not None:
            ET.SubElement(node, "failure", message=_xml_text(case.failure)).text = _xml_text(case.failure)
        if case.error is not None:
            ET.SubElement(node, "error", message=_xml_text(case.error)).text = _xml_text(case.error)
        if case.skipped is not None:
            ET.SubElement(node, "skipped", message=_xml_text(case.skipped))
        if case.output:
            ET.SubElement(node, "system-out").text = _xml_text(case.output)
    ET.indent(root)
    text = ET.tostring(root, encoding="unicode")
    write_output(path, f"<?xml version='1.0' encoding='utf-8'?>\n{text}\n", JUNIT)  # whole or not at all
