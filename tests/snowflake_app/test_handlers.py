"""The app's Python handlers against the Orchestra emulator over a real socket, with the secret and HTTP injected."""

from __future__ import annotations

import itertools
import json
import urllib.parse
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

import httpx
import pytest

from eltops._http import default_error_parser
from eltops._serve import serve_in_thread
from eltops.orchestra import _plan, _records
from eltops.orchestra.emulator import BASE_PATH, OrchestraEmulator, Volume
from eltops.snowflake_app import orchestra_app as app
from tests._clock import NOW, Clock

from .conftest import KEY, FakesnowSql, RecordingHttp

MakeApi = Callable[..., app.OrchestraApi]


def _params(url: str) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))


# -- core.get_* (UDF entry points) ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "path"),
    [
        (app.get_pipeline_runs, "/pipeline_runs"),
        (app.get_task_runs, "/task_runs"),
        (app.get_operations, "/operations"),
    ],
)
def test_get_entry_points_return_one_raw_page_with_defaults(
    entry: Callable[..., Any],
    path: str,
    api_url: str,
    emulator: OrchestraEmulator,
    fake_snowflake_module: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``SELECT core.get_x()`` reads the secret, asks for page 1 of 100 and returns the API's JSON unchanged."""
    monkeypatch.setattr(app, "API_URL", api_url)
    body = entry()
    assert set(body) >= {"page", "pageSize", "total", "results"}
    assert body["page"] == 1
    assert body["pageSize"] == 100
    assert all("id" in r for r in body["results"])
    request = emulator.requests[-1]
    assert request.path.endswith(path)
    assert request.query["page"] == "1"
    assert request.query["page_size"] == "100"
    assert request.query["per_page"] == "100"


@pytest.mark.parametrize(("page", "per_page"), [(2, 50), (1, 1), (None, None)])
def test_get_entry_points_pass_page_and_per_page(
    page: int | None,
    per_page: int | None,
    api_url: str,
    emulator: OrchestraEmulator,
    fake_snowflake_module: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``core.get_task_runs(2, 50)`` sends page 2 with page_size 50; SQL NULLs fall back to the defaults."""
    monkeypatch.setattr(app, "API_URL", api_url)
    body = app.get_task_runs(page, per_page)
    assert body["page"] == (page or 1)
    assert len(body["results"]) <= (per_page or 100)
    assert emulator.requests[-1].query["page_size"] == str(per_page or 100)


@pytest.mark.parametrize(("page", "per_page"), [(0, 10), (1, 0), (1, 101)])
def test_get_rejects_bad_paging_before_any_request(
    page: int,
    per_page: int,
    api_url: str,
    emulator: OrchestraEmulator,
    fake_snowflake_module: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A page below 1 or a page size outside 1..100 fails with a clear message and sends nothing."""
    monkeypatch.setattr(app, "API_URL", api_url)
    with pytest.raises(app.AppError, match="page"):
        app.get_pipeline_runs(page, per_page)
    assert emulator.requests == []


def test_get_with_a_wrong_secret_fails_with_the_api_message(
    api_url: str, fake_snowflake_module: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A wrong key in the secret makes the function fail with Orchestra's 401 and a hint, not an empty result."""
    monkeypatch.setattr(app, "API_URL", api_url)
    fake_snowflake_module["api_key"] = "wrong"
    with pytest.raises(app.AppError, match=r"HTTP 401.*check the API key"):
        app.get_operations()


@pytest.mark.parametrize("url", ["http://app.getorchestra.io/api", "ftp://x/y", "http://10.0.0.1/api"])
def test_only_https_or_loopback_http_is_accepted(url: str) -> None:
    """The client refuses plain http except to loopback (the emulator), so the key never travels in clear."""
    with pytest.raises(app.AppError, match="https"):
        app.OrchestraApi(url, KEY)


# -- paging and windows ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("resource", ["pipeline-runs", "task-runs", "operations"])
def test_iter_window_reads_every_page_once_when_stable(
    resource: str, make_api: MakeApi, http: RecordingHttp, emulator: OrchestraEmulator
) -> None:
    """A stable window is read page 1..ceil(total/100), no extra empty page, every record exactly once."""
    spec = _records.resource_named(resource)
    window = _plan.Window(NOW - timedelta(days=7), NOW)
    pages = list(make_api().iter_window(spec, window))
    total = pages[0].total
    ids = [r["id"] for p in pages for r in p.records]
    assert len(ids) == total == len(set(ids))
    assert len(http.urls) == max(1, -(-total // 100))
    for url in http.urls:
        params = _params(url)
        assert params["page_size"] == "100"
        assert params["time_from"] == window.start.isoformat()
        assert params["time_to"] == window.end.isoformat()


def test_iter_window_reads_again_when_pages_disagree(make_api: MakeApi) -> None:
    """When page 2 reports another total (the listing moved), the window is read again and nothing is lost."""
    seen: set[str] = set()

    def shift_total(url: str, body: bytes) -> bytes:
        data = json.loads(body)
        if _params(url)["page"] == "2" and url not in seen:
            seen.add(url)
            data["total"] += 1
        return json.dumps(data).encode()

    http = RecordingHttp(rewrite=shift_total)
    pages = list(make_api(http=http).iter_window(_records.TASK_RUNS, _plan.Window(NOW - timedelta(days=7), NOW)))
    first_pass = -(-pages[0].total // 100)
    assert len(http.urls) == 2 * first_pass
    assert {r["id"] for p in pages for r in p.records} == {r["id"] for p in pages[:first_pass] for r in p.records}


def test_backfill_walks_seven_day_windows(
    make_api: MakeApi, http: RecordingHttp, snowflake_sql: FakesnowSql, clock: Clock
) -> None:
    """A backfill from 20 days back reads three consecutive windows of at most 7 days and loads all of them."""
    summary = app.load(snowflake_sql, make_api(), _records.PIPELINE_RUNS, now=clock(), since=NOW - timedelta(days=20))
    windows = sorted({(p["time_from"], p["time_to"]) for p in map(_params, http.urls)})
    assert len(windows) == 3 == summary["window"]["windows"]
    for (_, end), (next_start, _) in itertools.pairwise(windows):
        assert end == next_start
    for start, end in windows:
        assert _records.parse_timestamp(end) - _records.parse_timestamp(start) == timedelta(days=7)
    assert summary["inserted"] == len(snowflake_sql.rows("pipeline_runs")) > 0
    assert summary["window"]["from"] == (NOW - timedelta(days=20)).isoformat()


# -- retries and errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "retry_after"), [(500, None), (502, None), (503, 7.0), (429, 3.0)])
def test_transient_errors_are_retried(
    status: int,
    retry_after: float | None,
    make_api: MakeApi,
    emulator: OrchestraEmulator,
    sleeps: list[float],
) -> None:
    """5xx and 429 are retried with backoff, sleeping Retry-After when the API sends it."""
    emulator.fail_next(status=status, count=2, retry_after=retry_after)
    api = make_api()
    body = api.get_json(_plan.PageQuery(_records.TASK_RUNS))
    assert body["page"] == 1
    assert api.retries == 2
    assert sleeps == ([retry_after, retry_after] if retry_after is not None else [0.5, 1.0])


@pytest.mark.parametrize(
    ("retry_after", "cap", "slept"),
    [(3600.0, 120.0, 120.0), (3600.0, 5.0, 5.0), (7.0, 5.0, 5.0), (4.0, 5.0, 4.0), (5.0, 5.0, 5.0)],
)
def test_retry_after_is_waited_at_most_the_policys_cap(
    retry_after: float,
    cap: float,
    slept: float,
    make_api: MakeApi,
    emulator: OrchestraEmulator,
    sleeps: list[float],
) -> None:
    """A Retry-After longer than ``retry_after_max`` is waited for the cap only, then the request is tried again."""
    emulator.fail_next(status=429, count=1, retry_after=retry_after)
    api = make_api(retry=app.RetryPolicy(attempts=4, retry_after_max=cap))
    assert api.get_json(_plan.PageQuery(_records.TASK_RUNS))["page"] == 1
    assert sleeps == [slept]
    assert api.retries == 1


@pytest.mark.parametrize(("status", "fragment"), [(401, "401"), (403, "enterprise"), (404, "404"), (422, "422")])
def test_client_errors_fail_at_once_with_the_api_message(
    status: int, fragment: str, make_api: MakeApi, emulator: OrchestraEmulator
) -> None:
    """Other 4xx answers are not retried; the error names the endpoint and carries the API's message."""
    emulator.fail_next(status=status, count=1)
    api = make_api()
    with pytest.raises(app.AppError, match=fragment) as caught:
        api.get_json(_plan.PageQuery(_records.OPERATIONS))
    assert "GET /operations" in str(caught.value)
    assert api.retries == 0


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"detail": "Not authenticated"}', "Not authenticated"),
        (b'{"detail": [{"loc": ["query", "status"], "msg": "bad value"}]}', "query.status: bad value"),
        (b'{"code": "E1", "message": "Rate limited"}', "Rate limited"),
        (b'{"error": "other shape"}', "HTTP 502"),
        (b"<html>Bad gateway</html>", "<html>Bad gateway</html>"),
        (b" ", "HTTP 502"),
    ],
)
def test_the_app_reads_errors_as_eltops_does(body: bytes, message: str) -> None:
    """The app's message is eltops' reading of the body (the CLI's own for JSON; a non-JSON body as its text)."""
    assert app._error_message(body, 502) == message
    if body.startswith(b"{") and message != "HTTP 502":
        assert default_error_parser(httpx.Response(502, content=body))[1] == message


def test_fastapi_validation_detail_is_reported(make_api: MakeApi) -> None:
    """A 422 from the real emulator (page_size over 100 sent by a raw query) reports FastAPI's loc and msg."""
    api = make_api()
    query = _plan.PageQuery(_records.TASK_RUNS, filters={"status": "NOT_A_STATUS"})
    with pytest.raises(app.AppError, match=r"HTTP 422: .*status"):
        api.get_json(query)


def test_persistent_failure_gives_up_after_the_attempts(make_api: MakeApi, emulator: OrchestraEmulator) -> None:
    """A server that keeps failing ends the call after the policy's attempts with the last error."""
    emulator.fail_next(status=500, count=10)
    with pytest.raises(app.AppError, match=r"HTTP 500.*gave up after 4 attempts"):
        make_api().get_body(_plan.PageQuery(_records.PIPELINE_RUNS))


def test_unreachable_api_is_an_error_not_an_empty_load(make_api: MakeApi, snowflake_sql: FakesnowSql) -> None:
    """When nothing listens, the load fails saying so, and no state is written."""
    api = make_api(url="http://127.0.0.1:9/api/engine/public")
    with pytest.raises(app.AppError, match="could not reach Orchestra"):
        app.load(snowflake_sql, api, _records.TASK_RUNS, now=NOW)
    assert snowflake_sql("SELECT COUNT(*) FROM public.eltops_load_state")[0][0] == 0


def test_a_failure_mid_load_keeps_the_cursor_behind_unwritten_data(
    make_api: MakeApi, emulator: OrchestraEmulator, snowflake_sql: FakesnowSql, clock: Clock
) -> None:
    """A backfill that fails in its second window keeps the first window's rows and cursor, then finishes."""
    api = make_api()
    since = NOW - timedelta(days=20)
    first = app.load(snowflake_sql, api, _records.PIPELINE_RUNS, now=clock(), since=since)
    snowflake_sql("DELETE FROM public.pipeline_runs")
    snowflake_sql("DELETE FROM public.eltops_load_state")
    windows = _plan.walk_windows(since, clock())
    failing = make_api()
    original = failing.get_page

    def get_page(query: _plan.PageQuery) -> app.Page:
        if query.window == windows[1]:
            raise app.AppError("Orchestra answered GET /pipeline_runs with HTTP 500: boom (gave up after 4 attempts)")
        return original(query)

    failing.get_page = get_page  # type: ignore[method-assign]
    with pytest.raises(app.AppError, match="boom"):
        app.load(snowflake_sql, failing, _records.PIPELINE_RUNS, now=clock(), since=since)
    cursor = snowflake_sql("SELECT cursor FROM public.eltops_load_state")[0][0]
    assert cursor is not None
    assert _records.parse_timestamp(cursor.isoformat()) <= windows[0].end
    rerun = app.load(snowflake_sql, api, _records.PIPELINE_RUNS, now=clock(), since=since)
    assert len(snowflake_sql.rows("pipeline_runs")) == first["inserted"]  # nothing lost, nothing doubled
    assert rerun["window"]["from"] == (_records.parse_timestamp(cursor.isoformat()) - _plan.LOOKBACK).isoformat()


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"runStatus": "RUNNING"}, "result 0 has no id"),
        ({"id": "a", "pipelineVersionNumber": "x"}, "pipelineVersionNumber should be an integer"),
        ({"id": "a", "createdAt": "yesterday"}, "createdAt should be an ISO-8601 timestamp"),
        ([1, 2], "result 0 is not a JSON object"),
    ],
)
def test_bad_records_fail_naming_resource_and_page(record: Any, message: str, make_api: MakeApi, api_url: str) -> None:
    """A record without id or with a wrong type fails the load with the resource, page and field."""

    def bad_page(url: str, body: bytes) -> bytes:
        return json.dumps({"page": 1, "pageSize": 100, "total": 1, "results": [record]}).encode()

    api = make_api(http=RecordingHttp(rewrite=bad_page))
    with pytest.raises(app.AppError, match=f"pipeline-runs page 1.*{message}"):
        api.get_page(_plan.PageQuery(_records.PIPELINE_RUNS))


