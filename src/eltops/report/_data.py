"""The numbers a run-history report shows, computed with SQL over the ``pipeline_runs``, ``task_runs`` and
``operations`` tables in DuckDB (cost from the operations' ``final_cost_amount`` or ``cost``, anomalies from the
pipeline runs' ``anomalies``) (a Snowflake source is copied into an in-memory DuckDB first, so there is one
dialect and one set of queries).

Durations are ``completed_at - started_at`` in seconds; runs without both are left out of duration figures.
A run "failed" when its status is FAILED; the success rate counts finished runs only.
"""

# ruff: noqa: S608  (the SQL is assembled from constants; the one value, ``since``, is bound)

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import duckdb

FINISHED_PIPELINE_STATUSES = ("SUCCEEDED", "WARNING", "FAILED", "SKIPPED", "CANCELLED")


@dataclass(frozen=True)
class Headline:
    pipeline_runs: int
    pipeline_runs_finished: int
    pipeline_runs_succeeded: int
    pipeline_runs_failed: int
    task_runs: int
    task_runs_failed: int
    operations: int
    rows_affected: int
    first_run: datetime | None
    last_run: datetime | None

    @property
    def success_rate(self) -> float | None:
        if not self.pipeline_runs_finished:
            return None
        return self.pipeline_runs_succeeded / self.pipeline_runs_finished


@dataclass(frozen=True)
class DayCount:
    day: date
    status: str
    runs: int


@dataclass(frozen=True)
class PipelineDuration:
    pipeline_name: str
    runs: int
    p50: float
    p90: float
    p99: float
    max: float


@dataclass(frozen=True)
class DayDuration:
    day: date
    pipeline_name: str
    median: float


@dataclass(frozen=True)
class TaskDuration:
    task_name: str
    integration: str
    runs: int
    p50: float
    p90: float


@dataclass(frozen=True)
class TaskFailures:
    task_name: str
    integration: str
    runs: int
    failures: int

    @property
    def failure_rate(self) -> float:
        return self.failures / self.runs if self.runs else 0.0


@dataclass(frozen=True)
class Failure:
    at: datetime | None
    pipeline_name: str
    task_name: str
    integration: str
    message: str


@dataclass(frozen=True)
class IntegrationOperations:
    integration: str
    operations: int
    failed: int
    rows_affected: int


@dataclass(frozen=True)
class DayCost:
    """What one pipeline (or integration) cost on one day: the sum of its operations' final cost."""

    day: date
    name: str
    cost: float
    currency: str


@dataclass(frozen=True)
class RunCost:
    at: datetime | None
    pipeline_name: str
    run_id: str
    status: str
    cost: float
    currency: str
    operations: int


@dataclass(frozen=True)
class AnomalousRun:
    """A pipeline run Orchestra flagged: the largest anomaly's percentage above baseline and its durations."""

    at: datetime | None
    pipeline_name: str
    run_id: str
    status: str
    percent_above_baseline: float
    observed_seconds: float | None
    threshold_seconds: float | None
    anomalies: int


@dataclass(frozen=True)
class ReportData:
    since: datetime | None
    generated_at: datetime
    headline: Headline
    runs_by_day: tuple[DayCount, ...]
    pipeline_durations: tuple[PipelineDuration, ...]
    duration_trend: tuple[DayDuration, ...]
    slowest_tasks: tuple[TaskDuration, ...]
    failing_tasks: tuple[TaskFailures, ...]
    recent_failures: tuple[Failure, ...]
    integrations: tuple[IntegrationOperations, ...]
    cost_by_pipeline: tuple[DayCost, ...] = ()
    cost_by_integration: tuple[DayCost, ...] = ()
    expensive_runs: tuple[RunCost, ...] = ()
    anomalous_runs: tuple[AnomalousRun, ...] = ()


TOP = 15
RECENT_FAILURES = 25

_SINCE = "COALESCE(CAST($since AS TIMESTAMPTZ), '-infinity'::TIMESTAMPTZ)"
_DURATION = "epoch(completed_at) - epoch(started_at)"

