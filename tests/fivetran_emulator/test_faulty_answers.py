"""Scripted faulty answers: echoed credentials, zone-less timestamps, wrong-typed fields, control characters."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from eltops.errors import ConfigError
from eltops.fivetran.emulator import ConnectionScript, FailureBurst, SetupTest
from eltops.fivetran.emulator._scenario import apply_scenario

from ._support import KEY, SECRET, FakeClock, data, make_client, make_emulator

BASIC = base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()


@pytest.mark.parametrize(
    ("template", "echoed"),
    [
        ("key {api_key} refused", f"key {KEY} refused"),
        ("{api_key}:{api_secret}", f"{KEY}:{SECRET}"),
        ("Authorization: Basic {basic_auth}", f"Authorization: Basic {BASIC}"),
        ("no placeholder", "no placeholder"),
    ],
)
def test_setup_tests_and_errors_echo_the_credentials(clock: FakeClock, template: str, echoed: str) -> None:
    """Placeholders in a setup test or a failure message are answered with the request's credentials."""
    script = ConnectionScript(
        setup_tests=(SetupTest(title=f"T {template}", status="FAILED", message=template),),
        failures=(FailureBurst(status=401, method="GET", message=template),),
    )
    emu = make_emulator(clock, script=script)
    with make_client(emu) as client:
        refused = client.get("/v1/connections/c1")
        tested = client.post("/v1/connections/c1/test", json={})
    assert (refused.status_code, refused.json()["message"]) == (401, echoed)
    assert data(tested)["setup_tests"] == [{"title": f"T {echoed}", "status": "FAILED", "message": echoed}]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (("succeeded_at",), {"succeeded_at": "2024-12-01T15:43:29", "failed_at": "2024-12-01T16:00:00.000000Z"}),
        (
            ("succeeded_at", "failed_at"),
            {"succeeded_at": "2024-12-01T15:43:29", "failed_at": "2024-12-01T16:00:00"},
        ),
        ((), {"succeeded_at": "2024-12-01T15:43:29.000000Z", "failed_at": "2024-12-01T16:00:00.000000Z"}),
    ],
)
def test_zoneless_timestamps(clock: FakeClock, fields: tuple[str, ...], expected: dict[str, str]) -> None:
    """The named timestamp fields are rendered without their zone, the others as Fivetran writes them."""
    emu = make_emulator(
        clock,
        script=ConnectionScript(zoneless_timestamps=fields),
        succeeded_at="2024-12-01T15:43:29Z",
        failed_at="2024-12-01T16:00:00Z",
    )
    with make_client(emu) as client:
        rendered = data(client.get("/v1/connections/c1"))
    assert {k: rendered[k] for k in expected} == expected


@pytest.mark.parametrize(
    ("overrides", "field", "value"),
    [
        ({"paused": "false"}, ("paused",), "false"),
        ({"status.is_historical_sync": "no"}, ("status", "is_historical_sync"), "no"),
        ({"status.sync_state": 7}, ("status", "sync_state"), 7),
        ({"succeeded_at": 1733000000}, ("succeeded_at",), 1733000000),
        ({"status": "broken"}, ("status",), "broken"),
    ],
)
def test_overrides_replace_rendered_fields(
    clock: FakeClock, overrides: dict[str, Any], field: tuple[str, ...], value: Any
) -> None:
    """An override serves a field with any JSON value, types the API definition forbids included."""
    emu = make_emulator(clock, script=ConnectionScript(overrides=overrides))
    with make_client(emu) as client:
        for path in ("/v1/connections/c1", "/v1/groups/g1/connections"):
            body = data(client.get(path))
            rendered = body["items"][0] if "items" in body else body
            for key in field:
                rendered = rendered[key]
            assert rendered == value


def test_control_characters_in_setup_tests_are_served(clock: FakeClock) -> None:
    """Every C0 control character in a scripted setup test title reaches the client (JSON-escaped)."""
    title = "".join(chr(c) for c in range(32))
    emu = make_emulator(clock, script=ConnectionScript(setup_tests=(SetupTest(title=title, status="FAILED"),)))
    with make_client(emu) as client:
        assert data(client.post("/v1/connections/c1/test", json={}))["setup_tests"][0]["title"] == title


@pytest.mark.parametrize(
    ("script", "message"),
    [
        ({"zoneless_timestamps": ["updated_at"]}, "zoneless_timestamps names updated_at"),
        ({"overrides": ["paused"]}, "overrides must map field names"),
    ],
)
def test_faulty_answer_settings_are_checked(clock: FakeClock, script: dict[str, Any], message: str) -> None:
    """A scenario naming an unknown timestamp field or overrides that are not a mapping is refused."""
    emu = make_emulator(clock)
    scenario = {
        "groups": [{"id": "g2"}],
        "connections": [{"id": "c2", "group_id": "g2", "schema": "s", "script": script}],
    }
    with pytest.raises(ConfigError, match=message):
        apply_scenario(emu, scenario, origin="test")