def test_rate_limit_spaces_requests(make_api: MakeApi, sleeps: list[float]) -> None:
    """The client-side rate limit (50 a minute by default) spaces requests 1.2 s apart without a burst."""
    now = [100.0]
    api = make_api(rate_limit_per_minute=50.0, clock=lambda: now[0])
    for _ in range(3):
        api.get_body(_plan.PageQuery(_records.PIPELINE_RUNS))
    assert sleeps == pytest.approx([1.2, 2.4])


# -- the incremental load -------------------------------------------------------------------------------------


def test_incremental_load_reads_from_the_cursor_and_reopens_open_runs(
    snowflake_sql: FakesnowSql, clock: Clock, sleeps: list[float]
) -> None:
    """The next load asks only for the window after the cursor and re-reads, by id, runs that were still open."""
    busy = OrchestraEmulator(api_key=KEY, seed=3, volume=Volume(task_runs=20_000, days=1), now=clock, future_days=1)
    http = RecordingHttp()
    with serve_in_thread(busy.wsgi_app) as server:
        api = app.OrchestraApi(server.url + BASE_PATH, KEY, http=http, sleep=sleeps.append, rate_limit_per_minute=None)
        first = app.load(snowflake_sql, api, _records.PIPELINE_RUNS, now=clock(), since=clock() - timedelta(hours=2))
        rows = {r["id"]: r for r in snowflake_sql.rows("pipeline_runs")}
        assert first["inserted"] == len(rows) > 0
        open_before = {i for i, r in rows.items() if r["run_status"] in _records.PIPELINE_RUNS.open_statuses}
        assert open_before, "the emulator should have runs still open at the first load"
        http.urls.clear()
        clock.advance(minutes=30)
        second = app.load(snowflake_sql, api, _records.PIPELINE_RUNS, now=clock())
    cursor = _records.parse_timestamp(first["cursor"])
    window_starts = {_params(u).get("time_from") for u in http.urls if "pipeline_run_ids" not in _params(u)}
    assert window_starts == {(cursor - _plan.LOOKBACK).isoformat()}
    assert second["window"]["windows"] == 1
    reread = {i for u in http.urls for i in _params(u).get("pipeline_run_ids", "").split(",") if i}
    assert len(reread) == second["reopened_runs"] > 0
    rows = {r["id"]: r for r in snowflake_sql.rows("pipeline_runs")}
    for run_id in open_before - reread:  # not re-read by id: then the new window covers it
        assert rows[run_id]["created_at"] >= cursor - _plan.LOOKBACK
    assert second["updated"] >= 1
    assert len(rows) == second["inserted"] + first["inserted"]
    still_open = {i for i in open_before if rows[i]["run_status"] in _records.PIPELINE_RUNS.open_statuses}
    assert still_open < open_before


