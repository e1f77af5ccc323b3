"""START and CHECK on a fleet of 1, 10, 100 and 500 connections: wall time, requests and peak memory.

    python benchmarks/fivetran_fleet.py [--sizes 1,10,100,500] [--sync-seconds 3] [--poll-interval 0.5]
                                        [--actions START,CHECK]
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
one per group per poll (the schedule of waits: 1 s after the trigger, doubling to the interval); a
500-connection job under 150 MB.

CHECK (issue 21) gates on the same fleet, named ``group:Fleet``, every connection synced a minute ago: its target
is one request per group (the listing) plus the groups listing that resolves the name, none per connection, so
its "budget" is 2 whatever the size; it has no second way of polling.
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


def child(url: str, size: int, mode: str, poll: float, action: str = "START") -> None:
    """One job, in this (fresh) process: ``action`` on every connection of the fleet; prints its figures as JSON."""
    from eltops._deadline import Deadline
    from eltops.fivetran import FivetranClient, FlagValues, Orchestrator, load_settings

    env = {
        "FIVETRAN_API_KEY": KEY,
        "FIVETRAN_API_SECRET": SECRET,
        "FIVETRAN_API_URL": url,
        "FIVETRAN_ACTION": action,
        "CONNECTOR_ID": "group:Fleet" if action == "CHECK" else ",".join(f"conn_{i:04d}" for i in range(size)),
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


def run_job(url: str, size: int, mode: str, poll: float, action: str = "START") -> dict[str, float]:
    """Start the job in its own process and wait for it; its figures plus its peak resident memory."""
    args = [sys.executable, __file__, "--child", url, str(size), mode, str(poll), action]
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
    parser.add_argument("--actions", default="START,CHECK")
    parser.add_argument("--child", nargs=5, metavar=("URL", "SIZE", "MODE", "POLL", "ACTION"), help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        url, size, mode, poll, action = options.child
        child(url, int(size), mode, float(poll), action)
        return

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from eltops._serve import serve_in_thread
    from eltops.fivetran.emulator import ConnectionScript, FivetranEmulator

    sizes = [int(s) for s in options.sizes.split(",")]
    modes = options.modes.split(",")
    actions = options.actions.split(",")
    print(
        f"{' and '.join(actions)}, one group, syncs of {options.sync_seconds:g} s, poll interval "
        f"{options.poll_interval:g} s, each job in a fresh process"
    )
    print(
        f"{'action':>6} {'connections':>11} {'polling':>10} {'wall s':>7} {'x one':>6} {'requests':>9} "
        f"{'per conn':>9} {'polls':>6} {'budget':>7} {'peak MB':>8}"
    )
    one_wall: dict[tuple[str, str], float] = {}
    for action in actions:
        for size in sizes:
            for mode in modes if action == "START" else ["group"]:
                emulator = FivetranEmulator(api_key=KEY, api_secret=SECRET)
                emulator.add_group(GROUP, name="Fleet")
                script = ConnectionScript(sync_seconds=options.sync_seconds)
                synced = time.time() - 60 if action == "CHECK" else None
                for i in range(size):
                    emulator.add_connection(
                        f"conn_{i:04d}", group_id=GROUP, schema=f"source_{i:04d}", script=script, succeeded_at=synced
                    )
                with serve_in_thread(emulator.wsgi_app) as server:
                    figures = run_job(server.url, size, mode, options.poll_interval, action)
                if figures["exit_code"] != 0:
                    raise SystemExit(f"{action} on {size} connections ended {figures['exit_code']:g}")
                requests = emulator.requests
                listings = sum(1 for r in requests if r.path.startswith(f"/v1/groups/{GROUP}/"))
                one_wall.setdefault((action, mode), figures["wall"])
                # CHECK: the groups listing, then one listing of the group; START: 3 per connection plus one
                # listing per group per poll of the schedule within the wall time
                start_budget = 3 * size + polls_within(figures["wall"], options.poll_interval)
                budget = 2 if action == "CHECK" else start_budget
                print(
                    f"{action:>6} {size:>11} {mode:>10} {figures['wall']:>7.2f} "
                    f"{figures['wall'] / one_wall[(action, mode)]:>6.2f} {len(requests):>9} "
                    f"{len(requests) / size:>9.2f} {listings:>6} {budget:>7} {figures['peak_mb']:>8.1f}"
                )


if __name__ == "__main__":
    main()
