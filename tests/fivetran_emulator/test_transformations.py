"""Emulated transformations: scripted runs, cancel, integrated schedules, and answers valid against the 2026 definition.

The contract half validates every answer of the four transformation endpoints, in every state a run goes through,
against ``tests/specs/fivetran-openapi-2026.json`` (vendored byte for byte) with one correction, ``next-cursor``:
API-NOTES.md ("Transport") says list endpoints answer ``data.next_cursor: null`` on the last page, which the
definition types as a plain string.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from eltops.errors import ConfigError
from eltops.fivetran.emulator import DEMO_SCENARIO, ConnectionScript, FivetranEmulator, TransformationScript
from eltops.fivetran.emulator._app import TRANSFORMATION_ROUTES
from tests.specs._openapi import SPECS, Definition, load_spec, response_schema

from ._support import KEY, SECRET, FakeClock, data, make_client

SPEC_2026 = "fivetran-openapi-2026.json"
REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference" / SPEC_2026
T = "/v1/transformations"


@pytest.fixture(scope="module")
def definition() -> Definition:
    spec = load_spec(SPEC_2026)
    items = spec["paths"][T]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    items["properties"]["data"]["properties"]["next_cursor"]["nullable"] = True  # the one correction (see above)
    return Definition(spec)


def account(clock: FakeClock) -> FivetranEmulator:
    """The demo scenario, plus transformations scripted for each outcome and one that never ends."""
    emu = FivetranEmulator(api_key=KEY, api_secret=SECRET, clock=clock)
    emu.load_scenario(DEMO_SCENARIO)
    for outcome in ("SUCCEEDED", "FAILED", "PARTIALLY_SUCCEEDED", "BLOCKED", "CANCELED"):
        emu.add_transformation(
            f"t_{outcome.lower()}",
            group_id="demo_warehouse",
            output_model_names=["a", "b"],
            script=TransformationScript(queue_seconds=2, run_seconds=10, outcome=outcome),  # type: ignore[arg-type]
        )
    emu.add_transformation("t_forever", group_id="demo_warehouse", script=TransformationScript(run_seconds=None))
    emu.add_transformation(
        "t_integrated",
        group_id="demo_warehouse",
        schedule_type="INTEGRATED",
        connection_ids=["demo_shop"],
        script=TransformationScript(run_seconds=30),
    )
    return emu


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def emu(clock: FakeClock) -> FivetranEmulator:
    return account(clock)


@pytest.fixture
def client(emu: FivetranEmulator) -> Iterator[httpx.Client]:
    with make_client(emu) as client:
        yield client


def _valid(definition: Definition, response: httpx.Response) -> None:
    """The answer has the status's declared body (or the error envelope), with no member the schema does not name."""
    template = definition.template_for(response.request.method, response.request.url.path)
    assert template is not None, response.request.url.path
    schema = response_schema(definition.operation(response.request.method, template), response.status_code)
    body = response.json()
    if schema is None:
        assert response.status_code >= 400, response.text
        assert set(body) == {"code", "message"}, response.text
        return
    assert definition.errors(schema, body) == [], response.text
    assert definition.undeclared(schema, body) == [], response.text


def _status(client: httpx.Client, tid: str) -> dict[str, Any]:
    body: dict[str, Any] = data(client.get(f"{T}/{tid}"))
    return body


def test_the_vendored_2026_definition_is_the_reference() -> None:
    """The vendored 2026 definition equals the workspace's reference copy (skipped in a clone without it)."""
    if not REFERENCE.exists():
        pytest.skip("no reference copy beside this clone")
    assert (SPECS / SPEC_2026).read_bytes() == REFERENCE.read_bytes()


