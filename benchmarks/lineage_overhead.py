"""What lineage costs a Fivetran job: wall time and requests, with no lineage, a collector, and one that hangs.

    python benchmarks/lineage_overhead.py [--sizes 1,10,100] [--sync-seconds 2] [--poll-interval 0.5]

The Fivetran emulator and an ``eltops emulate openlineage`` receiver are served over loopback from this process
(real clock); each job is the real ``eltops fivetran start`` command in a process of its own, on every connection
of one group. Three ways: ``off`` (no lineage), ``receiver`` (every event to the spec-checking receiver) and
``hanging`` (a collector that accepts connections and never answers, with ``ELTOPS_LINEAGE_BUDGET=2``). Printed
per job: wall time (the whole command, interpreter start included), Fivetran requests (all, and those made for
lineage: ``/schemas`` and ``/destinations``) and the events the receiver accepted.

Targets (issue 23): lineage to a working collector adds well under a second; a hanging one adds at most the
budget; lineage costs Fivetran one request per connection and one per group.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time

from eltops._serve import serve_in_thread
from eltops.fivetran.emulator import ConnectionScript, FivetranEmulator
from eltops.lineage.receiver import LineageReceiver

KEY, SECRET = "bench-key-0123456789", "bench-secret-0123456789"


def job(fivetran_url: str, size: int, poll: float, lineage: dict[str, str]) -> float:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "FIVETRAN_API_URL": fivetran_url,
        "FIVETRAN_API_KEY": KEY,
        "FIVETRAN_API_SECRET": SECRET,
        "FIVETRAN_ACTION": "START",
        "CONNECTOR_ID": ",".join(f"conn_{i:04d}" for i in range(size)),
        "FIVETRAN_POLL_INTERVAL": str(poll),
        "FIVETRAN_TIMEOUT": "600",
        **lineage,
    }
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "eltops", "-q", "fivetran"], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"the job on {size} connections exited {done.returncode}: {done.stderr[-2000:]}")
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1,10,100")
    parser.add_argument("--sync-seconds", type=float, default=2.0)
    parser.add_argument("--poll-interval", type=float, default=0.5)
    options = parser.parse_args()
    hanging = socket.socket()
    hanging.bind(("127.0.0.1", 0))
    hanging.listen(1024)  # accepts (the kernel does), never answers
    hang_url = f"http://127.0.0.1:{hanging.getsockname()[1]}"
    print("| connections | lineage | wall | Fivetran requests | for lineage | events accepted |")
    print("|---:|---|---:|---:|---:|---:|")
    for size in (int(s) for s in options.sizes.split(",")):
        for mode in ("off", "receiver", "hanging"):
            emulator = FivetranEmulator(api_key=KEY, api_secret=SECRET)
            emulator.add_group("fleet", name="Fleet")
            for i in range(size):
                emulator.add_connection(
                    f"conn_{i:04d}",
                    group_id="fleet",
                    schema=f"db_{i:04d}",
                    schedule_type="manual",
                    tables={"public": ["orders", "customers"]},
                    script=ConnectionScript(queue_seconds=0.2, sync_seconds=options.sync_seconds),
                )
            receiver = LineageReceiver()
            with serve_in_thread(emulator.wsgi_app) as fivetran, serve_in_thread(receiver) as collector:
                lineage = {
                    "off": {},
                    "receiver": {"OPENLINEAGE_URL": collector.url},
                    "hanging": {"OPENLINEAGE_URL": hang_url, "ELTOPS_LINEAGE_BUDGET": "2"},
                }[mode]
                wall = job(fivetran.url, size, options.poll_interval, lineage)
                paths = [r.path for r in emulator.requests]
            for_lineage = sum(p.endswith("/schemas") or p.startswith("/v1/destinations/") for p in paths)
            print(
                f"| {size} | {mode} | {wall:.2f} s | {len(paths):,} | {for_lineage} | {len(receiver.events)} |",
                flush=True,
            )
    hanging.close()


if __name__ == "__main__":
    main()
