"""Shared fixtures: no retry sleeps, a clean masker per test; processes the tests start hear Ctrl-C.

`make test` runs the suite on four pytest-xdist workers, each module on one worker in order (``--dist loadfile``:
some modules share an emulator and build on each other, as the README's examples do), then tests/packaging on its
own (its modules share one built wheel and its venvs, made once per process).
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
