"""Load task runs with large records and print wall time and peak memory: memory stays flat in rows and bounded
by the page size, whatever the records hold.

    python benchmarks/orchestra_large_records.py [--cases 600x20000,4096x20000,4096x100000,20000x20000,100000x2000]

Each case ``SIZExROWS`` serves ``ROWS`` task runs whose ``message`` holds ``SIZE`` characters (the emulator's
``PadField`` fault: 100 records a page, so 100,000 characters make 10 MB pages), from an emulator in a process of
its own, and loads them with eltops' ``Loader`` into a fresh DuckDB file in a process of its own (the fetch in its
child process, as ``eltops orchestra load`` does). Peak memory is that of the loading process and its fetch
process together (VmRSS of both, sampled every 20 ms, summed, as in ``orchestra_load.py``); each line ends with
the machine's load average when the case ended (the figures move with it on a shared machine).

Targets (issue 28): 4 KB records within 10 % from 20,000 to 100,000 rows and under 250 MB; 20 KB under 300 MB;
100 KB under 400 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from orchestra_load import ANCHOR, API_KEY, TreeMemory, free_port

DEFAULT_CASES = "600x20000,4096x20000,4096x100000,20000x20000,100000x2000"


def serve(port: int, task_runs: int, size: int) -> None:
    """Serve the emulator (frozen clock) with every task run's message padded to ``size`` characters."""
    from eltops._serve import make_loopback_server
    from eltops.orchestra.emulator import OrchestraEmulator, PadField, Volume
    from eltops.orchestra.emulator._model import Resource

    emulator = OrchestraEmulator(
        api_key=API_KEY, seed=1, volume=Volume(task_runs=task_runs, days=6.9), now=lambda: ANCHOR, anchor=ANCHOR
    )
    emulator.inject(PadField(Resource.TASK_RUNS, "message", size))
    make_loopback_server(emulator.wsgi_app, host="127.0.0.1", port=port).serve_forever()


def load(base_url: str) -> dict[str, Any]:
    """Load every task run into a fresh DuckDB file; rows, seconds and peak MB."""
    from eltops.load import Loader
    from eltops.orchestra import TASK_RUNS, OrchestraClient
    from eltops.secrets import Secret
    from eltops.warehouse._duckdb import DuckDbTarget

    with tempfile.TemporaryDirectory() as folder, TreeMemory() as memory:
        started = time.perf_counter()
        target = DuckDbTarget(Path(folder) / "large.duckdb")
        client = OrchestraClient.create(api_url=base_url, api_key=Secret(API_KEY), rate_limit_per_minute=None)
        with client:
            result = Loader(client, target, clock=lambda: ANCHOR).load([TASK_RUNS])  # the emulator's frozen clock
        target.close()
        seconds = time.perf_counter() - started
    outcome = result.resources[0]
    return {"rows": outcome.inserted, "batches": outcome.batches, "seconds": seconds, "peak_mb": memory.peak_kb / 1024}


def _wait_for(url: str) -> None:
    import urllib.request

    for _ in range(200):
        try:
            urllib.request.urlopen(url + "/health", timeout=1).read()  # noqa: S310 (loopback only)
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("the emulator did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--cases", default=DEFAULT_CASES, help="SIZExROWS, comma-separated.")
    parser.add_argument("--serve", nargs=3, type=int, help=argparse.SUPPRESS)
    parser.add_argument("--load", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(*args.serve)
        return
    if args.load:
        print(json.dumps(load(args.load)))
        return
    print(f"{'message':>9} {'rows':>8} {'page MB':>8} {'batches':>8} {'seconds':>8} {'peak MB':>8} {'load':>5}")
    for case in args.cases.split(","):
        size, rows = (int(part) for part in case.split("x"))
        port = free_port()
        server = subprocess.Popen([sys.executable, __file__, "--serve", str(port), str(rows), str(size)])
        try:
            base_url = f"http://127.0.0.1:{port}/api/engine/public"
            _wait_for(base_url)
            done = subprocess.run(
                [sys.executable, __file__, "--load", base_url], stdout=subprocess.PIPE, text=True, check=True
            )
            figures = json.loads(done.stdout.strip().splitlines()[-1])
        finally:
            server.kill()
            server.wait()
        page_mb = (size + 600) * 100 / 1_000_000
        print(
            f"{size:>9,} {figures['rows']:>8,} {page_mb:>8.1f} {figures['batches']:>8} "
            f"{figures['seconds']:>8.2f} {figures['peak_mb']:>8.0f} {os.getloadavg()[0]:>5.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
