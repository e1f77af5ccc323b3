"""The emulator's answers are what Fivetran's OpenAPI definition declares, endpoint by endpoint and state by state.

Each case puts an emulated account (the demo scenario ``eltops emulate fivetran`` serves, plus a few connections)
into a state through the API and the clock, sends its request in process (the WSGI app through
``httpx.WSGITransport``; a paged listing follows ``next_cursor``) and validates every answer body against the
schema the definition declares for that operation and status (``tests/specs/fivetran-openapi-2024.yaml``, vendored
unchanged; ``tests/specs/_openapi.py`` translates OpenAPI 3.0 to JSON Schema: ``$ref``, ``nullable``, the
``service`` discriminator that types each connection's ``config``). Since the definition never closes an object,
each successful answer is also searched for members its schema does not name. What bridges the 2024 file and the
API the emulator serves is all listed here:

- corrections (``correct_known_errors``): errors of the 2024 file that the real API contradicts, one comment each,
  citing the workspace's notes on what the real services send (/work/shared/reference/API-NOTES.md);
- stand-ins (``STAND_INS``): endpoints the emulator serves that the 2024 file lacks, validated against the
  operation they mirror;
- error answers: the file declares a bodiless 404 on some operations and no other error; every error body is
  checked against the envelope API-NOTES.md documents, unless the file declares a body for that status;
- ``NOTED_FIELDS``: connection fields API-NOTES.md lists that the 2024 file does not name yet.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from eltops.fivetran.emulator import DEMO_SCENARIO, ConnectionScript, FailureBurst, FivetranEmulator, SetupTest
from eltops.fivetran.emulator._app import _URL_MAP
from tests.specs._fivetran import FIVETRAN_SPEC, as_2024_path
from tests.specs._openapi import Definition, load_spec, response_schema

from ._support import KEY, SECRET, FakeClock, make_client

FAMILIES = ("connections", "connectors")
ROUTES = _URL_MAP.bind("fivetran.test")

# --- the definition, corrected ------------------------------------------------------------------------------

CORRECTIONS = ("nullable-sync-timestamps", "config-enums-are-strings", "next-cursor", "listing-config-values")


def correct_known_errors(spec: dict[str, Any], *, leave_out: str | None = None) -> dict[str, int]:
    """Correct, in ``spec``, the 2024 file's errors that the real API contradicts; the places each one changed.

    Nothing else is changed. Each correction cites API-NOTES.md (/work/shared/reference/API-NOTES.md), the
    workspace's notes on what the real service sends. ``leave_out`` names one correction not to apply.
    """
    schemas = spec["components"]["schemas"]
    changed = dict.fromkeys(CORRECTIONS, 0)
    # nullable-sync-timestamps: API-NOTES.md, "The connection object": succeeded_at and failed_at are ISO-8601
    # UTC "or `null` if never" (a connection that never synced, or never failed); the file types them as plain
    # strings, in the connection object and in the listings' item.
    if leave_out != "nullable-sync-timestamps":
        for name in ("ConnectorResponseV1", "ConnectorResponse"):
            for timestamp in ("succeeded_at", "failed_at"):
                schemas[name]["properties"][timestamp]["nullable"] = True
                changed["nullable-sync-timestamps"] += 1
    # config-enums-are-strings: API-NOTES.md, "The connection object": `config` holds the connection's settings
    # as the API returns them; the file types every enum of a service's config (connection_type Directly |
    # PrivateLink | SshTunnel, update_method XMIN | ..., ...) as `type: object` while listing string values,
    # which no value can satisfy: they are strings.
    if leave_out != "config-enums-are-strings":
        for name, schema in schemas.items():
            if name.endswith("_config_V1"):
                changed["config-enums-are-strings"] += _string_enums(schema["properties"]["config"])
    # next-cursor: API-NOTES.md, "Transport": list endpoints answer `data.items` + `data.next_cursor` (null on
    # the last page); the file spells the cursor `nextCursor` and never lets it be null.
    if leave_out != "next-cursor":
        for op in (op for item in spec["paths"].values() for op in item.values() if isinstance(op, dict)):
            for response in op.get("responses", {}).values():
                for body in (response.get("content") or {}).values():
                    data = body.get("schema", {}).get("properties", {}).get("data", {}).get("properties", {})
                    if "nextCursor" in data:
                        data["next_cursor"] = {**data.pop("nextCursor"), "nullable": True}
                        changed["next-cursor"] += 1
    # listing-config-values (found by this test): API-NOTES.md, "The connection object": a listing's items are
    # the connection object, whose config values are strings and numbers (a secret is the string "******"); the
    # file's ConnectorResponse (the items of GET /v1/groups/{groupId}/connectors) makes every config value an
    # object (`additionalProperties: {type: object}`), while its own per-service config schemas type them as
    # strings and integers. The constraint goes; the values are left free, as ConnectorResponseV1 leaves them.
    config = schemas["ConnectorResponse"]["properties"]["config"]
    if leave_out != "listing-config-values" and config.pop("additionalProperties", None) is not None:
        changed["listing-config-values"] += 1
    return changed


def _string_enums(schema: Any) -> int:
    """Retype every ``type: object`` whose ``enum`` lists only strings as ``type: string``; how many there were."""
    count = 0
    if isinstance(schema, dict):
        enum = schema.get("enum")
        if schema.get("type") == "object" and enum and all(isinstance(value, str) for value in enum):
            schema["type"] = "string"
            count += 1
        count += sum(_string_enums(value) for value in schema.values())
    elif isinstance(schema, list):
        count += sum(_string_enums(value) for value in schema)
    return count


@pytest.fixture(scope="module")
def definition() -> Definition:
    spec = load_spec(FIVETRAN_SPEC)
    correct_known_errors(spec)
    return Definition(spec)


# --- which operation an answer belongs to ---------------------------------------------------------------------

STAND_INS: dict[str, tuple[str, str]] = {
    # GET /v1/connections?group_id=&schema= (API-NOTES.md, "Endpoints the orchestrator needs", lookup): the
    # account-wide listing, which the 2024 file does not have; it lists the items of a group's listing.
    "list_connections": ("GET", "/v1/groups/{groupId}/connectors"),
    # POST {c}/force: the legacy sync older clients use (API-NOTES.md: "undocumented"); answers as a sync does.
    "force_sync": ("POST", "/v1/connectors/{connectorId}/sync"),
    # POST {c}/schemas/{schema}/tables/{table}/resync: in Fivetran's Go SDK (API-NOTES.md: "undocumented");
    # answers as the documented table re-sync does.
    "resync_table": ("POST", "/v1/connectors/{connectorId}/schemas/tables/resync"),
}

ERROR_ENVELOPE = Draft202012Validator(
    {
        "type": "object",
        "required": ["code", "message"],
        "properties": {"code": {"type": "string", "not": {"const": "Success"}}, "message": {"type": "string"}},
        "not": {"required": ["data"]},
    }
)
"""API-NOTES.md, "Transport": the error envelope ``{"code": "NotFound_Connector", "message": "..."}``."""


NOTED_FIELDS = frozenset(
    {"data_delay_sensitivity", "data_delay_threshold", "supports_columns_config", "supports_history_mode", "schedule"}
)
"""Fields API-NOTES.md, "The connection object", lists (or the 2026 definition requires, on a table's schema config,
or Fivetran's "Create a Connection" documents: the flexible ``schedule``) and the 2024 file does not name: newer ones
(test_contract_2026.py checks them against the 2026 file)."""


def endpoint_of(method: str, path: str) -> str:
    """The emulator's name for the endpoint that answers ``method path``."""
    rule, _ = ROUTES.match(path, method=method, return_rule=True)
    return str(rule.endpoint)


def spec_operation(definition: Definition, method: str, path: str) -> tuple[str, str]:
    """The (method, path template) of the definition's operation that ``method path`` is (or stands in for)."""
    stand_in = STAND_INS.get(endpoint_of(method, path))
    if stand_in is not None:
        return stand_in
    template = definition.template_for(method, as_2024_path(path))
    assert template is not None, f"the definition has no operation {method} {as_2024_path(path)}"
    return method, template


def served_endpoints() -> dict[str, bool]:
    """Every endpoint the emulator routes, and whether it answers in both path families."""
    return {str(rule.endpoint): "family" in rule.arguments for rule in _URL_MAP.iter_rules()}


# --- the account and the cases ----------------------------------------------------------------------------------

Step = Callable[[FivetranEmulator, httpx.Client, FakeClock], None]


def account(clock: FakeClock, *, rate_limit: int = 20_000) -> FivetranEmulator:
    """The demo scenario (succeeded, failed, broken, rescheduling, paused connections) and a few more."""
    emu = FivetranEmulator(api_key=KEY, api_secret=SECRET, clock=clock, rate_limit=rate_limit)
    emu.load_scenario(DEMO_SCENARIO)
    emu.add_group("g_extra", name="Extra")
    emu.add_group("g_empty", name="Empty")
    emu.add_connection("fresh", group_id="g_extra", schema="fresh_db", schedule_type="manual")  # never synced
    emu.add_connection(
        "erp",
        group_id="g_extra",
        schema="erp",
        service="oracle",
        schedule_type="manual",
        succeeded_at="2024-11-29T10:00:00.000000Z",
        failed_at="2024-11-30T10:00:00.500000Z",
        tables={"erp": ["ledger"]},
        script=ConnectionScript(
            setup_tests=(
                SetupTest("Connecting to database"),
                SetupTest("Checking grants", "FAILED", "missing grant", {"missing": ["SELECT ANY TRANSACTION"]}),
            )
        ),
    )
    emu.add_connection("hr", group_id="g_extra", schema="hr", service="workday", setup_state="incomplete")
    emu.add_connection(
        "busy",
        group_id="g_extra",
        schema="busy_db",
        service="mysql",
        tables={"app": ["users"]},
        script=ConnectionScript(resync_conflict=True),
    )
    return emu


def call(method: str, path: str, body: Any = None) -> Step:
    """A request that must succeed (on the connections family), to move the account into a state."""

    def step(emu: FivetranEmulator, client: httpx.Client, clock: FakeClock) -> None:
        response = client.request(method, path, json=body)
        assert response.status_code == 200, response.text

    return step


def sync(connection_id: str) -> Step:
    return call("POST", f"/v1/connections/{connection_id}/sync", {"force": False})


def wait(seconds: float) -> Step:
    def step(emu: FivetranEmulator, client: httpx.Client, clock: FakeClock) -> None:
        clock.advance(seconds)

    return step


def fail(burst: FailureBurst) -> Step:
    def step(emu: FivetranEmulator, client: httpx.Client, clock: FakeClock) -> None:
        emu.fail_requests(burst)

    return step


def spend(requests: int) -> Step:
    """Use up ``requests`` of the account's hourly request budget."""

    def step(emu: FivetranEmulator, client: httpx.Client, clock: FakeClock) -> None:
        for _ in range(requests):
            client.get("/v1/groups")

    return step


@dataclass(frozen=True)
class Case:
    """One request in one state: ``{family}`` in ``path`` runs it in both path families."""

    id: str
    method: str
    path: str
    status: int = 200
    before: tuple[Step, ...] = ()
    body: Any = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str | int] = field(default_factory=dict)
    follow: int = 0  # follow next_cursor this many times (each page is validated)
    auth: tuple[str, str] = (KEY, SECRET)
    rate_limit: int = 20_000
    expect: dict[str, Any] = field(default_factory=dict)  # dotted path in the last answer -> value, or a type


