"""Scenario files script what the 2026 API shows: schedules, data delay, a failed sync's reason, active errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from eltops.errors import ConfigError
from eltops.fivetran.emulator import FivetranEmulator

from ._support import FakeClock, data, make_client

SCENARIO = """
groups: [{id: warehouse, name: Warehouse}]
connections:
  - id: events
    group_id: warehouse
    schema: events_api
    schedule: {schedule_type: TIME_OF_DAY, time_of_day: "03:30", days_of_week: [MONDAY, THURSDAY]}
    data_delay_sensitivity: CUSTOM
    data_delay_threshold: 90
    script:
      sync_seconds: 2
      outcome: failure
      failure_reason: "Rate limit of the events API: 429 for {api_key}"
      errors:
        - {type: sync_warning, title: Slow source, reason: Rate limited, message: Lower the sync frequency}
  - id: daily
    group_id: warehouse
    schema: daily_db
    sync_frequency: 1440
    daily_sync_time: "05:00"
"""


def test_a_scenario_scripts_the_2026_fields(tmp_path: Path, clock: FakeClock) -> None:
    """The scenario's schedule, delay settings, reason and errors are what the API then serves."""
    path = tmp_path / "s.yml"
    path.write_text(SCENARIO)
    emu = FivetranEmulator.from_scenario(path, api_key="k", api_secret="s", clock=clock)
    with make_client(emu) as client:
        events = data(client.get("/v1/connections/events"))
        assert events["schedule"]["days_of_week"] == ["MONDAY", "THURSDAY"]
        assert (events["data_delay_sensitivity"], events["data_delay_threshold"]) == ("CUSTOM", 90)
        assert data(client.get("/v1/connections/daily"))["daily_sync_time"] == "05:00"
        client.post("/v1/connections/events/sync", json={"force": False})
        clock.advance(5)
        [record] = data(client.get("/v1/connections/events/sync-history"))["items"]
        assert record["reason"] == "Rate limit of the events API: 429 for k"
        [error] = data(client.get("/v1/connections/events/errors"))["items"]
        assert error["message"] == "Lower the sync frequency"


@pytest.mark.parametrize(
    ("connection", "message"),
    [
        ({"schedule": {"schedule_type": "HOURLY"}}, "schedule.schedule_type must be one of INTERVAL"),
        ({"schedule": {"schedule_type": "CRON", "cron": ["* *"]}}, "five-field cron"),
        ({"schedule": {"schedule_type": "INTERVAL", "interval": 0}}, "minutes between 1 and 1440"),
        ({"schedule": {"schedule_type": "TIME_OF_DAY", "time_of_day": "03:15"}}, "HH:00 or HH:30"),
        ({"schedule": {"schedule_type": "CRON", "cron": ["0 * * * *"]}, "schedule_type": "manual"}, "does not combine"),
        ({"data_delay_sensitivity": "SOMETIMES"}, "data_delay_sensitivity must be one of"),
        ({"script": {"errors": [{"title": "no type"}]}}, "errors\\[0\\]"),
        ({"script": {"errors": "reconnect"}}, "errors must be a list"),
    ],
)
def test_bad_2026_fields_are_named(tmp_path: Path, connection: dict[str, object], message: str) -> None:
    """A scenario with a bad schedule, delay setting or error list is exit 2 naming the connection and the field."""
    base = {"id": "c", "group_id": "g", "schema": "db", **connection}
    with pytest.raises(ConfigError, match=message) as caught:
        FivetranEmulator.from_scenario({"groups": [{"id": "g"}], "connections": [base]})
    assert "connection 'c'" in str(caught.value)
