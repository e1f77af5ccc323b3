"""What ``eltops orchestra run`` reports: the summary rows, the JSON result, the JUnit cases, the step summary."""

from __future__ import annotations

from typing import Any

from eltops._junit import JUnitCase
from eltops.orchestra._run_models import TaskRunState
from eltops.orchestra._runner import FailedTaskLog, RunResult

__all__ = ["format_seconds", "run_junit_cases", "run_markdown_summary", "run_to_json", "task_rows"]


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.0f}s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m{rest:02d}s" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}m"


def task_rows(result: RunResult) -> list[tuple[str, str, str, str, str]]:
    """(task, integration, status, duration, message) per task run."""
    return [
        (
            task.task_name,
            task.integration,
            task.status,
            format_seconds(task.duration_seconds(result.finished_at)),
            task.message or "",
        )
        for task in result.task_runs
    ]


def _log_of(result: RunResult, task: TaskRunState) -> FailedTaskLog | None:
    return next((f for f in result.failed_logs if f.task.id == task.id), None)


def run_to_json(result: RunResult) -> dict[str, Any]:
    """The ``--json`` object."""
    return {
        "pipeline": result.pipeline,
        "pipelineName": result.pipeline_name,
        "pipelineRunId": result.run_id,
        "status": result.status,
        "exitCode": int(result.exit_code),
        "message": result.message,
        "warning": result.warning,
        "link": result.link,
        "cancelRequested": result.cancel_requested,
        "startedAt": result.started_at.isoformat(),
        "finishedAt": result.finished_at.isoformat(),
        "taskRuns": [
            {
                "id": task.id,
                "taskId": task.task_id,
                "taskName": task.task_name,
                "integration": task.integration,
                "status": task.status,
                "message": task.message,
                "durationSeconds": task.duration_seconds(result.finished_at),
                "platformLink": task.platform_link,
                "logTail": (found.tail.text if (found := _log_of(result, task)) and found.tail else None),
            }
            for task in result.task_runs
        ],
    }


def run_junit_cases(result: RunResult) -> list[JUnitCase]:
    """One case per task run: FAILED is a failure, SKIPPED skipped, CANCELLED or unfinished an error, the log tail
    its output."""
    cases = []
    for task in result.task_runs:
        found = _log_of(result, task)
        output = found.tail.text if found is not None and found.tail is not None else ""
        message = task.message or task.status
        failure = error = skipped = None
        if task.status == "FAILED":
            failure = message
        elif task.status == "SKIPPED":  # not run (a failure upstream, not chosen by --task-ids): JUnit's <skipped/>
            skipped = message
        elif task.status in ("CANCELLED", "CANCELLING") or task.completed_at is None:
            error = f"{task.status}: {message}" if task.message else task.status
        cases.append(
            JUnitCase(
                name=task.task_name,
                classname=f"orchestra.{result.pipeline}",
                seconds=task.duration_seconds(result.finished_at) or 0.0,
                failure=failure,
                error=error,
                output=output,
                skipped=skipped,
            )
        )
    return cases


def run_markdown_summary(result: RunResult) -> str:
    """A GitHub step summary: the outcome, a link, and the task table."""
    lines = [
        f"### Orchestra {result.pipeline_name}: {result.status}",
        "",
        f"{result.message}. [Run {result.run_id}]({result.link})",
        "",
    ]
    if result.task_runs:
        lines += ["| task | integration | status | duration | message |", "|---|---|---|---|---|"]
        for row in task_rows(result):
            lines.append("| " + " | ".join(cell.replace("|", "\\|").replace("\n", " ") for cell in row) + " |")
    return "\n".join(lines) + "\n"
