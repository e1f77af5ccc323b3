"""The emulator's answers on ``/v1/connections`` are what Fivetran's current (2026) definition declares.

``test_contract.py`` holds the cases (each endpoint in each state) and checks them against the 2024 file in both
path families; here the same cases, on the ``/v1/connections`` family the 2026 file is written in, are validated
against ``tests/specs/fivetran-openapi-2026.json`` (vendored unchanged), together with the endpoints the 2026 file
brought (account info, users, destinations) or that Fivetran documents outside it (sync history, active errors).
What bridges the file and the API is listed here, as in ``test_contract.py``:

- ``correct_2026``: errors of the 2026 file the real API contradicts, one comment each;
- ``STAND_INS_2026``: endpoints the emulator serves that the file lacks, validated against the operation they mirror;
- ``DOCUMENTED``: endpoints Fivetran documents on its site but not (yet) in the file, validated against a schema
  written here from that documentation, field by field, with the page cited.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.specs._fivetran import FIVETRAN_SPEC_2026
from tests.specs._openapi import Definition, load_spec, response_schema

from ._support import FakeClock, make_client
from .test_contract import CASES, ERROR_ENVELOPE, Case, _dig, _send, _string_enums, account, endpoint_of

CORRECTIONS_2026 = (
    "sync-frequency-enum-is-integers",
    "nullable-sync-timestamps",
    "nullable-next-cursor",
    "config-enums-are-strings",
    "listing-config-values",
    "schemas-is-a-map",
)


def correct_2026(spec: dict[str, Any], *, leave_out: str | None = None) -> dict[str, int]:
    """Correct, in ``spec``, the 2026 file's errors that the real API contradicts; the places each one changed."""
    schemas = spec["components"]["schemas"]
    changed = dict.fromkeys(CORRECTIONS_2026, 0)
    # sync-frequency-enum-is-integers: the file types sync_frequency as an integer and lists its values as the
    # strings "1", "5", ... "1440", which no integer equals; Fivetran's "How to Set a Custom Sync Frequency" sends
    # {"sync_frequency": 60}, and API-NOTES.md, "The connection object", says minutes: the values are integers.
    if leave_out != "sync-frequency-enum-is-integers":
        for schema in schemas.values():
            prop = schema.get("properties", {}).get("sync_frequency") if isinstance(schema, dict) else None
            if isinstance(prop, dict) and prop.get("enum") and all(isinstance(v, str) for v in prop["enum"]):
                prop["enum"] = [int(v) for v in prop["enum"]]
                changed["sync-frequency-enum-is-integers"] += 1
    # nullable-sync-timestamps: the file's own descriptions say succeeded_at is "`null` if the connection has never
    # completed a successful sync" and failed_at "`null` if the connection has never experienced a sync failure",
    # yet types both as plain strings (API-NOTES.md, "The connection object", says the same).
    if leave_out != "nullable-sync-timestamps":
        for name in ("ConnectorResponseV1", "ConnectorResponse"):
            for timestamp in ("succeeded_at", "failed_at"):
                prop = schemas[name]["properties"][timestamp]
                if not prop.get("nullable"):
                    prop["nullable"] = True
                    changed["nullable-sync-timestamps"] += 1
    # nullable-next-cursor: API-NOTES.md, "Transport": list endpoints answer `data.next_cursor`, null on the last
    # page (Fivetran's "Pagination" page: "next_cursor ... null if there are no more items"); the file types it
    # as a plain string.
    if leave_out != "nullable-next-cursor":
        for op in (op for item in spec["paths"].values() for op in item.values() if isinstance(op, dict)):
            for response in op.get("responses", {}).values():
                for body in (response.get("content") or {}).values():
                    data = body.get("schema", {}).get("properties", {}).get("data", {}).get("properties", {})
                    cursor = data.get("next_cursor")
                    if isinstance(cursor, dict) and not cursor.get("nullable"):
                        cursor["nullable"] = True
                        changed["nullable-next-cursor"] += 1
    # config-enums-are-strings and listing-config-values: the 2024 file's errors, still in the 2026 one (see
    # test_contract.py for each: enums of a service's config typed `object` while listing strings; a listing's
    # config values typed as objects).
    if leave_out != "config-enums-are-strings":
        for name, schema in schemas.items():
            if name.endswith("_config_V1"):
                changed["config-enums-are-strings"] += _string_enums(schema.get("properties", {}).get("config"))
    config = schemas["ConnectorResponse"]["properties"]["config"]
    if leave_out != "listing-config-values" and config.pop("additionalProperties", None) is not None:
        changed["listing-config-values"] += 1
    # schemas-is-a-map: the schema config's `schemas`, each schema's `tables` and each table's `columns` are
    # described as maps ("Each key is the schema name as stored in the connection schema config"), but written as
    # objects with one property literally named `schema` (`table`, `column`); the keys are names, so that property's
    # schema is every member's (as the 2024 file wrote it, with additionalProperties).
    if leave_out != "schemas-is-a-map":
        changed["schemas-is-a-map"] += _maps(schemas)
    return changed


