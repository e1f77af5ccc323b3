"""``eltops report`` and ``eltops demo``: the figures the page shows equal SQL on the same tables."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pytest

from eltops.orchestra import (
    OPERATIONS,
    PIPELINE_RUNS,
    RESOURCES,
    TASK_RUNS,
    Operation,
    PipelineRun,
    TaskRun,
    records_batch,
)
from eltops.report import write_report
from eltops.warehouse import DuckDbSpec, DuckDbTarget, write_pages
from tests.report.conftest import DemoRun


class Page(HTMLParser):
    """The tiles (metric → text) and the tables (section id → rows of cell texts) of a report."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tiles: dict[str, str] = {}
        self.tables: dict[str, list[list[str]]] = {}
        self._metric: str | None = None
        self._in_value = False
        self._section: str | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self.scripts = 0
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "div" and attributes.get("data-metric"):
            self._metric = attributes["data-metric"]
        elif tag == "div" and attributes.get("class") == "value" and self._metric:
            self._in_value = True
        elif tag == "section" and attributes.get("id"):
            self._section = attributes["id"]
            self.tables[self._section] = []
        elif tag == "tr" and self._section:
            self._row = []
        elif tag == "td" and self._row is not None:
            self._cell = []
        elif tag == "script":
            self.scripts += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell))
            self._cell = None
        elif tag == "tr" and self._row is not None and self._section:
            if self._row:
                self.tables[self._section].append(self._row)
            self._row = None
        elif tag == "section":
            self._section = None

    def handle_data(self, data: str) -> None:
        if self._in_value and self._metric:
            self.tiles[self._metric] = data
            self._in_value, self._metric = False, None
        elif self._cell is not None:
            self._cell.append(data)


def _one(con: duckdb.DuckDBPyConnection, sql: str) -> object:
    row = con.execute(sql).fetchone()
    assert row is not None
    return row[0]


def _check_against_sql(db: Path, page: Page) -> None:
    """Every tile and table row on the page equals the same figure computed here with SQL."""
    con = duckdb.connect(str(db), read_only=True)
    con.execute("SET TimeZone = 'UTC'")
    expected_tiles = {
        "pipeline runs": "SELECT count(*) FROM pipeline_runs",
        "task runs": "SELECT count(*) FROM task_runs",
        "failed task runs": "SELECT count(*) FROM task_runs WHERE status = 'FAILED'",
        "failed pipeline runs": "SELECT count(*) FROM pipeline_runs WHERE run_status = 'FAILED'",
        "operations": "SELECT count(*) FROM operations",
        "rows affected": "SELECT coalesce(sum(rows_affected), 0) FROM operations",
    }
    for tile, sql in expected_tiles.items():
        assert page.tiles[tile] == f"{_one(con, sql):,}", tile
    succeeded = _one(
        con,
        "SELECT count(*) FILTER (WHERE run_status = 'SUCCEEDED') / count(*) FROM pipeline_runs "
        "WHERE run_status IN ('SUCCEEDED','WARNING','FAILED','SKIPPED','CANCELLED')",
    )
    assert page.tiles["pipeline success rate"] == f"{succeeded:.1%}"

    durations = con.execute(
        "SELECT pipeline_name, count(*), quantile_cont(epoch(completed_at) - epoch(started_at), 0.5) "
        "FROM pipeline_runs WHERE started_at IS NOT NULL AND completed_at IS NOT NULL GROUP BY 1"
    ).fetchall()
    shown = {row[0]: row for row in page.tables["pipeline-durations"]}
    assert set(shown) == {name for name, _, _ in durations}
    for name, runs, p50 in durations:
        assert shown[name][1] == f"{runs:,}"
        assert shown[name][2] == _seconds(p50)

    integrations = con.execute(
        "SELECT coalesce(integration, '(none)'), count(*), count(*) FILTER (WHERE operation_status = 'FAILED'), "
        "coalesce(sum(rows_affected), 0) FROM operations GROUP BY 1"
    ).fetchall()
    assert sorted(page.tables["integrations-table"]) == sorted(
        [name, f"{n:,}", f"{failed:,}", f"{rows:,}"] for name, n, failed, rows in integrations
    )
    failures = _one(con, "SELECT count(*) FROM task_runs WHERE status = 'FAILED'")
    assert len(page.tables["recent-failures"]) == min(int(failures), 25)  # type: ignore[call-overload]
    con.close()


