"""The app's handlers agree with eltops' own loader: declarations, request parameters, plans, and mapping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from eltops.orchestra import _client, _loader, _records
from eltops.snowflake_app import _generate
from eltops.snowflake_app import orchestra_app as app
from eltops.warehouse._ddl import create_table_sql
from eltops.warehouse._target import LoadState

NOW = datetime(2025, 5, 1, 12, tzinfo=UTC)


def test_generated_files_are_up_to_date() -> None:
    """The handlers' declarations, the setup script's tables and the shipped copy match eltops' declarations."""
    assert _generate.stale_files() == []


@pytest.mark.parametrize("resource", _records.RESOURCES, ids=str)
def test_declarations_match_the_loader(resource: _records.Resource) -> None:
    """Each app table has the loader's columns, types, sources, window and open statuses, in order."""
    spec = app.resource_named(resource.name)
    assert spec.column_names == resource.column_names
    assert [(c.kind, c.source) for c in spec.columns] == [(c.type.value, c.source) for c in resource.columns]
    assert (spec.path, spec.table, spec.window_column, spec.status_column, spec.id_filter) == (
        resource.path,
        resource.table,
        resource.window_column,
        resource.status_column,
        resource.id_filter,
    )
    assert set(spec.open_statuses) == resource.open_statuses
    assert app.create_table_sql(spec).split("(", 1)[1] == create_table_sql(resource, "snowflake").split("(", 1)[1]


@pytest.mark.parametrize(
    "name",
    ["MAX_PAGE_SIZE", "MAX_WINDOW", "IDS_PER_REQUEST", "WINDOW_PASSES", "DEFAULT_API_URL"],
)
def test_client_constants_match(name: str) -> None:
    """Paging and window limits are the client's."""
    assert getattr(app, name) == getattr(_client, name)


@pytest.mark.parametrize("name", ["LOOKBACK", "OPEN_RUN_HORIZON"])
def test_loader_constants_match(name: str) -> None:
    """The incremental lookback and the open-run horizon are the loader's."""
    assert getattr(app, name) == getattr(_loader, name)


def test_default_rate_limit_matches_the_cli() -> None:
    """The app throttles itself like ``eltops orchestra load`` does by default."""
    from eltops.orchestra._config import DEFAULT_RATE_LIMIT

    assert app.RATE_LIMIT_PER_MINUTE == DEFAULT_RATE_LIMIT


@pytest.mark.parametrize(
    ("page", "size", "window", "filters"),
    [
        (1, 100, None, {}),
        (3, 50, (NOW - timedelta(days=7), NOW), {}),
        (1, 100, (NOW - timedelta(days=1), NOW), {"pipeline_run_ids": "a,b"}),
    ],
)
def test_request_parameters_match(
    page: int, size: int, window: tuple[datetime, datetime] | None, filters: dict[str, str]
) -> None:
    """The app sends exactly the query parameters the client sends (page_size and per_page included)."""
    theirs = _client.PageQuery(
        _records.PIPELINE_RUNS, page, size, _client.Window(*window) if window else None, dict(filters)
    )
    ours = app.PageQuery(app.PIPELINE_RUNS, page, size, app.Window(*window) if window else None, dict(filters))
    assert ours.params() == theirs.params()


@pytest.mark.parametrize("days", [0.5, 7, 7.01, 20, 60])
def test_windows_match(days: float) -> None:
    """A backfill walks the same 7-day windows as the loader."""
    start = NOW - timedelta(days=days)
    assert [(w.start, w.end) for w in app.walk_windows(start, NOW)] == [
        (w.start, w.end) for w in _client.walk_windows(start, NOW)
    ]


def _open(hours: float, n: int = 3) -> list[tuple[str, datetime]]:
    return [(f"run-{i}", NOW - timedelta(hours=hours + i)) for i in range(n)]


@pytest.mark.parametrize(
    ("cursor", "open_records", "since", "full_refresh"),
    [
        (None, [], None, False),
        (NOW - timedelta(hours=1), _open(2), None, False),
        (NOW - timedelta(days=10), _open(24 * 9), None, False),
        (NOW - timedelta(hours=1), _open(24 * 40), None, False),
        (NOW - timedelta(hours=1), _open(1), NOW - timedelta(days=15), False),
        (NOW - timedelta(hours=1), _open(200), None, True),
    ],
)
def test_plans_match(
    cursor: datetime | None, open_records: list[tuple[str, datetime]], since: datetime | None, full_refresh: bool
) -> None:
    """For the same state, clock and options, the app plans the same windows and re-reads as the loader."""
    theirs = _loader.plan_load(
        _records.TASK_RUNS, LoadState(cursor), open_records, now=NOW, since=since, full_refresh=full_refresh
    )
    ours = app.plan_load(app.TASK_RUNS, cursor, open_records, now=NOW, since=since, full_refresh=full_refresh)

    def spans(windows: tuple[Any, ...]) -> list[Any]:
        return [None if w is None else (w.start, w.end) for w in windows]

    assert spans(ours.windows) == spans(theirs.windows)
    assert ours.reopen == theirs.reopen
    assert ours.start_cursor == theirs.start_cursor


def test_id_groups_match() -> None:
    """Open runs are re-read in the same id groups and windows as the client's."""
    records = [(f"id-{i}", NOW - timedelta(hours=i * 3)) for i in range(130)]
    theirs = _client.group_ids_by_window(records)
    ours = app.group_ids_by_window(records)
    assert [((w.start, w.end), ids) for w, ids in ours] == [((w.start, w.end), ids) for w, ids in theirs]


@pytest.mark.parametrize(
    "record",
    [
        {"id": "a", "pipelineVersionNumber": 3.0, "createdAt": "2025-05-01T11:16:44.841252+00:00"},
        {"id": "b", "pipelineVersionNumber": "4", "createdAt": "2025-05-01T11:16:44Z", "branch": True},
        {"id": "c", "createdAt": "2025-05-01T13:16:44+02:00", "message": 12, "commit": {"sha": "x"}},
        {"id": "d"},
    ],
)
def test_mapping_matches_the_typed_records(record: dict[str, Any]) -> None:
    """The pure-Python mapping gives the values ``PipelineRun.from_api`` gives (timestamps as UTC ISO text)."""
    theirs = _records.PipelineRun.from_api(record)
    ours = app.map_record(app.PIPELINE_RUNS, 0, record)
    for column in _records.PIPELINE_RUNS.columns:
        expected = getattr(theirs, column.name)
        if isinstance(expected, datetime):
            expected = expected.isoformat()
        assert ours[column.name] == expected, column.name


@pytest.mark.parametrize(
    "record",
    [{}, {"id": ""}, {"id": 5}, {"id": "a", "numberOfAttempts": True}, {"id": "a", "createdAt": 5}],
)
def test_bad_records_are_refused_by_both(record: dict[str, Any]) -> None:
    """A record the typed mapping refuses is refused by the app's mapping too."""
    with pytest.raises(_records.RecordError):
        _records.TaskRun.from_api(record)
    with pytest.raises(app.AppError):
        app.map_record(app.TASK_RUNS, 0, record)
