"""How big and how slow ``pip install eltops`` is: each way into a fresh venv, from a warm pip cache.

    python benchmarks/install_size.py [--repeat 3] [--ways base,report,snowflake,all,before]

Builds the wheel once (``python -m build --wheel``), then for each way: one warm-up install into a throwaway venv
(so pip's cache holds every wheel: what a CI runner with a cached pip directory sees), then ``--repeat`` installs
into fresh venvs, timing ``pip install`` alone (not the venv's creation) and measuring what it added to
site-packages (the venv's own pip left out). ``before`` is the package as it was before the extras existed: the
base plus pyarrow and Plotly, which every install pulled.
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

REPO = Path(__file__).resolve().parents[1]
WAYS = {
    "base": "",
    "report": "[report]",
    "snowflake": "[snowflake]",
    "all": "[all]",
    "before": "[report]",  # plus pyarrow, below
}
BASE_TARGET_MB, BASE_TARGET_SECONDS = 120, 10


def build_wheel(out: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(REPO)], check=True, capture_output=True
    )
    (wheel,) = out.glob("eltops-*.whl")
    return wheel


def tree_bytes(path: Path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            file = Path(root, name)
            if not file.is_symlink():
                total += file.stat().st_size
    return total


def site_packages(venv: Path) -> Path:
    (found,) = (venv / "lib").glob("python3*/site-packages")
    return found


def install(venv: Path, requirements: list[str]) -> tuple[float, float]:
    """Make a fresh venv and pip-install ``requirements`` into it: the install's wall and CPU seconds."""
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    cpu_before = _children_cpu()
    started = time.perf_counter()
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *requirements],
        check=True,
    )
    return time.perf_counter() - started, _children_cpu() - cpu_before


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(way: str, wheel: Path, work: Path, repeat: int) -> tuple[list[float], list[float], float]:
    requirements = [f"eltops{WAYS[way]} @ {wheel.as_uri()}"]
    if way == "before":
        requirements.append("pyarrow>=17")
    install(work / f"{way}-warm", requirements)
    empty = work / "empty"
    if not empty.exists():
        subprocess.run([sys.executable, "-m", "venv", str(empty)], check=True)
    own = tree_bytes(site_packages(empty))
    seconds, cpu, sizes = [], [], []
    for attempt in range(repeat):
        venv = work / f"{way}-{attempt}"
        wall, used = install(venv, requirements)
        seconds.append(wall)
        cpu.append(used)
        sizes.append((tree_bytes(site_packages(venv)) - own) / 1e6)
    return seconds, cpu, statistics.median(sizes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--ways", default=",".join(WAYS))
    args = parser.parse_args()
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="eltops-install-") as tmp:
        work = Path(tmp)
        wheel = build_wheel(work / "dist")
        averages = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(
            f"wheel: {wheel.name} ({wheel.stat().st_size / 1e3:.0f} kB); Python {sys.version.split()[0]}; "
            f"{os.cpu_count()} cores, load average {averages}"
        )
        print("| install | runs | seconds (median, range) | CPU seconds (median) | MB added to site-packages |")
        print("|---|---|---|---|---|")
        results = {}
        for way in args.ways.split(","):
            seconds, cpu, size = measure(way, wheel, work, args.repeat)
            results[way] = (statistics.median(seconds), size)
            spec = "eltops + pyarrow + plotly (before the extras)" if way == "before" else f"eltops{WAYS[way]}"
            print(
                f"| `{spec}` | {len(seconds)} | {statistics.median(seconds):.1f} "
                f"({min(seconds):.1f} to {max(seconds):.1f}) | {statistics.median(cpu):.1f} | {size:.0f} |",
                flush=True,
            )
    if "base" in results:
        seconds, size = results["base"]
        verdict = "met" if size < BASE_TARGET_MB and seconds < BASE_TARGET_SECONDS else "NOT met"
        print(f"load average at the end {os.getloadavg()[0]:.1f} (start {load:.1f})")
        print(
            f"base target (< {BASE_TARGET_MB} MB, < {BASE_TARGET_SECONDS} s warm): "
            f"{size:.0f} MB, {seconds:.1f} s: {verdict}"
        )


if __name__ == "__main__":
    main()
