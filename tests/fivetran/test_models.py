"""Decoding Fivetran's JSON at the edge: zone-less timestamps are UTC, wrong types are clear API errors."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from eltops.errors import ApiResponseError, ExitCode
from eltops.fivetran._models import Connection, SetupTest, SyncOutcome, parse_timestamp

BASE: dict[str, Any] = {
    "id": "c1",
    "group_id": "g1",
    "service": "postgres",
    "schema": "shop",
    "schedule_type": "manual",
    "paused": False,
    "succeeded_at": "2024-12-01T15:43:29.013729Z",
    "failed_at": None,
    "status": {"setup_state": "connected", "sync_state": "scheduled", "is_historical_sync": False},
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-12-01T15:43:29", datetime(2024, 12, 1, 15, 43, 29, tzinfo=UTC)),
        ("2024-12-01T15:43:29.5", datetime(2024, 12, 1, 15, 43, 29, 500000, tzinfo=UTC)),
        ("2024-12-01T15:43:29Z", datetime(2024, 12, 1, 15, 43, 29, tzinfo=UTC)),
        ("2024-12-01T16:43:29+01:00", datetime(2024, 12, 1, 15, 43, 29, tzinfo=UTC)),
        ("2024-12-01", datetime(2024, 12, 1, tzinfo=UTC)),
    ],
)
def test_timestamps_are_aware_and_zoneless_ones_are_utc(text: str, expected: datetime) -> None:
    """Every timestamp comes out in UTC; one without a zone is read as UTC."""
    moment = parse_timestamp(text, field="succeeded_at")
    assert moment == expected
    assert moment is not None
    assert moment.utcoffset() is not None


def test_a_zoneless_timestamp_compares_with_a_zoned_one() -> None:
    """succeeded_at without a zone beside failed_at with one decides the last outcome (it crashed before)."""
    connection = Connection.from_api({**BASE, "succeeded_at": "2024-12-01T15:43:29", "failed_at": "2024-12-01T15:00Z"})
    assert connection.last_outcome is SyncOutcome.SUCCEEDED
    assert connection.finished_since(datetime(2024, 12, 1, 15, 43, tzinfo=UTC))


@pytest.mark.parametrize(
    "value", ["2024-13-01T00:00:00Z", "yesterday", "9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+01:00"]
)
def test_impossible_timestamps_are_api_errors(value: str) -> None:
    """A timestamp that is not ISO-8601, or leaves datetime's range in UTC, is an API error naming the field."""
    with pytest.raises(ApiResponseError, match="succeeded_at=") as caught:
        parse_timestamp(value, field="succeeded_at")
    assert caught.value.exit_code is ExitCode.API


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"paused": "false"}, "paused='false' (str), which is not a JSON boolean"),
        ({"paused": "true"}, "paused='true' (str)"),
        ({"paused": 0}, "paused=0 (int)"),
        ({"status": {"is_historical_sync": "no"}}, "status.is_historical_sync='no'"),
        ({"schedule_type": 5}, "schedule_type=5 (int), which is not a string"),
        ({"status": {"sync_state": ["syncing"]}}, "status.sync_state=['syncing'] (list)"),
        ({"status": "broken"}, "status='broken', which is not an object"),
        ({"succeeded_at": 1733000000}, "succeeded_at=1733000000, which is not a timestamp"),
        ({"id": ""}, "has no id"),
        ({"schema": "x" * 10_000}, None),
    ],
)
def test_wrong_types_are_clear_api_errors(change: dict[str, Any], message: str | None) -> None:
    """A field of the wrong type is exit 4 naming field, value (shortened) and type; never a silent guess."""
    data = {**BASE, **change}
    if message is None:  # a long string is a string: decoded as it is
        assert Connection.from_api(data).name == change["schema"]
        return
    with pytest.raises(ApiResponseError) as caught:
        Connection.from_api(data)
    assert message in str(caught.value)
    assert len(str(caught.value)) < 300


@pytest.mark.parametrize(("paused", "expected"), [(True, True), (False, False), (None, False)])
def test_booleans_are_json_booleans(paused: bool | None, expected: bool) -> None:
    """true and false decode as themselves; null or a missing field is false."""
    assert Connection.from_api({**BASE, "paused": paused}).paused is expected


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"title": 5, "status": "PASSED"}, "setup_tests[].title=5 (int)"),
        ({"title": "t", "status": True}, "setup_tests[].status=True (bool)"),
        ({"title": "t", "status": "FAILED", "message": {"x": 1}}, "setup_tests[].message={'x': 1} (dict)"),
        ("PASSED", "not an object"),
    ],
)
def test_setup_test_fields_are_checked(data: Any, message: str) -> None:
    """A setup test whose title, status or message is not a string is an API error naming it."""
    with pytest.raises(ApiResponseError, match=re.escape(message)):
        SetupTest.from_api(data)
