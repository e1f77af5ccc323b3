"""Load the same Orchestra emulator data four ways and compare wall time, rows/s, requests and peak memory.

    pip install -e '.[bench]'
    python benchmarks/orchestra_load.py [--task-runs 200000] [--ways floor,eltops,dlt-blueprint,dlt-parquet]
                                        [--repeat 5] [--dlt-repeat 1]

The emulator (200,000 task runs over 7 days, its clock frozen so every way sees the same records) is served over
loopback from its own process; each way runs in a fresh process of its own, so its peak memory is its own (the
resident memory of that process and its children, see :class:`TreeMemory`). Wall times on a shared machine
vary by a third from one run to the next, so floor and eltops run ``--repeat`` times, interleaved, and the
figures and ratios are medians (with the range); the dlt ways take minutes each and run ``--dlt-repeat`` times.
Page size 100, no artificial latency, no client-side rate limit. The emulator renders each page in Python (about
9 ms, more than the loaders spend on it), so the server replays an answer it has rendered once, and a warm-up
renders every page each way will ask for: a floor pass (no time window, as the dlt ways ask too) and an eltops
pass (explicit 7-day windows; the replay is keyed on the window, so a floor pass alone left every first eltops run
rendering all 2,000 pages live). The server counts the pages it renders, and each run says how many it did
(``live``): after the warm-up it is 0, so the timings measure the loaders, not the emulator (``--no-warm-up``
times against the live emulator instead).

Every run is printed with its wall time, the pages rendered live and the load average when it ended; the summary
lists every run's time per way, and a run more than 25 % from its way's median is called out as an outlier.

The server speaks HTTP/1.1 with keep-alive (werkzeug's development server, ``--server werkzeug``, closes every
connection, which costs each request a TCP connect and a server thread); all four ways talk to the same server.

1. floor: eltops' client fetches and parses every page with the loader's concurrency and the loader's parse
   (orjson; the envelope, the stability rule, every ``id`` and the window column checked), writing nothing. The
   typing of values is not in the floor: for DuckDB it happens in DuckDB (``from_json``), on the writer thread;
2. eltops: ``Loader`` into a fresh DuckDB file (the run also reports whether pandas and pyarrow got imported);
3. dlt-blueprint: dlt's ``rest_api`` source configured like Orchestra's blueprint (page-number paginator,
   ``page_size=100``, merge on ``id``) into DuckDB with dlt's default file format;
4. dlt-parquet: the same with ``loader_file_format="parquet"``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote

API_KEY = "bench-key-0123456789"
ANCHOR = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
WAYS = ("floor", "eltops", "dlt-blueprint", "dlt-parquet")
OUTLIER = 0.25  # a run this far (as a share) from its way's median is called out


# -- the emulator process -------------------------------------------------------------------------------------


def serve(port: int, task_runs: int, server_kind: str = "keep-alive") -> None:
    """Serve the emulator (frozen clock) plus a request counter at /_count, until killed."""
    from eltops._serve import make_loopback_server
    from eltops.orchestra.emulator import OrchestraEmulator, Volume

    # every way reads the same 7 days: the floor and dlt's blueprint send no window, and Orchestra's default for task
    # runs is 24 hours since 2026-10 (the blueprint would load a seventh of them; eltops sends its windows)
    emulator = OrchestraEmulator(
        api_key=API_KEY,
        seed=1,
        volume=Volume(task_runs=task_runs, days=7),
        now=lambda: ANCHOR,
        anchor=ANCHOR,
        default_windows={"task_runs": timedelta(days=7)},
    )
    app = emulator.wsgi_app
    cache: dict[tuple[str, ...], tuple[str, list[tuple[str, str]], bytes]] = {}
    served = [0]
    rendered = [0]

    def counted(environ: dict[str, Any], start_response: Any) -> Any:
        """Count requests and renders; replay answers already rendered (the clock is frozen: they cannot change)."""
        if environ.get("PATH_INFO") == "/_count":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [f"{served[0]} {rendered[0]}".encode()]
        served[0] += 1
        query = parse_qs(environ.get("QUERY_STRING", ""))
        key = (
            environ["PATH_INFO"],
            environ.get("HTTP_AUTHORIZATION", ""),
            *(f"{name}={query.get(name, [''])[-1]}" for name in ("page", "page_size", "time_from", "time_to")),
        )
        if key not in cache:
            captured: dict[str, Any] = {}

            def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
                captured.update(status=status, headers=headers)
                return lambda data: None

            body = b"".join(app(environ, capture))
            cache[key] = (captured["status"], captured["headers"], body)
            rendered[0] += 1
        status, headers, body = cache[key]
        start_response(status, headers)
        return [body]

    if server_kind == "werkzeug":
        make_loopback_server(counted, port=port).serve_forever()
    else:
        keep_alive_server(counted, port).serve_forever()


class _KeepAliveHandler(BaseHTTPRequestHandler):
    """A WSGI app over HTTP/1.1 with keep-alive, one thread per connection.

    Werkzeug's development server answers every request with ``Connection: close``, so each of the 2,000
    requests would pay a TCP connect plus a new server thread, on both sides: costs of that server, not of any
    loader. The same WSGI app (the counter and replay in front of the emulator) is served either way.
    """

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        path, _, query = self.path.partition("?")
        environ: dict[str, Any] = {
            "REQUEST_METHOD": self.command,
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote(path),
            "QUERY_STRING": query,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": str(self.server.server_port),  # type: ignore[attr-defined]
            "SERVER_PROTOCOL": self.request_version,
            "REMOTE_ADDR": self.client_address[0],
            "CONTENT_TYPE": "",
            "CONTENT_LENGTH": "",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        for name, value in self.headers.items():
            key = name.upper().replace("-", "_")
            if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                environ[f"HTTP_{key}"] = value
        answer: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            answer.update(status=status, headers=headers)
            return lambda data: None

        body = b"".join(self.server.app(environ, start_response))  # type: ignore[attr-defined]
        head = [f"HTTP/1.1 {answer['status']}"]
        head += [f"{k}: {v}" for k, v in answer["headers"] if k.lower() not in ("content-length", "connection")]
        head += [f"Content-Length: {len(body)}", "", ""]
        self.wfile.write("\r\n".join(head).encode("latin-1") + body)  # one write: no Nagle stall

    def log_message(self, format: str, *args: Any) -> None:
        pass


def keep_alive_server(app: Any, port: int) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", port), _KeepAliveHandler)
    server.daemon_threads = True
    server.app = app  # type: ignore[attr-defined]
    return server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_requests(port: int) -> tuple[int, int]:
    """(requests served, answers rendered live) so far."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_count", timeout=10) as answer:
        served, rendered = answer.read().split()
        return int(served), int(rendered)


