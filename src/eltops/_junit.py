"""A JUnit XML report, the format GitLab (``artifacts:reports:junit``) and GitHub test reporters read."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from eltops.errors import ConfigError
from eltops.secrets import MASKER


@dataclass(frozen=True)
class JUnitCase:
    name: str
    classname: str
    seconds: float = 0.0
    failure: str | None = None  # the remote operation failed (a failed test)
    error: str | None = None  # it could not be run or finished (timeout, API error)
    output: str = ""


def write_junit(path: Path, *, suite: str, cases: list[JUnitCase]) -> None:
    """Write one ``<testsuite>`` with ``cases`` to ``path``, every text masked; ConfigError if unwritable."""
    failures = sum(1 for c in cases if c.failure is not None)
    errors = sum(1 for c in cases if c.error is not None)
    root = ET.Element("testsuites", name="eltops", tests=str(len(cases)), failures=str(failures), errors=str(errors))
    element = ET.SubElement(
        root,
        "testsuite",
        name=MASKER.redact(suite),
        tests=str(len(cases)),
        failures=str(failures),
        errors=str(errors),
        time=f"{sum(c.seconds for c in cases):.3f}",
    )
    for case in cases:
        node = ET.SubElement(
            element,
            "testcase",
            name=MASKER.redact(case.name),
            classname=MASKER.redact(case.classname),
            time=f"{case.seconds:.3f}",
        )
        if case.failure is not None:
            ET.SubElement(node, "failure", message=MASKER.redact(case.failure)).text = MASKER.redact(case.failure)
        if case.error is not None:
            ET.SubElement(node, "error", message=MASKER.redact(case.error)).text = MASKER.redact(case.error)
        if case.output:
            ET.SubElement(node, "system-out").text = MASKER.redact(case.output)
    ET.indent(root)
    try:
        ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
    except OSError as exc:
        raise ConfigError(f"cannot write the JUnit report {path}: {exc.strerror}") from None
