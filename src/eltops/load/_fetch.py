"""What one load reads, as a stream of pages and window ends, fetched in this process or in one of its own.

:func:`fetch_plan` walks a :class:`~eltops.orchestra._plan.LoadPlan`: the open runs re-read by id, then every
window, each followed by a :class:`WindowDone` carrying the newest creation time it held (the loader's
:class:`~eltops.orchestra._plan.Cursor` only moves past a window once all its pages are written). Two fetchers run it:

- :class:`ThreadFetcher`: on the calling thread, with the client's pool of threads. Any client works, including
  one over an injected transport.
- :class:`ProcessFetcher`: in a child process (``python -c`` running :func:`child_main`), which builds its own
  client from a :class:`~eltops.orchestra._client.ClientRecipe` and streams what it reads back over a pipe.

Why a process: the warehouse writer runs on a thread of the loading process, and DuckDB's Python client, although
it releases the GIL while a statement runs, takes it back between every slice of work to check for Ctrl-C. With
the fetch threads (HTTP parsing, JSON decoding: Python holding the GIL) in the same process, each of those takes
waited for the interpreter's switch interval, and the writer ran at well under half its speed (benchmarks/
orchestra_load.py: 200,000 task runs took 7.3 to 8.6 s in one process, 5.7 to 7.9 s with the fetch in its own).
In a process of its own the fetch has its own GIL, and the loading process is left with a writer and a thread that
only reads a pipe. The fetch process also runs at a lower priority (:data:`_NICENESS`), so that it never takes a
core the writer is waiting for.

The pipe protocol (child's stdout, the parent reads): messages of two 8-byte little-endian lengths, a pickle and a
raw body (a page's bytes travel as they are, outside the pickle; empty for other messages), each a
:class:`~eltops.orchestra._pages.Page`, a :class:`WindowDone`, a :class:`_LogLine` (the child's log records,
re-logged by the parent, where masking and handlers live), and last a :class:`_Finished` or a :class:`_Failed`
(the error the child raised, re-raised by the parent). Jobs go the other way, pickled on the child's stdin,
one after another on the same child, which exits when its stdin closes; a child whose parent died (even killed
outright) notices within half a second and exits, so no fetch is left behind. The child ignores Ctrl-C; the
parent stops it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import pickle
import signal
import struct
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import IO, TYPE_CHECKING, Protocol

from eltops.errors import EltopsError
from eltops.orchestra import Cursor, Page

if TYPE_CHECKING:
    from eltops.orchestra import ClientRecipe, LoadPlan, OrchestraClient

__all__ = ["Fetcher", "ProcessFetcher", "ThreadFetcher", "WindowDone", "child_main", "fetch_plan"]

log = logging.getLogger("eltops.load")

_HEADER = struct.Struct("<QQ")  # pickle length, raw body length
_PIPE_BYTES = 1 << 20  # room for ten pages in the pipe itself (Linux caps an unprivileged pipe at 1 MB)
_QUIT_SECONDS = 0.5  # an idle child quits at once when its stdin closes; a busy one is terminated
_STOP_SECONDS = 10.0
_ORPHAN_CHECK_SECONDS = 0.5
_NICENESS = 5
"""How much the fetch process yields to the rest (the writer above all) when they compete for a core.

