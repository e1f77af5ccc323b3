"""End to end: the real ``eltops orchestra`` command against the Orchestra emulator over a real socket."""

from __future__ import annotations

import io
import itertools
import json
import signal
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest

from eltops.cli import run_command
from eltops.cli._output import CiKind, Output
from eltops.orchestra.emulator import Volume
from tests._hints import hinted_commands
from tests.orchestra._support import API_KEY, SMALL, Served, count, make_served, rows

TABLES = ("pipeline_runs", "task_runs", "operations")


def open_task_runs(db: Path) -> set[str]:
    """Ids of the task runs stored in an open status."""
    with duckdb.connect(str(db), read_only=True) as con:
        found = con.execute("SELECT id FROM task_runs WHERE status IN ('CREATED', 'QUEUED', 'RUNNING', 'CANCELLING')")
        return {row[0] for row in found.fetchall()}


def visible_total(served: Served, resource: str) -> int:
    """How many records the API has in the last 7 days right now (what a full load must hold).

    Asked for with an explicit window: the API's own default for task runs is 24 hours since 2026-10."""
    since, until = (served.clock.now - timedelta(days=7)).isoformat(), served.clock.now.isoformat()
    run = served.run("orchestra", "get", resource, "--page-size", "1", "--since", since, "--until", until)
    assert run.code == 0, run.stderr
    return int(json.loads(run.stdout)["total"])