C = "/v1/{family}"
SHOP, CRM, BILLING, ADS, PAUSED = (f"{C}/demo_{name}" for name in ("shop", "crm", "billing", "ads", "paused"))
NOT_FOUND = {"code": "NotFound_{Noun}", "message": "{Noun} with id 'nope' does not exist."}
SYNCING = (sync("demo_shop"), wait(3))  # queued 2 s, then syncing for 8 s

CASES = [
    # --- groups
    Case("groups", "GET", "/v1/groups", expect={"data.next_cursor": None, "data.items.2.id": "g_empty"}),
    Case("groups-first-page", "GET", "/v1/groups", params={"limit": 1}, expect={"data.next_cursor": str}),
    Case("groups-last-page", "GET", "/v1/groups", params={"limit": 1}, follow=2, expect={"data.next_cursor": None}),
    Case("group", "GET", "/v1/groups/demo_warehouse", expect={"data.name": "Demo Warehouse"}),
    Case(
        "group-connections-in-every-state",
        "GET",
        "/v1/groups/demo_warehouse/{family}",
        before=(sync("demo_shop"), sync("demo_crm"), sync("demo_ads"), wait(3.5)),
        expect={
            "data.items.0.status.sync_state": "syncing",
            "data.items.1.failed_at": str,
            "data.items.2.status.setup_state": "broken",
            "data.items.3.status.sync_state": "rescheduled",
            "data.items.4.status.sync_state": "paused",
            "data.next_cursor": None,
        },
    ),
    Case(
        "group-connections-second-page",
        "GET",
        "/v1/groups/demo_warehouse/{family}",
        params={"limit": 2},
        follow=1,
        expect={"data.items.0.id": "demo_billing", "data.next_cursor": str},
    ),
    Case(
        "group-connections-last-page",
        "GET",
        "/v1/groups/demo_warehouse/{family}",
        params={"limit": 2},
        follow=2,
        expect={"data.items.0.id": "demo_paused", "data.next_cursor": None},
    ),
    Case(
        "group-connections-by-schema",
        "GET",
        "/v1/groups/g_extra/{family}",
        params={"schema": "fresh_db"},
        expect={"data.items.0.succeeded_at": None, "data.items.0.failed_at": None},
    ),
    Case("group-connections-none", "GET", "/v1/groups/g_empty/{family}", expect={"data.items": []}),
    # --- the account-wide listing (a stand-in)
    Case("connections", "GET", C, expect={"data.items.8.id": "busy", "data.next_cursor": None}),
    Case(
        "connections-of-a-group-paged",
        "GET",
        C,
        params={"group_id": "g_extra", "limit": 1},
        follow=1,
        expect={"data.items.0.id": "erp", "data.next_cursor": str},
    ),
    Case("connections-by-schema", "GET", C, params={"schema": "crm"}, expect={"data.items.0.id": "demo_crm"}),
    # --- one connection, in each state
    Case(
        "details-never-synced",
        "GET",
        f"{C}/fresh",
        expect={"data.succeeded_at": None, "data.failed_at": None, "data.status.sync_state": "scheduled"},
    ),
    Case("details-succeeded", "GET", SHOP, expect={"data.succeeded_at": str, "data.failed_at": None}),
    Case("details-failed", "GET", CRM, expect={"data.failed_at": str, "data.status.update_state": "delayed"}),
    Case("details-failed-after-success", "GET", f"{C}/erp", expect={"data.succeeded_at": str, "data.failed_at": str}),
    Case("details-queued", "GET", SHOP, before=(sync("demo_shop"),), expect={"data.status.sync_state": "scheduled"}),
    Case("details-syncing", "GET", SHOP, before=SYNCING, expect={"data.status.sync_state": "syncing"}),
    Case(
        "details-just-succeeded",
        "GET",
        SHOP,
        before=(sync("demo_shop"), wait(11)),
        expect={"data.succeeded_at": "2024-11-30T20:53:30.000000Z", "data.status.sync_state": "scheduled"},
    ),
    Case(
        "details-just-failed",
        "GET",
        CRM,
        before=(sync("demo_crm"), wait(7)),
        expect={"data.failed_at": "2024-11-30T20:53:26.000000Z", "data.status.update_state": "delayed"},
    ),
    Case(
        "details-rescheduled",
        "GET",
        ADS,
        before=(sync("demo_ads"), wait(3.5)),
        expect={"data.status.sync_state": "rescheduled", "data.status.rescheduled_for": "2024-11-30T20:53:38.000000Z"},
    ),
    Case(
        "details-historical-resync",
        "GET",
        SHOP,
        before=(call("POST", "/v1/connections/demo_shop/resync"), wait(3)),
        expect={"data.status.is_historical_sync": True, "data.status.sync_state": "syncing"},
    ),
    Case("details-paused", "GET", PAUSED, expect={"data.paused": True, "data.status.sync_state": "paused"}),
    Case("details-broken", "GET", BILLING, expect={"data.status.setup_state": "broken"}),
    Case("details-incomplete", "GET", f"{C}/hr", expect={"data.status.setup_state": "incomplete"}),
    Case(
        "details-daily",
        "GET",
        SHOP,
        before=(
            call(
                "PATCH",
                "/v1/connections/demo_shop",
                {"sync_frequency": 1440, "daily_sync_time": "03:00", "run_setup_tests": False},
            ),
        ),
        expect={"data.daily_sync_time": "03:00"},
    ),
    # --- PATCH
    Case(
        "modify-schedule",
        "PATCH",
        SHOP,
        body={"schedule_type": "auto", "run_setup_tests": False},
        expect={"data.schedule_type": "auto"},
    ),
    Case(
        "modify-pause-while-syncing",
        "PATCH",
        SHOP,
        before=SYNCING,
        body={"paused": True, "run_setup_tests": False},
        expect={"data.status.sync_state": "paused"},
    ),
    Case("modify-unpause", "PATCH", PAUSED, body={"paused": False}, expect={"data.status.sync_state": "scheduled"}),
    Case(
        "modify-daily",
        "PATCH",
        SHOP,
        body={"sync_frequency": 1440, "daily_sync_time": "05:00", "run_setup_tests": False},
        expect={"data.daily_sync_time": "05:00"},
    ),
    Case(
        "modify-runs-setup-tests-which-repair",
        "PATCH",
        BILLING,
        body={"schedule_type": "manual"},
        expect={"data.status.setup_state": "connected", "message": "{Noun} has been updated"},
    ),
    # --- syncs
    Case("sync", "POST", f"{SHOP}/sync", body={"force": False}, expect={"message": str}),
    Case("sync-without-body", "POST", f"{SHOP}/sync"),
    Case("sync-force-while-syncing", "POST", f"{SHOP}/sync", before=SYNCING, body={"force": True}),
    Case("sync-while-paused", "POST", f"{PAUSED}/sync", body={"force": True}),
    Case("sync-while-rescheduled", "POST", f"{ADS}/sync", before=(sync("demo_ads"), wait(20)), body={"force": False}),
    Case("force", "POST", f"{SHOP}/force"),
    Case("force-while-syncing", "POST", f"{SHOP}/force", before=SYNCING),
    # --- re-syncs
    Case("resync", "POST", f"{SHOP}/resync", expect={"message": "Re-sync has been triggered successfully"}),
    Case("resync-scope", "POST", f"{SHOP}/resync", body={"scope": {"public": ["orders"]}}),
    Case("resync-while-syncing", "POST", f"{SHOP}/resync", before=SYNCING),
    Case("resync-while-paused", "POST", f"{PAUSED}/resync"),
    Case("resync-tables", "POST", f"{SHOP}/schemas/tables/resync", body={"public": ["orders", "customers"]}),
    Case(
        "resync-tables-while-syncing",
        "POST",
        f"{SHOP}/schemas/tables/resync",
        before=SYNCING,
        body={"public": ["orders"]},
    ),
    Case("resync-table", "POST", f"{SHOP}/schemas/public/tables/orders/resync"),
    # --- setup tests and the schema config
    Case(
        "setup-tests-passed",
        "POST",
        f"{SHOP}/test",
        body={"trust_certificates": False, "trust_fingerprints": False},
        expect={"data.setup_tests.0.status": "PASSED", "data.id": "demo_shop"},
    ),
    Case(
        "setup-tests-warning-with-details-repair",
        "POST",
        f"{BILLING}/test",
        expect={"data.setup_tests.2.details": dict, "data.status.setup_state": "connected"},
    ),
    Case("setup-tests-failed", "POST", f"{C}/erp/test", expect={"data.setup_tests.1.status": "FAILED"}),
    Case(
        "setup-tests-while-syncing",
        "POST",
        f"{SHOP}/test",
        before=SYNCING,
        expect={"data.status.sync_state": "syncing"},
    ),
    Case("schemas", "GET", f"{SHOP}/schemas", expect={"data.schemas.public.tables.orders.enabled": True}),
    # --- a group's destination (lineage names the tables a sync writes with it)
    Case(
        "destination",
        "GET",
        "/v1/destinations/demo_warehouse",
        expect={"data.service": "snowflake", "data.group_id": "demo_warehouse", "data.config.password": "******"},
    ),
    Case(
        "404-destination",
        "GET",
        "/v1/destinations/nope",
        404,
        expect={"code": "NotFound_Destination", "message": "Destination with id 'nope' does not exist."},
    ),
    # --- errors: unknown resources (404)
    *(
        Case(f"404-{name}", method, f"{C}/nope{suffix}", 404, body=body, expect=NOT_FOUND)
        for name, method, suffix, body in (
            ("details", "GET", "", None),
            ("modify", "PATCH", "", {"paused": True}),
            ("sync", "POST", "/sync", {"force": True}),
            ("force", "POST", "/force", None),
            ("resync", "POST", "/resync", None),
            ("resync-tables", "POST", "/schemas/tables/resync", {"public": ["orders"]}),
            ("resync-table", "POST", "/schemas/public/tables/orders/resync", None),
            ("setup-tests", "POST", "/test", None),
            ("schemas", "GET", "/schemas", None),
        )
    ),
    Case("404-schema-config", "GET", f"{C}/fresh/schemas", 404, expect={"code": "NotFound_SchemaConfig"}),
    Case("404-group", "GET", "/v1/groups/nope", 404, expect={"code": "NotFound_Group"}),
    Case("404-group-connections", "GET", "/v1/groups/nope/{family}", 404, expect={"code": "NotFound_Group"}),
    # --- errors: conflicts (409), the request budget (429), bad input (400), credentials (401), media (415), 5xx
    *(
        Case(f"409-{name}", "POST", f"{C}/busy{suffix}", 409, body=body, expect={"code": "Conflict"})
        for name, suffix, body in (
            ("resync", "/resync", None),
            ("resync-tables", "/schemas/tables/resync", {"app": ["users"]}),
            ("resync-table", "/schemas/app/tables/users/resync", None),
        )
    ),
    Case("429-budget-spent", "GET", SHOP, 429, before=(spend(2),), rate_limit=2, expect={"code": "TooManyRequests"}),
    Case("429-budget-spent-listing", "GET", "/v1/groups", 429, before=(spend(1),), rate_limit=1),
    Case(
        "429-scripted",
        "POST",
        f"{SHOP}/sync",
        429,
        before=(fail(FailureBurst(429, retry_after=2, method="POST", path_contains="/sync")),),
        body={"force": False},
        expect={"code": "TooManyRequests"},
    ),
    Case("400-limit", "GET", "/v1/groups", 400, params={"limit": 0}, expect={"code": "InvalidInput"}),
    Case("400-cursor", "GET", "/v1/groups/demo_warehouse/{family}", 400, params={"cursor": "bogus"}),
    Case("400-cursor-listing", "GET", C, 400, params={"cursor": "bogus"}),
    Case("400-modify", "PATCH", SHOP, 400, body={"schedule_type": "hourly"}),
    Case("400-sync-force", "POST", f"{SHOP}/sync", 400, body={"force": "yes"}),
    Case("400-resync-scope", "POST", f"{SHOP}/resync", 400, body={"scope": {}}),
    Case("400-resync-tables", "POST", f"{SHOP}/schemas/tables/resync", 400, body={"public": ["nope"]}),
    Case("400-setup-tests", "POST", f"{SHOP}/test", 400, body={"trust_certificates": "no"}),
    Case("401", "GET", SHOP, 401, auth=(KEY, "wrong"), expect={"code": "AuthFailed"}),
    Case("401-listing", "GET", "/v1/groups", 401, auth=("wrong", SECRET)),
    Case(
        "415",
        "POST",
        f"{SHOP}/sync",
        415,
        content=b"force=true",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    ),
    Case(
        "503-scripted",
        "GET",
        SHOP,
        503,
        before=(fail(FailureBurst(503, method="GET")),),
        expect={"code": "ServiceUnavailable"},
    ),
]