# -- the ways -----------------------------------------------------------------------------------------------


class TreeMemory:
    """Peak resident memory of this process and its children together, sampled every 20 ms.

    eltops fetches in a child process while this one writes, so its memory is the sum of two processes that
    run at once. ``getrusage`` cannot give that: RUSAGE_CHILDREN is the largest child alone, and it counts the
    parent's pages a child shares between ``fork`` and ``exec``. So a thread adds up VmRSS of this process and
    of its children; the figure reported is the larger of that sampled peak and this process's own exact peak.
    """

    def __init__(self) -> None:
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="tree-memory", daemon=True)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        self.peak_kb = max(self.peak_kb, own)

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            pids = [os.getpid()]
            for children in Path("/proc/self/task").glob("*/children"):
                try:
                    pids += [int(pid) for pid in children.read_text().split()]
                except OSError:
                    continue
            self.peak_kb = max(self.peak_kb, sum(_rss_kb(pid) for pid in pids))


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def run_way(way: str, base_url: str, workdir: Path) -> dict[str, Any]:
    """Run one way in this process and report rows and wall time (the parent adds requests and memory)."""
    with TreeMemory() as memory:
        result = _run_way(way, base_url, workdir)
    return {**result, "peak_mb": memory.peak_kb / 1024}


def _run_way(way: str, base_url: str, workdir: Path) -> dict[str, Any]:
    started = time.perf_counter()
    if way == "floor":
        rows = _floor(base_url)
    elif way == "eltops":
        rows = _eltops(base_url, workdir / "eltops.duckdb")
    elif way.startswith("dlt"):
        rows = _dlt(base_url, workdir, parquet=way == "dlt-parquet")
    else:
        raise SystemExit(f"unknown way {way}")
    wall = time.perf_counter() - started
    imported = [name for name in ("pandas", "pyarrow") if name in sys.modules]
    return {"way": way, "rows": rows, "seconds": wall, "imported": imported}


