"""Fixtures: the Orchestra emulator on a real socket with a clock the test moves, and the real CLI against it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.orchestra._support import SMALL, Served, make_served


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    yield from make_served(tmp_path, volume=SMALL)


@pytest.fixture
def wait_until() -> Callable[[Callable[[], bool], float], None]:
    def wait(condition: Callable[[], bool], timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError("the condition did not hold in time")
            time.sleep(0.05)

    return wait
