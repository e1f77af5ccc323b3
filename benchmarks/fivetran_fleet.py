"""START on a fleet of 1, 10, 100 and 500 connections: wall time, requests and peak memory, two ways of polling.

    python benchmarks/fivetran_fleet.py [--sizes 1,10,100,500] [--sync-seconds 3] [--poll-interval 0.5]
    python benchmarks/fivetran_fleet.py --sizes 1,100 --sync-seconds 0 --poll-interval 10   # a sync that ends at once

The Fivetran emulator is served over loopback from this process (real clock); every connection is in one group,
on the automatic schedule (so each job also switches it to manual: GET, PATCH, POST per connection), and its
sync runs ``--sync-seconds``. Each job runs in a fresh process of its own, so its peak memory (``ru_maxrss``) is
its own; its wall time is the orchestrator's run alone (from the first request to the last result, without the
interpreter's start). Two ways of waiting:

- group: what eltops does: one listing of the group per poll (``GET /v1/groups/{id}/connections``);
- connection: the same orchestrator reading each connection with its own ``GET`` per poll (the old way of
  waiting, without its cap of 16 connections at a time, which added waves on top).

The first poll comes 1 s after the triggers and the waits double up to the poll interval (``poll_waits``), so the
request budget is 3 per connection plus one listing per group per poll of that schedule within the wall time
(``budget``); ``--sync-seconds 0`` with the default 10 s interval shows a sync that ends at once (issue 28: it took
10.3 s when the first read came one whole interval after the trigger).

Targets (issue 12): wall for 100 connections within 1.3x the wall for one; requests at most 3 per connection plus
one per group per poll; a 500-connection job under 150 MB.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

KEY, SECRET = "bench-key-0123456789", "bench-secret-0123456789"
GROUP = "fleet"


def child(url: str, size: int, mode: str, poll: float) -> None:
    """One job, in this (fresh) process: START on every connection of the fleet; prints its figures as JSON."""
    from eltops._deadline import Deadline
    from eltops.fivetran import FivetranClient, FlagValues, Orchestrator, load_settings

    env = {
        "FIVETRAN_API_KEY": KEY,
        "FIVETRAN_API_SECRET": SECRET,
        "FIVETRAN_API_URL": url,
        "FIVETRAN_ACTION": "START",
        "CONNECTOR_ID": ",".join(f"conn_{i:04d}" for i in range(size)),
        "FIVETRAN_POLL_INTERVAL": str(poll),
        "FIVETRAN_TIMEOUT": "600",
    }
    settings = load_settings(env, FlagValues())
    started = time.perf_counter()
    deadline = Deadline(settings.timeout)
    with FivetranClient.create(
        api_url=url, api_key=settings.api_key, api_secret=settings.api_secret, deadline=deadline
    ) as client:
        job = Orchestrator(client, settings, poll_by_group=mode == "group").run()
    wall = time.perf_counter() - started
    print(json.dumps({"wall": wall, "exit_code": int(job.exit_code)}))


def run_job(url: str, size: int, mode: str, poll: float) -> dict[str, float]:
    """Start the job in its own process and wait for it; its figures plus its peak resident memory."""
    args = [sys.executable, __file__, "--child", url, str(size), mode, str(poll)]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"the {mode} job on {size} connections exited {proc.returncode}")
    figures: dict[str, float] = json.loads(output)
    figures["peak_mb"] = usage.ru_maxrss / 1024  # kilobytes on Linux
    return figures


def polls_within(seconds: float, poll_interval: float) -> int:
    """How many polls the schedule (1 s, then doubling up to the interval) makes in ``seconds``, plus one."""
    from eltops.fivetran import poll_waits

    times = itertools.accumulate(poll_waits(poll_interval))
    return sum(1 for _ in itertools.takewhile(lambda t: t <= seconds, times)) + 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1,10,100,500")
    parser.add_argument("--sync-seconds", type=float, default=3.0)
    parser.add_argument("--poll-interval", type=float, default=0.5)
    parser.add_argument("--modes", default="group,connection")
    parser.add_argument("--child", nargs=4, metavar=("URL", "SIZE", "MODE", "POLL"), help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        url, size, mode, poll = options.child
        child(url, int(size), mode, float(poll))
        return

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from eltops._serve import serve_in_thread
    from eltops.fivetran.emulator import ConnectionScript, FivetranEmulator

    sizes = [int(s) for s in options.sizes.split(",")]
    modes = options.modes.split(",")
    print(
        f"START, one group, syncs of {options.sync_seconds:g} s, poll interval {options.poll_interval:g} s, "
        "each job in a fresh process"
    )
    print(
        f"{'connections':>11} {'polling':>10} {'wall s':>7} {'x one':>6} {'requests':>9} {'per conn':>9} "
        f"{'polls':>6} {'budget':>7} {'peak MB':>8}"
    )
    one_wall: dict[str, float] = {}
    for size in sizes:
        for mode in modes:
            emulator = FivetranEmulator(api_key=KEY, api_secret=SECRET)
            emulator.add_group(GROUP, name="Fleet")
            script = ConnectionScript(sync_seconds=options.sync_seconds)
            for i in range(size):
                emulator.add_connection(f"conn_{i:04d}", group_id=GROUP, schema=f"source_{i:04d}", script=script)
            with serve_in_thread(emulator.wsgi_app) as server:
                figures = run_job(server.url, size, mode, options.poll_interval)
            requests = emulator.requests
            listings = sum(1 for r in requests if r.path.startswith(f"/v1/groups/{GROUP}/"))
            if size == 1 or mode not in one_wall:
                one_wall.setdefault(mode, figures["wall"])
            # the target: 3 per connection plus one listing per group per poll of the schedule within the wall time
            budget = 3 * size + polls_within(figures["wall"], options.poll_interval)
            print(
                f"{size:>11} {mode:>10} {figures['wall']:>7.2f} {figures['wall'] / one_wall[mode]:>6.2f} "
                f"{len(requests):>9} {len(requests) / size:>9.2f} {listings:>6} {budget:>7} {figures['peak_mb']:>8.1f}"
            )


if __name__ == "__main__":
    main()