def test_first_load_reads_every_page_into_all_three_tables(served: Served) -> None:
    """A first load writes every record of the default window once, into tables with the seed's columns."""
    run = served.load("--json")
    assert run.code == 0, run.stderr
    summary = json.loads(run.stdout)
    db = served.tmp / "eltops.duckdb"
    for table, resource in zip(TABLES, ("pipeline-runs", "task-runs", "operations"), strict=True):
        total = visible_total(served, resource)
        assert total > 100, "the test needs more than one page"
        assert count(db, table) == (total, total)
        entry = next(r for r in summary["resources"] if r["table"] == table)
        assert entry["inserted"] == total
        assert entry["requests"] == -(-total // 100), "one request per page, no extra empty page"
    with duckdb.connect(str(db), read_only=True) as con:
        types = dict(
            con.execute(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'task_runs'"
            ).fetchall()
        )
    assert types["task_parameters"] == "JSON"
    assert types["created_at"] == "TIMESTAMP WITH TIME ZONE"
    assert types["number_of_attempts"] == "BIGINT"


def test_requests_send_page_size_100_and_bearer_auth(served: Served) -> None:
    """Every list request asks for 100 per page with page_size (per_page is sent too)."""
    assert served.load("pipeline-runs").code == 0
    for request in served.emulator.requests:
        if request.path.endswith("/pipeline_runs"):
            assert request.query["page_size"] == "100"
            assert request.status == 200


def test_second_load_asks_only_for_new_and_open_runs(served: Served) -> None:
    """After the clock moves an hour, a load reads from the cursor and re-reads open runs by id, not history."""
    assert served.load().code == 0
    first_requests = served.emulator.request_count
    db = served.tmp / "eltops.duckdb"
    open_before = open_task_runs(db)
    assert open_before, "the emulator should have runs in progress"

    served.clock.advance(timedelta(hours=1))
    run = served.load("--json")
    assert run.code == 0, run.stderr
    later = served.requests_since(first_requests)
    assets = [r for r in later if r.path.endswith("/assets")]
    later = [r for r in later if not r.path.endswith("/assets")]
    assert assets, "assets are read whole at every load"
    assert not any("time_from" in r.query for r in assets), "the assets listing has no time filter"
    assert all("time_from" in r.query for r in later), "no request falls back to the API's default window"
    assert len(later) < first_requests / 4, "requests grow with what changed, not with history"
    by_id = [r for r in later if "task_run_ids" in r.query]
    asked = {i for r in by_id for i in r.query["task_run_ids"].split(",")}
    assert asked <= open_before

    still_open = open_task_runs(db)
    assert not (open_before & still_open), "runs open an hour ago have finished and were updated in place"
    summary = json.loads(run.stdout)
    assert next(r for r in summary["resources"] if r["table"] == "task_runs")["updated"] >= len(open_before)


def test_incremental_result_equals_a_fresh_full_load(served: Served) -> None:
    """Load, advance the clock, load again: the rows equal those of one fresh load at the later time."""
    assert served.load().code == 0
    served.clock.advance(timedelta(hours=2))
    assert served.load().code == 0
    assert served.load(db="fresh.duckdb").code == 0
    for table in TABLES:
        incremental = rows(served.tmp / "eltops.duckdb", table)
        fresh = rows(served.tmp / "fresh.duckdb", table)
        assert fresh <= incremental, f"{table}: the incremental load missed or kept stale rows"
        assert count(served.tmp / "eltops.duckdb", table)[0] == len(incremental), "no duplicates"


@pytest.fixture
def three_weeks(tmp_path: Path) -> Iterator[Served]:
    yield from make_served(tmp_path, volume=Volume(task_runs=900, days=21), latency_seconds=0.01)


def test_since_walks_seven_day_windows(three_weeks: Served) -> None:
    """--since 20 days back reads consecutive windows of at most 7 days and loads all of them."""
    since = (three_weeks.clock.now - timedelta(days=20)).date().isoformat()
    run = three_weeks.load("task-runs", "--since", since)
    assert run.code == 0, run.stderr
    windows = sorted({(r.query["time_from"], r.query["time_to"]) for r in three_weeks.emulator.requests})
    assert len(windows) >= 3
    for (_, end), (next_start, _) in itertools.pairwise(windows):
        assert end == next_start, "windows are contiguous"
    total = sum(
        json.loads(three_weeks.run("orchestra", "get", "task-runs", "--since", s, "--until", e).stdout)["total"]
        for s, e in windows
    )
    assert count(three_weeks.tmp / "eltops.duckdb", "task_runs")[1] >= total - 5


def test_since_after_a_load_says_the_cursor_won_and_its_hint_backfills(three_weeks: Served) -> None:
    """--since earlier than an earlier load's cursor warns (never silently ignored); the printed command reads from
    --since, as printed."""
    assert three_weeks.load("task-runs").code == 0  # the last 7 days: the cursor is now
    before = count(three_weeks.tmp / "eltops.duckdb", "task_runs")[0]
    since = (three_weeks.clock.now - timedelta(days=20)).date().isoformat()
    again = three_weeks.load("task-runs", "--since", since)
    assert again.code == 0, again.stderr
    assert f"Warning: --since {since} is earlier than where earlier loads got to" in again.stderr
    assert count(three_weeks.tmp / "eltops.duckdb", "task_runs")[0] == before, "the cursor won: no backfill"
    (command,) = hinted_commands(again.stderr)
    assert command[:3] == ["eltops", "orchestra", "load"]
    assert "--full-refresh" in command
    first_request = len(three_weeks.emulator.requests)
    backfill = three_weeks.run(*command[1:])
    assert backfill.code == 0, backfill.stderr
    assert "Warning" not in backfill.stderr
    asked = [r.query.get("time_from", "") for r in three_weeks.requests_since(first_request)]
    assert min(asked).startswith(since), "the backfill read from --since"
    assert count(three_weeks.tmp / "eltops.duckdb", "task_runs")[0] > before


def test_since_in_the_future_is_exit_2_naming_it(served: Served) -> None:
    """--since after now is a clear error before any request."""
    run = served.load("--since", "2999-01-01")
    assert run.code == 2
    assert "--since 2999-01-01 is in the future" in run.stderr
    assert served.emulator.request_count == 0


def test_killed_load_resumes_to_the_exact_clean_result(three_weeks: Served, wait_until: Callable[..., None]) -> None:
    """A load killed mid-way, then run again, leaves exactly the rows of one clean load: no loss, no duplicate."""
    since = (three_weeks.clock.now - timedelta(days=20)).date().isoformat()
    db = three_weeks.tmp / "killed.duckdb"
    proc = three_weeks.start(
        "orchestra", "load", "--to", str(db), "--since", since, "--batch-rows", "50", env=three_weeks.env()
    )

    def midway_through_task_runs() -> bool:
        return sum(r.path.endswith("/task_runs") for r in three_weeks.emulator.requests) >= 5

    wait_until(midway_through_task_runs)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    partial = count(db, "task_runs")[0] if db.exists() else 0

    resumed = three_weeks.load("--since", since, db=str(db))
    assert resumed.code == 0, resumed.stderr
    clean = three_weeks.load("--since", since, db="clean.duckdb")
    assert clean.code == 0, clean.stderr
    for table in TABLES:
        assert rows(db, table) == rows(three_weeks.tmp / "clean.duckdb", table), table
        assert count(db, table)[0] == count(db, table)[1]
    assert partial < count(db, "task_runs")[0], "the kill happened before the load was done"


def test_server_errors_mid_load_are_retried(served: Served) -> None:
    """Two 503 answers mid-load are retried, and the load completes with every row."""
    served.emulator.fail_next(status=503, count=2)
    run = served.load("task-runs")
    assert run.code == 0, run.stderr
    total = visible_total(served, "task-runs")
    assert count(served.tmp / "eltops.duckdb", "task_runs") == (total, total)
    assert any(r.status == 503 for r in served.emulator.requests)


def test_rate_limited_answers_are_retried(served: Served) -> None:
    """A 429 with Retry-After is waited out and retried."""
    served.emulator.fail_next(status=429, count=1, retry_after=1)
    run = served.load("pipeline-runs")
    assert run.code == 0, run.stderr


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (("orchestra", "load"), {"ORCHESTRA_API_KEY": "wrong-key-123"}, "HTTP 401"),
        (("orchestra", "get", "task-runs", "--status", "BOGUS"), {}, "HTTP 422"),
        (("orchestra", "get", "operations", "--task-run-id", "not-a-uuid"), {}, "task_run_id"),
    ],
)
def test_api_errors_exit_4_with_the_message(
    served: Served, args: tuple[str, ...], env: dict[str, str], expected: str
) -> None:
    """An API error fails with exit code 4 and says what the API said."""
    run = served.run(*args, env=served.env(**env))
    assert run.code == 4, run.stderr
    assert expected in run.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("orchestra", "load", "jobs"),
        ("orchestra", "load", "--since", "last tuesday"),
        ("orchestra", "load", "--since", "2999-01-01"),  # the future: nothing to read
        ("orchestra", "load", "--to", "postgres://db/x"),
        ("orchestra", "load", "--to", "/no/such/dir/x.duckdb"),
        ("orchestra", "load", "--every", "1s"),
        ("orchestra", "load", "--rate-limit", "-1"),
        ("orchestra", "get", "runs"),
        ("orchestra", "get", "task-runs", "--page", "0"),
        ("orchestra", "get", "task-runs", "--page-size", "101"),
        ("orchestra", "get", "task-runs", "--since", "2025-01-01"),
        ("orchestra", "get", "task-runs", "--since", "2025-01-01", "--until", "2025-01-09"),
        ("orchestra", "get", "pipeline-runs", "--operation-type", "INGESTION"),
    ],
)
def test_bad_input_exits_2_before_any_request(served: Served, args: tuple[str, ...]) -> None:
    """Malformed input is exit code 2, and no request reaches the API."""
    run = served.run(*args)
    assert run.code == 2, run.stderr
    assert served.emulator.request_count == 0


