"""The HTTP gate: auth, Accept, Content-Type, JSON, routing, envelopes and path families."""

from __future__ import annotations

import re

import httpx
import pytest

from eltops.fivetran.emulator import FivetranEmulator

from ._support import KEY, SECRET, FakeClock, data, make_client, make_emulator

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


@pytest.mark.parametrize(
    "auth",
    [None, (KEY, "wrong"), ("wrong", SECRET), (KEY, "")],
    ids=["missing", "bad-secret", "bad-key", "empty-secret"],
)
def test_bad_credentials_get_401(emu: FivetranEmulator, auth: tuple[str, str] | None) -> None:
    """A request without the right Basic credentials answers 401 with a Fivetran-style body."""
    with make_client(emu, auth=auth) as client:
        response = client.get("/v1/connections/c1")
    assert response.status_code == 401
    assert response.json()["code"] == "AuthFailed"
    assert response.headers["WWW-Authenticate"].startswith("Basic")


def test_bearer_auth_is_refused(client: httpx.Client) -> None:
    """Only HTTP Basic counts as credentials."""
    response = client.get("/v1/connections/c1", auth=None, headers={"Authorization": "Bearer k:s"})
    assert response.status_code == 401


@pytest.mark.parametrize(
    "accept", ["application/json", "application/json;version=2", "*/*", "text/html, application/json;q=0.9", None]
)
def test_acceptable_accept_headers(emu: FivetranEmulator, accept: str | None) -> None:
    """JSON, versioned JSON, wildcard and a missing Accept are all served."""
    headers = {} if accept is None else {"Accept": accept}
    with make_client(emu, headers=headers) as client:
        assert client.get("/v1/connections/c1").status_code == 200


@pytest.mark.parametrize("accept", ["text/html", "application/xml", "text/*"])
def test_unacceptable_accept_gets_406(client: httpx.Client, accept: str) -> None:
    """An Accept header that rules out JSON answers 406."""
    response = client.get("/v1/connections/c1", headers={"Accept": accept})
    assert response.status_code == 406
    assert response.json()["code"] == "NotAcceptable"


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/v1/connections/c1/sync"), ("PATCH", "/v1/connections/c1"), ("POST", "/v1/connections/c1/test")],
)
def test_body_without_json_content_type_gets_415(client: httpx.Client, method: str, path: str) -> None:
    """A POST/PATCH body that is not declared application/json answers 415."""
    response = client.request(method, path, content=b'{"force": true}', headers={"Content-Type": "text/plain"})
    assert response.status_code == 415
    assert response.json()["code"] == "UnsupportedMediaType"


def test_json_content_type_with_charset_is_accepted(client: httpx.Client) -> None:
    """Content-Type parameters such as charset do not matter."""
    response = client.post(
        "/v1/connections/c1/sync", content=b"{}", headers={"Content-Type": "application/json; charset=utf-8"}
    )
    assert response.status_code == 200


def test_post_without_body_needs_no_content_type(client: httpx.Client) -> None:
    """An empty POST (the legacy /force) needs no Content-Type."""
    assert client.post("/v1/connections/c1/force").status_code == 200
    assert client.post("/v1/connections/c1/sync").status_code == 200


