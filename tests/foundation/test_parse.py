"""Numbers and durations from flags and variables: one rule each, and a message naming where the text came from."""

from __future__ import annotations

import pytest

from eltops._parse import number, positive_seconds
from eltops.errors import ConfigError


@pytest.mark.parametrize(("text", "value"), [("3", 3.0), (" 2.5 ", 2.5), ("-1", -1.0), ("1e3", 1000.0)])
def test_numbers(text: str, value: float) -> None:
    """A finite number, however it is spelled, is read as it is."""
    assert number(text, source="X") == value


@pytest.mark.parametrize("text", ["", "ten", "nan", "inf", "-inf", "1,5"])
def test_what_is_not_a_finite_number_names_its_source(text: str) -> None:
    """Text that is not a finite number is a ConfigError naming the variable."""
    with pytest.raises(ConfigError, match=r"^ORCHESTRA_RATE_LIMIT must be a number"):
        number(text, source="ORCHESTRA_RATE_LIMIT")


@pytest.mark.parametrize(("text", "value"), [("90", 90.0), (0.5, 0.5), ("1800.0", 1800.0)])
def test_positive_seconds(text: str | float, value: float) -> None:
    """A positive number of seconds, given as text (a variable) or a number (a flag)."""
    assert positive_seconds(text, source="FIVETRAN_TIMEOUT") == value


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("soon", "must be a number of seconds"),
        ("0", "must be a positive"),
        ("-5", "must be a positive"),
        ("inf", "must be a positive"),
        (float("nan"), "must be a positive"),
    ],
)
def test_seconds_that_are_not_positive_are_refused(text: str | float, message: str) -> None:
    """Zero, negative, infinite or not-a-number seconds are a ConfigError naming the source."""
    with pytest.raises(ConfigError, match=f"FIVETRAN_TIMEOUT {message}"):
        positive_seconds(text, source="FIVETRAN_TIMEOUT")