def _params() -> list[Any]:
    params = []
    for case in CASES:
        for family in FAMILIES if "{family}" in case.path else (None,):
            params.append(pytest.param(case, family, id=case.id if family is None else f"{case.id}-{family}"))
    return params


def _noun(family: str | None) -> str:
    return "Connector" if family == "connectors" else "Connection"


def _send(client: httpx.Client, case: Case, family: str | None, cursor: str | None = None) -> httpx.Response:
    params = {**case.params, **({"cursor": cursor} if cursor else {})}
    return client.request(
        case.method,
        case.path.replace("{family}", family or ""),
        params=params,
        json=case.body if case.content is None else None,
        content=case.content,
        headers=case.headers,
        auth=case.auth,
    )


def _dig(body: Any, dotted: str) -> Any:
    for key in dotted.split("."):
        body = body[int(key)] if isinstance(body, list) else body[key]
    return body


def _errors(definition: Definition, response: httpx.Response) -> list[str]:
    """How ``response``'s body breaks what the definition (or, for an error it gives no body, the envelope) says."""
    method, template = spec_operation(definition, response.request.method, response.request.url.path)
    body = response.json()
    schema = response_schema(definition.operation(method, template), response.status_code)
    if schema is not None:
        return definition.errors(schema, body)
    assert response.status_code >= 400, f"{method} {template} declares no body for {response.status_code}"
    return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in ERROR_ENVELOPE.iter_errors(body)]


