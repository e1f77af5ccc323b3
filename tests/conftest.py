"""Shared fixtures: no retry sleeps, a clean masker per test; processes the tests start hear Ctrl-C.

`make test` runs the suite on four pytest-xdist workers (``--dist loadgroup``); the folders whose tests share one
expensive session fixture (the built wheel and its venvs, the demo run) stay together on one worker.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest
import stamina

from eltops.secrets import MASKER


def pytest_configure(config: pytest.Config) -> None:
    """Tests send Ctrl-C to the processes they start, which inherit an ignored SIGINT from this one.

    A shell ignores SIGINT in the commands it runs in the background (``make check &``), and Python then
    installs no KeyboardInterrupt handler, in pytest or in anything it starts.
    """
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


# folders whose tests share a session fixture too costly to build once per worker
_ONE_WORKER = ("tests/packaging/", "tests/report/")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Each folder of ``_ONE_WORKER`` runs on one xdist worker (a group), so its session fixtures are built once."""
    for item in items:
        for folder in _ONE_WORKER:
            if item.nodeid.startswith(folder):
                item.add_marker(pytest.mark.xdist_group(folder.rstrip("/")))


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
