"""The shared retry rules (eltops._retry): the wait before each retry, backoff or the server's capped Retry-After."""

from __future__ import annotations

import pytest

from eltops._retry import RetryPolicy, RetryWait, parse_retry_after, retry_wait

NOW = 1445412480.0  # Wed, 21 Oct 2015 07:28:00 GMT


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("7", 7.0),
        (" 7 ", 7.0),
        ("0.5", 0.5),
        ("-3", 0.0),
        ("Wed, 21 Oct 2015 07:28:10 GMT", 10.0),
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),
        ("soon", None),
        ("", None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    """Delta-seconds or an HTTP date (relative to ``now``) as seconds, never below 0; anything else is None."""
    assert parse_retry_after(value, now=NOW) == expected


@pytest.mark.parametrize(
    ("policy", "failures", "seconds"),
    [
        (RetryPolicy(), 1, 0.5),
        (RetryPolicy(), 2, 1.0),
        (RetryPolicy(), 5, 8.0),
        (RetryPolicy(), 8, 30.0),
        (RetryPolicy(wait_initial=1.0, wait_exp_base=3.0, wait_max=5.0), 2, 3.0),
        (RetryPolicy(wait_initial=1.0, wait_exp_base=3.0, wait_max=5.0), 3, 5.0),
    ],
)
def test_backoff_without_retry_after(policy: RetryPolicy, failures: int, seconds: float) -> None:
    """Without a (readable) Retry-After the wait is exponential from wait_initial, capped at wait_max."""
    for header in (None, "soon"):
        assert retry_wait(policy, failures, header) == RetryWait(seconds)


@pytest.mark.parametrize(
    ("header", "cap", "seconds", "asked"),
    [
        ("7", 120.0, 7.0, 7.0),
        ("3600", 120.0, 120.0, 3600.0),
        ("3600", 60.0, 60.0, 3600.0),
        ("60", 60.0, 60.0, 60.0),
        ("0", 60.0, 0.0, 0.0),
        ("Wed, 21 Oct 2015 08:28:00 GMT", 120.0, 120.0, 3600.0),
    ],
)
def test_retry_after_is_obeyed_up_to_the_cap(header: str, cap: float, seconds: float, asked: float) -> None:
    """A Retry-After is waited as asked, but never longer than retry_after_max, whatever the attempt."""
    for failures in (1, 4):
        assert retry_wait(RetryPolicy(retry_after_max=cap), failures, header, now=NOW) == RetryWait(seconds, asked)


@pytest.mark.parametrize(
    ("wait", "why"),
    [
        (RetryWait(0.5), "backoff"),
        (RetryWait(7.0, 7.0), "as the server asked with Retry-After"),
        (RetryWait(60.0, 60.0), "as the server asked with Retry-After"),
        (RetryWait(60.0, 3600.0), "the server asked for 3600 s with Retry-After; waiting at most 60 s"),
    ],
)
def test_the_wait_says_why(wait: RetryWait, why: str) -> None:
    """The log line's reason: backoff, the server's Retry-After, or the cap that shortened it."""
    assert wait.why == why
