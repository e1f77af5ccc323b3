"""Unit tests: the column declarations, the API-to-row mapping, pages, windows and load plans."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import orjson
import pyarrow as pa
import pytest

from eltops.errors import ApiResponseError, ConfigError
from eltops.load import parse_interval
from eltops.orchestra import (
    IDS_PER_REQUEST,
    MAX_WINDOW,
    OPERATIONS,
    PIPELINE_RUNS,
    SCHEMA_VERSION,
    TASK_RUNS,
    LoadState,
    Operation,
    PageQuery,
    PipelineRun,
    RecordError,
    Resource,
    TaskRun,
    Window,
    group_ids_by_window,
    page_to_arrow,
    parse_page,
    parse_time,
    plan_load,
    records_batch,
    table_layout,
    walk_windows,
)

NOW = datetime(2025, 6, 1, 12, tzinfo=UTC)
SEED_COLUMNS = {
    PIPELINE_RUNS: "id pipeline_id pipeline_name account_id env_id env_name run_status message created_at "
    "updated_at completed_at started_at branch commit pipeline_version_number",
    TASK_RUNS: "id pipeline_run_id task_name task_id account_id pipeline_id integration integration_job status "
    "message external_status external_message platform_link task_parameters run_parameters connection_id "
    "number_of_attempts created_at updated_at completed_at started_at",
    OPERATIONS: "id account_id pipeline_run_id task_run_id inserted_at message operation_name operation_status "
    "operation_type external_status external_detail external_id integration integration_job started_at "
    "completed_at dependencies operation_duration rows_affected",
}


@pytest.mark.parametrize("resource", [PIPELINE_RUNS, TASK_RUNS, OPERATIONS])
def test_columns_are_the_seeds_in_order(resource: Resource) -> None:
    """Each table starts with the Orchestra Data App's columns in its order, then loaded_at, then the new ones."""
    seed = SEED_COLUMNS[resource].split()
    layout = table_layout(resource)
    assert list(layout[: len(seed) + 1]) == [*seed, "loaded_at"]
    assert [c.name for c in resource.columns if c.since == 1] == seed
    assert layout[-1] == "extra"
    assert all(c.since == SCHEMA_VERSION for c in resource.columns[len(seed) :])


def test_from_api_maps_camel_case_to_typed_fields() -> None:
    """A task run's camelCase JSON becomes typed snake_case fields (UTC datetimes, JSON kept as values)."""
    run = TaskRun.from_api(
        {
            "id": "t1",
            "pipelineRunId": "p1",
            "taskParameters": {"a": [1, 2]},
            "numberOfAttempts": 2,
            "createdAt": "2025-05-01T13:16:44.841252+02:00",
            "extraField": "ignored",
        }
    )
    assert run.pipeline_run_id == "p1"
    assert run.task_parameters == {"a": [1, 2]}
    assert run.created_at == datetime(2025, 5, 1, 11, 16, 44, 841252, tzinfo=UTC)
    table = records_batch(TASK_RUNS, [run]).to_arrow()
    assert table.column("task_parameters").to_pylist() == ['{"a":[1,2]}']


def test_page_to_arrow_types_every_column() -> None:
    """Timestamps become UTC timestamps, counts int64, durations float64, JSON text."""
    table = page_to_arrow(
        OPERATIONS,
        [
            {
                "id": "o1",
                "insertedAt": "2025-05-01T11:16:44Z",
                "operationDuration": 3,
                "rowsAffected": 10,
                "dependencies": ["a"],
            }
        ],
    )
    assert table.schema.field("inserted_at").type == pa.timestamp("us", tz="UTC")
    assert table.column("operation_duration").to_pylist() == [3.0]
    assert table.column("rows_affected").to_pylist() == [10]
    assert table.column("dependencies").to_pylist() == ['["a"]']


def test_lenient_where_harmless_strict_where_not() -> None:
    """A number where text is expected is kept as text; a timestamp without offset is UTC; junk is an error."""
    table = page_to_arrow(PIPELINE_RUNS, [{"id": "p", "branch": 42, "createdAt": "2025-05-01T11:16:44"}])
    assert table.column("branch").to_pylist() == ["42"]
    assert table.column("created_at").to_pylist() == [datetime(2025, 5, 1, 11, 16, 44, tzinfo=UTC)]
    with pytest.raises(RecordError, match="pipelineVersionNumber"):
        page_to_arrow(PIPELINE_RUNS, [{"id": "p", "pipelineVersionNumber": "v2"}])


@pytest.mark.parametrize("record", [{"taskName": "x"}, {"id": ""}, {"id": 5}, "not an object"])
def test_records_without_an_id_are_refused(record: object) -> None:
    """A record without a string id cannot be merged and is refused."""
    with pytest.raises(RecordError):
        page_to_arrow(TASK_RUNS, [record])
    if isinstance(record, dict):
        with pytest.raises(RecordError):
            PipelineRun.from_api(record)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<html>", "not JSON"),
        (b"[]", "not an object"),
        (b'{"total": 1}', "results"),
        (b'{"results": []}', "total"),
        (orjson.dumps({"total": 1, "results": [{"id": None}]}), "has no id"),
    ],
)
def test_parse_page_names_resource_and_page(body: bytes, message: str) -> None:
    """Every defect of a page is an ApiResponseError naming resource, page and window."""
    with pytest.raises(ApiResponseError, match=f"task-runs page 3 .*{message}|{message}") as caught:
        parse_page(PageQuery(TASK_RUNS, page=3), body)
    assert "task-runs page 3" in str(caught.value)


