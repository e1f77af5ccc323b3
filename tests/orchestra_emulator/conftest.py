"""Fixtures for the Orchestra emulator tests: a settable clock, an emulator factory, an in-process client."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from eltops.orchestra.emulator import BASE_PATH, OrchestraEmulator, Volume
from tests._clock import Clock

SPEC_PATH = Path(__file__).resolve().parents[1] / "specs" / "orchestra-openapi.json"
"""Orchestra's API definition, vendored so the contract tests run in every clone (tests/specs/README.md)."""
KEY = "test-key"


@pytest.fixture
def clock() -> Clock:
    return Clock()


EmulatorFactory = Callable[..., OrchestraEmulator]


@pytest.fixture
def make_emulator(clock: Clock) -> EmulatorFactory:
    def make(**kwargs: Any) -> OrchestraEmulator:
        kwargs.setdefault("api_key", KEY)
        kwargs.setdefault("volume", Volume(task_runs=400, days=7))
        kwargs.setdefault("now", clock)
        # the history tests page whole listings without a window: 7 days of every listing, as before 2026-10
        # (test_default_window covers Orchestra's 24-hour task-runs default, by passing default_windows={})
        kwargs.setdefault("default_windows", {"task_runs": timedelta(days=7)})
        return OrchestraEmulator(**kwargs)

    return make


def client_for(emulator: OrchestraEmulator, *, key: str | None = KEY) -> httpx.Client:
    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    return httpx.Client(
        transport=httpx.WSGITransport(app=emulator.wsgi_app), base_url=f"http://emulator{BASE_PATH}", headers=headers
    )


@pytest.fixture
def emulator(make_emulator: EmulatorFactory) -> OrchestraEmulator:
    return make_emulator()


@pytest.fixture
def client(emulator: OrchestraEmulator) -> Iterator[httpx.Client]:
    with client_for(emulator) as c:
        yield c


def fetch_all(client: httpx.Client, resource: str, **params: Any) -> list[dict[str, Any]]:
    """Every record of a listing, page by page (page_size 100)."""
    records: list[dict[str, Any]] = []
    page = 1
    while True:
        body = client.get(f"/{resource}", params={**params, "page": page, "page_size": 100}).raise_for_status().json()
        records.extend(body["results"])
        if not body["results"] or page * body["pageSize"] >= body["total"]:
            return records
        page += 1


@pytest.fixture(scope="session")
def spec() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SPEC_PATH.read_text())
    return loaded
