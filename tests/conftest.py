"""Shared fixtures: no retry sleeps, a clean masker per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import stamina

from eltops.secrets import MASKER


@pytest.fixture(autouse=True)
def _no_retry_sleeps() -> Iterator[None]:
    """Retries happen at once in tests (stamina's testing switch); attempts still count."""
    stamina.set_testing(True, attempts=100, cap=True)
    yield
    stamina.set_testing(False)


@pytest.fixture(autouse=True)
def _fresh_masker() -> Iterator[None]:
    """Each test starts with no registered secrets."""
    MASKER.clear()
    yield
    MASKER.clear()