def test_reload_is_idempotent(make_api: MakeApi, snowflake_sql: FakesnowSql, clock: Clock) -> None:
    """Loading the same window twice inserts nothing the second time and leaves rows and loaded_at unchanged."""
    api = make_api()
    app.load(snowflake_sql, api, _records.OPERATIONS, now=clock(), full_refresh=True)
    before = snowflake_sql.rows("operations")
    again = app.load(snowflake_sql, api, _records.OPERATIONS, now=clock(), full_refresh=True)
    assert again["inserted"] == again["updated"] == 0
    assert again["unchanged"] == len(before)
    assert snowflake_sql.rows("operations") == before


def test_small_batches_commit_with_the_old_cursor(make_api: MakeApi, snowflake_sql: FakesnowSql, clock: Clock) -> None:
    """With batches smaller than a window, several MERGEs run and the summary still adds up."""
    summary = app.load(snowflake_sql, make_api(), _records.OPERATIONS, now=clock(), batch_rows=150)
    merges = [s for s in snowflake_sql.statements if s.startswith("MERGE")]
    assert len(merges) == summary["batches"] - 0 >= 2
    assert summary["inserted"] == summary["rows_read"] == len(snowflake_sql.rows("operations"))


@pytest.mark.parametrize(
    ("entry", "names"),
    [
        (app.load_pipeline_runs, ["pipeline-runs"]),
        (app.load_task_runs, ["task-runs"]),
        (app.load_operations, ["operations"]),
        (app.load_all, ["pipeline-runs", "task-runs", "operations", "assets"]),
        (app.backfill, ["pipeline-runs", "task-runs", "operations", "assets"]),
    ],
)
def test_procedure_entry_points_return_a_summary(
    entry: Callable[..., Any],
    names: list[str],
    api_url: str,
    fake_snowflake_module: dict[str, str],
    snowflake_sql: FakesnowSql,
    monkeypatch: pytest.MonkeyPatch,
    clock: Clock,
) -> None:
    """``CALL core.load_x()`` runs through a Snowpark-like session and returns inserted/updated/pages/window."""

    class Session:
        def sql(self, statement: str, params: list[Any] | None = None) -> Any:
            rows = snowflake_sql(statement, params or ())

            class Result:
                def collect(self) -> list[tuple[Any, ...]]:
                    return rows

            return Result()

    monkeypatch.setattr(app, "API_URL", api_url)
    monkeypatch.setattr(app, "CLOCK", clock)  # the procedures plan their windows on the emulator's time
    monkeypatch.setattr(app, "RATE_LIMIT_PER_MINUTE", None)
    result = entry(Session(), NOW.date() - timedelta(days=9) if entry is app.backfill else None)
    summaries = result if isinstance(result, list) else [result]
    assert [s["resource"] for s in summaries] == names
    for summary in summaries:
        assert {"inserted", "updated", "pages", "window", "cursor"} <= set(summary)
        assert summary["inserted"] > 0
        assert summary["pages"] >= 1


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("2025-01-31", "2025-01-31T00:00:00+00:00"),
        ("2025-01-31T10:00:00Z", "2025-01-31T10:00:00+00:00"),
        (NOW.date(), "2025-05-01T00:00:00+00:00"),
    ],
)
def test_parse_since_accepts_dates_and_timestamps(value: Any, expected: str | None) -> None:
    """The backfill's start is a DATE, a timestamp or text; NULL means incremental."""
    parsed = app.parse_since(value)
    assert (parsed.isoformat() if parsed else None) == expected