def _undeclared(definition: Definition, response: httpx.Response) -> list[str]:
    """Members of a successful answer its schema does not name: neither the definition nor API-NOTES.md knows them.

    A connection's ``config`` is left out: its members are whatever the scenario (or the emulator's placeholder)
    configured, which ``test_the_default_config_of_every_service_is_valid`` checks the types of.
    """
    method, template = spec_operation(definition, response.request.method, response.request.url.path)
    schema = response_schema(definition.operation(method, template), response.status_code)
    if schema is None:
        return []
    return [
        where
        for where in definition.undeclared(schema, response.json())
        if "/config/" not in where and where.rsplit("/", 1)[1] not in NOTED_FIELDS
    ]


@pytest.mark.parametrize(("case", "family"), _params())
def test_every_answer_validates_against_the_definition(
    definition: Definition, clock: FakeClock, case: Case, family: str | None
) -> None:
    """Each endpoint in each state answers the expected status and a body its schema accepts, with no stray field."""
    emu = account(clock, rate_limit=case.rate_limit)
    with make_client(emu) as client:
        for step in case.before:
            step(emu, client, clock)
        responses = [_send(client, case, family)]
        for _ in range(case.follow):
            cursor = responses[-1].json()["data"]["next_cursor"]
            assert isinstance(cursor, str), responses[-1].text
            responses.append(_send(client, case, family, cursor))
    last = responses[-1]
    assert last.status_code == case.status, last.text
    for response in responses:
        assert not _errors(definition, response), (response.text, _errors(definition, response))
        assert not _undeclared(definition, response), response.text
    body = last.json()
    assert (body["code"] == "Success") == (case.status == 200)
    for dotted, expected in case.expect.items():
        value = _dig(body, dotted)
        if isinstance(expected, type):
            assert isinstance(value, expected), (dotted, value)
        else:
            filled = expected.replace("{Noun}", _noun(family)) if isinstance(expected, str) else expected
            assert value == filled, (dotted, value)