def test_missing_api_key_exits_2(served: Served) -> None:
    """Without ORCHESTRA_API_KEY the command says so and exits 2."""
    env = served.env()
    del env["ORCHESTRA_API_KEY"]
    run = served.run("orchestra", "load", env=env)
    assert run.code == 2
    assert "ORCHESTRA_API_KEY" in run.stderr


def test_api_key_from_the_vault(served: Served) -> None:
    """ORCHESTRA_API_KEY=DATAOPS_VAULT(...) reads the key from the DataOps vault file."""
    vault = served.tmp / "vault.yml"
    vault.write_text(f"ORCHESTRA:\n  API_KEY: {served.env()['ORCHESTRA_API_KEY']}\n")
    env = served.env(ORCHESTRA_API_KEY="DATAOPS_VAULT(ORCHESTRA.API_KEY)", DATAOPS_VAULT_FILE=str(vault))
    run = served.run("orchestra", "get", "pipeline-runs", env=env)
    assert run.code == 0, run.stderr


def test_get_prints_one_raw_page(served: Served) -> None:
    """get prints the API's page object: page, pageSize, total and camelCase results."""
    run = served.run("orchestra", "get", "task-runs", "--page", "2", "--per-page", "50")
    assert run.code == 0, run.stderr
    page = json.loads(run.stdout)
    assert (page["page"], page["pageSize"], len(page["results"])) == (2, 50, 50)
    assert "pipelineRunId" in page["results"][0]
    query = served.emulator.requests[-1].query
    assert (query["page"], query["page_size"]) == ("2", "50")


