"""Time how long ``eltops`` takes to answer ``--help`` and to refuse bad input, from a cold process.

    python benchmarks/cold_start.py [--repeat 5] [--target 0.3]

Each case runs the installed ``eltops`` console script (next to this Python) ``--repeat`` times in a fresh
process, in an empty temporary directory with an environment holding only ``PATH`` and ``HOME`` (no credentials,
no warehouse), and prints the median wall time, its range, the median CPU time (user + system: on a shared machine
the wall time moves with the other load, the CPU time much less) and the exit code. A case whose median is over
``--target`` seconds is marked; the script exits 1 if any is. The cases are every command's ``--help`` and one
bad input per command (each must end with exit 2 before any network call).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HELP = [
    [],
    ["demo"],
    ["emulate"],
    ["emulate", "fivetran"],
    ["emulate", "orchestra"],
    ["fivetran"],
    ["orchestra"],
    ["orchestra", "get"],
    ["orchestra", "load"],
    ["report"],
]
BAD_INPUT = [
    ["no-such-command"],
    ["fivetran"],  # no action given
    ["fivetran", "start"],  # no connection given
    ["fivetran", "start", "--connector-id", "shop"],  # no credentials
    ["orchestra", "get", "no-such-resource"],
    ["orchestra", "load", "--since", "2025-13-01"],
    ["orchestra", "load", "--to", "mysql://db"],
    ["report", "--from", "mysql://db"],
    ["emulate", "fivetran", "--port", "99999"],
]


def run_once(command: list[str], cwd: str, env: dict[str, str]) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds (user + system, which other load on the machine disturbs less) and exit code."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5, help="runs per case (default 5)")
    parser.add_argument("--target", type=float, default=0.3, help="seconds a median may take (default 0.3)")
    args = parser.parse_args()
    eltops = str(Path(sys.executable).with_name("eltops"))
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp")}
    cases = [([*c, "--help"], 0) for c in HELP] + [(c, 2) for c in BAD_INPUT]
    over = 0
    print(f"{'eltops ...':<52} {'median s':>9} {'range s':>13} {'CPU s':>6}  exit")
    with tempfile.TemporaryDirectory() as cwd:
        run_once([eltops, "--version"], cwd, env)  # warm the file cache once
        for arguments, expected in cases:
            runs = [run_once([eltops, *arguments], cwd, env) for _ in range(args.repeat)]
            times = [wall for wall, _, _ in runs]
            cpu = statistics.median(c for _, c, _ in runs)
            codes = {code for _, _, code in runs}
            median = statistics.median(times)
            flag = "" if median <= args.target else f"  over {args.target} s"
            wrong = "" if codes == {expected} else f"  (expected exit {expected})"
            over += bool(flag or wrong)
            shown = " ".join(arguments) or "(nothing)"
            print(
                f"{shown:<52} {median:>9.3f} {min(times):>6.3f}-{max(times):<6.3f} {cpu:>6.3f}  "
                f"{','.join(map(str, sorted(codes)))}{flag}{wrong}"
            )
    print(f"{len(cases)} cases, {args.repeat} runs each; {over} over the target or with an unexpected exit code")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