def test_every_endpoint_the_emulator_serves_is_validated_in_each_family() -> None:
    """The successful cases reach every route of the emulator the 2024 file has, in both path families where it has
    both (the newer endpoints are reached by test_contract_2026.py)."""
    from .test_contract_2026 import NEWER_ENDPOINTS

    reached = set()
    for case in CASES:
        if case.status != 200:
            continue
        for family in FAMILIES if "{family}" in case.path else (None,):
            reached.add((endpoint_of(case.method, case.path.replace("{family}", family or "")), family))
    expected = {
        (endpoint, family)
        for endpoint, in_families in served_endpoints().items()
        for family in (FAMILIES if in_families else (None,))
        if endpoint not in NEWER_ENDPOINTS
    }
    assert reached == expected


@pytest.mark.parametrize("endpoint", sorted(STAND_INS))
def test_stand_ins_are_for_endpoints_the_definition_lacks(definition: Definition, endpoint: str) -> None:
    """A stand-in is used only where the definition has no operation, and names one it has."""
    rule = next(r for r in _URL_MAP.iter_rules() if r.endpoint == endpoint)
    (method,) = rule.methods - {"HEAD", "OPTIONS"}
    path = rule.rule.replace("<any(connections, connectors):family>", "connectors")
    concrete = "/".join("x" if part.startswith("<") else part for part in path.split("/"))
    assert definition.template_for(method, concrete) is None
    stand_in_method, template = STAND_INS[endpoint]
    assert stand_in_method == method
    assert response_schema(definition.operation(method, template), 200) is not None


