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