HEADLINE_SQL = f"""
WITH p AS (SELECT * FROM pipeline_runs WHERE created_at >= {_SINCE}),
     t AS (SELECT * FROM task_runs WHERE created_at >= {_SINCE}),
     o AS (SELECT * FROM operations WHERE inserted_at >= {_SINCE})
SELECT
    (SELECT count(*) FROM p),
    (SELECT count(*) FROM p WHERE run_status IN {FINISHED_PIPELINE_STATUSES}),
    (SELECT count(*) FROM p WHERE run_status = 'SUCCEEDED'),
    (SELECT count(*) FROM p WHERE run_status = 'FAILED'),
    (SELECT count(*) FROM t),
    (SELECT count(*) FROM t WHERE status = 'FAILED'),
    (SELECT count(*) FROM o),
    (SELECT COALESCE(sum(rows_affected), 0) FROM o),
    (SELECT min(created_at) FROM p),
    (SELECT max(created_at) FROM p)
"""

RUNS_BY_DAY_SQL = f"""
SELECT CAST(date_trunc('day', created_at) AS DATE) AS day, run_status, count(*) AS runs
FROM pipeline_runs WHERE created_at >= {_SINCE}
GROUP BY ALL ORDER BY day, run_status
"""

PIPELINE_DURATIONS_SQL = f"""
SELECT pipeline_name, count(*) AS runs,
       quantile_cont({_DURATION}, 0.5), quantile_cont({_DURATION}, 0.9),
       quantile_cont({_DURATION}, 0.99), max({_DURATION})
FROM pipeline_runs
WHERE created_at >= {_SINCE} AND started_at IS NOT NULL AND completed_at IS NOT NULL
GROUP BY pipeline_name ORDER BY 3 DESC, pipeline_name
"""

DURATION_TREND_SQL = f"""
SELECT CAST(date_trunc('day', created_at) AS DATE) AS day, pipeline_name, median({_DURATION})
FROM pipeline_runs
WHERE created_at >= {_SINCE} AND started_at IS NOT NULL AND completed_at IS NOT NULL
GROUP BY ALL ORDER BY day, pipeline_name
"""

SLOWEST_TASKS_SQL = f"""
SELECT task_name, COALESCE(integration, ''), count(*), quantile_cont({_DURATION}, 0.5) AS p50,
       quantile_cont({_DURATION}, 0.9) AS p90
FROM task_runs
WHERE created_at >= {_SINCE} AND started_at IS NOT NULL AND completed_at IS NOT NULL
GROUP BY ALL ORDER BY p90 DESC, task_name LIMIT {TOP}
"""

FAILING_TASKS_SQL = f"""
SELECT task_name, COALESCE(integration, ''), count(*) AS runs, count(*) FILTER (WHERE status = 'FAILED') AS failures
FROM task_runs WHERE created_at >= {_SINCE}
GROUP BY ALL HAVING failures > 0 ORDER BY failures DESC, runs DESC, task_name LIMIT {TOP}
"""

RECENT_FAILURES_SQL = f"""
SELECT COALESCE(t.completed_at, t.updated_at, t.created_at) AS failed_at, COALESCE(p.pipeline_name, ''), t.task_name,
       COALESCE(t.integration, ''), COALESCE(NULLIF(t.message, ''), t.external_message, '')
FROM task_runs t LEFT JOIN pipeline_runs p ON p.id = t.pipeline_run_id
WHERE t.created_at >= {_SINCE} AND t.status = 'FAILED'
ORDER BY failed_at DESC NULLS LAST, t.id LIMIT {RECENT_FAILURES}
"""

INTEGRATIONS_SQL = f"""
SELECT COALESCE(integration, '(none)'), count(*), count(*) FILTER (WHERE operation_status = 'FAILED'),
       COALESCE(sum(rows_affected), 0)
FROM operations WHERE inserted_at >= {_SINCE}
GROUP BY ALL ORDER BY 2 DESC, 1
"""


_COST = "COALESCE(o.final_cost_amount, o.cost)"
_CURRENCY = "COALESCE(o.final_cost_currency, o.currency, '')"

COST_BY_PIPELINE_SQL = f"""
SELECT CAST(date_trunc('day', o.inserted_at) AS DATE) AS day, COALESCE(p.pipeline_name, '(unknown)'),
       sum({_COST}), COALESCE(max({_CURRENCY}), '')
FROM operations o LEFT JOIN pipeline_runs p ON p.id = o.pipeline_run_id
WHERE o.inserted_at >= {_SINCE} AND {_COST} IS NOT NULL
GROUP BY ALL ORDER BY day, 2
"""

