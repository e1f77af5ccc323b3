"""Faulty answers the Orchestra emulator can serve on purpose, to test what a client does with them.

Each fault changes the list pages of one resource, after the records are generated and before they are sent:

- :class:`PadField`: every record's ``field`` holds ``size`` characters (large records, oversized pages);
- :class:`EmptyPage`: page ``page`` always answers ``results: []`` while ``total`` still counts its records (a
  window that never becomes consistent);
- :class:`SetValue`: the first record of every page holds ``field`` = ``json``, any JSON text: odd numbers
  (``2.5``, ``123456789012345678901234567890``, which no 64-bit type holds), odd timestamps
  (``"9999-12-31T23:59:59Z"``), wrong types (``"many"``, ``{}``).

A long ``Retry-After`` is ``OrchestraEmulator.fail_next(429, retry_after=3600)``. On the command line
(``eltops emulate orchestra --fault SPEC``) a fault is written ``RESOURCE:pad:FIELD:SIZE``,
``RESOURCE:empty-page:PAGE`` or ``RESOURCE:value:FIELD:JSON``, for example ``task-runs:pad:message:4096``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from eltops.orchestra.emulator._model import Resource

__all__ = ["EmptyPage", "Fault", "PadField", "SetValue", "parse_fault", "render_page"]


@dataclass(frozen=True)
class PadField:
    """Every record of ``resource`` has ``field`` = ``size`` characters of text."""

    resource: Resource
    field: str
    size: int

    def __post_init__(self) -> None:
        if self.size < 0:
            raise ValueError("a padded field's size must be 0 or more")


@dataclass(frozen=True)
class EmptyPage:
    """Page ``page`` of every ``resource`` listing answers no results; ``total`` is left as it is."""

    resource: Resource
    page: int

    def __post_init__(self) -> None:
        if self.page < 1:
            raise ValueError("the empty page's number must be 1 or more")


@dataclass(frozen=True)
class SetValue:
    """The first record on every page of ``resource`` has ``field`` set to the JSON text ``json``, as written."""

    resource: Resource
    field: str
    json: str

    def __post_init__(self) -> None:
        try:
            json.loads(self.json)  # the standard library reads integers of any size, as a JSON text may hold
        except ValueError as exc:
            raise ValueError(f"the value for {self.field} is not JSON: {exc}") from None


Fault = PadField | EmptyPage | SetValue
_FORMS = "RESOURCE:pad:FIELD:SIZE, RESOURCE:empty-page:PAGE or RESOURCE:value:FIELD:JSON"


def parse_fault(spec: str) -> Fault:
    """``RESOURCE:pad:FIELD:SIZE``, ``RESOURCE:empty-page:PAGE`` or ``RESOURCE:value:FIELD:JSON``."""
    name, _, rest = spec.partition(":")
    kind, _, args = rest.partition(":")
    try:
        resource = Resource[name.strip().replace("-", "_").upper()]
    except KeyError:
        raise ValueError(
            f"unknown resource {name!r} in fault {spec!r} (pipeline-runs, task-runs, operations)"
        ) from None
    try:
        if kind == "pad":
            field, _, size = args.partition(":")
            return PadField(resource, field, int(size))
        if kind == "empty-page":
            return EmptyPage(resource, int(args))
        if kind == "value":
            field, _, text = args.partition(":")
            if field and text:
                return SetValue(resource, field, text)
    except ValueError as exc:
        raise ValueError(f"fault {spec!r}: {exc}") from None
    raise ValueError(
        f"fault {spec!r} is not RESOURCE:pad:FIELD:SIZE, RESOURCE:empty-page:PAGE or RESOURCE:value:FIELD:JSON"
    )


def render_page(
    resource: Resource,
    page: int,
    page_size: int,
    total: int,
    results: list[dict[str, Any]],
    faults: Sequence[Fault],
) -> bytes:
    """The listing's body, with the faults armed for ``resource`` applied."""
    raw: dict[str, str] = {}
    for fault in faults:
        if fault.resource is not resource:
            continue
        if isinstance(fault, EmptyPage) and fault.page == page:
            results = []
        elif isinstance(fault, PadField):
            filler = ("padding " * (fault.size // 8 + 1))[: fault.size]
            results = [{**record, fault.field: filler} for record in results]
        elif isinstance(fault, SetValue) and results:
            marker = f"@@eltops-fault-{len(raw)}@@"
            raw[marker] = fault.json
            results = [{**results[0], fault.field: marker}, *results[1:]]
    body = orjson.dumps({"page": page, "pageSize": page_size, "total": total, "results": results})
    for marker, text in raw.items():
        body = body.replace(orjson.dumps(marker), text.encode())
    return body