def _client(base_url: str) -> Any:
    from eltops.orchestra import OrchestraClient
    from eltops.secrets import Secret

    return OrchestraClient.create(api_url=base_url, api_key=Secret(API_KEY), rate_limit_per_minute=None)


def _floor(base_url: str) -> int:
    from eltops.orchestra import TASK_RUNS

    with _client(base_url) as client:
        return sum(page.rows for page in client.iter_window(TASK_RUNS, None))


def _eltops(base_url: str, path: Path) -> int:
    from eltops.load import Loader
    from eltops.orchestra import TASK_RUNS
    from eltops.warehouse._duckdb import DuckDbTarget

    target = DuckDbTarget(path)
    with _client(base_url) as client:
        # the load plans from its own clock: the emulator's frozen one, or a first load's 7 days would miss the data
        result = Loader(client, target, clock=lambda: ANCHOR).load([TASK_RUNS])
    (stored,) = target.connection.execute("SELECT count(*) FROM task_runs").fetchall()[0]
    target.close()
    assert stored == result.resources[0].inserted
    return int(stored)


def _dlt(base_url: str, workdir: Path, *, parquet: bool) -> int:
    import dlt
    from dlt.sources.rest_api import rest_api_source

    source = rest_api_source(
        {
            "client": {
                "base_url": base_url + "/",
                "auth": {"type": "bearer", "token": API_KEY},
                "paginator": {"type": "page_number", "base_page": 1, "page_param": "page", "total_path": "total"},
            },
            "resource_defaults": {
                "primary_key": "id",
                "write_disposition": "merge",
                "endpoint": {"params": {"page_size": 100}},
            },
            "resources": [{"name": "task_runs", "endpoint": {"path": "task_runs", "data_selector": "results"}}],
        }
    )
    pipeline = dlt.pipeline(
        pipeline_name="orchestra_bench",
        destination=dlt.destinations.duckdb(str(workdir / "dlt.duckdb")),
        dataset_name="orchestra",
        pipelines_dir=str(workdir / "dlt_pipelines"),
    )
    pipeline.run(source, loader_file_format="parquet" if parquet else None)
    with pipeline.sql_client() as sql:
        return int(sql.execute_sql("SELECT count(*) FROM task_runs")[0][0])


# -- the parent -------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task-runs", type=int, default=200_000)
    parser.add_argument("--ways", default=",".join(WAYS))
    parser.add_argument("--repeat", type=int, default=5, help="Runs of floor and eltops (medians reported).")
    parser.add_argument("--dlt-repeat", type=int, default=1, help="Runs of each dlt way (minutes each).")
    parser.add_argument("--no-warm-up", dest="warm_up", action="store_false", help="Time the live emulator.")
    parser.add_argument(
        "--server",
        choices=("keep-alive", "werkzeug"),
        default="keep-alive",
        help="HTTP server in front of the emulator: HTTP/1.1 keep-alive (default), or werkzeug's, which closes "
        "every connection.",
    )
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--way", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.serve:
        serve(args.serve, args.task_runs, args.server)
        return
    if args.way:
        print(json.dumps(run_way(args.way, args.url, Path(args.workdir))))
        return

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(port), "--task-runs", str(args.task_runs), "--server", args.server]
    )
    try:
        _wait_for(port)
        base_url = f"http://127.0.0.1:{port}/api/engine/public"
        print(f"emulator: {args.task_runs:,} task runs over 7 days, page size 100, no latency, no rate limit")
        ways = args.ways.split(",")
        if args.warm_up:
            # what each way asks for: the floor's and dlt's pages (no window), and eltops' (its 7-day windows)
            for way in ("floor", "eltops"):
                if way == "eltops" and "eltops" not in ways:
                    continue
                warm = _run_in_child(way, base_url, port)
                if warm is None:
                    raise SystemExit(f"the {way} warm-up pass failed")
                print(f"warm-up {way} pass: {warm['seconds']:.1f} s, {warm['live']:,} pages rendered", flush=True)
        runs: list[dict[str, Any]] = []
        rounds = max(args.repeat, args.dlt_repeat)
        for round_number in range(1, rounds + 1):
            for way in ways:
                if round_number > (args.dlt_repeat if way.startswith("dlt") else args.repeat):
                    continue
                result = _run_in_child(way, base_url, port)
                if result is not None:
                    result["round"] = round_number
                    runs.append(result)
                    print(
                        f"run {round_number}: {way:<14} {result['seconds']:6.2f} s  {result['peak_mb']:5.0f} MB  "
                        f"{result['requests']:,} requests  {result['live']:,} live  load {result['load']:.1f}"
                        + (
                            f"  imported: {', '.join(result['imported']) or 'neither pandas nor pyarrow'}"
                            if way in ("floor", "eltops")
                            else ""
                        ),
                        flush=True,
                    )
        _summary(runs)
    finally:
        server.terminate()
        server.wait(timeout=10)


