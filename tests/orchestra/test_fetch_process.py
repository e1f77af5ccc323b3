"""The fetch process: the same pages as fetching in-process, errors and logs carried back, nothing left running."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from eltops.errors import ApiStatusError, EltopsError
from eltops.load import Loader
from eltops.load._fetch import ProcessFetcher, ThreadFetcher, WindowDone
from eltops.orchestra import RESOURCES, TASK_RUNS, LoadPlan, LoadState, OrchestraClient, Page, plan_load
from eltops.secrets import Secret
from eltops.warehouse import DuckDbTarget
from tests.orchestra._support import API_KEY, Served, rows


def _client(served: Served, key: str = API_KEY) -> OrchestraClient:
    return OrchestraClient.create(api_url=served.api_url, api_key=Secret(key), rate_limit_per_minute=None)


def _plan(served: Served) -> LoadPlan:
    return plan_load(TASK_RUNS, LoadState(cursor=None), [], now=served.clock())


@contextmanager
def _streaming(served: Served) -> Iterator[tuple[ProcessFetcher, Iterator[Page | WindowDone], int]]:
    """A process fetcher one page into a stream of the default window, with its child's pid."""
    with _client(served) as client:
        assert client.recipe is not None
        fetcher = ProcessFetcher(client.recipe)
        stream = fetcher.stream(_plan(served))
        next(stream)
        assert fetcher.pid is not None
        yield fetcher, stream, fetcher.pid


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_a_client_from_settings_fetches_in_a_process_and_one_with_a_transport_in_this_one(served: Served) -> None:
    """``auto`` picks the process for a client that has a recipe, and this process for one given a transport."""
    with _client(served) as client:
        assert isinstance(Loader(client, DuckDbTarget(served.tmp / "a.duckdb")).fetcher, ProcessFetcher)
        bare = OrchestraClient(client._api)
        assert isinstance(Loader(bare, DuckDbTarget(served.tmp / "b.duckdb")).fetcher, ThreadFetcher)
        with pytest.raises(EltopsError, match="cannot fetch in another process"):
            Loader(bare, DuckDbTarget(served.tmp / "c.duckdb"), fetch_in="process")


def test_the_process_streams_the_same_pages_and_window_ends_as_the_thread(served: Served) -> None:
    """Both fetchers yield the same pages (bodies byte for byte) and window ends, in the same order."""
    plan = _plan(served)
    with _client(served) as client:
        assert client.recipe is not None
        fetcher = ProcessFetcher(client.recipe)
        in_process = list(ThreadFetcher(client).stream(plan))
        out_of_process = list(fetcher.stream(plan))
    assert out_of_process == in_process
    assert isinstance(out_of_process[-1], WindowDone)
    pages = [item for item in out_of_process if isinstance(item, Page)]
    assert fetcher.requests == len(pages) > 1
    pid = fetcher.pid
    assert pid is not None, "the child waits for the next plan"
    again = list(fetcher.stream(plan))
    assert again == in_process
    assert fetcher.pid == pid, "and streams it"
    fetcher.close()
    assert fetcher.pid is None
    assert _gone(pid)


def test_a_load_fetched_in_a_process_stores_what_one_fetched_on_a_thread_does(served: Served) -> None:
    """Loading every resource with the fetch in a process stores exactly the rows a thread-fetched load stores."""
    stored: dict[str, dict[str, set[tuple[object, ...]]]] = {}
    for fetch_in in ("thread", "process"):
        db = served.tmp / f"{fetch_in}.duckdb"
        with _client(served) as client:
            target = DuckDbTarget(db)
            loader = Loader(client, target, fetch_in=fetch_in, clock=served.clock)
            result = loader.load(RESOURCES)
            target.close()
        assert all(r.requests == r.pages > 0 for r in result.resources), fetch_in
        stored[fetch_in] = {resource.table: rows(db, resource.table) for resource in RESOURCES}
    assert all(stored["process"].values()), "every table got rows"
    assert stored["process"] == stored["thread"]


def test_an_api_error_in_the_child_is_raised_in_the_parent(served: Served) -> None:
    """A 401 answered to the child is raised in the parent as the same error, with status and message."""
    with _client(served, key="wrong-key-42") as client:
        assert client.recipe is not None
        fetcher = ProcessFetcher(client.recipe)
        with pytest.raises(ApiStatusError) as caught:
            list(fetcher.stream(_plan(served)))
    assert caught.value.status_code == 401
    assert "401" in str(caught.value)
    assert "wrong-key-42" not in str(caught.value)


