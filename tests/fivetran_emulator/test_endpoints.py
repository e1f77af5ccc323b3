"""PATCH, setup tests, schemas, resyncs and the paginated lists."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from eltops.fivetran.emulator import ConnectionScript, FivetranEmulator, SetupTest

from ._support import KEY, SECRET, FakeClock, data, make_client, make_emulator

# --- PATCH -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field", "expected"),
    [
        ({"schedule_type": "auto"}, "schedule_type", "auto"),
        ({"paused": True}, "paused", True),
        ({"sync_frequency": 60}, "sync_frequency", 60),
        ({"sync_frequency": 1440, "daily_sync_time": "03:00"}, "daily_sync_time", "03:00"),
        ({"pause_after_trial": True}, "pause_after_trial", True),
    ],
)
def test_patch_changes_fields(client: httpx.Client, body: dict[str, Any], field: str, expected: Any) -> None:
    """A valid PATCH answers the updated connection object."""
    response = client.patch("/v1/connections/c1", json={**body, "run_setup_tests": False})
    assert response.json()["message"] == "Connection has been updated"
    assert data(response)[field] == expected
    assert data(client.get("/v1/connections/c1"))[field] == expected


@pytest.mark.parametrize(
    "body",
    [
        {"schedule_type": "hourly"},
        {"paused": "true"},
        {"sync_frequency": 7},
        {"sync_frequency": "60"},
        {"sync_frequency": True},
        {"run_setup_tests": 1},
        {"daily_sync_time": "3am"},
        {"config": "x"},
        {"schedule-type": "manual"},
    ],
)
def test_patch_rejects_bad_values(client: httpx.Client, emu: FivetranEmulator, body: dict[str, Any]) -> None:
    """Invalid values or unknown fields answer 400 InvalidInput and change nothing."""
    before = emu.snapshot("c1")
    response = client.patch("/v1/connections/c1", json=body)
    assert response.status_code == 400
    assert response.json()["code"] == "InvalidInput"
    assert emu.snapshot("c1") == before


def test_patch_runs_setup_tests_by_default(clock: FakeClock) -> None:
    """A PATCH without run_setup_tests=false runs the setup tests (which can repair a broken setup)."""
    emu = make_emulator(clock, setup_state="broken", script=ConnectionScript(repair_on_test=True))
    with make_client(emu) as client:
        assert (
            data(client.patch("/v1/connections/c1", json={"run_setup_tests": False}))["status"]["setup_state"]
            == "broken"
        )
        assert (
            data(client.patch("/v1/connections/c1", json={"schedule_type": "manual"}))["status"]["setup_state"]
            == "connected"
        )


def test_patch_config_is_merged_and_masked(client: httpx.Client) -> None:
    """Config changes merge into the config, and secrets stay masked."""
    updated = data(client.patch("/v1/connections/c1", json={"config": {"password": "new", "port": 6543}}))
    assert updated["config"]["password"] == "******"
    assert updated["config"]["port"] == 6543


def test_patches_are_recorded(emu: FivetranEmulator, client: httpx.Client) -> None:
    """Tests can tell whether a PATCH was sent from the request log."""
    client.get("/v1/connections/c1")
    assert not [r for r in emu.requests if r.method == "PATCH"]
    client.patch("/v1/connectors/c1", json={"schedule_type": "manual", "run_setup_tests": False})
    patches = [r for r in emu.requests if r.method == "PATCH"]
    assert len(patches) == 1
    assert patches[0].path == "/v1/connectors/c1"


# --- setup tests -------------------------------------------------------------------------------------------


def test_setup_tests_answer_connection_plus_results(clock: FakeClock) -> None:
    """POST {c}/test answers the connection plus the scripted setup_tests, details only when present."""
    tests = (SetupTest("Connecting", "PASSED"), SetupTest("Permissions", "FAILED", "no SELECT", {"table": "orders"}))
    emu = make_emulator(clock, script=ConnectionScript(setup_tests=tests))
    with make_client(emu) as client:
        response = client.post(
            "/v1/connections/c1/test", json={"trust_certificates": True, "trust_fingerprints": False}
        )
    body = response.json()
    assert body["message"] == "Setup tests were completed"
    assert body["data"]["id"] == "c1"
    assert body["data"]["setup_tests"] == [
        {"title": "Connecting", "status": "PASSED", "message": ""},
        {"title": "Permissions", "status": "FAILED", "message": "no SELECT", "details": {"table": "orders"}},
    ]


def test_default_setup_tests_all_pass(client: httpx.Client) -> None:
    """Without scripted setup tests a few PASSED tests are reported."""
    results = data(client.post("/v1/connections/c1/test"))["setup_tests"]
    assert results
    assert {r["status"] for r in results} == {"PASSED"}


@pytest.mark.parametrize(("repair", "expected"), [(True, "connected"), (False, "broken")])
def test_setup_tests_repair_only_when_scripted(clock: FakeClock, repair: bool, expected: str) -> None:
    """Running the setup tests repairs a broken setup only with repair_on_test."""
    emu = make_emulator(clock, setup_state="broken", script=ConnectionScript(repair_on_test=repair))
    with make_client(emu) as client:
        assert data(client.post("/v1/connections/c1/test", json={}))["status"]["setup_state"] == expected


def test_setup_tests_reject_non_boolean_trust(client: httpx.Client) -> None:
    """trust_certificates must be a boolean."""
    assert client.post("/v1/connections/c1/test", json={"trust_certificates": "yes"}).status_code == 400


# --- schemas and resyncs -------------------------------------------------------------------------------------


def test_schema_config(client: httpx.Client) -> None:
    """GET {c}/schemas renders schemas.{schema}.tables.{table}.enabled."""
    config = data(client.get("/v1/connections/c1/schemas"))
    assert set(config["schemas"]["public"]["tables"]) == {"orders", "customers"}
    assert config["schemas"]["public"]["tables"]["orders"]["enabled"] is True


def test_schema_config_missing(clock: FakeClock) -> None:
    """A connection without tables answers 404 NotFound_SchemaConfig."""
    emu = FivetranEmulator(clock=clock)
    emu.add_group("g")
    emu.add_connection("c", group_id="g", schema="s")
    with make_client(emu, auth=(emu.api_key, emu.api_secret)) as client:
        response = client.get("/v1/connections/c/schemas")
    assert response.status_code == 404
    assert response.json()["code"] == "NotFound_SchemaConfig"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/connections/c1/schemas/tables/resync", {"public": ["orders"]}),
        ("/v1/connections/c1/schemas/public/tables/orders/resync", None),
        ("/v1/connections/c1/resync", {"scope": {"public": ["orders", "customers"]}}),
        ("/v1/connections/c1/resync", None),
        ("/v1/connectors/c1/schemas/tables/resync", {"public": ["customers"]}),
    ],
)
def test_resync_starts_a_historical_sync(client: httpx.Client, clock: FakeClock, path: str, body: Any) -> None:
    """A (table) resync answers Fivetran's message and starts a sync with is_historical_sync true until it succeeds."""
    response = client.post(path, json=body) if body is not None else client.post(path)
    assert response.json() == {"code": "Success", "message": "Re-sync has been triggered successfully"}
    assert data(client.get("/v1/connections/c1"))["status"]["is_historical_sync"] is True
    clock.advance(12)
    connection = data(client.get("/v1/connections/c1"))
    assert connection["status"]["is_historical_sync"] is False
    assert connection["succeeded_at"] is not None


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/connections/c1/schemas/tables/resync", None),
        ("/v1/connections/c1/schemas/tables/resync", {}),
        ("/v1/connections/c1/schemas/tables/resync", {"public": []}),
        ("/v1/connections/c1/schemas/tables/resync", {"nope": ["orders"]}),
        ("/v1/connections/c1/schemas/tables/resync", {"public": ["nope"]}),
        ("/v1/connections/c1/schemas/tables/resync", {"public": "orders"}),
        ("/v1/connections/c1/schemas/public/tables/nope/resync", None),
        ("/v1/connections/c1/resync", {"scope": {}}),
        ("/v1/connections/c1/resync", {"scope": {"public": ["nope"]}}),
    ],
)
def test_resync_rejects_bad_scopes(emu: FivetranEmulator, client: httpx.Client, path: str, body: Any) -> None:
    """An empty body, or an unknown schema or table, answers 400 and starts nothing."""
    response = client.post(path, json=body) if body is not None else client.post(path)
    assert response.status_code == 400
    assert response.json()["code"] == "InvalidInput"
    assert emu.snapshot("c1")["status"]["is_historical_sync"] is False