def _seconds(value: float) -> str:
    if value < 120:
        return f"{value:.1f} s"
    if value < 7200:
        return f"{value / 60:.1f} min"
    return f"{value / 3600:.1f} h"


T0 = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def small_history(tmp_path: Path) -> Path:
    """Three pipelines with known durations and statuses, their tasks and operations."""
    db = tmp_path / "history.duckdb"
    pipelines, tasks, operations = [], [], []
    plan = [
        ("ingest", 60, "SUCCEEDED"),
        ("ingest", 120, "SUCCEEDED"),
        ("ingest", 300, "FAILED"),
        ("transform", 30, "SUCCEEDED"),
        ("publish", 600, "WARNING"),
        ("publish", None, "RUNNING"),
    ]
    for i, (name, seconds, status) in enumerate(plan):
        start = T0 + timedelta(days=i % 3, hours=i)
        end = None if seconds is None else start + timedelta(seconds=seconds)
        pipelines.append(
            PipelineRun(
                id=f"p{i}", pipeline_name=name, run_status=status, created_at=start, started_at=start, completed_at=end
            )
        )
        tasks.append(
            TaskRun(
                id=f"t{i}",
                pipeline_run_id=f"p{i}",
                task_name=f"{name}-task",
                integration="DBT_CORE",
                status="FAILED" if status == "FAILED" else "SUCCEEDED",
                message=f"message {i}",
                created_at=start,
                started_at=start,
                completed_at=end,
            )
        )
        operations.append(
            Operation(
                id=f"o{i}",
                task_run_id=f"t{i}",
                pipeline_run_id=f"p{i}",
                integration="DBT_CORE",
                operation_status="SUCCEEDED",
                rows_affected=10 * i,
                inserted_at=start,
            )
        )
    target = DuckDbTarget(db)
    target.prepare(RESOURCES)
    for resource, records in ((PIPELINE_RUNS, pipelines), (TASK_RUNS, tasks), (OPERATIONS, operations)):
        write_pages(target, records_batch(resource, records), None)
    target.close()
    return db


def test_small_history_figures(small_history: Path, tmp_path: Path) -> None:
    """Known runs give known figures: counts, success rate, percentiles, failures, rows affected."""
    out = tmp_path / "report.html"
    data = write_report(DuckDbSpec(small_history), out, since=None)
    assert data.headline.pipeline_runs == 6
    assert data.headline.success_rate == pytest.approx(3 / 5)
    ingest = next(p for p in data.pipeline_durations if p.pipeline_name == "ingest")
    assert (ingest.runs, ingest.p50, ingest.max) == (3, 120.0, 300.0)
    assert [f.task_name for f in data.recent_failures] == ["ingest-task"]
    assert data.headline.rows_affected == sum(10 * i for i in range(6))
    _check_against_sql(small_history, Page(out.read_text()))


def test_since_limits_the_period(small_history: Path, tmp_path: Path) -> None:
    """--since leaves out runs created before it."""
    data = write_report(DuckDbSpec(small_history), tmp_path / "r.html", since=T0 + timedelta(days=2))
    assert data.headline.pipeline_runs == 2


def test_report_is_self_contained(small_history: Path, tmp_path: Path) -> None:
    """The page carries Plotly's JavaScript inline and loads nothing from the network."""
    out = tmp_path / "report.html"
    write_report(DuckDbSpec(small_history), out, since=None)
    text = out.read_text()
    assert re.findall(r"<(?:script|link|img|iframe)[^>]+(?:src|href)=[\"']?https?:", text) == []
    assert "Plotly.newPlot" in text
    assert len(text) > 1_000_000  # the library itself is in the file


def test_report_of_an_empty_warehouse(tmp_path: Path) -> None:
    """A warehouse with no history tables yet still renders, with empty tables."""
    db = tmp_path / "empty.duckdb"
    duckdb.connect(str(db)).close()
    data = write_report(DuckDbSpec(db), tmp_path / "r.html", since=None)
    assert data.headline.pipeline_runs == 0
    page = (tmp_path / "r.html").read_text()
    assert "No runs yet" in page  # says so, instead of six empty charts with made-up axes
    assert "plotly-graph-div" not in page
    assert "Plotly" not in page  # and no 4 MB library to draw nothing
    assert f"eltops orchestra load --to {db}" in page  # how to load some, into this very warehouse
    assert "runs from" not in page


