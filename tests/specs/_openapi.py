"""Reading a vendored OpenAPI 3.0 definition as JSON Schema: load it, find an operation, validate an answer.

OpenAPI 3.0 schema objects are almost JSON Schema; what differs is translated here and nothing else:

- ``nullable: true`` becomes a ``"null"`` type (and a ``None`` enum member);
- a ``discriminator`` with a ``mapping`` (``ConnectorResponseV1`` is discriminated by ``service``) becomes one
  ``if``/``then`` per value: an object whose property is that value must also match the mapped schema, less
  the mapped schema's ``allOf`` reference back to the discriminated one (which would loop forever);
- siblings of ``$ref`` are dropped (OpenAPI 3.0 ignores them); annotations (``example``, ``x-*``, ...) are dropped.

A keyword outside that list is refused rather than guessed at, so a new definition cannot be validated wrongly
in silence. ``format: date-time`` is checked as RFC 3339 (what the vendors document), ``int32`` as its range.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator, FormatChecker

__all__ = [
    "FORMATS",
    "SPECS",
    "Definition",
    "json_schema",
    "load_spec",
    "operation",
    "response_schema",
    "template_for",
]

SPECS = Path(__file__).resolve().parent
_REF_PREFIX = "#/components/schemas/"
_KEPT = frozenset(
    {
        "type",
        "format",
        "enum",
        "required",
        "uniqueItems",
        "minimum",
        "maximum",
        "minLength",
        "maxLength",
        "pattern",
        "minItems",
        "maxItems",
        "minProperties",
        "maxProperties",
        "multipleOf",
    }
)
_ANNOTATIONS = frozenset(
    {"description", "title", "example", "default", "readOnly", "writeOnly", "deprecated", "externalDocs", "xml"}
)
_SUBSCHEMAS = frozenset({"items", "additionalProperties", "not"})
_SUBSCHEMA_LISTS = frozenset({"allOf", "anyOf", "oneOf"})

FORMATS = FormatChecker(formats=())
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")


@FORMATS.checks("date-time", raises=ValueError)
def _date_time(value: object) -> bool:
    """RFC 3339: a date, a time to the second or finer, and a zone (``Z`` or an offset); a real moment."""
    if not isinstance(value, str):
        return True
    if not _RFC3339.fullmatch(value):
        return False
    datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    return True


@FORMATS.checks("int32")
def _int32(value: object) -> bool:
    return not isinstance(value, int) or isinstance(value, bool) or -(2**31) <= value < 2**31


@functools.cache
def _parsed(name: str) -> Any:
    text = (SPECS / name).read_text(encoding="utf-8")
    if name.endswith(".json"):
        return json.loads(text)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader (the C one when built)


def load_spec(name: str) -> dict[str, Any]:
    """A fresh copy of the vendored definition ``name`` (parsed once), free to be corrected in place."""
    spec: dict[str, Any] = copy.deepcopy(_parsed(name))
    return spec


def operation(spec: dict[str, Any], method: str, template: str) -> dict[str, Any]:
    """The operation object for ``method`` on the path ``template``; KeyError when the spec has none."""
    op: dict[str, Any] = spec["paths"][template][method.lower()]
    return op


def template_for(spec: dict[str, Any], method: str, path: str) -> str | None:
    """The spec's path template that a concrete ``path`` requested with ``method`` matches, or None.

    When several match, the one with most literal segments wins (``.../schemas/tables/resync`` over a
    ``.../schemas/{name}/...`` template), as routers do.
    """
    matches = []
    for template, item in spec["paths"].items():
        if method.lower() not in item:
            continue
        pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, path):
            matches.append(template)
    if not matches:
        return None
    return max(matches, key=lambda t: sum(1 for s in t.split("/") if s and not s.startswith("{")))


def response_schema(op: dict[str, Any], status: int) -> dict[str, Any] | None:
    """The JSON schema ``op`` declares for an answer with ``status``, or None when it declares no JSON body."""
    response = op.get("responses", {}).get(str(status))
    if response is None:
        return None
    content = response.get("content") or {}
    for media_type, body in content.items():
        if media_type.split(";")[0].strip() == "application/json" and "schema" in body:
            schema: dict[str, Any] = body["schema"]
            return schema
    return None


def json_schema(schema: Any, *, name: str | None = None, components: dict[str, Any] | None = None) -> Any:
    """One OpenAPI 3.0 schema object as JSON Schema 2020-12 (see the module notes).

    ``name`` is the component's own name and ``components`` the raw component schemas, both needed only to
    translate a discriminator.
    """
    if isinstance(schema, bool):
        return schema
    if not isinstance(schema, dict):
        raise TypeError(f"a schema object must be a mapping, not {schema!r}")
    if "$ref" in schema:
        return {"$ref": schema["$ref"]}
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _KEPT:
            out[key] = copy.deepcopy(value)
        elif key == "properties":
            out[key] = {prop: json_schema(sub) for prop, sub in value.items()}
        elif key in _SUBSCHEMAS:
            out[key] = json_schema(value)
        elif key in _SUBSCHEMA_LISTS:
            out[key] = [json_schema(sub) for sub in value]
        elif key in ("nullable", "discriminator") or key in _ANNOTATIONS or key.startswith("x-"):
            continue
        else:
            raise ValueError(f"OpenAPI keyword {key!r} is not translated to JSON Schema here: add it knowingly")
    if schema.get("nullable") is True:
        if "type" in out:
            out["type"] = [out["type"], "null"]
            if "enum" in out:
                out["enum"] = [*out["enum"], None]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    discriminator = schema.get("discriminator")
    if discriminator is not None:
        out.setdefault("allOf", []).extend(_discriminated(discriminator, name=name, components=components or {}))
    return out


def _discriminated(discriminator: dict[str, Any], *, name: str | None, components: dict[str, Any]) -> list[Any]:
    prop = discriminator["propertyName"]
    self_ref = {"$ref": f"{_REF_PREFIX}{name}"}
    branches = []
    for value, target in discriminator.get("mapping", {}).items():
        mapped = components[target.removeprefix(_REF_PREFIX)]
        if set(mapped) == {"allOf"}:
            then = {"allOf": [json_schema(part) for part in mapped["allOf"] if part != self_ref]}
        else:
            then = {"$ref": target}
        branches.append({"if": {"properties": {prop: {"const": value}}, "required": [prop]}, "then": then})
    return branches


class Definition:
    """A (corrected) OpenAPI definition ready to validate with: its component schemas translated once."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        raw = spec.get("components", {}).get("schemas", {})
        self._components = {name: json_schema(schema, name=name, components=raw) for name, schema in raw.items()}

    def operation(self, method: str, template: str) -> dict[str, Any]:
        """The operation object for ``method`` on the path ``template``; KeyError when the spec has none."""
        return operation(self.spec, method, template)

    def template_for(self, method: str, path: str) -> str | None:
        return template_for(self.spec, method, path)

    def validator(self, schema: dict[str, Any]) -> Draft202012Validator:
        """A validator of ``schema`` (an OpenAPI schema object), its ``$ref``s resolved in this definition."""
        root = json_schema(schema)
        root["components"] = {"schemas": self._components}
        return Draft202012Validator(root, format_checker=FORMATS)

    def errors(self, schema: dict[str, Any], instance: Any) -> list[str]:
        """Every way ``instance`` breaks ``schema``, one line each (where, then what), best first."""
        found = sorted(
            self.validator(schema).iter_errors(instance), key=lambda e: (list(map(str, e.absolute_path)), e.message)
        )
        return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in found]

    def undeclared(self, schema: dict[str, Any], instance: Any, where: str = "") -> list[str]:
        """Where ``instance`` has a member ``schema`` does not name (``/data/status/x``), though it may allow it.

        The definition never closes an object (no ``additionalProperties: false``), so validation lets any extra
        member through; this finds them. An object schema naming no members (``type: object`` alone) is free-form.
        """
        schema = self._resolved(schema)
        found: list[str] = []
        if isinstance(instance, dict):
            properties, additional = self._members(schema, instance)
            if not properties and additional is None:
                return found
            for key, value in instance.items():
                sub = properties.get(key, additional)
                if sub is None:
                    found.append(f"{where}/{key}")
                elif isinstance(sub, dict):
                    found.extend(self.undeclared(sub, value, f"{where}/{key}"))
        elif isinstance(instance, list) and isinstance(schema.get("items"), dict):
            for index, item in enumerate(instance):
                found.extend(self.undeclared(schema["items"], item, f"{where}/{index}"))
        return found

    def _resolved(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            schema = self.spec["components"]["schemas"][schema["$ref"].removeprefix(_REF_PREFIX)]
        return schema

    def _members(
        self, schema: dict[str, Any], instance: dict[str, Any], seen: frozenset[int] = frozenset()
    ) -> tuple[dict[str, Any], Any]:
        """The members ``schema`` names, over its ``allOf`` and the discriminator's pick, and its extra members' schema.

        ``seen`` holds the schemas already being merged: a discriminator's pick includes the discriminated schema.
        """
        seen = seen | {id(schema)}
        properties: dict[str, Any] = {}
        additional = schema.get("additionalProperties")
        parts = [self._resolved(part) for part in schema.get("allOf", [])]
        discriminator = schema.get("discriminator")
        if discriminator is not None:
            target = discriminator.get("mapping", {}).get(instance.get(discriminator["propertyName"]))
            if target is not None:
                parts.append(self._resolved({"$ref": target}))
        for part in parts:
            if id(part) in seen:
                continue
            part_properties, part_additional = self._members(part, instance, seen)
            properties.update(part_properties)
            additional = additional if additional is not None else part_additional
        properties.update(schema.get("properties", {}))
        return properties, additional