def test_resync_conflict(clock: FakeClock) -> None:
    """With resync_conflict a resync answers 409 with a Fivetran-style body."""
    emu = make_emulator(clock, script=ConnectionScript(resync_conflict=True))
    with make_client(emu) as client:
        for path, body in (
            ("/v1/connections/c1/resync", None),
            ("/v1/connections/c1/schemas/tables/resync", {"public": ["orders"]}),
        ):
            response = client.post(path, json=body)
            assert response.status_code == 409
            assert response.json()["code"] == "Conflict"
            assert response.json()["message"]


def test_resync_while_paused_waits(clock: FakeClock) -> None:
    """A resync of a paused connection runs nothing but makes the next sync historical."""
    emu = make_emulator(clock, paused=True)
    with make_client(emu) as client:
        client.post("/v1/connections/c1/resync")
        clock.advance(100)
        assert emu.snapshot("c1")["succeeded_at"] is None
        client.patch("/v1/connections/c1", json={"paused": False, "run_setup_tests": False})
        client.post("/v1/connections/c1/sync")
        assert emu.snapshot("c1")["status"]["is_historical_sync"] is True


def test_failed_historical_sync_stays_historical(clock: FakeClock) -> None:
    """A historical sync that fails leaves is_historical_sync true for the next attempt."""
    emu = make_emulator(clock, script=ConnectionScript(outcome="failure"))
    with make_client(emu) as client:
        client.post("/v1/connections/c1/resync")
        clock.advance(5)
        snapshot = emu.snapshot("c1")
    assert snapshot["failed_at"] is not None
    assert snapshot["status"]["is_historical_sync"] is True