def _eltops(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(cwd)}
    return subprocess.run(
        [sys.executable, "-m", "eltops", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["report", "--from", "missing.duckdb"], "there is no warehouse at"),
        (["report", "--since", "last tuesday"], "--since must be a date"),
        (["report", "--from", "mysql://x"], "unknown warehouse"),
    ],
)
def test_report_bad_input_is_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    """A missing warehouse, a bad date or an unknown target is exit 2 with a clear message."""
    result = _eltops(*args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr


def test_demo_end_to_end(demo_run: DemoRun, tmp_path: Path) -> None:
    """`eltops demo` fills eltops-demo.duckdb from both emulators, records its runs, and writes a true report."""
    assert demo_run.code == 0, demo_run.stderr[-3000:]
    db = demo_run.db
    report = demo_run.report
    assert str(report) in demo_run.stderr
    con = duckdb.connect(str(db), read_only=True)
    fivetran_tasks = con.execute(
        "SELECT integration_job, status FROM task_runs WHERE task_name LIKE 'fivetran-%' ORDER BY task_name"
    ).fetchall()
    assert fivetran_tasks == [
        ("CHECK", "SUCCEEDED"),
        ("FORCE_RESYNC", "SUCCEEDED"),
        ("START", "FAILED"),
        ("TEST", "SUCCEEDED"),
        ("START", "SUCCEEDED"),  # fivetran-then-transform: demo_erp's sync, then its transformation
    ]
    assert con.execute(
        "SELECT count(*) FROM operations WHERE external_id IN ('demo_shop','demo_crm','demo_erp')"
    ).fetchone() == (7,)  # START 2, TEST 1, FORCE_RESYNC 1, START 1, CHECK 2
    assert con.execute(
        "SELECT operation_type, operation_status FROM operations WHERE external_id = 'erp_marts'"
    ).fetchall() == [("TRANSFORMATION", "SUCCEEDED")]
    assert con.execute("SELECT count(*) FROM task_runs").fetchone()[0] > 1000  # type: ignore[index]
    [(message,)] = con.execute("SELECT message FROM pipeline_runs WHERE pipeline_name = 'acme/analytics'").fetchall()
    assert message.startswith("Task 'fivetran-start' failed: demo_crm: failed: the sync failed")
    con.close()
    page = Page(report.read_text())
    _check_against_sql(db, page)
    assert page.tables["expensive-runs"], "the demo's data shows the most expensive runs"
    assert page.tables["anomalous-runs-table"], "the demo's data shows anomalous runs"
    assert "cost" in page.tiles
    again = _eltops("report", "--from", str(db), "--out", str(tmp_path / "again.html"), cwd=tmp_path)
    assert again.returncode == 0, again.stderr


def test_demo_leaves_nothing_running(demo_run: DemoRun) -> None:
    """When `eltops demo` returns, its emulator servers and worker threads have all stopped."""
    assert (demo_run.code, demo_run.alive) == (0, []), demo_run.stderr[-2000:]


@pytest.mark.fakesnow
def test_report_from_snowflake(tmp_path: Path) -> None:
    """A Snowflake source (fakesnow) gives the same figures as the same rows in DuckDB."""
    import fakesnow

    from eltops.warehouse import SnowflakeSpec
    from eltops.warehouse._snowflake import SnowflakeSettings, SnowflakeTarget

    run = PipelineRun(
        id="p1",
        pipeline_name="ingest",
        run_status="FAILED",
        created_at=T0,
        started_at=T0,
        completed_at=T0 + timedelta(seconds=90),
    )
    task = TaskRun(
        id="t1",
        pipeline_run_id="p1",
        task_name="load",
        integration="PYTHON",
        status="FAILED",
        message="boom",
        created_at=T0,
        started_at=T0,
        completed_at=T0 + timedelta(seconds=60),
    )
    operation = Operation(
        id="o1", task_run_id="t1", integration="PYTHON", operation_status="FAILED", rows_affected=7, inserted_at=T0
    )
    settings = SnowflakeSettings(params={"account": "acct", "database": "DB", "schema": "ORCH"})
    with fakesnow.patch():
        target = SnowflakeTarget(settings)
        target.prepare(RESOURCES)
        for resource, record in ((PIPELINE_RUNS, run), (TASK_RUNS, task), (OPERATIONS, operation)):
            write_pages(target, records_batch(resource, [record]), None)
        target.close()
        data = write_report(SnowflakeSpec(settings), tmp_path / "r.html", since=None)
    assert (data.headline.pipeline_runs, data.headline.pipeline_runs_failed, data.headline.rows_affected) == (1, 1, 7)
    assert [(p.pipeline_name, p.p50) for p in data.pipeline_durations] == [("ingest", 90.0)]
    assert [(f.task_name, f.message) for f in data.recent_failures] == [("load", "boom")]


def test_cost_and_anomalies_are_figured_from_the_new_columns(tmp_path: Path) -> None:
    """Known costs and anomalies give known figures: cost per pipeline and integration per day, the most expensive
    runs, and the flagged runs ordered by how far above their baseline they ran."""
    db = tmp_path / "cost.duckdb"
    day = T0
    runs = [
        PipelineRun(id="a", pipeline_name="ingest", run_status="SUCCEEDED", created_at=day),
        PipelineRun(
            id="b",
            pipeline_name="transform",
            run_status="WARNING",
            created_at=day + timedelta(days=1),
            has_anomalies=True,
            anomalies={
                "x": {
                    "type": "PIPELINE_DURATION_ABOVE_BASELINE",
                    "data": {"percentage_above_baseline": 40, "observed_seconds": 700, "threshold_seconds": 500},
                },
                "y": {"type": "TASK_DURATION_ABOVE_BASELINE", "data": {"percentage_above_baseline": 10}},
            },
        ),
    ]
    costs = [("a", "DBT_CORE", 1.25, day), ("a", "SNOWFLAKE", 0.5, day), ("b", "DBT_CORE", 3.0, day + timedelta(1))]
    operations = [
        Operation(id=f"o{n}", pipeline_run_id=run, integration=kind, cost=cost, currency="USD", inserted_at=at)
        for n, (run, kind, cost, at) in enumerate(costs)
    ]
    target = DuckDbTarget(db)
    target.prepare(RESOURCES)
    write_pages(target, records_batch(PIPELINE_RUNS, runs), None)
    write_pages(target, records_batch(OPERATIONS, operations), None)
    target.close()
    out = tmp_path / "cost.html"
    data = write_report(DuckDbSpec(db), out, since=None)
    assert [(c.name, c.cost) for c in data.cost_by_pipeline] == [("ingest", 1.75), ("transform", 3.0)]
    assert sorted((c.name, c.cost) for c in data.cost_by_integration) == [
        ("DBT_CORE", 1.25),
        ("DBT_CORE", 3.0),
        ("SNOWFLAKE", 0.5),
    ]
    assert [(r.run_id, r.cost, r.currency, r.operations) for r in data.expensive_runs] == [
        ("b", 3.0, "USD", 1),
        ("a", 1.75, "USD", 2),
    ]
    [flagged] = data.anomalous_runs
    assert (flagged.run_id, flagged.percent_above_baseline, flagged.observed_seconds, flagged.anomalies) == (
        "b",
        40.0,
        700.0,
        2,
    )
    page = Page(out.read_text())
    assert page.tiles["cost"] == "4.75 USD"
    assert page.tables["expensive-runs"][0][5] == "3.00 USD"
    assert page.tables["anomalous-runs-table"][0][4] == "40%"


def test_a_010_file_reports_without_the_new_columns(tmp_path: Path) -> None:
    """A file eltops 0.1.0 wrote is read as it is (never upgraded by a report): the new figures are simply empty."""
    released = Path(__file__).resolve().parents[1] / "fixtures" / "eltops-0.1.0.duckdb"
    copy = tmp_path / "old.duckdb"
    copy.write_bytes(released.read_bytes())
    data = write_report(DuckDbSpec(copy), tmp_path / "old.html", since=None)
    assert data.headline.pipeline_runs == 75
    assert data.cost_by_pipeline == data.anomalous_runs == ()
    assert copy.read_bytes() == released.read_bytes()