@pytest.mark.parametrize(
    ("outcome", "statuses"),
    [
        ("SUCCEEDED", ["SCHEDULING", "RUNNING", "SUCCEEDED"]),
        ("FAILED", ["SCHEDULING", "RUNNING", "FAILED"]),
        ("PARTIALLY_SUCCEEDED", ["SCHEDULING", "RUNNING", "PARTIALLY_SUCCEEDED"]),
        ("BLOCKED", ["SCHEDULING", "BLOCKED", "BLOCKED"]),
        ("CANCELED", ["SCHEDULING", "RUNNING", "CANCELED"]),
    ],
)
def test_a_run_goes_through_its_scripted_states(
    definition: Definition, client: httpx.Client, clock: FakeClock, outcome: str, statuses: list[str]
) -> None:
    """A run is SCHEDULING for queue_seconds, RUNNING for run_seconds, then its scripted outcome; each answer valid."""
    tid = f"t_{outcome.lower()}"
    before = client.get(f"{T}/{tid}")
    _valid(definition, before)
    assert before.json()["data"]["status"] == "NEW"
    assert "last_started_at" not in before.json()["data"]
    started = client.post(f"{T}/{tid}/run", json={"full_refresh": False})
    _valid(definition, started)
    assert started.json()["message"] == f"Transformation with id '{tid}' has been started"
    seen = []
    for step in (1, 4, 15):  # 1 s, 5 s and 20 s after the run request
        clock.advance(step)
        response = client.get(f"{T}/{tid}")
        _valid(definition, response)
        seen.append(response.json()["data"]["status"])
    assert seen == statuses
    final = _status(client, tid)
    assert final["last_ended_at"] > final["last_started_at"]
    assert final["output_model_names"] == ["a", "b"]


def test_full_refresh_is_recorded_and_must_be_a_boolean(client: httpx.Client, emu: FivetranEmulator) -> None:
    """``full_refresh`` reaches the run; a non-boolean or an unknown field is 400 and starts nothing."""
    assert client.post(f"{T}/t_succeeded/run", json={"full_refresh": "yes"}).status_code == 400
    assert client.post(f"{T}/t_succeeded/run", json={"fresh": True}).status_code == 400
    assert client.post(f"{T}/t_succeeded/run", json={"full_refresh": True}).status_code == 200
    assert emu.transformation_runs("t_succeeded") == [True]


def test_a_run_that_never_ends_is_ended_by_a_cancel(
    definition: Definition, client: httpx.Client, clock: FakeClock
) -> None:
    """A run with run_seconds None stays RUNNING; cancel makes it TERMINATING, then CANCELED; a second run is 409."""
    assert client.post(f"{T}/t_forever/run", json={}).status_code == 200
    clock.advance(100_000)
    assert _status(client, "t_forever")["status"] == "RUNNING"
    again = client.post(f"{T}/t_forever/run", json={"full_refresh": False})
    assert again.status_code == 409
    _valid(definition, again)
    cancelled = client.post(f"{T}/t_forever/cancel")
    _valid(definition, cancelled)
    assert cancelled.json()["message"] == "Transformation with id 't_forever' has been canceled"
    assert _status(client, "t_forever")["status"] == "TERMINATING"
    clock.advance(1)
    final = _status(client, "t_forever")
    assert final["status"] == "CANCELED"
    assert "last_ended_at" in final
    not_running = client.post(f"{T}/t_forever/cancel")
    assert not_running.status_code == 409
    _valid(definition, not_running)


def test_an_unknown_transformation_is_404(definition: Definition, client: httpx.Client) -> None:
    """Each endpoint answers an unknown id with 404 NotFound_Transformation."""
    for method, suffix in (("GET", ""), ("POST", "/run"), ("POST", "/cancel")):
        response = client.request(method, f"{T}/nope{suffix}", json={} if method == "POST" else None)
        assert response.status_code == 404
        assert response.json()["code"] == "NotFound_Transformation"
        _valid(definition, response)


@pytest.mark.parametrize(
    ("params", "ids"),
    [
        ({}, None),
        ({"type": "QUICKSTART"}, ["demo_ads_report"]),
        ({"group_id": "elsewhere"}, []),
    ],
)
def test_the_listing_filters_and_pages(
    definition: Definition, client: httpx.Client, params: dict[str, str], ids: list[str] | None
) -> None:
    """The listing pages by cursor and filters by type and group; every page is valid."""
    found: list[str] = []
    cursor: str | None = None
    while True:
        response = client.get(T, params={**params, "limit": 3, **({"cursor": cursor} if cursor else {})})
        _valid(definition, response)
        page = response.json()["data"]
        found += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    if ids is None:
        assert sorted(found) == sorted(set(found))
        assert len(found) == 4 + 7  # the demo scenario's and this account's
    else:
        assert found == ids


