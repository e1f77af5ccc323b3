"""Fixtures: a hand-driven clock, an emulator on it with one group and one connection, an in-process client."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from eltops.fivetran.emulator import FivetranEmulator

from ._support import FakeClock, make_client, make_emulator


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def emu(clock: FakeClock) -> FivetranEmulator:
    return make_emulator(clock)


@pytest.fixture
def client(emu: FivetranEmulator) -> Iterator[httpx.Client]:
    with make_client(emu) as c:
        yield c