# --- the corrections are needed, and the validation can fail -----------------------------------------------------


@pytest.mark.parametrize("correction", CORRECTIONS)
def test_every_correction_still_changes_the_vendored_file(correction: str) -> None:
    """Each correction finds its error in the vendored file (drop it once a new definition fixes that)."""
    assert correct_known_errors(load_spec(FIVETRAN_SPEC))[correction] > 0


@pytest.mark.parametrize(
    ("correction", "path", "error"),
    [
        ("nullable-sync-timestamps", "/v1/connections/fresh", "data/succeeded_at: None is not of type 'string'"),
        ("config-enums-are-strings", "/v1/connections/demo_shop", "data/config/connection_type: 'Directly' is not"),
        ("listing-config-values", "/v1/groups/g_extra/connections", "data/items/0/config/host: 'fresh_db.db"),
    ],
)
def test_without_a_correction_real_answers_fail(clock: FakeClock, correction: str, path: str, error: str) -> None:
    """Leave one correction out and an answer the real API also sends fails the definition, as its note says."""
    corrected, uncorrected = load_spec(FIVETRAN_SPEC), load_spec(FIVETRAN_SPEC)
    correct_known_errors(corrected)
    correct_known_errors(uncorrected, leave_out=correction)
    with make_client(account(clock)) as client:
        response = client.get(path)
    assert not _errors(Definition(corrected), response)
    assert any(line.startswith(error) for line in _errors(Definition(uncorrected), response))


