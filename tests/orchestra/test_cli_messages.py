"""What a person reads from `eltops orchestra` at the edges: bad values, a refused key, a malformed vault reference."""

from __future__ import annotations

import io
import signal
import time
from collections.abc import Callable

import pytest

from tests._hints import hinted_commands
from tests.orchestra._support import Served, count


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--since", "2025-13-01"), "--since must be a date"),
        (("--until", "yesterday"), "--until must be a date"),
        (("--since", "2025-01-01"), "give both --since and --until"),
    ],
)
def test_each_window_value_is_checked_before_the_pair(served: Served, args: tuple[str, ...], expected: str) -> None:
    """A malformed --since or --until is named as malformed, not as a missing partner; exit 2, nothing sent."""
    run = served.run("orchestra", "get", "task-runs", *args)
    assert run.code == 2, run.stderr
    assert expected in run.stderr
    assert served.emulator.request_count == 0


def test_malformed_vault_reference_is_never_sent(served: Served) -> None:
    """A DATAOPS_VAULT( value without its closing parenthesis is exit 2 naming the problem, and no request goes out."""
    run = served.run("orchestra", "get", "pipeline-runs", env=served.env(ORCHESTRA_API_KEY="DATAOPS_VAULT(X.Y"))
    assert run.code == 2, run.stderr
    assert "ORCHESTRA_API_KEY is a malformed vault reference: it has no closing parenthesis" in run.stderr
    assert served.emulator.request_count == 0


def test_refused_key_names_the_key_and_no_secret(served: Served) -> None:
    """A 401 from Orchestra says to check ORCHESTRA_API_KEY (Orchestra has no secret) and names the host tried."""
    run = served.run("orchestra", "get", "pipeline-runs", env=served.env(ORCHESTRA_API_KEY="wrong-key-123"))
    assert run.code == 4, run.stderr
    assert "(check ORCHESTRA_API_KEY)" in run.stderr
    assert "secret" not in run.stderr
    assert "Orchestra at 127.0.0.1:" in run.stderr


@pytest.mark.parametrize(
    ("args", "http_lines", "info_lines"),
    [
        (("orchestra", "load", "pipeline-runs"), False, True),
        (("-vv", "orchestra", "load", "pipeline-runs"), True, True),
        (("orchestra", "load", "pipeline-runs", "-vv"), True, True),
        (("orchestra", "-v", "load", "-v", "pipeline-runs"), True, True),
        (("orchestra", "load", "pipeline-runs", "-q"), False, False),
    ],
)
def test_verbosity_flags_work_before_or_after_the_command(
    served: Served, args: tuple[str, ...], http_lines: bool, info_lines: bool
) -> None:
    """-v/-vv/-q are accepted before and after each command name, and add up."""
    run = served.run(*args[: args.index("load") + 1], "--to", "x.duckdb", *args[args.index("load") + 1 :])
    assert run.code == 0, run.stderr
    assert ("HTTP Request: GET" in run.stderr) is http_lines
    assert (" INFO " in run.stderr) is info_lines


def test_a_load_waiting_on_the_rate_limit_says_so_once(served: Served) -> None:
    """A load held back by the client-side rate limit logs one line saying so and how to change it."""
    run = served.load("task-runs", ORCHESTRA_RATE_LIMIT="1200")
    assert run.code == 0, run.stderr
    lines = [line for line in run.stderr.splitlines() if "client-side rate limit" in line]
    assert len(lines) == 1, run.stderr
    assert "of 1200 requests a minute" in lines[0]
    assert "ORCHESTRA_RATE_LIMIT=N" in lines[0]
    assert "0 = off" in lines[0]


def test_an_interrupted_load_says_what_was_committed_and_that_the_next_resumes(
    served: Served, wait_until: Callable[..., None]
) -> None:
    """Ctrl-C during a load prints what its committed batches wrote and that the next load resumes (exit 130)."""
    db = served.tmp / "stopped.duckdb"
    env = served.env(ORCHESTRA_RATE_LIMIT="300")  # one request every 0.2 s: time to stop it half-way
    proc = served.start("orchestra", "load", "task-runs", "--to", str(db), "--batch-rows", "100", env=env)
    wait_until(lambda: sum(r.path.endswith("/task_runs") for r in served.emulator.requests) >= 3)
    time.sleep(0.3)  # let the writer commit the first batch
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=20)
    assert proc.returncode == 130, stderr
    assert "Interrupted (Ctrl-C): committed to DuckDB" in stderr
    kept = count(db, "task_runs")[0]
    assert 0 < kept < 600, "stopped half-way"
    assert f"task-runs {kept:,} new and 0 updated rows" in stderr, "the message says what the warehouse holds"
    assert "resumes where this one stopped" in stderr
    assert "Aborted." not in stderr
    (command,) = hinted_commands(stderr)  # the same resources into the same file, as printed
    assert command == ["eltops", "orchestra", "load", "task-runs", "--to", str(db)]
    again = served.run(*command[1:])
    assert again.code == 0, again.stderr
    assert count(db, "task_runs")[0] > kept


@pytest.mark.parametrize(("pages", "said"), [(1, "1 page ·"), (2, "2 pages ·"), (1234, "1,234 pages ·")])
def test_the_progress_bar_counts_pages_in_good_english(pages: int, said: str) -> None:
    """The load's progress bar says "1 page", never "1 pages"."""
    from eltops.cli._orchestra import _Bars
    from eltops.cli._output import CiKind, Output
    from eltops.orchestra import TASK_RUNS, LoadPlan

    stderr = io.StringIO()
    out = Output(ci=CiKind.NONE, colour=False, stdout=io.StringIO(), stderr=stderr)
    with _Bars(out) as bars:
        bars.started(LoadPlan(TASK_RUNS, (), (), start_cursor=None))
        bars.fetched(TASK_RUNS, pages, 10)
    assert said in stderr.getvalue()
    assert "1 pages" not in stderr.getvalue()