COST_BY_INTEGRATION_SQL = f"""
SELECT CAST(date_trunc('day', o.inserted_at) AS DATE) AS day, COALESCE(o.integration, '(none)'),
       sum({_COST}), COALESCE(max({_CURRENCY}), '')
FROM operations o
WHERE o.inserted_at >= {_SINCE} AND {_COST} IS NOT NULL
GROUP BY ALL ORDER BY day, 2
"""

EXPENSIVE_RUNS_SQL = f"""
SELECT p.created_at, COALESCE(p.pipeline_name, ''), o.pipeline_run_id, COALESCE(p.run_status, ''),
       sum({_COST}) AS total, COALESCE(max({_CURRENCY}), ''), count(*)
FROM operations o LEFT JOIN pipeline_runs p ON p.id = o.pipeline_run_id
WHERE o.inserted_at >= {_SINCE} AND {_COST} IS NOT NULL
GROUP BY ALL ORDER BY total DESC, o.pipeline_run_id LIMIT {TOP}
"""

ANOMALOUS_RUNS_SQL = f"""
WITH flagged AS (
    SELECT p.created_at, COALESCE(p.pipeline_name, '') AS pipeline_name, p.id, COALESCE(p.run_status, '') AS status,
           unnest(json_extract(p.anomalies, '$.*')) AS anomaly
    FROM pipeline_runs p
    WHERE p.created_at >= {_SINCE} AND p.has_anomalies AND p.anomalies IS NOT NULL
)
SELECT created_at, pipeline_name, id, status,
       max(TRY_CAST(anomaly->>'$.data.percentage_above_baseline' AS DOUBLE)) AS percent,
       max(TRY_CAST(anomaly->>'$.data.observed_seconds' AS DOUBLE)),
       max(TRY_CAST(anomaly->>'$.data.threshold_seconds' AS DOUBLE)),
       count(*)
FROM flagged
GROUP BY ALL ORDER BY percent DESC NULLS LAST, created_at DESC, id LIMIT {TOP}
"""


def _rows(conn: duckdb.DuckDBPyConnection, sql: str, since: datetime | None) -> list[tuple[Any, ...]]:
    return conn.execute(sql, {"since": since}).fetchall()


def collect(conn: duckdb.DuckDBPyConnection, *, since: datetime | None, generated_at: datetime) -> ReportData:
    """Run every report query on ``conn`` (which has the three tables) for runs created at or after ``since``."""
    conn.execute("SET TimeZone = 'UTC'")
    [head] = _rows(conn, HEADLINE_SQL, since)
    return ReportData(
        since=since,
        generated_at=generated_at,
        headline=Headline(*head),
        runs_by_day=tuple(DayCount(*r) for r in _rows(conn, RUNS_BY_DAY_SQL, since)),
        pipeline_durations=tuple(PipelineDuration(*r) for r in _rows(conn, PIPELINE_DURATIONS_SQL, since)),
        duration_trend=tuple(DayDuration(*r) for r in _rows(conn, DURATION_TREND_SQL, since)),
        slowest_tasks=tuple(TaskDuration(*r) for r in _rows(conn, SLOWEST_TASKS_SQL, since)),
        failing_tasks=tuple(TaskFailures(*r) for r in _rows(conn, FAILING_TASKS_SQL, since)),
        recent_failures=tuple(Failure(*r) for r in _rows(conn, RECENT_FAILURES_SQL, since)),
        integrations=tuple(IntegrationOperations(*r) for r in _rows(conn, INTEGRATIONS_SQL, since)),
        cost_by_pipeline=tuple(DayCost(*r) for r in _rows(conn, COST_BY_PIPELINE_SQL, since)),
        cost_by_integration=tuple(DayCost(*r) for r in _rows(conn, COST_BY_INTEGRATION_SQL, since)),
        expensive_runs=tuple(RunCost(*r) for r in _rows(conn, EXPENSIVE_RUNS_SQL, since)),
        anomalous_runs=tuple(
            AnomalousRun(r[0], r[1], r[2], r[3], r[4] or 0.0, r[5], r[6], r[7])
            for r in _rows(conn, ANOMALOUS_RUNS_SQL, since)
        ),
    )