def test_windows_are_contiguous_and_at_most_seven_days() -> None:
    """A backfill is cut into 7-day windows, each starting where the last ended, the last reaching now."""
    windows = walk_windows(NOW - timedelta(days=20), NOW)
    assert len(windows) == 3
    assert all(w.end - w.start == MAX_WINDOW for w in windows)
    assert all(a.end == b.start for a, b in itertools.pairwise(windows))
    assert windows[-1].end >= NOW


def test_ids_are_grouped_into_windows_and_small_requests() -> None:
    """Open runs re-read by id go in groups that fit one window and one page."""
    records = [(f"id{i}", NOW - timedelta(days=30) + timedelta(hours=i)) for i in range(300)]
    groups = group_ids_by_window(records)
    assert sum(len(ids) for _, ids in groups) == 300
    for window, ids in groups:
        assert len(ids) <= IDS_PER_REQUEST
        created = dict(records)
        assert all(window.start <= created[i] <= window.end for i in ids)


def test_first_load_sends_an_explicit_seven_day_window() -> None:
    """With no state and no --since the plan is the last 7 days, explicitly: never the API's own default."""
    plan = plan_load(TASK_RUNS, LoadState(None), [], now=NOW)
    assert plan.windows == (Window(NOW - timedelta(days=7), NOW),)


def test_later_loads_start_before_the_cursor_and_reopen_old_open_runs() -> None:
    """A load with state reads from just before the cursor and re-reads older open runs by id."""
    cursor = NOW - timedelta(hours=1)
    old_open = ("old", NOW - timedelta(days=3))
    recent_open = ("recent", NOW - timedelta(minutes=30))
    plan = plan_load(TASK_RUNS, LoadState(cursor), [old_open, recent_open], now=NOW)
    first = plan.windows[0]
    assert first is not None
    assert cursor - timedelta(hours=1) < first.start < cursor
    assert plan.reopen == (old_open,)


def test_since_bounds_a_resumed_backfill_and_full_refresh_ignores_the_cursor() -> None:
    """Re-running a backfill resumes from the cursor; --full-refresh starts again at --since."""
    since, cursor = NOW - timedelta(days=30), NOW - timedelta(days=10)
    resumed = plan_load(TASK_RUNS, LoadState(cursor), [], now=NOW, since=since)
    again = plan_load(TASK_RUNS, LoadState(cursor), [], now=NOW, since=since, full_refresh=True)
    assert resumed.windows[0] is not None
    assert resumed.windows[0].start > since
    assert again.windows[0] is not None
    assert again.windows[0].start == since


@pytest.mark.parametrize(("text", "seconds"), [("15m", 900), ("1h", 3600), ("90s", 90), ("2", 120), ("1d", 86400)])
def test_intervals(text: str, seconds: float) -> None:
    """--every accepts s, m, h and d (a bare number is minutes)."""
    assert parse_interval(text) == seconds


@pytest.mark.parametrize("text", ["soon", "5s", "-1m", "1w"])
def test_bad_intervals(text: str) -> None:
    """Nonsense or intervals under 10 s are refused."""
    with pytest.raises(ConfigError):
        parse_interval(text)


def test_times_are_utc() -> None:
    """A date is midnight UTC; an offset is converted to UTC."""
    assert parse_time("2025-01-31", "--since") == datetime(2025, 1, 31, tzinfo=UTC)
    assert parse_time("2025-01-31T02:00:00+02:00", "--since") == datetime(2025, 1, 31, tzinfo=UTC)


def test_operation_record_round_trip() -> None:
    """Operation.from_api, as pages (records_batch), gives the same row as page_to_arrow."""
    obj = {"id": "o", "insertedAt": "2025-05-01T11:16:44+00:00", "operationDuration": 1.5, "dependencies": []}
    assert records_batch(OPERATIONS, [Operation.from_api(obj)]).to_arrow().equals(page_to_arrow(OPERATIONS, [obj]))


def test_open_runs_older_than_the_listings_serve_are_read_by_id_even_inside_a_window() -> None:
    """An open run 8 days old is re-read (and marked aged) though a window covers it; one of 2 days is not aged."""
    cursor = NOW - timedelta(days=9)
    old, recent = ("old", NOW - timedelta(days=8)), ("recent", NOW - timedelta(days=2))
    plan = plan_load(PIPELINE_RUNS, LoadState(cursor), [old, recent], now=NOW)
    first = plan.windows[0]
    assert first is not None
    assert first.start < old[1]
    assert plan.reopen == (old,)
    assert plan.aged == (old,)
    assert "1 older than the listings serve, read by id" in plan.describe()
