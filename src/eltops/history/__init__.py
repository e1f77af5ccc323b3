"""Run history: the orchestrator records its own runs in the tables the Orchestra loader fills."""

from eltops.history._ci import CiRun, detect_ci_run, stable_id
from eltops.history._recorder import HistoryRecorder
from eltops.history._records import pipeline_status, task_parameters, task_status
from eltops.history._run_recorder import RunRecorder

__all__ = [
    "CiRun",
    "HistoryRecorder",
    "RunRecorder",
    "detect_ci_run",
    "pipeline_status",
    "stable_id",
    "task_parameters",
    "task_status",
]