# --- lists and pagination ------------------------------------------------------------------------------------


def many_connections(clock: FakeClock, count: int = 7) -> FivetranEmulator:
    emu = FivetranEmulator(api_key=KEY, api_secret=SECRET, clock=clock)
    emu.add_group("g1", name="One")
    emu.add_group("g2", name="Two")
    for i in range(count):
        emu.add_connection(f"c{i}", group_id="g1" if i % 2 == 0 else "g2", schema=f"schema_{i}")
    return emu


def walk(client: httpx.Client, path: str, **params: Any) -> tuple[list[dict[str, Any]], int]:
    items: list[dict[str, Any]] = []
    pages = 0
    cursor = None
    while True:
        page = data(client.get(path, params={**params, **({"cursor": cursor} if cursor else {})}))
        pages += 1
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items, pages


@pytest.mark.parametrize(("limit", "pages"), [(1, 7), (2, 4), (3, 3), (7, 1), (100, 1), (1000, 1)])
def test_connection_list_pagination(clock: FakeClock, limit: int, pages: int) -> None:
    """Cursor pagination walks every item once, with next_cursor null on the last page."""
    emu = many_connections(clock)
    with make_client(emu) as client:
        items, walked = walk(client, "/v1/connections", limit=limit)
    assert [item["id"] for item in items] == [f"c{i}" for i in range(7)]
    assert walked == pages


def test_default_limit_is_100(clock: FakeClock) -> None:
    """Without limit a page holds 100 items."""
    emu = many_connections(clock, count=150)
    with make_client(emu) as client:
        page = data(client.get("/v1/connectors"))
        assert len(page["items"]) == 100
        assert page["next_cursor"]
        rest = data(client.get("/v1/connectors", params={"cursor": page["next_cursor"]}))
    assert len(rest["items"]) == 50
    assert rest["next_cursor"] is None


@pytest.mark.parametrize(
    ("path", "params", "ids"),
    [
        ("/v1/connections", {"group_id": "g2"}, ["c1", "c3", "c5"]),
        ("/v1/connections", {"schema": "schema_4"}, ["c4"]),
        ("/v1/connections", {"group_id": "g2", "schema": "schema_4"}, []),
        ("/v1/connections", {"group_id": "unknown"}, []),
        ("/v1/groups/g1/connections", {}, ["c0", "c2", "c4", "c6"]),
        ("/v1/groups/g1/connectors", {"schema": "schema_2"}, ["c2"]),
    ],
)
def test_connection_list_filters(clock: FakeClock, path: str, params: dict[str, str], ids: list[str]) -> None:
    """group_id and schema narrow the list; a group's list holds only its connections."""
    emu = many_connections(clock)
    with make_client(emu) as client:
        items, _ = walk(client, path, limit=2, **params)
    assert [item["id"] for item in items] == ids


def test_group_list_and_details(clock: FakeClock) -> None:
    """GET /v1/groups pages through groups; GET /v1/groups/{id} renders one."""
    emu = many_connections(clock)
    with make_client(emu) as client:
        groups, pages = walk(client, "/v1/groups", limit=1)
        one = data(client.get("/v1/groups/g2"))
    assert [(g["id"], g["name"]) for g in groups] == [("g1", "One"), ("g2", "Two")]
    assert pages == 2
    assert one["name"] == "Two"
    assert one["created_at"].endswith("Z")


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "0"},
        {"limit": "1001"},
        {"limit": "-1"},
        {"limit": "ten"},
        {"cursor": "not-a-cursor"},
        {"cursor": "eyJ4IjogMX0="},
    ],
)
@pytest.mark.parametrize("path", ["/v1/groups", "/v1/connections", "/v1/groups/g1/connections"])
def test_bad_limit_or_cursor_gets_400(clock: FakeClock, path: str, params: dict[str, str]) -> None:
    """A limit outside 1..1000 or an undecodable cursor answers 400 InvalidInput."""
    emu = many_connections(clock)
    with make_client(emu) as client:
        response = client.get(path, params=params)
    assert response.status_code == 400
    assert response.json()["code"] == "InvalidInput"


def test_list_items_are_connection_objects(emu: FivetranEmulator, client: httpx.Client) -> None:
    """List items render exactly like GET {c}."""
    assert data(client.get("/v1/connections"))["items"] == [emu.snapshot("c1")]
