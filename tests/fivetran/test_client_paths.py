"""Every call the Fivetran client makes is an operation of Fivetran's definition, so the client cannot drift from it.

Each public call of :class:`~eltops.fivetran.FivetranClient` is made against the emulator, in process, serving one
path family at a time (the client starts on ``/v1/connections`` and falls back to ``/v1/connectors`` on a
path-level 404); every request the emulator received must be, method and path, an operation of Fivetran's
definitions: on ``/v1/connections`` (and every path outside both families) the current one
(``tests/specs/fivetran-openapi-2026.json``), on ``/v1/connectors`` the 2024 one, which alone still has that family.
``DOCUMENTED`` lists the calls Fivetran documents on its site but not (yet) in the 2026 file.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from eltops._deadline import NO_DEADLINE
from eltops.errors import ApiStatusError
from eltops.fivetran import FivetranClient
from eltops.fivetran.emulator import FivetranEmulator
from eltops.secrets import Secret
from tests.specs._fivetran import FIVETRAN_SPEC, FIVETRAN_SPEC_2026
from tests.specs._openapi import Definition, load_spec, template_for

KEY, SECRET = "paths-key", "paths-secret"

CALLS: dict[str, Callable[[FivetranClient], Any]] = {
    "get_connection": lambda client: client.get_connection("c1"),
    "modify_connection": lambda client: client.modify_connection(
        "c1", {"schedule_type": "manual", "run_setup_tests": False}
    ),
    "modify_connection_late": lambda client: client.modify_connection_late(
        "c1", {"schedule_type": "auto", "run_setup_tests": False}, grace=1
    ),
    "modify_connection_late:schedule": lambda client: client.modify_connection_late(
        "c1",
        {
            "schedule_type": "auto",
            "schedule": {"schedule_type": "CRON", "cron": ["0 * * * *"]},
            "run_setup_tests": False,
        },
        grace=1,
    ),
    "trigger_sync": lambda client: client.trigger_sync("c1", force=True),
    "resync": lambda client: client.resync("c1"),
    "resync:scope": lambda client: client.resync("c1", {"public": ["orders"]}),
    "resync_tables": lambda client: client.resync_tables("c1", "public", ["orders", "customers"]),
    "run_setup_tests": lambda client: client.run_setup_tests("c1"),
    "sync_history": lambda client: client.sync_history(
        "c1", start=datetime(2024, 11, 30, tzinfo=UTC), end=datetime(2024, 12, 1, tzinfo=UTC), within=5, max_pages=2
    ),
    "connection_errors": lambda client: client.connection_errors("c1", within=5, max_pages=2),
    "groups": lambda client: list(client.groups()),
    "group_connections": lambda client: list(client.group_connections("g1")),
    "destination": lambda client: client.destination("g1"),
    "destination_tables": lambda client: client.destination_tables("c1"),
}
"""One call (or more, ``name:variant``) of each public method of the client that talks to the API."""
NOT_CALLS = {"close", "create", "rebound", "send", "items"}  # the transformation calls: test_transformation_calls
ONLY_ON_CONNECTIONS = {"sync_history", "connection_errors"}
"""Calls newer than the rename, sent on /v1/connections only: an account on the old family answers them 404."""


DOCUMENTED = {
    # "Retrieve Connection Sync History" (fivetran.com/docs/rest-api/api-reference/connections/
    # retrieve-connection-sync-history) and "Retrieve Connection Errors" (REST API changelog, November 2026)
    ("GET", "/v1/connections/{connectionId}/sync-history"),
    ("GET", "/v1/connections/{connectionId}/errors"),
}


@pytest.fixture(scope="module")
def specs() -> tuple[dict[str, Any], dict[str, Any]]:
    return load_spec(FIVETRAN_SPEC_2026), load_spec(FIVETRAN_SPEC)


def defined(specs: tuple[dict[str, Any], dict[str, Any]], method: str, path: str) -> bool:
    """Whether ``method path`` is an operation of the definition of its family (or documented outside it)."""
    current, old = specs
    if re.match(r"/v1(/groups/[^/]+)?/connectors(/|$)", path):
        return template_for(old, method, path) is not None
    if template_for(current, method, path) is not None:
        return True
    documented = {"spec": {"paths": {t: {m.lower(): {}} for m, t in DOCUMENTED}}}
    return template_for(documented["spec"], method, path) is not None


@pytest.mark.parametrize("family", ["connections", "connectors"])
@pytest.mark.parametrize("call", sorted(CALLS))
def test_every_request_of_a_call_is_an_operation_of_the_definition(
    specs: tuple[dict[str, Any], dict[str, Any]], call: str, family: str
) -> None:
    """Whatever path family the account answers on, each request a client call sends is a defined operation."""
    emulator = FivetranEmulator(api_key=KEY, api_secret=SECRET, paths=family)  # type: ignore[arg-type]
    emulator.add_group("g1", name="Warehouse")
    emulator.add_connection("c1", group_id="g1", schema="shop_db", tables={"public": ["orders", "customers"]})
    client = FivetranClient.create(
        api_url="http://fivetran.test",
        api_key=Secret(KEY),
        api_secret=Secret(SECRET),
        deadline=NO_DEADLINE,
        transport=httpx.WSGITransport(app=emulator.wsgi_app),
    )
    failure: ApiStatusError | None = None
    with client:
        try:
            CALLS[call](client)
        except ApiStatusError as exc:  # an undefined path is the likelier cause: say so first
            failure = exc
    sent = [(request.method, request.path) for request in emulator.requests]
    assert sent
    undefined = [(m, p) for m, p in sent if not defined(specs, m, p)]
    assert undefined == []
    if call in ONLY_ON_CONNECTIONS and family == "connectors":  # an account without them: a 404, which eltops expects
        assert failure is not None
        assert failure.status_code == 404, failure
    else:
        assert failure is None, failure


@pytest.mark.parametrize("call", sorted(CALLS))
def test_every_request_body_fits_the_2026_definition(call: str) -> None:
    """On /v1/connections, each JSON body a call sends is valid for its 2026 operation and names only its members
    (a flexible ``schedule``, documented by "Create a Connection" but not yet in the file, aside)."""
    from tests.fivetran_emulator.test_contract_2026 import NOTED_FIELDS_2026, correct_2026

    spec = load_spec(FIVETRAN_SPEC_2026)
    correct_2026(spec)
    definition = Definition(spec)
    emulator = FivetranEmulator(api_key=KEY, api_secret=SECRET, paths="connections")
    emulator.add_group("g1", name="Warehouse")
    emulator.add_connection("c1", group_id="g1", schema="shop_db", tables={"public": ["orders", "customers"]})
    client = FivetranClient.create(
        api_url="http://fivetran.test",
        api_key=Secret(KEY),
        api_secret=Secret(SECRET),
        deadline=NO_DEADLINE,
        transport=httpx.WSGITransport(app=emulator.wsgi_app),
    )
    with client:
        CALLS[call](client)
    for request in emulator.requests:
        template = template_for(spec, request.method, request.path)
        if request.json is None or template is None:
            continue
        body = definition.operation(request.method, template).get("requestBody", {})
        schema = body.get("content", {}).get("application/json", {}).get("schema")
        assert schema is not None, f"{request.method} {template} takes no JSON body, but {call} sent one"
        assert definition.errors(schema, request.json) == [], request.json
        stray = [w for w in definition.undeclared(schema, request.json) if w.rsplit("/", 1)[1] not in NOTED_FIELDS_2026]
        assert stray == [], request.json


def test_every_api_call_of_the_client_is_checked() -> None:
    """A new public method on the client is a new call, so it must join CALLS (or NOT_CALLS) to be checked."""
    public = {name for name, member in inspect.getmembers(FivetranClient) if callable(member)}
    public = {name for name in public if not name.startswith("_")}
    assert public - NOT_CALLS == {name.split(":")[0] for name in CALLS}
