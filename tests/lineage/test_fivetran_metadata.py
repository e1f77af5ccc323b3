"""What lineage reads from Fivetran: the emulator's answers are Fivetran's 2026 definition's, the client reads them."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from eltops._deadline import Deadline
from eltops.fivetran import DestinationTable, FivetranClient
from eltops.fivetran.emulator import DEMO_SCENARIO, FivetranEmulator
from eltops.secrets import Secret
from tests.specs._openapi import Definition, load_spec, response_schema

DEFINITION_2026 = "fivetran-openapi-2026.json"
KEY, SECRET = "k-123456", "s-654321"


def _enum_objects_are_strings(node: Any) -> int:
    """Correct, in place, the definition's config enums typed ``object`` (``auth: {type: object, enum: [PASSWORD,
    ...]}``) to strings: the same known error as the 2024 file's (API-NOTES.md; the contract tests' correction
    ``config-enums-are-strings``), and the file's own example answers ``"auth": "PASSWORD"``. Returns how many."""
    changed = 0
    if isinstance(node, dict):
        enum = node.get("enum")
        if node.get("type") == "object" and isinstance(enum, list) and all(isinstance(v, str) for v in enum):
            node["type"] = "string"
            changed += 1
        changed += sum(_enum_objects_are_strings(v) for v in node.values())
    elif isinstance(node, list):
        changed += sum(_enum_objects_are_strings(v) for v in node)
    return changed


@pytest.fixture(scope="module")
def definition() -> Definition:
    spec = load_spec(DEFINITION_2026)
    assert _enum_objects_are_strings(spec) > 0  # the correction is still needed (drop it once it is not)
    return Definition(spec)


@pytest.fixture
def emulator() -> FivetranEmulator:
    emulator = FivetranEmulator.from_scenario(DEMO_SCENARIO, api_key=KEY, api_secret=SECRET)
    emulator.add_group(
        "pg_group",
        name="Postgres warehouse",
        destination={
            "service": "postgres_warehouse",
            "region": "AWS_EU_WEST_1",
            "config": {"host": "wh.internal", "port": 5433, "database": "analytics", "password": "pw-xyz"},
        },
    )
    return emulator


def _get(emulator: FivetranEmulator, path: str) -> httpx.Response:
    with httpx.Client(
        transport=httpx.WSGITransport(app=emulator.wsgi_app),
        base_url="http://emulator.test",
        auth=(KEY, SECRET),
        headers={"Accept": "application/json;version=2"},
    ) as client:
        return client.get(path)


@pytest.mark.parametrize(
    ("path", "template"),
    [
        ("/v1/destinations/demo_warehouse", "/v1/destinations/{destinationId}"),
        ("/v1/destinations/pg_group", "/v1/destinations/{destinationId}"),
        ("/v1/connections/demo_shop/schemas", "/v1/connections/{connectionId}/schemas"),
    ],
)
def test_answers_are_valid_against_the_2026_definition(
    definition: Definition, emulator: FivetranEmulator, path: str, template: str
) -> None:
    """GET /v1/destinations/{id} and GET /v1/connections/{id}/schemas answer as the 2026 definition declares."""
    response = _get(emulator, path)
    assert response.status_code == 200
    schema = response_schema(definition.operation("GET", template), 200)
    assert schema is not None
    body: Any = response.json()
    assert definition.errors(schema, body) == []
    assert "pw-xyz" not in response.text  # a destination's secrets are masked, as Fivetran masks them


def test_unknown_destination_is_404(emulator: FivetranEmulator) -> None:
    """A destination id that is no group's is a 404 with Fivetran's error envelope."""
    response = _get(emulator, "/v1/destinations/nope")
    assert response.status_code == 404
    assert response.json()["code"] == "NotFound_Destination"


def test_the_client_reads_destination_and_tables(emulator: FivetranEmulator) -> None:
    """The client turns the two answers into a Destination and the enabled tables by their destination names."""
    client = FivetranClient.create(
        api_url="http://emulator.test",
        api_key=Secret(KEY),
        api_secret=Secret(SECRET),
        deadline=Deadline(30),
        transport=httpx.WSGITransport(app=emulator.wsgi_app),
    )
    with client:
        destination = client.destination("pg_group")
        tables = client.destination_tables("demo_shop")
    assert (destination.service, destination.host, destination.port, destination.database) == (
        "postgres_warehouse",
        "wh.internal",
        5433,
        "analytics",
    )
    assert DestinationTable("shop_db_public", "orders") in tables  # a database connection's schema prefix


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (
            {
                "schemas": {
                    "public": {
                        "name_in_destination": "shop_public",
                        "enabled": True,
                        "tables": {
                            "orders": {"name_in_destination": "orders_v2", "enabled": True},
                            "secrets": {"enabled": False},
                            "items": {},
                        },
                    },
                    "archive": {"enabled": False, "tables": {"old": {"enabled": True}}},
                }
            },
            [DestinationTable("shop_public", "orders_v2"), DestinationTable("shop_public", "items")],
        ),
        ({}, []),
    ],
)
def test_enabled_tables_by_destination_name(config: dict[str, Any], expected: list[DestinationTable]) -> None:
    """Only enabled tables of enabled schemas, by name_in_destination (else their source name)."""
    from eltops.fivetran._destinations import enabled_tables

    assert list(enabled_tables(config)) == expected
