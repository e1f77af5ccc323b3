"""The OpenAPI 3.0 to JSON Schema translation the contract tests validate with does what its notes say."""

from __future__ import annotations

from typing import Any

import pytest

from tests.specs._openapi import FORMATS, Definition, json_schema, template_for

SPEC: dict[str, Any] = {
    "paths": {
        "/v1/things/{id}": {"get": {}, "post": {}},
        "/v1/things/{id}/parts/{part}": {"get": {}},
        "/v1/things/{id}/parts/all": {"get": {}},
    },
    "components": {
        "schemas": {
            "Animal": {
                "type": "object",
                "properties": {"kind": {"type": "string"}, "born": {"type": "string", "format": "date-time"}},
                "discriminator": {"propertyName": "kind", "mapping": {"cat": "#/components/schemas/Cat"}},
            },
            "Cat": {
                "allOf": [
                    {"$ref": "#/components/schemas/Animal"},
                    {"properties": {"lives": {"type": "integer", "format": "int32"}}},
                ]
            },
        }
    },
}


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ({"type": "string", "nullable": True}, {"type": ["string", "null"]}),
        ({"type": "string", "enum": ["a"], "nullable": True}, {"type": ["string", "null"], "enum": ["a", None]}),
        (
            {"allOf": [{"type": "string"}], "nullable": True},
            {"anyOf": [{"allOf": [{"type": "string"}]}, {"type": "null"}]},
        ),
        ({"$ref": "#/components/schemas/Cat", "description": "ignored"}, {"$ref": "#/components/schemas/Cat"}),
        ({"type": "object", "x-speakeasy": 1, "example": {}, "title": "t"}, {"type": "object"}),
        (
            {"additionalProperties": {"type": "string", "nullable": True}},
            {"additionalProperties": {"type": ["string", "null"]}},
        ),
    ],
)
def test_translation(schema: dict[str, Any], expected: dict[str, Any]) -> None:
    """nullable becomes a null type, $ref siblings and annotations go, subschemas are translated too."""
    assert json_schema(schema) == expected


def test_an_untranslated_keyword_is_refused() -> None:
    """A keyword the translation does not know is an error, not silently ignored or kept."""
    with pytest.raises(ValueError, match="exclusiveMinimum"):
        json_schema({"type": "integer", "minimum": 0, "exclusiveMinimum": True})


@pytest.mark.parametrize(
    ("instance", "valid"),
    [
        ({"kind": "cat", "lives": 9}, True),
        ({"kind": "cat", "lives": "nine"}, False),  # the discriminator's pick applies
        ({"kind": "dog", "lives": "nine"}, True),  # an unmapped value gets the base schema only
        ({"kind": "cat", "lives": 2**31}, False),  # int32
        ({"kind": "cat", "born": "2024-12-01T15:43:29.013729Z"}, True),
        ({"kind": "cat", "born": "2024-12-01T15:43:29+01:00"}, True),
        ({"kind": "cat", "born": "2024-12-01T15:43:29"}, False),  # no zone
        ({"kind": "cat", "born": "2024-13-01T15:43:29Z"}, False),  # no such month
    ],
)
def test_discriminator_and_formats(instance: dict[str, Any], valid: bool) -> None:
    """A discriminated object also matches its mapped schema; date-time is RFC 3339 and int32 its range."""
    definition = Definition(SPEC)
    assert (definition.errors({"$ref": "#/components/schemas/Animal"}, instance) == []) is valid


def test_undeclared_members_follow_the_discriminator() -> None:
    """Members named by the mapped schema are declared, others are reported where they are."""
    definition = Definition(SPEC)
    schema = {"$ref": "#/components/schemas/Animal"}
    assert definition.undeclared(schema, {"kind": "cat", "lives": 9, "fur": "red"}) == ["/fur"]
    assert definition.undeclared(schema, {"kind": "dog", "lives": 9}) == ["/lives"]


@pytest.mark.parametrize(
    ("method", "path", "template"),
    [
        ("GET", "/v1/things/a", "/v1/things/{id}"),
        ("POST", "/v1/things/a", "/v1/things/{id}"),
        ("GET", "/v1/things/a/parts/b", "/v1/things/{id}/parts/{part}"),
        ("GET", "/v1/things/a/parts/all", "/v1/things/{id}/parts/all"),
        ("DELETE", "/v1/things/a", None),
        ("GET", "/v1/things/a/b", None),
    ],
)
def test_paths_find_their_template(method: str, path: str, template: str | None) -> None:
    """A concrete path matches the template with its method, literal segments winning over parameters."""
    assert template_for(SPEC, method, path) == template


def test_only_the_documented_formats_are_checked() -> None:
    """The format checker knows date-time and int32, nothing it would check by accident."""
    assert set(FORMATS.checkers) == {"date-time", "int32"}