@pytest.mark.parametrize(
    ("script", "error"),
    [
        (ConnectionScript(overrides={"paused": "false"}), "data/paused: 'false' is not of type 'boolean'"),
        (ConnectionScript(overrides={"status.sync_state": 7}), "data/status/sync_state: 7 is not of type 'string'"),
        (ConnectionScript(overrides={"sync_frequency": "360"}), "data/sync_frequency: '360' is not of type"),
        (ConnectionScript(overrides={"status.tasks": [{"code": 1}]}), "data/status/tasks/0/code: 1 is not of type"),
        (ConnectionScript(zoneless_timestamps=("succeeded_at",)), "data/succeeded_at: '2024-12-01T15:43:29' is not"),
        (ConnectionScript(overrides={"created_at": "yesterday"}), "data/created_at: 'yesterday' is not a 'date-time'"),
        (ConnectionScript(overrides={"config": {"port": "5432"}}), "data/config/port: '5432' is not of type 'integer'"),
        (ConnectionScript(overrides={"config": {"update_method": "WAL2"}}), "data/config/update_method: 'WAL2' is not"),
    ],
)
def test_answers_the_definition_forbids_fail_it(
    definition: Definition, clock: FakeClock, script: ConnectionScript, error: str
) -> None:
    """Scripted faulty answers (wrong types, zone-less or unreadable timestamps, bad config values) fail the check."""
    emu = FivetranEmulator(api_key=KEY, api_secret=SECRET, clock=clock)
    emu.add_group("g")
    emu.add_connection("c", group_id="g", schema="db", succeeded_at="2024-12-01T15:43:29.013729Z", script=script)
    with make_client(emu) as client:
        response = client.get("/v1/connections/c")
    assert any(line.startswith(error) for line in _errors(definition, response)), _errors(definition, response)


