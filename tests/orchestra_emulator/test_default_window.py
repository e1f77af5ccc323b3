"""The emulator's default window (no time_from/time_to) can be changed per listing, as Orchestra may change it."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from typing import Any

import pytest

from eltops.orchestra.emulator import OrchestraEmulator
from tests._clock import NOW
from tests.orchestra_emulator.conftest import EmulatorFactory, client_for


def total(emulator: OrchestraEmulator, resource: str, **params: Any) -> int:
    with client_for(emulator) as client:
        return int(client.get(f"/{resource}", params={"page_size": 1, **params}).json()["total"])


def test_a_shorter_task_runs_default_serves_only_that_window(make_emulator: EmulatorFactory) -> None:
    """task_runs=24h: no window means the last day; an explicit 7-day window and the other listings are unchanged."""
    usual, short = make_emulator(default_windows={"task_runs": timedelta(days=7)}), make_emulator(default_windows={})
    week = {"time_from": (NOW - timedelta(days=7)).isoformat(), "time_to": NOW.isoformat()}
    day = {"time_from": (NOW - timedelta(hours=24)).isoformat(), "time_to": NOW.isoformat()}
    assert total(short, "task_runs") == total(usual, "task_runs", **day) < total(usual, "task_runs")
    assert total(short, "task_runs", **week) == total(usual, "task_runs")
    assert total(short, "pipeline_runs") == total(usual, "pipeline_runs")


def test_the_default_task_runs_window_is_orchestras_since_2026_10(make_emulator: EmulatorFactory) -> None:
    """Without options the emulator serves 24 hours of task runs and 7 days of pipeline runs when asked for none."""
    emulator = make_emulator(default_windows={})
    day = {"time_from": (NOW - timedelta(hours=24)).isoformat(), "time_to": NOW.isoformat()}
    week = {"time_from": (NOW - timedelta(days=7)).isoformat(), "time_to": NOW.isoformat()}
    assert total(emulator, "task_runs") == total(emulator, "task_runs", **day) < total(emulator, "task_runs", **week)
    assert total(emulator, "pipeline_runs") == total(emulator, "pipeline_runs", **week)


@pytest.mark.parametrize(
    "windows", [{"task_run": timedelta(hours=1)}, {"task_runs": timedelta(days=8)}, {"operations": timedelta(0)}]
)
def test_a_default_window_the_api_could_not_have_is_refused(windows: dict[str, timedelta]) -> None:
    """An unknown listing, or a default of nothing or more than the 7-day maximum, is a ValueError."""
    with pytest.raises(ValueError, match=r"default window|unknown resource"):
        OrchestraEmulator(default_windows=windows)


def test_the_command_takes_default_windows() -> None:
    """A malformed `eltops emulate orchestra --default-window` is a usage error (exit 2) naming RESOURCE=HOURS."""
    bad = subprocess.run(
        [sys.executable, "-m", "eltops", "emulate", "orchestra", "--port", "0", "--default-window", "task_runs=soon"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 2
    assert "RESOURCE=HOURS" in bad.stderr
    assert "Traceback" not in bad.stderr