def _corrupting(resource: str, page: str, body: bytes) -> Callable[[Any], Any]:
    def wrap(app: Any) -> Any:
        def wsgi(environ: dict[str, Any], start_response: Any) -> Any:
            query = environ.get("QUERY_STRING", "")
            if environ["PATH_INFO"].endswith(resource) and f"page={page}&" in query + "&":
                start_response("200 OK", [("Content-Type", "application/json")])
                return [body]
            return app(environ, start_response)

        return wsgi

    return wrap


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"page": 2, "pageSize": 100, "total": 600, "results": [', "not JSON"),
        (
            orjson.dumps({"page": 2, "pageSize": 100, "total": 600, "results": [{"taskName": "x"}]}),
            "has no id",
        ),
        (
            orjson.dumps(
                {
                    "page": 2,
                    "pageSize": 100,
                    "total": 600,
                    "results": [{"id": "a", "numberOfAttempts": "many"}] + [{"id": f"b{i}"} for i in range(99)],
                }
            ),
            "numberOfAttempts",
        ),
    ],
)
def test_bad_page_fails_loudly_naming_resource_and_page(tmp_path: Path, body: bytes, expected: str) -> None:
    """A page that is not JSON or holds a record without an id fails with exit 4, naming resource and page."""
    for served in make_served(tmp_path, volume=SMALL, wrap=_corrupting("task_runs", "2", body)):
        run = served.load("task-runs")
        assert run.code == 4, run.stderr
        assert "task-runs page 2" in run.stderr
        assert expected in run.stderr


def test_progress_lines_and_summary_without_a_terminal(served: Served) -> None:
    """Without a terminal the load logs plain lines and ends with a summary of rows per table."""
    run = served.load()
    assert run.code == 0
    assert "inserted" in run.stderr
    for table in TABLES:
        assert table in run.stderr
    assert "\x1b[" not in run.stderr, "no colour codes in a log"


def test_every_keeps_loading_until_ctrl_c(served: Served) -> None:
    """--every loads again on its interval, leaves the warehouse free between loads, and Ctrl-C ends it (exit 0)."""
    db = served.tmp / "eltops.duckdb"
    now = [0.0]
    seen: list[tuple[float, tuple[int, int], int]] = []

    def sleep(seconds: float) -> None:  # between loads: the DuckDB file is not locked, and the clock moves on
        seen.append((seconds, count(db, "pipeline_runs"), served.emulator.request_count))
        if len(seen) == 3:
            raise KeyboardInterrupt  # what Ctrl-C does to a sleeping process
        now[0] += seconds

    out = Output(ci=CiKind.NONE, colour=False, stdout=io.StringIO(), stderr=io.StringIO())
    args = ["orchestra", "load", "--to", str(db), "--every", "15m"]
    code = run_command(args, env=served.env(), output=out, clock=lambda: now[0], sleep=sleep)
    log = out.stderr.getvalue()  # type: ignore[attr-defined]
    assert code == 0, log[-2000:]
    assert [wait for wait, _, _ in seen] == [900.0, 900.0, 900.0]  # a load takes no time on this clock
    assert log.count("next load in 15 min (Ctrl-C stops)") == 3
    assert "stopped between loads" in log
    rows_after = [rows for _, rows, _ in seen]
    assert rows_after[0][0] > 0
    assert rows_after[1:] == rows_after[:-1]  # later loads changed nothing: no duplicates
    requests = [r for _, _, r in seen]
    assert requests[0] < requests[1] < requests[2]  # each interval ran a load
    assert API_KEY not in log


@pytest.fixture
def short_default(tmp_path: Path) -> Iterator[Served]:
    """The emulator serving task runs over the last 24 hours when a request names no window."""
    yield from make_served(tmp_path, volume=SMALL, default_windows={"task_runs": timedelta(hours=24)})


def test_a_first_load_reads_seven_days_whatever_the_apis_default(short_default: Served) -> None:
    """With the API's task-runs default cut to 24 hours, a first load still holds all 7 days (6 of history here)."""
    served = short_default
    default = served.run("orchestra", "get", "task-runs", "--page-size", "1")
    assert default.code == 0, default.stderr
    assert "asked for task-runs page 1 (the default window): Orchestra's own, the last 24 hours" in default.stderr
    one_day = int(json.loads(default.stdout)["total"])
    run = served.load("task-runs")
    assert run.code == 0, run.stderr
    since = (served.clock.now - timedelta(days=7)).isoformat()
    until = served.clock.now.isoformat()
    listed = served.run("orchestra", "get", "task-runs", "--page-size", "1", "--since", since, "--until", until)
    assert listed.code == 0, listed.stderr
    seven_days = int(json.loads(listed.stdout)["total"])
    assert one_day < seven_days
    assert count(served.tmp / "eltops.duckdb", "task_runs") == (seven_days, seven_days)
    loads = [r for r in served.emulator.requests if r.path.endswith("/task_runs") and r.query["page_size"] == "100"]
    assert loads
    assert all("time_from" in r.query and "time_to" in r.query for r in loads)