def _maps(node: Any) -> int:
    """Rewrite every "Each key is ..." object written with one placeholder property as a map; how many there were."""
    count = 0
    if isinstance(node, dict):
        properties = node.get("properties")
        if (
            isinstance(properties, dict)
            and len(properties) == 1
            and next(iter(properties)) in ("schema", "table", "column")
            and "Each key is" in node.get("description", "")
        ):
            node["additionalProperties"] = node.pop("properties").popitem()[1]
            count += 1
        count += sum(_maps(value) for value in node.values())
    elif isinstance(node, list):
        count += sum(_maps(value) for value in node)
    return count


@pytest.fixture(scope="module")
def definition() -> Definition:
    spec = load_spec(FIVETRAN_SPEC_2026)
    correct_2026(spec)
    return Definition(spec)


STAND_INS_2026: dict[str, tuple[str, str]] = {
    # POST {c}/force: the legacy sync older clients use (API-NOTES.md: "undocumented"); answers as a sync does.
    "force_sync": ("POST", "/v1/connections/{connectionId}/sync"),
    # POST {c}/schemas/{schema}/tables/{table}/resync: in Fivetran's Go SDK (API-NOTES.md: "undocumented").
    "resync_table": ("POST", "/v1/connections/{connectionId}/schemas/tables/resync"),
}


def spec_operation(definition: Definition, method: str, path: str) -> tuple[str, str] | None:
    """The (method, template) of the 2026 operation ``method path`` is, or stands in for; None when undocumented."""
    stand_in = STAND_INS_2026.get(endpoint_of(method, path))
    if stand_in is not None:
        return stand_in
    template = definition.template_for(method, path)
    return None if template is None else (method, template)


def errors_2026(definition: Definition, method: str, path: str, status: int, body: Any) -> list[str]:
    """How ``body`` breaks what the 2026 definition (or, for an error it gives no body, the envelope) says."""
    found = spec_operation(definition, method, path)
    assert found is not None, f"the 2026 definition has no operation {method} {path}"
    schema = response_schema(definition.operation(*found), status)
    if schema is not None:
        return definition.errors(schema, body)
    assert status >= 400, f"{found} declares no body for {status}"
    return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in ERROR_ENVELOPE.iter_errors(body)]


def undeclared_2026(definition: Definition, method: str, path: str, status: int, body: Any) -> list[str]:
    found = spec_operation(definition, method, path)
    assert found is not None
    schema = response_schema(definition.operation(*found), status)
    if schema is None:
        return []
    return [where for where in definition.undeclared(schema, body) if "/config/" not in where]


def _connections_cases() -> list[Any]:
    return [pytest.param(case, id=case.id) for case in CASES]


@pytest.mark.parametrize("case", _connections_cases())
def test_every_answer_validates_against_the_2026_definition(
    definition: Definition, clock: FakeClock, case: Case
) -> None:
    """Each case of test_contract.py, on /v1/connections, answers a body the 2026 definition accepts, no stray field."""
    family = "connections" if "{family}" in case.path else None
    emu = account(clock, rate_limit=case.rate_limit)
    with make_client(emu) as client:
        for step in case.before:
            step(emu, client, clock)
        responses = [_send(client, case, family)]
        for _ in range(case.follow):
            responses.append(_send(client, case, family, responses[-1].json()["data"]["next_cursor"]))
    assert responses[-1].status_code == case.status, responses[-1].text
    for response in responses:
        args = (response.request.method, response.request.url.path, response.status_code, response.json())
        assert not errors_2026(definition, *args), (response.text, errors_2026(definition, *args))
        assert not undeclared_2026(definition, *args), (response.text, undeclared_2026(definition, *args))
    for dotted, expected in case.expect.items():
        value = _dig(responses[-1].json(), dotted)
        if isinstance(expected, type):
            assert isinstance(value, expected), (dotted, value)
        elif isinstance(expected, str):
            assert value == expected.replace("{Noun}", "Connection"), (dotted, value)
        else:
            assert value == expected, (dotted, value)


@pytest.mark.parametrize("correction", CORRECTIONS_2026)
def test_every_2026_correction_still_changes_the_vendored_file(correction: str) -> None:
    """Each correction finds its error in the vendored 2026 file (drop it once a new definition fixes that)."""
    assert correct_2026(load_spec(FIVETRAN_SPEC_2026))[correction] > 0