def _run_in_child(way: str, base_url: str, port: int) -> dict[str, Any] | None:
    with tempfile.TemporaryDirectory(prefix=f"bench-{way}-") as workdir:
        before, rendered_before = server_requests(port)
        child = subprocess.run(
            [sys.executable, __file__, "--way", way, "--url", base_url, "--workdir", workdir],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "RUNTIME__LOG_LEVEL": "WARNING"},
        )
        if child.returncode != 0:
            print(f"{way}: failed\n{child.stderr[-3000:]}")
            return None
        result: dict[str, Any] = json.loads(child.stdout.strip().splitlines()[-1])
        after, rendered_after = server_requests(port)
        result["requests"] = after - before
        result["live"] = rendered_after - rendered_before  # pages the emulator rendered during the run, not replayed
        result["load"] = os.getloadavg()[0]
        return result


def _summary(runs: list[dict[str, Any]]) -> None:
    """Per way: median wall time (and range), rows/s at the median, requests, peak memory; then the ratios."""
    by_way: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        by_way.setdefault(run["way"], []).append(run)
    header = f"{'way':<14} {'runs':>4} {'rows':>9} {'seconds':>8} {'range':>11} {'rows/s':>9} {'requests':>9}"
    print(f"\n{header} {'peak MB':>8}")
    medians: dict[str, float] = {}
    for way, results in by_way.items():
        seconds = sorted(r["seconds"] for r in results)
        medians[way] = statistics.median(seconds)
        rows = results[0]["rows"]
        print(
            f"{way:<14} {len(results):>4} {rows:>9,} {medians[way]:>8.2f} {seconds[0]:>5.2f}-{seconds[-1]:<5.2f} "
            f"{rows / medians[way]:>9,.0f} {max(r['requests'] for r in results):>9,} "
            f"{max(r['peak_mb'] for r in results):>8.0f}"
        )
    print("\nevery run, in order (s):")
    for way, results in by_way.items():
        print(f"  {way:<14} " + "  ".join(f"{r['seconds']:.2f}" for r in results))
    for run in runs:
        median = medians[run["way"]]
        if len(by_way[run["way"]]) > 2 and abs(run["seconds"] - median) > OUTLIER * median:
            print(
                f"outlier: run {run['round']} of {run['way']} took {run['seconds']:.2f} s, "
                f"{run['seconds'] / median:.2f}x its median of {median:.2f} s "
                f"({run['live']:,} pages rendered live, load average {run['load']:.1f})"
            )
    if "eltops" not in medians:
        return
    if "floor" in medians:
        floors = [r["seconds"] for r in by_way["floor"]]
        elts = [r["seconds"] for r in by_way["eltops"]]
        print(
            f"eltops / floor wall time (medians): {medians['eltops'] / medians['floor']:.2f}x (target <= 1.5); "
            f"slowest eltops / fastest floor {max(elts) / min(floors):.2f}x, "
            f"fastest eltops / slowest floor {min(elts) / max(floors):.2f}x"
        )
    for way, target in (("dlt-blueprint", 30), ("dlt-parquet", 5)):
        if way in medians:
            print(f"eltops rows/s vs {way} (medians): {medians[way] / medians['eltops']:.1f}x (target >= {target})")


def _wait_for(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            server_requests(port)
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the emulator did not start")


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    main()
