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

import httpx
import pytest
from jsonschema import Draft202012Validator

from eltops.fivetran.emulator import FivetranEmulator, SetupTest
from eltops.fivetran.emulator._app import METADATA_DEPRECATED
from tests.specs._fivetran import FIVETRAN_SPEC_2026
from tests.specs._openapi import Definition, load_spec, response_schema

from ._support import FakeClock, make_client
from .test_contract import (
    CASES,
    ERROR_ENVELOPE,
    ROUTES,
    Case,
    Step,
    _dig,
    _send,
    _string_enums,
    account,
    call,
    endpoint_of,
    sync,
    wait,
)

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
    # schema is every member's (as the 2024 file wrote it, with additionalProperties). The re-sync bodies' scope
    # ("A map where each key is a schema name") and the table re-sync body ({schema: [tables]}) are written alike.
    if leave_out != "schemas-is-a-map":
        changed["schemas-is-a-map"] += _maps(schemas) + _maps(spec["paths"])
    return changed


def _maps(node: Any) -> int:
    """Rewrite every map written as one placeholder property (described "each key is ...", or a lone property
    titled "Schema name", as the re-sync bodies write their {schema: [tables]}) as a map; how many there were."""
    count = 0
    if isinstance(node, dict):
        properties = node.get("properties")
        only = next(iter(properties.values())) if isinstance(properties, dict) and len(properties) == 1 else None
        if (
            isinstance(only, dict)
            and next(iter(properties)) in ("schema", "table", "column")
            and ("each key is" in node.get("description", "").lower() or only.get("title") == "Schema name")
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


NOTED_FIELDS_2026 = frozenset({"schedule"})
"""Connection fields Fivetran documents and the 2026 file does not name: ``schedule``, the flexible schedule that
"takes precedence over sync_frequency and daily_sync_time" ("Create a Connection", Sync schedule precedence)."""

_MOMENT = {"type": ["string", "null"], "format": "date-time"}


def _listing(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["code", "data"],
        "properties": {
            "code": {"const": "Success"},
            "data": {
                "type": "object",
                "required": ["items"],
                "properties": {"items": {"type": "array", "items": item}, "next_cursor": {"type": ["string", "null"]}},
            },
        },
    }


DOCUMENTED: dict[str, Draft202012Validator] = {
    # "Retrieve Connection Sync History" (fivetran.com/docs/rest-api/api-reference/connections/
    # retrieve-connection-sync-history): each record's sync_id, status and reason (the issue and the page), and its
    # start and end, "UTC timestamp[s] ... in ISO 8601 format. Null if the sync has not started"; the member names
    # of start and end are the query's (start_time, end_time): the page does not settle them (README design notes).
    "sync_history": Draft202012Validator(
        _listing(
            {
                "type": "object",
                "required": ["sync_id", "status"],
                "additionalProperties": False,
                "properties": {
                    "sync_id": {"type": "string"},
                    "start_time": _MOMENT,
                    "end_time": _MOMENT,
                    "status": {"type": "string"},
                    "reason": {"type": ["string", "null"]},
                },
            }
        ),
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    ),
    # "Retrieve Connection Errors" (REST API changelog, November 2026): "a machine-readable type, a human-readable
    # title, a short reason summary, a plain-text message with remediation guidance, and the created_at timestamp".
    "connection_errors": Draft202012Validator(
        _listing(
            {
                "type": "object",
                "required": ["type", "title", "reason", "message", "created_at"],
                "additionalProperties": False,
                "properties": {
                    "type": {"type": "string"},
                    "title": {"type": "string"},
                    "reason": {"type": "string"},
                    "message": {"type": "string"},
                    "created_at": {"type": "string", "format": "date-time"},
                },
            }
        ),
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    ),
}
REMOVED = {"metadata"}
"""Endpoints Fivetran has removed and answers 404 on (the metadata API): only their error envelope is checked."""
NEWER_ENDPOINTS = frozenset({"account_info", "list_users", *DOCUMENTED, *REMOVED})
"""The emulator's endpoints the 2024 file does not have: reached by this module's cases, not test_contract.py's
(``destination_details`` is in both files, and both modules reach it)."""


def spec_operation(definition: Definition, method: str, path: str) -> tuple[str, str] | None:
    """The (method, template) of the 2026 operation ``method path`` is, or stands in for; None when undocumented."""
    stand_in = STAND_INS_2026.get(endpoint_of(method, path))
    if stand_in is not None:
        return stand_in
    template = definition.template_for(method, path)
    return None if template is None else (method, template)


def errors_2026(definition: Definition, method: str, path: str, status: int, body: Any) -> list[str]:
    """How ``body`` breaks what the 2026 definition (or, for an error it gives no body, the envelope) says."""
    endpoint = endpoint_of(method, path)
    if status < 400 and endpoint in DOCUMENTED:
        return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in DOCUMENTED[endpoint].iter_errors(body)]
    found = spec_operation(definition, method, path)
    if found is None and (endpoint in DOCUMENTED or endpoint in REMOVED):
        return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in ERROR_ENVELOPE.iter_errors(body)]
    assert found is not None, f"the 2026 definition has no operation {method} {path}"
    schema = response_schema(definition.operation(*found), status)
    if schema is not None:
        return definition.errors(schema, body)
    assert status >= 400, f"{found} declares no body for {status}"
    return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in ERROR_ENVELOPE.iter_errors(body)]


