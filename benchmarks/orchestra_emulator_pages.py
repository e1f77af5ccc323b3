"""How fast the Orchestra emulator serves a page deep in a large history, in process (no socket).

    python benchmarks/orchestra_emulator_pages.py [--task-runs 200000] [--pages 100] [--repeat 5]

Builds an emulator with ``--task-runs`` task runs over seven days, asks for one page to warm it, then times
``--pages`` requests for pages of 100 task runs spread over the history (every 19th page), ``--repeat`` times,
and prints the median and range of the time per page. It was a timed unit test until 2026-12-08 (a test's
outcome must not depend on how loaded the machine is); typically 3-5 ms a page on an idle 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import httpx

from eltops.orchestra.emulator import BASE_PATH, OrchestraEmulator, Volume

KEY = "benchmark-key"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task-runs", type=int, default=200_000)
    parser.add_argument("--pages", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    emulator = OrchestraEmulator(api_key=KEY, volume=Volume(task_runs=args.task_runs, days=7))
    client = httpx.Client(
        transport=httpx.WSGITransport(app=emulator.wsgi_app),
        base_url=f"http://emulator{BASE_PATH}",
        headers={"Authorization": f"Bearer {KEY}"},
    )
    client.get("/task_runs")
    per_page = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        for page in range(1, args.pages + 1):
            answer = client.get("/task_runs", params={"page": page * 19, "page_size": 100})
            assert answer.status_code == 200, answer.status_code
        per_page.append((time.perf_counter() - started) / args.pages)
    print(
        f"{args.pages} pages of 100 task runs from {args.task_runs:,}: "
        f"median {statistics.median(per_page) * 1000:.1f} ms a page "
        f"(range {min(per_page) * 1000:.1f}-{max(per_page) * 1000:.1f} ms over {args.repeat} runs; "
        f"load average {os.getloadavg()[0]:.2f})"
    )


if __name__ == "__main__":
    main()