def test_the_childs_log_records_reach_the_parents_log(served: Served, caplog: pytest.LogCaptureFixture) -> None:
    """A retry warning logged by the child is logged again by the parent, under the same logger."""
    served.emulator.fail_next(status=503, count=1)
    caplog.set_level(logging.INFO, logger="eltops")
    with _client(served) as client:
        assert client.recipe is not None
        list(ProcessFetcher(client.recipe).stream(_plan(served)))
    retries = [r for r in caplog.records if "; attempt 2 of " in r.getMessage()]
    assert retries
    assert retries[0].name.startswith("eltops")
    assert "503" in retries[0].getMessage()


def test_the_key_reaches_the_child_only_through_its_pipe(served: Served) -> None:
    """The API key is in neither the child's command line nor its environment."""
    with _streaming(served) as (_, stream, pid):
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        environ = Path(f"/proc/{pid}/environ").read_bytes()
        stream.close()
    assert API_KEY.encode() not in cmdline + environ


def test_the_child_yields_the_cpu_to_the_writer(served: Served) -> None:
    """The fetch process runs five niceness steps below the loading process (capped at the lowest priority)."""
    with _streaming(served) as (_, stream, pid):
        niceness = os.getpriority(os.PRIO_PROCESS, pid)
        stream.close()
    assert niceness == min(os.getpriority(os.PRIO_PROCESS, 0) + 5, 19)


def test_stopping_the_stream_stops_the_child(served: Served) -> None:
    """Closing the stream early (an error or Ctrl-C in the loader) leaves no fetch process behind."""
    with _streaming(served) as (fetcher, stream, pid):
        assert not _gone(pid)
        stream.close()
    assert fetcher.pid is None
    assert _gone(pid)


def test_a_child_that_dies_fails_the_stream_clearly(served: Served) -> None:
    """A fetch process killed mid-stream fails the load with its exit code, not a hang or a silent end."""
    with _streaming(served) as (_, stream, pid):
        os.kill(pid, signal.SIGKILL)
        started = time.monotonic()
        with pytest.raises(EltopsError, match="fetch process stopped unexpectedly"):
            list(stream)
    assert time.monotonic() - started < 30


def test_the_recipe_rebuilds_the_client_with_its_key_masked(served: Served) -> None:
    """A recipe pickled and loaded again builds a client with the same settings and a masked key."""
    import pickle

    with _client(served) as client:
        recipe = client.recipe
    assert recipe is not None
    copy = pickle.loads(pickle.dumps(recipe))  # noqa: S301 (our own bytes)
    assert copy == recipe
    assert API_KEY not in repr(copy)
    with copy.create() as rebuilt:
        assert rebuilt.recipe == recipe
        assert rebuilt.concurrency == recipe.concurrency


_ORPHANING_PARENT = """
import sys, time
from datetime import datetime, UTC
from eltops.load._fetch import ProcessFetcher
from eltops.orchestra import TASK_RUNS, LoadState, OrchestraClient, plan_load
from eltops.secrets import Secret

client = OrchestraClient.create(api_url=sys.argv[1], api_key=Secret(sys.argv[2]), rate_limit_per_minute=None)
fetcher = ProcessFetcher(client.recipe)
stream = fetcher.stream(plan_load(TASK_RUNS, LoadState(cursor=None), [], now=datetime.now(UTC)))
next(stream)
print(fetcher.pid, flush=True)
time.sleep(120)
"""


def test_a_child_whose_parent_is_killed_exits(served: Served, wait_until: Callable[..., None]) -> None:
    """Killing the loading process outright (SIGKILL: no clean-up runs) still leaves no fetch process behind."""
    parent = subprocess.Popen(
        [sys.executable, "-c", _ORPHANING_PARENT, served.api_url, API_KEY], stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        assert not _gone(child)
        parent.kill()
        parent.wait()
        wait_until(lambda: _gone(child) or _zombie(child), 10)
    finally:
        parent.kill()


def _zombie(pid: int) -> bool:
    """An exited process not yet reaped by its new parent (PID 1 in a container may never reap it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except OSError:
        return True