def undeclared_2026(definition: Definition, method: str, path: str, status: int, body: Any) -> list[str]:
    """Members of an answer its 2026 schema does not name (a documented endpoint's schema is closed already)."""
    found = spec_operation(definition, method, path)
    if found is None:
        return []
    schema = response_schema(definition.operation(*found), status)
    if schema is None:
        return []
    return [
        where
        for where in definition.undeclared(schema, body)
        if "/config/" not in where and where.rsplit("/", 1)[1] not in NOTED_FIELDS_2026
    ]


def scripted(connection_id: str, **changes: Any) -> Step:
    """Change a connection's script (its setup tests, its failure reason) before the request."""

    def step(emu: FivetranEmulator, client: httpx.Client, clock: FakeClock) -> None:
        emu.script(connection_id, **changes)

    return step


SHOP, CRM = "/v1/connections/demo_shop", "/v1/connections/demo_crm"
CRON = {"schedule_type": "CRON", "cron": ["0 */2 * * *"]}
FAILED_CRM = (sync("demo_crm"), wait(7))  # queued 1 s, syncing 5 s, fails
EVERY_STATUS = tuple(
    SetupTest(f"test {status}", status, f"{status.lower()} says why")
    for status in ("PASSED", "SKIPPED", "WARNING", "FAILED", "JOB_FAILED")
)
WINDOW = {"start_time": "2024-11-30T20:00:00Z", "end_time": "2024-11-30T21:00:00Z"}