@pytest.mark.parametrize("body", [b"{not json", b'{"force": tru}', b"[1, 2]", b'"text"'])
def test_malformed_or_non_object_json_gets_400(client: httpx.Client, body: bytes) -> None:
    """Malformed JSON, or JSON that is not an object, answers 400 InvalidInput."""
    response = client.post("/v1/connections/c1/sync", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["code"] == "InvalidInput"


@pytest.mark.parametrize("path", ["/v1/nothing", "/v2/connections/c1", "/v1/connections/c1/unknown", "/"])
def test_unknown_route_gets_generic_404(client: httpx.Client, path: str) -> None:
    """An unknown route answers 404 with a code that names no resource."""
    response = client.get(path)
    assert response.status_code == 404
    assert response.json()["code"] == "NotFound"


@pytest.mark.parametrize(
    ("path", "code", "message"),
    [
        ("/v1/connections/nope", "NotFound_Connection", "Connection with id 'nope' does not exist."),
        ("/v1/connectors/nope", "NotFound_Connector", "Connector with id 'nope' does not exist."),
        ("/v1/connections/nope/schemas", "NotFound_Connection", "Connection with id 'nope' does not exist."),
        ("/v1/groups/nope", "NotFound_Group", "Group with id 'nope' does not exist."),
        ("/v1/groups/nope/connections", "NotFound_Group", "Group with id 'nope' does not exist."),
    ],
)
def test_unknown_ids_get_resource_404(client: httpx.Client, path: str, code: str, message: str) -> None:
    """An unknown connection or group answers 404 with a NotFound_<Resource> code worded for the family."""
    response = client.get(path)
    assert response.status_code == 404
    assert response.json() == {"code": code, "message": message}


@pytest.mark.parametrize(
    ("method", "path"),
    [("DELETE", "/v1/connections/c1"), ("GET", "/v1/connections/c1/sync"), ("POST", "/v1/groups")],
)
def test_wrong_method_gets_405(client: httpx.Client, method: str, path: str) -> None:
    """A known route with the wrong method answers 405 with an Allow header."""
    response = client.request(method, path)
    assert response.status_code == 405
    assert response.json()["code"] == "MethodNotAllowed"
    assert response.headers["Allow"]


@pytest.mark.parametrize(
    ("paths", "family", "expected"),
    [
        ("both", "connections", 200),
        ("both", "connectors", 200),
        ("connections", "connections", 200),
        ("connections", "connectors", 404),
        ("connectors", "connectors", 200),
        ("connectors", "connections", 404),
    ],
)
def test_path_families(clock: FakeClock, paths: str, family: str, expected: int) -> None:
    """Each path family answers only when enabled; a disabled one answers a generic (non-resource) 404."""
    emu = make_emulator(clock, paths=paths)
    with make_client(emu) as client:
        for path in (f"/v1/{family}/c1", f"/v1/{family}/c1/schemas", f"/v1/groups/g1/{family}", f"/v1/{family}"):
            response = client.get(path)
            assert response.status_code == expected, path
            if expected == 404:
                assert not response.json()["code"].startswith("NotFound_")
        disabled_post = client.post(f"/v1/{family}/c1/sync")
        assert disabled_post.status_code == expected


def test_disabled_family_is_404_even_for_unknown_ids(clock: FakeClock) -> None:
    """On a disabled family even an unknown id gets the path-level 404, never NotFound_Connector."""
    emu = make_emulator(clock, paths="connections")
    with make_client(emu) as client:
        assert client.get("/v1/connectors/nope").json()["code"] == "NotFound"


def test_connection_object_shape(client: httpx.Client) -> None:
    """GET {c} renders every documented field of the connection object, timestamps with microseconds and Z."""
    body = client.get("/v1/connections/c1").json()
    assert body["code"] == "Success"
    connection = body["data"]
    for field in (
        "id", "group_id", "service", "service_version", "schema", "connected_by", "created_at", "succeeded_at",
        "failed_at", "sync_frequency", "schedule_type", "paused", "pause_after_trial", "data_delay_sensitivity",
        "data_delay_threshold", "config", "status",
    ):  # fmt: skip
        assert field in connection, field
    assert set(connection["status"]) >= {
        "setup_state",
        "sync_state",
        "update_state",
        "is_historical_sync",
        "tasks",
        "warnings",
    }
    assert ISO_Z.match(connection["created_at"])
    assert connection["succeeded_at"] is None
    assert connection["failed_at"] is None
    assert connection["schema"] == "shop_db"
    assert connection["config"]["password"] == "******"
    assert "daily_sync_time" not in connection  # only for daily syncs


def test_secrets_in_a_given_config_are_masked(clock: FakeClock) -> None:
    """Secret-looking config values (also nested ones) render as ******, others as given."""
    emu = FivetranEmulator(api_key=KEY, api_secret=SECRET, clock=clock)
    emu.add_group("g1")
    emu.add_connection(
        "c2",
        group_id="g1",
        schema="ads",
        service="google_ads",
        config={"customer_id": "123", "client_secret": "x", "oauth": {"refresh_token": "y"}},
    )
    config = emu.snapshot("c2")["config"]
    assert config == {"customer_id": "123", "client_secret": "******", "oauth": {"refresh_token": "******"}}


def test_snapshot_matches_get(emu: FivetranEmulator, client: httpx.Client) -> None:
    """snapshot() is exactly what GET renders as data."""
    assert emu.snapshot("c1") == data(client.get("/v1/connections/c1"))
    assert emu.snapshot("c1") == data(client.get("/v1/connectors/c1"))


def test_initial_history_accepts_strings_and_datetimes(clock: FakeClock) -> None:
    """succeeded_at/failed_at given as ISO strings or datetimes render in Fivetran's format."""
    from datetime import UTC, datetime

    emu = FivetranEmulator(clock=clock)
    emu.add_group("g")
    emu.add_connection(
        "c",
        group_id="g",
        schema="s",
        succeeded_at="2024-12-01T15:43:29.013729Z",
        failed_at=datetime(2024, 11, 30, 8, 0, tzinfo=UTC),
    )
    snapshot = emu.snapshot("c")
    assert snapshot["succeeded_at"] == "2024-12-01T15:43:29.013729Z"
    assert snapshot["failed_at"] == "2024-11-30T08:00:00.000000Z"


def test_every_request_is_recorded(emu: FivetranEmulator, client: httpx.Client, clock: FakeClock) -> None:
    """The request log keeps method, path, query, parsed JSON body and clock time, refused requests included."""
    client.get("/v1/connections", params={"group_id": "g1"})
    clock.advance(5)
    client.patch("/v1/connections/c1", json={"schedule_type": "manual", "run_setup_tests": False})
    client.get("/v1/connections/c1", auth=None)
    recorded = emu.requests
    assert [(r.method, r.path) for r in recorded] == [
        ("GET", "/v1/connections"),
        ("PATCH", "/v1/connections/c1"),
        ("GET", "/v1/connections/c1"),
    ]
    assert recorded[0].query == {"group_id": "g1"}
    assert recorded[1].json == {"schedule_type": "manual", "run_setup_tests": False}
    assert recorded[1].time == clock.now
    emu.clear_requests()
    assert emu.requests == []