The writer is what moves the load forward; a fetch that runs ahead of it only fills the queue between them,
then waits. When the machine has no core to spare (measured on two cores: fetch, writer and the emulator's
server), the scheduler otherwise hands the writer's core to the fetch at every page, and the writer waits:
with the fetch at niceness 5, 200,000 task runs load in 4.3 s instead of 4.9 (benchmarks/orchestra_load.py).
With a core to spare, or a network to wait on, nothing changes.
"""


@dataclass(frozen=True)
class WindowDone:
    """Every page of a window has been read; ``newest`` is its newest creation time (None: id re-reads, empty)."""

    newest: datetime | None


def fetch_plan(client: OrchestraClient, plan: LoadPlan) -> Iterator[Page | WindowDone]:
    """The plan's pages in read order: open runs by id first, then each window, each followed by its end.

    Open runs older than the listings serve (:attr:`LoadPlan.aged`) are read through their pipeline runs
    (:meth:`OrchestraClient.iter_runs`) when the loader found those; the others through the filtered listing.
    """
    resource = plan.resource
    aged = {record_id for record_id, _ in plan.aged} if plan.aged_runs else set()
    listed = tuple(r for r in plan.reopen if r[0] not in aged)
    if listed:
        yield from client.iter_ids(resource, listed)
        yield WindowDone(None)
    if plan.aged_runs:
        yield from client.iter_runs(resource, plan.aged_runs)
        yield WindowDone(None)
    cursor = Cursor(plan.start_cursor)
    for window in plan.windows:
        for page in client.iter_window(resource, window):
            yield page
            cursor.saw(page.newest)
        yield WindowDone(cursor.window_newest)
        cursor.window_done()


class Fetcher(Protocol):
    """Runs :func:`fetch_plan` somewhere; ``requests`` counts the requests answered so far."""

    @property
    def requests(self) -> int: ...

    def start(self) -> None:
        """Get ready to stream (before the plan is known)."""
        ...

    def stream(self, plan: LoadPlan) -> Iterator[Page | WindowDone]: ...

    def close(self) -> None: ...


class ThreadFetcher:
    """Fetches on the calling thread (and the client's pool)."""

    def __init__(self, client: OrchestraClient) -> None:
        self._client = client

    @property
    def requests(self) -> int:
        return self._client.requests

    def start(self) -> None:
        pass

    def stream(self, plan: LoadPlan) -> Iterator[Page | WindowDone]:
        return fetch_plan(self._client, plan)

    def close(self) -> None:
        pass


@dataclass(frozen=True)
class _Job:
    recipe: ClientRecipe
    plan: LoadPlan
    log_levels: dict[str, int]


@dataclass(frozen=True)
class _LogLine:
    logger: str
    level: int
    message: str


@dataclass(frozen=True)
class _Finished:
    requests: int


@dataclass(frozen=True)
class _Failed:
    requests: int
    error: BaseException


class ProcessFetcher:
    """Fetches in a child process built from ``recipe``, one plan after another, until :meth:`close`.

    :meth:`start` launches the child early, so its start-up (an interpreter and httpx, about 0.3 s) overlaps
    the loader's own (opening the warehouse, reading the load state). A stream that does not end normally
    (the loader stopped reading, or the child failed) stops the child; the next stream starts a fresh one.
    """

    def __init__(self, recipe: ClientRecipe) -> None:
        self._recipe = recipe
        self._requests = 0
        self._child: subprocess.Popen[bytes] | None = None

    @property
    def requests(self) -> int:
        return self._requests

    @property
    def pid(self) -> int | None:
        """The child's process id, while there is one."""
        return self._child.pid if self._child is not None else None

    def start(self) -> None:
        if self._child is None:
            self._child = subprocess.Popen(
                [sys.executable, "-c", "from eltops.load._fetch import child_main; child_main()"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
            )
            with contextlib.suppress(ImportError, OSError, AttributeError):  # a bigger pipe (Linux): fewer wake-ups
                import fcntl

                fcntl.fcntl(self._pipes(self._child)[1].fileno(), fcntl.F_SETPIPE_SZ, _PIPE_BYTES)

    def stream(self, plan: LoadPlan) -> Iterator[Page | WindowDone]:
        self.start()
        assert self._child is not None
        child, (jobs, output) = self._child, self._pipes(self._child)
        levels = {name: logging.getLogger(name).getEffectiveLevel() for name in ("eltops", "httpx")}
        before = self._requests
        finished = False
        try:
            with contextlib.suppress(BrokenPipeError):  # a child that died: reading its output says how
                pickle.dump(_Job(self._recipe, plan, levels), jobs, protocol=pickle.HIGHEST_PROTOCOL)
                jobs.flush()
            while True:
                message = _receive(output)
                if message is None:
                    code = child.wait()
                    raise EltopsError(f"the Orchestra fetch process stopped unexpectedly (exit code {code})")
                if isinstance(message, _LogLine):
                    logging.getLogger(message.logger).log(message.level, "%s", message.message)
                elif isinstance(message, _Finished):
                    self._requests = before + message.requests
                    finished = True
                    return
                elif isinstance(message, _Failed):
                    self._requests = before + message.requests
                    raise message.error
                else:
                    if not isinstance(message, WindowDone):
                        self._requests += 1  # a lower bound until the child's own count arrives
                    yield message  # type: ignore[misc]
        finally:
            if not finished:
                self.close()

    def close(self) -> None:
        """Stop the child: closing its stdin ends it between plans; one still fetching is terminated."""
        child, self._child = self._child, None
        if child is None:
            return
        jobs, output = self._pipes(child)
        with contextlib.suppress(OSError):
            jobs.close()
        try:
            child.wait(timeout=_QUIT_SECONDS)
        except subprocess.TimeoutExpired:
            child.terminate()
            try:
                child.wait(timeout=_STOP_SECONDS)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        output.close()

    @staticmethod
    def _pipes(child: subprocess.Popen[bytes]) -> tuple[IO[bytes], IO[bytes]]:
        assert child.stdin is not None
        assert child.stdout is not None
        return child.stdin, child.stdout


def _receive(stream: IO[bytes]) -> object | None:
    head = stream.read(_HEADER.size)
    if len(head) < _HEADER.size:
        return None
    size, raw_size = _HEADER.unpack(head)
    data = stream.read(size)
    raw = stream.read(raw_size) if raw_size else b""
    if len(data) < size or len(raw) < raw_size:
        return None
    message: object = pickle.loads(data)  # noqa: S301 (our own child's output, over a pipe only we hold)
    if isinstance(message, Page):
        return dataclasses.replace(message, body=raw)
    return message


# -- the child -------------------------------------------------------------------------------------------------


class _Channel:
    """The child's end of the pipe; sends from any thread (log records come from the fetch threads)."""

    def __init__(self, out: IO[bytes]) -> None:
        self._out = out
        self._lock = threading.Lock()

    def send(self, message: object) -> None:
        raw = b""
        if isinstance(message, Page):
            message, raw = dataclasses.replace(message, body=b""), message.body
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        with self._lock:
            self._out.write(_HEADER.pack(len(data), len(raw)) + data)
            self._out.write(raw)
            self._out.flush()


class _Forward(logging.Handler):
    def __init__(self, channel: _Channel) -> None:
        super().__init__()
        self._channel = channel

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            if record.exc_info:
                message += "\n" + "".join(traceback.format_exception(*record.exc_info)).rstrip()
            self._channel.send(_LogLine(record.name, record.levelno, message))
        except Exception:
            self.handleError(record)


def child_main() -> None:
    """The fetch process: read jobs on stdin, stream each plan's pages on stdout; exit when stdin closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group: the parent decides
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything printed by accident goes to stderr, not into the pipe
    threading.Thread(target=_exit_when_orphaned, args=(os.getppid(),), name="eltops-fetch-watch", daemon=True).start()
    channel = _Channel(out)
    logging.getLogger().handlers[:] = [_Forward(channel)]
    if hasattr(os, "nice"):
        os.nice(_NICENESS)
    _import_client()
    while True:
        try:
            job: _Job = pickle.load(sys.stdin.buffer)  # noqa: S301 (from the parent, over a pipe only it holds)
        except EOFError:
            return
        for name, level in job.log_levels.items():
            logging.getLogger(name).setLevel(level)
        client = job.recipe.create()
        try:
            with client:
                for item in fetch_plan(client, job.plan):
                    channel.send(item)
            channel.send(_Finished(client.requests))
        except BrokenPipeError:
            os._exit(1)  # the parent stopped reading
        except BaseException as exc:
            channel.send(_Failed(client.requests, _picklable(exc)))


def _import_client() -> None:
    """Import the HTTP client now, while the parent prepares the first job, and without httpx's own CLI.

    httpx imports its command-line tool when rich, click and pygments are installed (they are: eltops' CLI uses
    them), which is half of httpx's import time; this process never runs it, so that import is made to fail,
    and httpx falls back to a stub, as it does when they are not installed.
    """
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
    from eltops.orchestra import OrchestraClient  # noqa: F401


def _picklable(exc: BaseException) -> BaseException:
    if not isinstance(exc, EltopsError):  # a bug: keep where it happened
        exc.add_note("in the Orchestra fetch process:\n" + "".join(traceback.format_tb(exc.__traceback__)).rstrip())
    try:
        pickle.loads(pickle.dumps(exc))  # noqa: S301
    except Exception:
        return EltopsError(f"{type(exc).__name__}: {exc}")
    return exc


def _exit_when_orphaned(parent: int) -> None:
    """End the process if its parent dies (it is then adopted: the parent id changes), even mid-request."""
    while os.getppid() == parent:
        time.sleep(_ORPHAN_CHECK_SECONDS)
    os._exit(1)