def test_an_integrated_transformation_runs_after_its_sync_and_holds_the_next(
    definition: Definition, client: httpx.Client, clock: FakeClock
) -> None:
    """A successful sync of demo_shop starts t_integrated; a sync triggered while it runs stays queued until it ends."""
    assert client.post("/v1/connections/demo_shop/sync", json={"force": False}).status_code == 200
    clock.advance(11)  # queued 2 s, synced 8 s: ended at +10
    listing = client.get(T)
    _valid(definition, listing)
    integrated = next(i for i in listing.json()["data"]["items"] if i["id"] == "t_integrated")
    assert integrated["status"] == "RUNNING"
    assert integrated["schedule"] == {"schedule_type": "INTEGRATED", "connection_ids": ["demo_shop"]}
    synced = data(client.get("/v1/connections/demo_shop"))["succeeded_at"]
    assert client.post("/v1/connections/demo_shop/sync", json={"force": False}).status_code == 200
    clock.advance(15)
    assert data(client.get("/v1/connections/demo_shop"))["status"]["sync_state"] == "scheduled"
    clock.advance(15)  # the transformation ends at +40; the held sync runs from then for 8 s
    assert data(client.get("/v1/connections/demo_shop"))["status"]["sync_state"] == "syncing"
    clock.advance(10)
    assert data(client.get("/v1/connections/demo_shop"))["succeeded_at"] > synced


def test_a_quickstart_transformation_renders_its_own_config(definition: Definition, client: httpx.Client) -> None:
    """A Quickstart transformation's answer carries its package config, valid under the type discriminator."""
    response = client.get(f"{T}/demo_ads_report")
    _valid(definition, response)
    assert response.json()["data"]["transformation_config"]["package_name"] == "ad_reporting"


def test_every_transformation_route_is_in_the_definition(definition: Definition) -> None:
    """Each route the emulator serves for transformations is an operation of the 2026 definition."""
    for rule in TRANSFORMATION_ROUTES.iter_rules():
        (method,) = rule.methods - {"HEAD", "OPTIONS"}  # type: ignore[operator]
        concrete = rule.rule.replace("<transformation_id>", "x")
        assert definition.template_for(method, concrete) is not None, rule.rule


@pytest.mark.parametrize(
    ("transformation", "error"),
    [
        ({"id": "x"}, "missing key(s) group_id"),
        ({"id": "x", "group_id": "demo_warehouse", "colour": 1}, "unknown key(s) colour"),
        ({"id": "x", "group_id": "demo_warehouse", "script": {"outcome": "DONE"}}, "outcome must be one of"),
        ({"id": "x", "group_id": "demo_warehouse", "type": "SQL"}, "type must be one of"),
        ({"id": "x", "group_id": "nope"}, "names group 'nope'"),
        ({"id": "x", "group_id": "demo_warehouse", "connection_ids": ["ghost"]}, "unknown connection(s) ghost"),
        ({"id": "x", "group_id": "demo_warehouse", "connection_ids": "demo_shop"}, "connection_ids must be a list"),
    ],
)
def test_a_bad_scenario_transformation_names_its_mistake(transformation: dict[str, Any], error: str) -> None:
    """A scenario's transformation with a wrong key or value is a ConfigError naming it."""
    scenario = {**DEMO_SCENARIO, "transformations": [transformation]}
    with pytest.raises(ConfigError, match=error.replace("(", r"\(").replace(")", r"\)")):
        FivetranEmulator.from_scenario(scenario)


def test_a_delayed_connection_is_scripted_by_override(clock: FakeClock) -> None:
    """A scenario makes a connection's data late with ``overrides: {status.update_state: delayed}``."""
    emu = account(clock)
    emu.add_connection(
        "late",
        group_id="demo_warehouse",
        schema="late",
        script=ConnectionScript(overrides={"status.update_state": "delayed"}),
    )
    with make_client(emu) as client:
        assert data(client.get("/v1/connections/late"))["status"]["update_state"] == "delayed"