def test_backfill_needs_a_start_date() -> None:
    """``CALL core.backfill(NULL)`` fails with a usage message instead of doing an incremental load."""
    with pytest.raises(app.AppError, match="needs a start date"):
        app.backfill(object(), None)


def test_parse_since_rejects_garbage() -> None:
    """A malformed start date fails the procedure before any request."""
    with pytest.raises(app.AppError, match="since must be a date"):
        app.parse_since("last tuesday")


# -- the time budget of core.refresh() ------------------------------------------------------------------------


class TickingHttp(RecordingHttp):
    """The real HTTP call, moving a monotonic clock one second per request (a load's time is its requests)."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0

    def __call__(self, url: str, headers: Any, timeout: float) -> app.HttpResponse:
        self.now += 1.0
        return super().__call__(url, headers, timeout)

    def clock(self) -> float:
        return self.now


def test_a_load_past_its_deadline_commits_what_it_read_and_the_next_run_continues(
    make_api: MakeApi, snowflake_sql: FakesnowSql, clock: Clock
) -> None:
    """No window starts after the deadline; the windows read keep their cursor, and the next load reads the rest."""
    ticking = TickingHttp()
    api = make_api(http=ticking)
    since = NOW - timedelta(days=20)
    first = app.load(
        snowflake_sql, api, _records.PIPELINE_RUNS, now=clock(), since=since, deadline=0.5, clock=ticking.clock
    )
    assert first["complete"] is False
    assert (first["window"]["windows"], first["window"]["windows_left"]) == (1, 2)
    assert first["window"]["to"] == (since + _plan.MAX_WINDOW).isoformat()
    assert first["cursor"] is not None
    assert _records.parse_timestamp(first["cursor"]) <= since + _plan.MAX_WINDOW
    ticking.urls.clear()
    second = app.load(snowflake_sql, api, _records.PIPELINE_RUNS, now=clock())
    assert second["complete"] is True
    starts = {_params(u).get("time_from") for u in ticking.urls if "pipeline_run_ids" not in _params(u)}
    assert min(starts) == (_records.parse_timestamp(first["cursor"]) - _plan.LOOKBACK).isoformat()
    expected = {
        r["id"]
        for window in _plan.walk_windows(since, clock())
        for page in api.iter_window(_records.PIPELINE_RUNS, window)
        for r in page.records
    }
    assert {r["id"] for r in snowflake_sql.rows("pipeline_runs")} == expected


@pytest.mark.parametrize(("budget", "loaded"), [(0.5, 1), (None, len(_records.RESOURCES))])
def test_run_loads_skips_resources_once_the_budget_is_spent(
    budget: float | None,
    loaded: int,
    make_api: MakeApi,
    snowflake_sql: FakesnowSql,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With a budget, resources whose turn comes after it are reported as skipped and leave no status behind."""
    monkeypatch.setattr(app, "CLOCK", clock)
    ticking = TickingHttp()
    summaries = app.run_loads(
        snowflake_sql, lambda: make_api(http=ticking), _records.RESOURCES, budget=budget, clock=ticking.clock
    )
    assert [s["resource"] for s in summaries] == [r.name for r in _records.RESOURCES]
    every = len(_records.RESOURCES)
    assert [("skipped" not in s) for s in summaries] == [True] * loaded + [False] * (every - loaded)
    report = app.status_report(snowflake_sql, bound={}, existing=[])
    assert [r["last_load_at"] is not None for r in report["resources"]] == [True] * loaded + [False] * (every - loaded)