NEW_CASES = [
    # --- why a sync failed
    Case(
        "sync-history-failed",
        "GET",
        f"{CRM}/sync-history",
        before=FAILED_CRM,
        params=WINDOW,
        expect={"data.items.0.status": "FAILURE", "data.items.0.reason": str, "data.next_cursor": None},
    ),
    Case(
        "sync-history-default-window",
        "GET",
        f"{CRM}/sync-history",
        before=FAILED_CRM,
        expect={"data.items.0.reason": str},
    ),
    Case(
        "sync-history-succeeded",
        "GET",
        f"{SHOP}/sync-history",
        before=(sync("demo_shop"), wait(11)),
        params=WINDOW,
        expect={"data.items.0.status": "SUCCESSFUL", "data.items.0.reason": None},
    ),
    Case(
        "sync-history-paged",
        "GET",
        f"{CRM}/sync-history",
        before=(*FAILED_CRM, *FAILED_CRM),
        params={**WINDOW, "limit": 1},
        follow=1,
        expect={"data.items.0.sync_id": "demo_crm-1", "data.next_cursor": None},
    ),
    Case("sync-history-empty", "GET", f"{SHOP}/sync-history", params=WINDOW, expect={"data.items": []}),
    Case(
        "400-sync-history-window",
        "GET",
        f"{CRM}/sync-history",
        400,
        params={**WINDOW, "start_time": "2024-11-01T00:00:00Z"},
    ),
    Case(
        "400-sync-history-order",
        "GET",
        f"{CRM}/sync-history",
        400,
        params={**WINDOW, "end_time": "2024-11-30T19:00:00Z"},
    ),
    Case("400-sync-history-moment", "GET", f"{CRM}/sync-history", 400, params={"start_time": "yesterday"}),
    Case("404-sync-history", "GET", "/v1/connections/nope/sync-history", 404, expect={"code": "NotFound_Connection"}),
    Case(
        "errors-after-a-failure",
        "GET",
        f"{CRM}/errors",
        before=FAILED_CRM,
        expect={"data.items.0.type": "reconnect", "data.items.0.message": str},
    ),
    Case("errors-none", "GET", f"{SHOP}/errors", expect={"data.items": [], "data.next_cursor": None}),
    Case("404-errors", "GET", "/v1/connections/nope/errors", 404),
    # --- schedules, data delay, setup-test statuses
    Case(
        "modify-flexible-schedule",
        "PATCH",
        SHOP,
        body={"schedule_type": "auto", "schedule": CRON, "run_setup_tests": False},
        expect={"data.schedule.cron.0": "0 */2 * * *", "data.schedule_type": "auto"},
    ),
    Case(
        "modify-interval-schedule",
        "PATCH",
        SHOP,
        body={"schedule_type": "auto", "schedule": {"schedule_type": "INTERVAL", "interval": 90}},
        expect={"data.schedule.interval": 90},
    ),
    Case(
        "modify-time-of-day-schedule",
        "PATCH",
        SHOP,
        body={
            "schedule_type": "auto",
            "schedule": {"schedule_type": "TIME_OF_DAY", "time_of_day": "03:30", "days_of_week": ["MONDAY"]},
        },
        expect={"data.schedule.time_of_day": "03:30"},
    ),
    Case("400-schedule-with-manual", "PATCH", SHOP, 400, body={"schedule_type": "manual", "schedule": CRON}),
    Case(
        "400-schedule-cron", "PATCH", SHOP, 400, body={"schedule_type": "auto", "schedule": {"schedule_type": "CRON"}}
    ),
    Case(
        "modify-data-delay",
        "PATCH",
        SHOP,
        body={"data_delay_sensitivity": "CUSTOM", "data_delay_threshold": 60, "run_setup_tests": False},
        expect={"data.data_delay_threshold": 60, "data.data_delay_sensitivity": "CUSTOM"},
    ),
    Case("400-data-delay-threshold", "PATCH", SHOP, 400, body={"data_delay_threshold": -1}),
    Case(
        "details-delayed",
        "GET",
        SHOP,
        before=(
            sync("demo_shop"),
            wait(11),
            call(
                "PATCH",
                SHOP,
                {
                    "schedule_type": "auto",
                    "data_delay_sensitivity": "CUSTOM",
                    "data_delay_threshold": 60,
                    "run_setup_tests": False,
                },
            ),
            wait(3700),
        ),
        expect={"data.status.update_state": "delayed", "data.status.sync_state": "scheduled"},
    ),
    Case(
        "setup-tests-every-status",
        "POST",
        f"{SHOP}/test",
        before=(scripted("demo_shop", setup_tests=EVERY_STATUS),),
        expect={"data.setup_tests.4.status": "JOB_FAILED", "data.setup_tests.2.status": "WARNING"},
    ),
    # --- the account, its users and destinations; the removed metadata API
    Case("account-info", "GET", "/v1/account/info", expect={"data.account_id": str}),
    Case("users", "GET", "/v1/users", expect={"data.items.0.role": str, "data.next_cursor": None}),
    Case("destination", "GET", "/v1/destinations/demo_warehouse", expect={"data.group_id": "demo_warehouse"}),
    Case("404-destination", "GET", "/v1/destinations/nope", 404, expect={"code": "NotFound_Destination"}),
    *(
        Case(
            f"404-metadata-{kind}",
            "GET",
            f"/v1/metadata/connectors/demo_shop/{kind}",
            404,
            expect={"code": "NotFound", "message": METADATA_DEPRECATED},
        )
        for kind in ("schemas", "tables", "columns")
    ),
]


def _connections_cases() -> list[Any]:
    return [pytest.param(case, id=case.id) for case in [*CASES, *NEW_CASES]]


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


def test_every_newer_endpoint_is_validated() -> None:
    """The successful new cases reach every endpoint the 2024 file lacks."""
    reached = {endpoint_of(c.method, c.path) for c in NEW_CASES if c.status == 200}
    assert reached >= NEWER_ENDPOINTS - REMOVED
    assert {str(rule.endpoint) for rule in ROUTES.map.iter_rules()} >= NEWER_ENDPOINTS
    assert "destination_details" in reached


@pytest.mark.parametrize("correction", CORRECTIONS_2026)
def test_every_2026_correction_still_changes_the_vendored_file(correction: str) -> None:
    """Each correction finds its error in the vendored 2026 file (drop it once a new definition fixes that)."""
    assert correct_2026(load_spec(FIVETRAN_SPEC_2026))[correction] > 0
