"""What a person reads from `eltops orchestra` at the edges: bad values, a refused key, a malformed vault reference."""

from __future__ import annotations

import pytest

from tests.orchestra._support import Served


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
    assert "of 1200 requests a minute" in lines[0] and "ORCHESTRA_RATE_LIMIT=N" in lines[0] and "0 = off" in lines[0]
