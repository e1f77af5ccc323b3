"""Validating events against the OpenLineage spec: the core schema of the event's ``schemaURL`` and each facet's
own schema (its ``_schemaURL``), offline, from the JSON schemas shipped in ``spec/`` (as OpenLineage publishes them).

``$ref``\\s across schema files resolve through a :mod:`referencing` registry of every shipped schema, by its
``$id``. A facet whose ``_schemaURL`` is not a shipped schema is a custom facet: the core schema's rules for a facet
apply to it (``_producer``, ``_schemaURL``), no more. Formats ``uuid``, ``date-time`` and ``uri`` are checked.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag, urlsplit

import orjson

__all__ = ["LATEST_EVENT_SCHEMA", "SPEC_DIR", "SpecValidator"]

SPEC_DIR = Path(__file__).parent / "spec"
LATEST_EVENT_SCHEMA = "https://openlineage.io/spec/2-0-2/OpenLineage.json"


def _is_uuid(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if "T" not in value.upper() or not (value.endswith(("Z", "z")) or value[-6] in "+-"):
        return False  # RFC 3339 wants a time and a zone
    try:
        datetime.fromisoformat(value.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _is_uri(value: object) -> bool:
    return not isinstance(value, str) or bool(urlsplit(value).scheme)


class SpecValidator:
    """Validates OpenLineage events; :meth:`problems` lists what is wrong with one (empty: valid)."""

    def __init__(self, spec_dir: Path = SPEC_DIR) -> None:
        self.spec_dir = spec_dir

    @cached_property
    def _registry(self) -> Any:
        from referencing import Registry, Resource

        resources = []
        for path in sorted(self.spec_dir.rglob("*.json")):
            schema = orjson.loads(path.read_bytes())
            resources.append((schema["$id"], Resource.from_contents(schema)))
        return Registry().with_resources(resources)

    @cached_property
    def _format_checker(self) -> Any:
        from jsonschema import FormatChecker

        checker = FormatChecker(formats=())
        checker.checks("uuid")(_is_uuid)
        checker.checks("date-time")(_is_date_time)
        checker.checks("uri")(_is_uri)
        return checker

    def known(self, url: str) -> bool:
        document, _ = urldefrag(url)
        try:
            self._registry.contents(document)
        except LookupError:
            return False
        return True

    def _errors(self, instance: Any, url: str, where: str) -> Iterator[str]:
        from jsonschema import Draft202012Validator

        document, fragment = urldefrag(url)
        schema: Mapping[str, Any] = {"$ref": f"{document}#{fragment}" if fragment else document}
        validator = Draft202012Validator(schema, registry=self._registry, format_checker=self._format_checker)
        for error in sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path)):
            path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
            yield f"{where}{path}: {_short(error)}"

    def problems(self, event: Any) -> list[str]:
        """What is wrong with ``event`` against the spec, each naming where; an empty list when it is valid."""
        if not isinstance(event, Mapping):
            return ["the event is not a JSON object"]
        url = event.get("schemaURL")
        document = urldefrag(url)[0] if isinstance(url, str) else ""
        core = url if isinstance(url, str) and self.known(document) else LATEST_EVENT_SCHEMA
        found = list(self._errors(event, core, "event"))
        for where, facet in _facets(event):
            facet_url = facet.get("_schemaURL") if isinstance(facet, Mapping) else None
            if isinstance(facet_url, str) and self.known(facet_url) and urldefrag(facet_url)[1]:
                found.extend(self._errors(facet, facet_url, where))
        return found


def _short(error: Any) -> str:
    message = str(error.message)
    return message if len(message) <= 300 else message[:297] + "..."


def _facets(event: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """(where, facet) for every facet of the event: run, job, each dataset's, input and output facets."""

    def of(owner: Any, key: str, where: str) -> Iterator[tuple[str, Any]]:
        facets = owner.get(key) if isinstance(owner, Mapping) else None
        if isinstance(facets, Mapping):
            for name, facet in facets.items():
                yield f"{where}.{key}.{name}", facet

    yield from of(event.get("run"), "facets", "event.run")
    yield from of(event.get("job"), "facets", "event.job")
    for side, extra in (("inputs", "inputFacets"), ("outputs", "outputFacets")):
        datasets = event.get(side)
        if isinstance(datasets, list):
            for index, dataset in enumerate(datasets):
                yield from of(dataset, "facets", f"event.{side}[{index}]")
                yield from of(dataset, extra, f"event.{side}[{index}]")
