"""Numbers and durations read from a flag or a variable: one spelling of each rule and of each message.

Every function raises :class:`~eltops.errors.ConfigError` (exit code 2) naming ``source``, the flag or variable
the text came from, so the user knows what to fix.
"""

from __future__ import annotations

import math

from eltops.errors import ConfigError

__all__ = ["number", "positive_seconds"]


def number(text: str, *, source: str) -> float:
    """``text`` as a finite number."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise ConfigError(f"{source} must be a number, got {text!r}")
    return value


def positive_seconds(text: str | float, *, source: str) -> float:
    """``text`` as a finite number of seconds above zero."""
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{source} must be a number of seconds, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{source} must be a positive number of seconds, got {text!r}")
    return value
