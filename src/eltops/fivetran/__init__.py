"""Fivetran: the API client, the orchestrator that drives syncs from CI, and (in ``.emulator``) the emulator."""

from eltops.fivetran._client import DEFAULT_API_URL, FivetranClient
from eltops.fivetran._models import Connection, Group, SetupTest, SyncOutcome
from eltops.fivetran._orchestrator import OUTCOMES, ConnectionResult, JobCancelled, JobResult, Orchestrator
from eltops.fivetran._report import junit_cases, markdown_summary, result_to_json, step_outputs, summary_rows
from eltops.fivetran._settings import (
    Action,
    ConnectionRef,
    FivetranSettings,
    FlagValues,
    IfSyncing,
    ListSettings,
    load_list_settings,
    load_settings,
)

__all__ = [
    "DEFAULT_API_URL",
    "OUTCOMES",
    "Action",
    "Connection",
    "ConnectionRef",
    "ConnectionResult",
    "FivetranClient",
    "FivetranSettings",
    "FlagValues",
    "Group",
    "IfSyncing",
    "JobCancelled",
    "JobResult",
    "ListSettings",
    "Orchestrator",
    "SetupTest",
    "SyncOutcome",
    "junit_cases",
    "load_list_settings",
    "load_settings",
    "markdown_summary",
    "result_to_json",
    "step_outputs",
    "summary_rows",
]