def test_refresh_measures_its_budget_with_the_injected_clock(
    api_url: str, fake_snowflake_module: dict[str, str], snowflake_sql: FakesnowSql, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``CALL core.refresh()`` starts nothing once TASK_TIME_BUDGET has passed on the injected monotonic clock."""
    ticks = itertools.count(step=app.TASK_TIME_BUDGET)
    monkeypatch.setattr(app, "MONOTONIC", lambda: float(next(ticks)))
    monkeypatch.setattr(app, "API_URL", api_url)
    result = app.refresh(_Session(snowflake_sql))
    assert [s["complete"] for s in result] == [False] * len(_records.RESOURCES)
    assert all("skipped" in s for s in result)


class _Session:
    """A Snowpark-like session over fakesnow: ``sql(statement, params).collect()``."""

    def __init__(self, sql: FakesnowSql) -> None:
        self._sql = sql

    def sql(self, statement: str, params: list[Any] | None = None) -> Any:
        rows = self._sql(statement, params or ())

        class Result:
            def collect(self) -> list[tuple[Any, ...]]:
                return rows

        return Result()


# -- core.status() -------------------------------------------------------------------------------------------


def test_status_reports_the_last_load_and_the_last_error_per_resource(
    make_api: MakeApi,
    emulator: OrchestraEmulator,
    snowflake_sql: FakesnowSql,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A successful load records when, rows and completeness; a failed one adds its error; the cursor comes along."""
    monkeypatch.setattr(app, "CLOCK", clock)
    [ok] = app.run_loads(snowflake_sql, make_api, [_records.PIPELINE_RUNS])
    emulator.fail_next(status=401, count=1)
    with pytest.raises(app.AppError, match="401"):
        app.run_loads(snowflake_sql, make_api, [_records.PIPELINE_RUNS])
    report = app.status_report(snowflake_sql, bound=dict.fromkeys(app.REFERENCES, True), existing=app.API_OBJECT_NAMES)
    assert report["ready"] is True
    runs, tasks, *_ = report["resources"]
    assert runs["rows_read"] == ok["rows_read"] > 0
    assert runs["complete"] is True
    assert runs["cursor"] == ok["cursor"]
    assert runs["last_load_at"] is not None
    assert "HTTP 401" in runs["last_error"]
    assert KEY not in runs["last_error"]
    assert runs["failed_at"] is not None
    assert tasks == {
        "resource": "task-runs",
        "table": "public.task_runs",
        "last_load_at": None,
        "rows_read": None,
        "complete": None,
        "cursor": None,
        "last_error": None,
        "failed_at": None,
    }


@pytest.mark.parametrize(
    ("bound", "existing", "missing"),
    [
        ({"orchestra_eai": True, "orchestra_api_key": True}, app.API_OBJECT_NAMES, []),
        ({"orchestra_eai": True, "orchestra_api_key": False}, app.API_OBJECT_NAMES, []),
        ({"orchestra_eai": True, "orchestra_api_key": True}, ["GET_PIPELINE_RUNS", "STATUS"], app.API_OBJECT_NAMES[1:]),
        ({}, [], list(app.API_OBJECT_NAMES)),
    ],
)
def test_status_shows_an_upgrade_error_and_which_api_objects_are_missing(
    bound: dict[str, bool], existing: Sequence[str], missing: Sequence[str], snowflake_sql: FakesnowSql
) -> None:
    """The upgrade's recorded error (what recreate_if_bound writes, on fakesnow) shows next to what is missing."""
    app.record_status(
        snowflake_sql, app.API_OBJECTS_COMPONENT, error="upgrade could not recreate the API objects: boom"
    )
    report = app.status_report(snowflake_sql, bound=bound, existing=existing)
    api = report["api_objects"]
    assert api["missing"] == list(missing)
    assert api["references_bound"] == {name: bound.get(name, False) for name in app.REFERENCES}
    assert report["ready"] is (not missing and all(bound.get(n, False) for n in app.REFERENCES))
    assert api["last_error"] == "upgrade could not recreate the API objects: boom"
    assert api["failed_at"] is not None
    assert api["created_at"] is None
