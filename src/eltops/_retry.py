"""How hard an HTTP client tries: a plain record, so settings can hold one without importing the HTTP stack."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_RETRY_AFTER_MAX", "RetryPolicy"]

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
