"""How hard an HTTP client tries, and how long it waits between tries: standard library only.

A plain record (:class:`RetryPolicy`), so settings can hold one without importing the HTTP stack, and the wait
before the next attempt (:func:`retry_wait`: exponential backoff, or the server's ``Retry-After`` up to the
policy's cap). Both HTTP layers use them: eltops' own (:mod:`eltops._http`, over httpx) and the Snowflake Native
App's (over urllib), which ships this module, byte for byte, as the top-level module ``_retry`` next to its
handlers; so it imports nothing outside the standard library, not even the rest of eltops.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

__all__ = ["DEFAULT_RETRY_AFTER_MAX", "RetryPolicy", "RetryWait", "parse_retry_after", "retry_wait"]

DEFAULT_RETRY_AFTER_MAX = 120.0
"""Seconds: the longest ``Retry-After`` obeyed (two minutes: more than a per-minute rate limit ever asks)."""


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """How hard to try: attempts per call, backoff bounds, the longest ``Retry-After`` obeyed, the request timeout.

    A server's ``Retry-After`` is honoured up to ``retry_after_max`` seconds: a longer one (``3600``) is waited
    for that long only, then the request is tried again (and counts as an attempt), so one answer can never park
    a job for an hour per attempt.
    """

    attempts: int = 6
    wait_initial: float = 0.5
    wait_max: float = 30.0
    wait_exp_base: float = 2.0
    request_timeout: float = 30.0
    retry_after_max: float = DEFAULT_RETRY_AFTER_MAX


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """A ``Retry-After`` header value as seconds (delta-seconds or an HTTP date), or None if absent or unreadable.

    ``now`` is the Unix time an HTTP date is measured from (the local clock by default); neither form goes below 0.
    """
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


@dataclass(frozen=True)
class RetryWait:
    """The wait before the next attempt: ``seconds``, and what the server asked for (None: it did not ask)."""

    seconds: float
    asked: float | None = None

    @property
    def why(self) -> str:
        """Why the wait is that long, as the retry log line says it."""
        if self.asked is None:
            return "backoff"
        if self.asked > self.seconds:
            return f"the server asked for {self.asked:.0f} s with Retry-After; waiting at most {self.seconds:.0f} s"
        return "as the server asked with Retry-After"


def retry_wait(
    policy: RetryPolicy, failures: int, retry_after: str | None = None, *, now: float | None = None
) -> RetryWait:
    """How long to wait after ``failures`` failed attempts (1 for the first), given the answer's ``Retry-After``.

    A readable ``Retry-After`` is obeyed up to ``policy.retry_after_max``; without one (or an unreadable one) the
    wait is the exponential backoff ``wait_initial * wait_exp_base ** (failures - 1)``, at most ``wait_max``.
    """
    asked = parse_retry_after(retry_after, now=now)
    if asked is None:
        return RetryWait(min(policy.wait_max, policy.wait_initial * policy.wait_exp_base ** (failures - 1)))
    return RetryWait(min(asked, policy.retry_after_max), asked)
