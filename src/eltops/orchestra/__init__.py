"""Orchestra: the records vocabulary, the load plans, pages, the API client, pipeline runs, and the emulator.

Two kinds of names live here:

- the records vocabulary, imported with the package (standard library and orjson only, and shared with the
  Snowflake Native App): the four resources and their columns and typed records (``_records``), the requests,
  windows and load plans (``_plan``), and the pages a load carries (``_pages``). ``eltops.warehouse`` depends on
  these and on nothing else of Orchestra's;
- the rest, each imported on first use (``eltops._lazy``): the settings (``_config``), the HTTP client (httpx,
  ``_client``), Arrow typing of pages (pyarrow, ``_arrow``), and ``eltops orchestra run``'s models, settings,
  runner and report (``_run_*``, ``_runner``).
"""

import typing

from eltops import _lazy
from eltops.orchestra._pages import MAX_PAGE_BYTES, Page, PageBatch, parse_page, records_batch
from eltops.orchestra._plan import (
    DEFAULT_API_URL,
    DEFAULT_BATCH_ROWS,
    DEFAULT_CONCURRENCY,
    DEFAULT_RATE_LIMIT,
    IDS_PER_REQUEST,
    LOOKBACK,
    MAX_PAGE_SIZE,
    MAX_WINDOW,
    OPEN_RUN_HORIZON,
    STATE_TABLE,
    Cursor,
    ListingError,
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
    ASSETS,
    LOADED_AT,
    OPERATIONS,
    PIPELINE_RUNS,
    RESOURCES,
    REST,
    SCHEMA_VERSION,
    TASK_RUNS,
    Asset,
    Column,
    ColumnType,
    Operation,
    PipelineRun,
    RecordError,
    Resource,
    TaskRun,
    map_page,
    map_record,
    parse_timestamp,
    resource_named,
    rest_of,
    table_layout,
)

if typing.TYPE_CHECKING:
    from eltops.orchestra._arrow import arrow_schema, arrow_type, page_to_arrow
    from eltops.orchestra._assets import OperationAsset
    from eltops.orchestra._client import ClientRecipe, OrchestraClient
    from eltops.orchestra._config import (
        OrchestraSettings,
        orchestra_settings,
        page_query,
        parse_filters,
        parse_resources,
        parse_time,
        parse_window,
    )
    from eltops.orchestra._run_models import FINAL_STATUSES, LogTail, PipelineRunState, StartedPipeline, TaskRunState
    from eltops.orchestra._run_report import run_junit_cases, run_markdown_summary, run_to_json, task_rows
    from eltops.orchestra._run_settings import RunFlags, RunSettings, run_settings
    from eltops.orchestra._runner import FailedTaskLog, PipelineRunner, RunCancelled, RunResult, app_link
else:
    __getattr__, __dir__ = _lazy.lazy_exports(
        __name__,
        {
            "eltops.orchestra._arrow": ["arrow_schema", "arrow_type", "page_to_arrow"],
            "eltops.orchestra._assets": ["OperationAsset"],
            "eltops.orchestra._client": ["ClientRecipe", "OrchestraClient"],
            "eltops.orchestra._config": [
                "OrchestraSettings",
                "orchestra_settings",
                "page_query",
                "parse_filters",
                "parse_resources",
                "parse_time",
                "parse_window",
            ],
            "eltops.orchestra._run_models": [
                "FINAL_STATUSES",
                "LogTail",
                "PipelineRunState",
                "StartedPipeline",
                "TaskRunState",
            ],
            "eltops.orchestra._run_report": ["run_junit_cases", "run_markdown_summary", "run_to_json", "task_rows"],
            "eltops.orchestra._run_settings": ["RunFlags", "RunSettings", "run_settings"],
            "eltops.orchestra._runner": ["FailedTaskLog", "PipelineRunner", "RunCancelled", "RunResult", "app_link"],
        },
    )

__all__ = [
    "ASSETS",
    "DEFAULT_API_URL",
    "DEFAULT_BATCH_ROWS",
    "DEFAULT_CONCURRENCY",
    "DEFAULT_RATE_LIMIT",
    "FINAL_STATUSES",
    "IDS_PER_REQUEST",
    "LOADED_AT",
    "LOOKBACK",
    "MAX_PAGE_BYTES",
    "MAX_PAGE_SIZE",
    "MAX_WINDOW",
    "OPEN_RUN_HORIZON",
    "OPERATIONS",
    "PIPELINE_RUNS",
    "RESOURCES",
    "REST",
    "SCHEMA_VERSION",
    "STATE_TABLE",
    "TASK_RUNS",
    "Asset",
    "ClientRecipe",
    "Column",
    "ColumnType",
    "Cursor",
    "FailedTaskLog",
    "ListingError",
    "LoadPlan",
    "LoadState",
    "LogTail",
    "Operation",
    "OperationAsset",
    "OrchestraClient",
    "OrchestraSettings",
    "Page",
    "PageBatch",
    "PageQuery",
    "PipelineRun",
    "PipelineRunState",
    "PipelineRunner",
    "PlanError",
    "RecordError",
    "Resource",
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
    "arrow_type",
    "group_ids_by_window",
    "iter_window",
    "map_page",
    "map_record",
    "orchestra_settings",
    "page_query",
    "page_to_arrow",
    "parse_filters",
    "parse_page",
    "parse_resources",
    "parse_time",
    "parse_timestamp",
    "parse_window",
    "plan_load",
    "records_batch",
    "resource_named",
    "rest_of",
    "run_junit_cases",
    "run_markdown_summary",
    "run_settings",
    "run_to_json",
    "table_layout",
    "task_rows",
    "walk_windows",
]
