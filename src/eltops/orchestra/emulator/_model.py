"""The emulator's vocabulary: the spec's enums, the volume knob, and what it records about each request."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

BASE_PATH = "/api/engine/public"
DEFAULT_API_KEY = "orchestra-emulator-key"
MAX_WINDOW_DAYS = 7

PIPELINE_RUN_STATUSES = (
    "CREATED",
    "RUNNING",
    "SUCCEEDED",
    "WARNING",
    "FAILED",
    "SKIPPED",
    "CANCELLING",
    "CANCELLED",
)
TASK_RUN_STATUSES = (
    "CREATED",
    "SKIPPED",
    "QUEUED",
    "RUNNING",
    "SUCCEEDED",
    "WARNING",
    "FAILED",
    "CANCELLING",
    "CANCELLED",
)
OPERATION_STATUSES = ("CANCELLED", "FAILED", "REUSED", "SKIPPED", "SUCCEEDED", "UNKNOWN", "WARNING")
OPERATION_TYPES = (
    "AGGREGATION",
    "ANALYSIS",
    "DEPLOY",
    "INGESTION",
    "ITERATOR",
    "MATERIALISATION",
    "OPERATION",
    "QUERY",
    "REFRESH",
    "REVERSE_ETL",
    "SEED",
    "SNAPSHOT",
    "SOURCE",
    "TEST",
    "TEST_GROUP",
    "TRIGGER",
    "UNKNOWN",
)
# The spec's IntegrationsEnum: the ``integration`` filters accept exactly these.
INTEGRATIONS = (
    "AIRBYTE_CLOUD",
    "AIRBYTE_SERVER",
    "AIRFLOW",
    "ARCH",
    "ALTERYX_SERVER",
    "AWS_EC2",
    "AWS_ECS",
    "AWS_EMR",
    "AWS_EKS",
    "AWS_FIREHOSE",
    "AWS_GLUE",
    "AWS_LAMBDA",
    "AWS_RDS",
    "AWS_REDSHIFT",
    "AWS_S3",
    "AWS_BEDROCK",
    "AWS_SAGEMAKER",
    "AWS_SECRETS_MANAGER",
    "AZURE",
    "AZURE_CONTAINER_APPS",
    "AZURE_DATA_FACTORY",
    "AZURE_DATA_LAKE_STORAGE",
    "AZURE_KEY_VAULT",
    "AZURE_KUBERNETES_SERVICE",
    "AZURE_LOGIC_APPS",
    "AZURE_SYNAPSE_ANALYTICS",
    "AZURE_VM",
    "BAUPLAN",
    "BOOMI",
    "CDATA",
    "CENSUS",
    "CLAUDE",
    "CLICKHOUSE",
    "COALESCE",
    "COUNT",
    "DATADOG",
    "DATABRICKS",
    "DATAPROC",
    "DATAZEN",
    "DBT",
    "DBT_CORE",
    "DLT",
    "DOMO",
    "DUCKDB",
    "EMAIL",
    "ESTUARY",
    "ETLEAP",
    "FABRIC",
    "FABRIC_SYNAPSE",
    "FIVETRAN",
    "FORTRA",
    "GCP_BIG_QUERY",
    "GCP_CLOUD_RUN",
    "GCP_CLOUD_FUNCTIONS",
    "GCP_CLOUD_STORAGE",
    "GCP_DATAFLOW",
    "GCP_DATAFORM",
    "GCP_DATASTREAM",
    "GCP_LOOKER",
    "GKE",
    "GITHUB_ACTIONS",
    "GOOGLE_CLOUD",
    "HEVO",
    "HEX",
    "HIGHTOUCH",
    "HTTP",
    "INFORMATICA_IICS",
    "INFORMATICA_POWERCENTER",
    "KAFKA",
    "KEBOOLA",
    "KLEENE",
    "LIGHTDASH",
    "LINUX_SSH",
    "MATILLION",
    "MATILLION_ETL",
    "METAPLANE",
    "MICROSOFT_TEAMS",
    "MICROSTRATEGY",
    "MOTHERDUCK",
    "NIMBLE",
    "OMNI",
    "OPEN_AI",
    "ORCHESTRA",
    "PARADIME",
    "PAGER_DUTY",
    "PINECONE",
    "PORTABLE",
    "POSTGRES",
    "POWER_AUTOMATE",
    "POWER_BI",
    "PREFECT_CLOUD",
    "PYTHON",
    "QLIK",
    "QLIK_REPLICATE",
    "RENDER",
    "RIVERY",
    "RUDDERSTACK",
    "SAP",
    "SFTP",
    "SIGMA",
    "SISENSE",
    "SLACK",
    "SNOWFLAKE",
    "SNOWPLOW",
    "SODA",
    "SQL_MESH",
    "SQL_SERVER",
    "STITCH",
    "STREAMKAP",
    "TABLEAU_CLOUD",
    "TALEND_CLOUD",
    "THOUGHTSPOT",
    "TOBIKO_CLOUD",
    "WEAVIATE",
    "WEBHOOK",
    "WELD",
    "WINDOWS_SSH",
)


class Resource(IntEnum):
    """The three list endpoints; the value is also the tag baked into each record's UUID."""

    PIPELINE_RUNS = 1
    TASK_RUNS = 2
    OPERATIONS = 3

    @property
    def path(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class Volume:
    """How much history the emulator serves.

    ``task_runs`` task runs grouped ``tasks_per_pipeline_run`` to a pipeline run (the last one may hold fewer),
    each with ``operations_per_task_run`` operations, spread evenly over the ``days`` before the anchor.
    """

    task_runs: int = 2000
    days: float = 7.0
    tasks_per_pipeline_run: int = 4
    operations_per_task_run: int = 2

    def __post_init__(self) -> None:
        if self.task_runs < 0:
            raise ValueError("task_runs must be >= 0")
        if self.days <= 0:
            raise ValueError("days must be > 0")
        if not 1 <= self.tasks_per_pipeline_run <= 1000:
            raise ValueError("tasks_per_pipeline_run must be between 1 and 1000")
        if not 1 <= self.operations_per_task_run <= 1000:
            raise ValueError("operations_per_task_run must be between 1 and 1000")

    @property
    def pipeline_runs(self) -> int:
        return -(-self.task_runs // self.tasks_per_pipeline_run)

    @property
    def operations(self) -> int:
        return self.task_runs * self.operations_per_task_run


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request the emulator answered: path without the query string, the query (last value wins)."""

    method: str
    path: str
    query: dict[str, str]
    status: int
