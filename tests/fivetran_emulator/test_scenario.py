"""Scenario files (YAML and JSON) and the built-in demo."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from eltops.errors import ConfigError
from eltops.fivetran.emulator import DEMO_SCENARIO, FivetranEmulator

from ._support import FakeClock, make_client

YAML_SCENARIO = """
groups:
  - id: warehouse
    name: Warehouse
connections:
  - id: shop
    group_id: warehouse
    schema: shop_db
    schedule_type: manual
    succeeded_at: 2024-12-01T15:43:29.013729Z
    tables: {public: [orders, customers]}
    config: {host: db.internal, password: hunter2}
    script:
      queue_seconds: 1
      sync_seconds: 2
      outcome: failure
      setup_tests:
        - {title: Connecting, status: FAILED, message: refused, details: {port: 5432}}
      failures:
        - {status: 429, count: 1, retry_after: 2, method: GET}
  - id: crm
    group_id: warehouse
    schema: crm
    service: salesforce
    paused: true
"""


def test_yaml_scenario(tmp_path: Path) -> None:
    """A YAML scenario creates its groups, connections and scripts."""
    path = tmp_path / "scenario.yaml"
    path.write_text(YAML_SCENARIO)
    clock = FakeClock()
    emu = FivetranEmulator.from_scenario(path, clock=clock)
    assert emu.group_ids == ["warehouse"]
    assert emu.connection_ids == ["shop", "crm"]
    shop = emu.snapshot("shop")
    assert shop["succeeded_at"] == "2024-12-01T15:43:29.013729Z"
    assert shop["config"] == {"host": "db.internal", "password": "******"}
    assert emu.snapshot("crm")["status"]["sync_state"] == "paused"
    with make_client(emu, auth=(emu.api_key, emu.api_secret)) as client:
        assert client.get("/v1/connections/shop").status_code == 429
        assert client.post("/v1/connections/shop/sync").status_code == 200
        clock.advance(3)
        assert client.get("/v1/connections/shop").json()["data"]["failed_at"] is not None
        tests = client.post("/v1/connections/shop/test").json()["data"]["setup_tests"]
    assert tests == [{"title": "Connecting", "status": "FAILED", "message": "refused", "details": {"port": 5432}}]


def test_json_scenario(tmp_path: Path) -> None:
    """A .json scenario is read as JSON."""
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(DEMO_SCENARIO))
    emu = FivetranEmulator.from_scenario(path)
    assert "demo_shop" in emu.connection_ids


def test_demo_scenario_has_the_promised_connections() -> None:
    """The demo has a succeeding, a failing, a broken-with-setup-tests, a rescheduling and a paused connection."""
    emu = FivetranEmulator.from_scenario(DEMO_SCENARIO)
    assert emu.connection_ids == ["demo_shop", "demo_crm", "demo_billing", "demo_ads", "demo_paused"]
    assert emu.snapshot("demo_billing")["status"]["setup_state"] == "broken"
    assert emu.snapshot("demo_paused")["paused"] is True


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- just a list", "must hold a mapping"),
        ("groups: [{id: g}]\nconnections: [{id: c, schema: s}]", "missing key(s) group_id"),
        ("groups: [{id: g}]\nconnections: [{id: c, group_id: nope, schema: s}]", "names group 'nope'"),
        ("groups: [{id: g, colour: red}]", "unknown key(s) colour"),
        ("groups: [{id: g}]\nconnections: [{id: c, group_id: g, schema: s, script: {outcome: maybe}}]", "outcome"),
        ("groups: [{id: g}]\nconnections: [{id: c, group_id: g, schema: s, script: {speed: 1}}]", "speed"),
        (
            "groups: [{id: g}]\nconnections: [{id: c, group_id: g, schema: s, script: {failures: [{status: 200}]}}]",
            "failures[0]",
        ),
        ("groups: [{id: g}]\nconnections: [{id: c, group_id: g, schema: s, schedule_type: weekly}]", "schedule_type"),
        ("groups: {id: g}", "'groups' must be a list"),
        ("groups: [{id: g]", "not valid"),
    ],
)
def test_bad_scenarios_raise_config_errors(tmp_path: Path, text: str, message: str) -> None:
    """Mistakes in a scenario file raise ConfigError naming the place."""
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=re.escape(message)):
        FivetranEmulator.from_scenario(path)


def test_missing_scenario_file(tmp_path: Path) -> None:
    """A scenario file that cannot be read raises ConfigError."""
    with pytest.raises(ConfigError, match="cannot read"):
        FivetranEmulator.from_scenario(tmp_path / "nope.yaml")
