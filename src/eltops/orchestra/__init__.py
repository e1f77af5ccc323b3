"""Orchestra: the API client, the typed records, the incremental loader, and the emulator.

Everything below is importable from here, but each name's module is imported on first use: planning
(:mod:`eltops.orchestra._plan`) and the declarations and mapping (:mod:`eltops.orchestra._records`) need only the
standard library, while the client, the Arrow path and the loader need httpx, pyarrow and the warehouse drivers.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from eltops.orchestra._arrow import (
        arrow_schema,
        page_to_arrow,
        records_to_arrow,
    )
    from eltops.orchestra._client import OrchestraClient
    from eltops.orchestra._config import (
        DEFAULT_RATE_LIMIT,
        LoadSettings,
        OrchestraSettings,
        load_settings,
        orchestra_settings,
        page_query,
        parse_filters,
        parse_interval,
        parse_resources,
        parse_time,
        parse_window,
    )
    from eltops.orchestra._loader import (
        DEFAULT_BATCH_ROWS,
        Loader,
        LoadProgress,
        LoadResult,
        QuietProgress,
        ResourceResult,
    )
    from eltops.orchestra._pages import (
        Page,
        PageBatch,
        parse_page,
    )
    from eltops.orchestra._plan import (
        DEFAULT_API_URL,
        MAX_PAGE_SIZE,
        MAX_WINDOW,
        LoadPlan,
        LoadState,
        PageQuery,
        PlanError,
        Window,
        group_ids_by_window,
        iter_window,
        plan_load,
        walk_windows,
    )
    from eltops.orchestra._records import (
        OPERATIONS,
        PIPELINE_RUNS,
        RESOURCES,
        TASK_RUNS,
        Column,
        ColumnType,
        Operation,
        PipelineRun,
        RecordError,
        Resource,
        TaskRun,
        map_page,
        map_record,
        resource_named,
    )
    from eltops.orchestra._run_models import (
        FINAL_STATUSES,
        LogTail,
        PipelineRunState,
        StartedPipeline,
        TaskRunState,
    )
    from eltops.orchestra._run_settings import RunFlags, RunSettings, run_settings
    from eltops.orchestra._runner import FailedTaskLog, PipelineRunner, RunCancelled, RunResult, app_link

_LAZY: dict[str, str] = {
    **dict.fromkeys(
        ("FINAL_STATUSES", "LogTail", "PipelineRunState", "StartedPipeline", "TaskRunState"),
        "eltops.orchestra._run_models",
    ),
    **dict.fromkeys(("RunFlags", "RunSettings", "run_settings"), "eltops.orchestra._run_settings"),
    **dict.fromkeys(
        ("FailedTaskLog", "PipelineRunner", "RunCancelled", "RunResult", "app_link"), "eltops.orchestra._runner"
    ),
    **dict.fromkeys(("arrow_schema", "page_to_arrow", "records_to_arrow"), "eltops.orchestra._arrow"),
    "OrchestraClient": "eltops.orchestra._client",
    **dict.fromkeys(("Page", "PageBatch", "parse_page"), "eltops.orchestra._pages"),
    **dict.fromkeys(
        (
            "DEFAULT_RATE_LIMIT",
            "LoadSettings",
            "OrchestraSettings",
            "load_settings",
            "orchestra_settings",
            "page_query",
            "parse_filters",
            "parse_interval",
            "parse_resources",
            "parse_time",
            "parse_window",
        ),
        "eltops.orchestra._config",
    ),
    **dict.fromkeys(
        ("LoadProgress", "LoadResult", "Loader", "QuietProgress", "ResourceResult"),
        "eltops.orchestra._loader",
    ),
    **dict.fromkeys(
        (
            "DEFAULT_API_URL",
            "DEFAULT_BATCH_ROWS",
            "MAX_PAGE_SIZE",
            "MAX_WINDOW",
            "LoadPlan",
            "LoadState",
            "PageQuery",
            "PlanError",
            "Window",
            "group_ids_by_window",
            "iter_window",
            "plan_load",
            "walk_windows",
        ),
        "eltops.orchestra._plan",
    ),
    **dict.fromkeys(
        (
            "OPERATIONS",
            "PIPELINE_RUNS",
            "RESOURCES",
            "TASK_RUNS",
            "Column",
            "ColumnType",
            "Operation",
            "PipelineRun",
            "RecordError",
            "Resource",
            "TaskRun",
            "map_page",
            "map_record",
            "resource_named",
        ),
        "eltops.orchestra._records",
    ),
}

__all__ = [
    "DEFAULT_API_URL",
    "DEFAULT_BATCH_ROWS",
    "DEFAULT_RATE_LIMIT",
    "FINAL_STATUSES",
    "MAX_PAGE_SIZE",
    "MAX_WINDOW",
    "OPERATIONS",
    "PIPELINE_RUNS",
    "RESOURCES",
    "TASK_RUNS",
    "Column",
    "ColumnType",
    "FailedTaskLog",
    "LoadPlan",
    "LoadProgress",
    "LoadResult",
    "LoadSettings",
    "LoadState",
    "Loader",
    "LogTail",
    "Operation",
    "OrchestraClient",
    "OrchestraSettings",
    "Page",
    "PageBatch",
    "PageQuery",
    "PipelineRun",
    "PipelineRunState",
    "PipelineRunner",
    "PlanError",
    "QuietProgress",
    "RecordError",
    "Resource",
    "ResourceResult",
    "RunCancelled",
    "RunFlags",
    "RunResult",
    "RunSettings",
    "StartedPipeline",
    "TaskRun",
    "TaskRunState",
    "Window",
    "app_link",
    "arrow_schema",
    "group_ids_by_window",
    "iter_window",
    "load_settings",
    "map_page",
    "map_record",
    "orchestra_settings",
    "page_query",
    "page_to_arrow",
    "parse_filters",
    "parse_interval",
    "parse_page",
    "parse_resources",
    "parse_time",
    "parse_window",
    "plan_load",
    "records_to_arrow",
    "resource_named",
    "run_settings",
    "walk_windows",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