def test_the_default_config_of_every_service_is_valid(definition: Definition, clock: FakeClock) -> None:
    """The config the emulator makes up for a connection given none fits that service's schema, for every service."""
    services = definition.spec["components"]["schemas"]["ConnectorResponseV1"]["discriminator"]["mapping"]
    emu = FivetranEmulator(api_key=KEY, api_secret=SECRET, clock=clock)
    emu.add_group("g")
    for service in services:
        emu.add_connection(service, group_id="g", schema=f"{service}_db", service=service)
    with make_client(emu) as client:
        invalid = {service: _errors(definition, client.get(f"/v1/connections/{service}")) for service in services}
    assert len(services) > 100
    assert {service: errors for service, errors in invalid.items() if errors} == {}


@pytest.mark.parametrize(
    ("overrides", "stray"),
    [
        ({"succeded_at": "2024-12-01T15:43:29.013729Z"}, "/data/succeded_at"),
        ({"status.sync_status": "syncing"}, "/data/status/sync_status"),
        ({"status.tasks": [{"code": "x", "message": "y", "severity": "WARNING"}]}, "/data/status/tasks/0/severity"),
    ],
)
def test_a_field_the_definition_does_not_name_is_found(
    definition: Definition, clock: FakeClock, overrides: dict[str, Any], stray: str
) -> None:
    """A misspelt or made-up field passes validation (the definition never closes an object) but is reported."""
    emu = FivetranEmulator(api_key=KEY, api_secret=SECRET, clock=clock)
    emu.add_group("g")
    emu.add_connection("c", group_id="g", schema="db", script=ConnectionScript(overrides=overrides))
    with make_client(emu) as client:
        response = client.get("/v1/connections/c")
    assert not _errors(definition, response)
    assert _undeclared(definition, response) == [stray]
