"""Every call the Fivetran client makes is an operation of Fivetran's definition, so the client cannot drift from it.

Each public call of :class:`~eltops.fivetran.FivetranClient` is made against the emulator, in process, serving one
path family at a time (the client starts on ``/v1/connections`` and falls back to ``/v1/connectors`` on a
path-level 404); every request the emulator received must be, method and path, an operation of the vendored
2024 definition (``tests/specs/fivetran-openapi-2024.yaml``), read in its old path family.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from eltops._deadline import NO_DEADLINE
from eltops.errors import ApiStatusError
from eltops.fivetran import FivetranClient
from eltops.fivetran.emulator import FivetranEmulator
from eltops.secrets import Secret
from tests.specs._fivetran import FIVETRAN_SPEC, as_2024_path
from tests.specs._openapi import load_spec, template_for

KEY, SECRET = "paths-key", "paths-secret"

CALLS: dict[str, Callable[[FivetranClient], Any]] = {
    "get_connection": lambda client: client.get_connection("c1"),
    "modify_connection": lambda client: client.modify_connection(
        "c1", {"schedule_type": "manual", "run_setup_tests": False}
    ),
    "trigger_sync": lambda client: client.trigger_sync("c1", force=True),
    "resync": lambda client: client.resync("c1"),
    "resync:scope": lambda client: client.resync("c1", {"public": ["orders"]}),
    "resync_tables": lambda client: client.resync_tables("c1", "public", ["orders", "customers"]),
    "run_setup_tests": lambda client: client.run_setup_tests("c1"),
    "groups": lambda client: list(client.groups()),
    "group_connections": lambda client: list(client.group_connections("g1")),
    "destination": lambda client: client.destination("g1"),
    "destination_tables": lambda client: client.destination_tables("c1"),
}
"""One call (or more, ``name:variant``) of each public method of the client that talks to the API."""
NOT_CALLS = {"close", "create"}


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return load_spec(FIVETRAN_SPEC)


@pytest.mark.parametrize("family", ["connections", "connectors"])
@pytest.mark.parametrize("call", sorted(CALLS))
def test_every_request_of_a_call_is_an_operation_of_the_definition(
    spec: dict[str, Any], call: str, family: str
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
    undefined = [(m, p) for m, p in sent if template_for(spec, m, as_2024_path(p)) is None]
    assert undefined == []
    assert failure is None, failure


def test_every_api_call_of_the_client_is_checked() -> None:
    """A new public method on the client is a new call, so it must join CALLS (or NOT_CALLS) to be checked."""
    public = {name for name, member in inspect.getmembers(FivetranClient) if callable(member)}
    public = {name for name in public if not name.startswith("_")}
    assert public - NOT_CALLS == {name.split(":")[0] for name in CALLS}
