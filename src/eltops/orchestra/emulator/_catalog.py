"""The made-up workspace the emulator serves: integrations, pipelines, environments.

Everything here is small and fixed per seed; the runs themselves are generated on demand in ``_generate``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eltops.orchestra.emulator._ids import Draws


@dataclass(frozen=True, slots=True)
class OperationTemplate:
    """What one operation of a task looks like: its type, name, external id and whether it counts rows."""

    operation_type: str
    name: str
    external_id: str | None  # None: a fresh id per run (e.g. a Snowflake query id)
    counts_rows: bool
    dependencies: tuple[str, ...] = ()
    asset_external_id: str | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class IntegrationKind:
    """An integration a task can use, with its job, typical duration and the statuses it reports."""

    integration: str
    job: str
    min_seconds: int
    max_seconds: int
    external_statuses: dict[str, str]  # our task status -> the platform's own status word
    failure_message: str
    billed_in_credits: bool


KINDS: dict[str, IntegrationKind] = {
    kind.integration: kind
    for kind in (
        IntegrationKind(
            "FIVETRAN",
            "FIVETRAN_SYNC_ALL",
            60,
            1500,
            {"RUNNING": "syncing", "SUCCEEDED": "success", "WARNING": "success", "FAILED": "failure"},
            "Fivetran sync failed: Connection timed out while reading from the source",
            False,
        ),
        IntegrationKind(
            "AIRBYTE_CLOUD",
            "AIRBYTE_CLOUD_JOB",
            60,
            1200,
            {"RUNNING": "running", "SUCCEEDED": "succeeded", "WARNING": "succeeded", "FAILED": "failed"},
            "Airbyte job failed: Source process exited with non-zero exit code 1",
            False,
        ),
        IntegrationKind(
            "DBT_CORE",
            "DBT_CORE_EXECUTE",
            30,
            900,
            {"RUNNING": "running", "SUCCEEDED": "success", "WARNING": "warn", "FAILED": "error"},
            "dbt command failed: 1 of 24 models errored (Database Error in model fct_orders)",
            True,
        ),
        IntegrationKind(
            "SNOWFLAKE",
            "SNOWFLAKE_RUN_QUERY",
            2,
            300,
            {"RUNNING": "RUNNING", "SUCCEEDED": "SUCCESS", "WARNING": "SUCCESS", "FAILED": "FAILED_WITH_ERROR"},
            "SQL compilation error: Object 'ANALYTICS.MARTS.DIM_CUSTOMERS' does not exist or not authorized.",
            True,
        ),
        IntegrationKind(
            "PYTHON",
            "PYTHON_EXECUTE_SCRIPT",
            5,
            600,
            {"RUNNING": "running", "SUCCEEDED": "completed", "WARNING": "completed", "FAILED": "failed"},
            "Python script exited with code 1: KeyError: 'customer_id'",
            False,
        ),
    )
}

_SOURCES = {
    "FIVETRAN": ("salesforce", "hubspot", "stripe", "zendesk", "netsuite", "shopify", "google_ads", "postgres_app"),
    "AIRBYTE_CLOUD": ("github", "jira", "intercom", "mixpanel", "linkedin_ads", "mysql_billing"),
}
_TABLES = (
    "account",
    "contact",
    "opportunity",
    "invoice",
    "charge",
    "customer",
    "ticket",
    "event",
    "order",
    "campaign",
    "user",
    "subscription",
)
_DBT_MODELS = (
    "stg_orders",
    "stg_customers",
    "stg_payments",
    "int_order_items",
    "fct_orders",
    "dim_customers",
    "fct_revenue",
    "dim_products",
    "fct_sessions",
    "mart_finance_daily",
)
_DBT_PROJECTS = ("analytics", "finance", "marketing")
_SNOWFLAKE_STATEMENTS = (
    "CALL ANALYTICS.OPS.REFRESH_DYNAMIC_TABLES()",
    "ALTER WAREHOUSE TRANSFORMING SET WAREHOUSE_SIZE = 'MEDIUM'",
    "CALL ANALYTICS.OPS.VACUUM_STAGES()",
    "INSERT INTO ANALYTICS.AUDIT.LOAD_LOG SELECT * FROM ANALYTICS.AUDIT.V_PENDING_LOADS",
    "CALL ANALYTICS.OPS.GRANT_READ_ON_MARTS()",
)
_PYTHON_SCRIPTS = (
    "jobs/publish_features.py",
    "jobs/score_churn.py",
    "jobs/export_to_s3.py",
    "jobs/notify_finance.py",
    "jobs/refresh_forecast.py",
)
PIPELINE_NAMES = (
    "Daily ELT",
    "Hourly Ingest",
    "Finance Reporting",
    "Marketing Attribution",
    "Product Analytics",
    "Customer 360",
    "Revenue Snapshot",
    "ML Feature Refresh",
    "Ops Monitoring",
    "Sales Pipeline Sync",
)
ENVIRONMENTS = ("production", "staging", "development")
FEATURE_BRANCHES = (
    "feature/orders-incremental",
    "feature/new-churn-model",
    "fix/null-customer-ids",
    "feature/hubspot-v3",
    "chore/bump-dbt-1.8",
)
SCHEDULES = (
    ("Hourly", "0 * * * *"),
    ("Every 15 minutes", "*/15 * * * *"),
    ("Daily 06:00", "0 6 * * *"),
    ("Weekdays 07:30", "30 7 * * 1-5"),
)


@dataclass(frozen=True, slots=True)
class TaskDefinition:
    """One task of a pipeline: which integration runs what, and the operations it reports."""

    task_id: str
    name: str
    kind: IntegrationKind
    connection_id: str
    parameters: dict[str, Any]
    operations: tuple[OperationTemplate, ...]
    depends_on: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PipelineDefinition:
    """A pipeline of the emulated workspace."""

    index: int
    name: str
    tasks: tuple[TaskDefinition, ...]
    first_version: int
    versions: int
    schedule: tuple[str, str]


def _operations_for(kind: IntegrationKind, subject: str, count: int, draws: Draws) -> tuple[OperationTemplate, ...]:
    ops: list[OperationTemplate] = []
    for q in range(count):
        if kind.integration in _SOURCES:
            table = _TABLES[(draws.below(len(_TABLES)) + q) % len(_TABLES)]
            name = f"{subject}.{table}" if q < len(_TABLES) else f"{subject}.{table}_{q}"
            ops.append(
                OperationTemplate(
                    "INGESTION",
                    name,
                    name,
                    True,
                    asset_external_id=f"RAW.{subject.upper()}.{name.split('.')[1].upper()}",
                )
            )
        elif kind.integration == "DBT_CORE":
            model = _DBT_MODELS[q % len(_DBT_MODELS)] + ("" if q < len(_DBT_MODELS) else f"_{q}")
            if q % 3 == 2:
                test = f"test.{subject}.not_null_{model}_id"
                ops.append(OperationTemplate("TEST", test, test, False, (f"model.{subject}.{model}",), tags=("daily",)))
            else:
                node = f"model.{subject}.{model}"
                previous = (ops[-1].external_id,) if ops and ops[-1].external_id else ()
                ops.append(
                    OperationTemplate(
                        "MATERIALISATION",
                        node,
                        node,
                        True,
                        tuple(x for x in previous if x),
                        asset_external_id=f"ANALYTICS.{subject.upper()}.{model.upper()}",
                        tags=("daily",),
                    )
                )
        elif kind.integration == "SNOWFLAKE":
            ops.append(OperationTemplate("QUERY", _SNOWFLAKE_STATEMENTS[(q + len(subject)) % 5], None, True))
        else:
            ops.append(OperationTemplate("OPERATION", f"{subject}:step_{q + 1}", f"{subject}:step_{q + 1}", False))
    return tuple(ops)


def _task_for(kind: IntegrationKind, position: int, operations: int, draws: Draws, taken: set[str]) -> TaskDefinition:
    integration = kind.integration
    parameters: dict[str, Any]
    if integration in _SOURCES:
        subject = _SOURCES[integration][draws.below(len(_SOURCES[integration]))]
        verb, name = "sync", f"Sync {subject.replace('_', ' ').title()}"
        connector = f"{subject}_{draws.bits() % 0xFFFFFF:06x}"
        parameters = {"connector_id": connector} if integration == "FIVETRAN" else {"connection_id": connector}
        connection = f"{integration.lower()}_prod"
    elif integration == "DBT_CORE":
        subject = _DBT_PROJECTS[draws.below(len(_DBT_PROJECTS))]
        verb, name = "dbt_build", f"dbt build {subject}"
        parameters = {
            "commands": f"dbt build --select tag:{subject}",
            "project_dir": f"dbt/{subject}",
            "profiles_dir": "dbt",
        }
        connection = "snowflake_transform"
    elif integration == "SNOWFLAKE":
        subject = "ops"
        verb, name = "snowflake", "Run Snowflake maintenance"
        parameters = {"statement": _SNOWFLAKE_STATEMENTS[draws.below(5)], "warehouse": "TRANSFORMING"}
        connection = "snowflake_prod"
    else:
        script = _PYTHON_SCRIPTS[draws.below(len(_PYTHON_SCRIPTS))]
        subject = script.removeprefix("jobs/").removesuffix(".py")
        verb, name = "python", f"Run {subject.replace('_', ' ')}"
        parameters = {"command": f"python {script}", "project_dir": "python", "python_version": "3.12"}
        connection = "python_runner"
    task_id = f"{verb}_{subject}"
    if task_id in taken:
        task_id = f"{task_id}_{position + 1}"
    taken.add(task_id)
    return TaskDefinition(
        task_id=task_id,
        name=name,
        kind=kind,
        connection_id=connection,
        parameters=parameters,
        operations=_operations_for(kind, subject, operations, draws),
        depends_on=(),
    )


def build_pipelines(seed: int, tasks_per_run: int, operations_per_task: int) -> tuple[PipelineDefinition, ...]:
    """The workspace's pipelines; each run of pipeline k runs its tasks in sequence."""
    pipelines: list[PipelineDefinition] = []
    for index, name in enumerate(PIPELINE_NAMES):
        draws = Draws(seed, 0xCA7A106, index)
        taken: set[str] = set()
        tasks: list[TaskDefinition] = []
        for position in range(tasks_per_run):
            if position == 0 or (position < tasks_per_run - 2 and draws.below(4) == 0):
                kind = KINDS["FIVETRAN" if draws.below(3) else "AIRBYTE_CLOUD"]
            elif position == tasks_per_run - 1 and tasks_per_run > 2:
                kind = KINDS["PYTHON" if draws.below(2) else "SNOWFLAKE"]
            else:
                kind = KINDS["DBT_CORE" if draws.below(3) else "SNOWFLAKE"]
            task = _task_for(kind, position, operations_per_task, draws, taken)
            if tasks:
                task = TaskDefinition(
                    task.task_id,
                    task.name,
                    task.kind,
                    task.connection_id,
                    task.parameters,
                    task.operations,
                    (tasks[-1].task_id,),
                )
            tasks.append(task)
        pipelines.append(
            PipelineDefinition(
                index=index,
                name=name,
                tasks=tuple(tasks),
                first_version=1 + draws.below(20),
                versions=1 + draws.below(6),
                schedule=SCHEDULES[draws.below(len(SCHEDULES))],
            )
        )
    return tuple(pipelines)
