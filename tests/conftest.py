"""Shared fixtures: no retry sleeps, a clean masker per test; processes the tests start hear Ctrl-C.

`make test` runs the suite on four pytest-xdist workers (``--dist loadgroup``): each module on one worker, in
order, and the folders whose tests share one expensive session fixture (the built wheel and its venvs, the demo
run) together on one worker.
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
    """Under xdist, a module's tests run on one worker in order (some share a module's emulator and build on each
    other, as the README's examples do), and each folder of ``_ONE_WORKER`` on one worker (its session fixtures
    built once)."""
    for item in items:
        path = item.nodeid.split("::", 1)[0]
        group = next((folder.rstrip("/") for folder in _ONE_WORKER if path.startswith(folder)), path)
        item.add_marker(pytest.mark.xdist_group(group))


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
