"""The load cursor rule (eltops.orchestra._plan.Cursor): it only moves past complete windows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from eltops.orchestra._plan import Cursor

T0 = datetime(2025, 5, 1, tzinfo=UTC)


def at(hours: int) -> datetime:
    return T0 + timedelta(hours=hours)


# events: ("page", newest) while a window is read, ("done", newest reported with the window's end or None)
@pytest.mark.parametrize(
    ("start", "events", "saved"),
    [
        (None, [], [None]),
        (None, [("page", at(1)), ("page", at(3)), ("page", at(2)), ("done", None)], [None, None, None, at(3)]),
        (None, [("page", None), ("done", None)], [None, None]),
        (at(5), [("page", at(3)), ("done", None)], [at(5), at(5)]),
        (at(5), [("page", at(3)), ("done", None), ("page", at(8)), ("done", None)], [at(5), at(5), at(5), at(8)]),
        (None, [("done", at(4))], [at(4)]),
        (at(1), [("done", at(4)), ("done", at(2)), ("done", None)], [at(4), at(4), at(4)]),
        (None, [("page", at(2)), ("done", at(6))], [None, at(6)]),
        (None, [("page", at(7)), ("done", at(6))], [None, at(7)]),
        (None, [("page", at(1)), ("done", None), ("page", at(9))], [None, at(1), at(1)]),
    ],
)
def test_the_cursor_only_moves_past_complete_windows(
    start: datetime | None, events: list[tuple[str, datetime | None]], saved: list[datetime | None]
) -> None:
    """A batch may be saved with the newest value of complete windows; a page in flight never moves it."""
    cursor = Cursor(start)
    seen = []
    for kind, newest in events:
        if kind == "page":
            cursor.saw(newest)
        else:
            cursor.window_done(newest)
        seen.append(cursor.value)
    assert (seen or [cursor.value]) == saved


@pytest.mark.parametrize(
    ("start", "pages", "reported", "moved"),
    [
        (None, [at(1)], None, True),
        (None, [], None, False),
        (None, [None], None, False),
        (at(2), [at(1)], None, False),
        (at(2), [at(2)], None, False),
        (at(2), [], at(3), True),
        (at(2), [at(1)], at(2), False),
    ],
)
def test_window_done_says_whether_the_cursor_moved(
    start: datetime | None, pages: list[datetime | None], reported: datetime | None, moved: bool
) -> None:
    """True only when the window held a value later than the cursor (the loader then saves the state)."""
    cursor = Cursor(start)
    for newest in pages:
        cursor.saw(newest)
    assert cursor.window_done(reported) is moved


def test_each_window_starts_afresh() -> None:
    """What a window's pages showed is its own: the next window's newest starts empty."""
    cursor = Cursor()
    cursor.saw(at(4))
    assert cursor.window_newest == at(4)
    cursor.window_done()
    assert cursor.window_newest is None
    cursor.saw(at(2))
    assert cursor.window_newest == at(2)
    assert cursor.value == at(4)
