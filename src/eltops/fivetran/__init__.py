"""Fivetran: the API client, the orchestrator that drives syncs from CI, and (in ``.emulator``) the emulator.

Every name below is importable from here, but its module is imported on first use (``eltops._lazy``): the
settings and the models need only the standard library, the client and the orchestrator need httpx. So a
command that only checks its input, or shows its help, starts fast.
"""

import typing

from eltops import _lazy

if typing.TYPE_CHECKING:
    from eltops.fivetran._action_settings import ACTION_SETTINGS, ActionSettings, Setting
    from eltops.fivetran._client import Directory, FivetranClient
    from eltops.fivetran._destinations import Destination, DestinationTable
    from eltops.fivetran._models import Connection, Group, SetupTest, SyncOutcome, format_timestamp
    from eltops.fivetran._orchestrator import (
        OUTCOMES,
        ConnectionResult,
        JobCancelled,
        JobResult,
        Orchestrator,
        SyncObserver,
        poll_waits,
    )
    from eltops.fivetran._report import junit_cases, markdown_summary, result_to_json, step_outputs, summary_rows
    from eltops.fivetran._schedule import Schedule
    from eltops.fivetran._settings import (
        DEFAULT_API_URL,
        Action,
        ConnectionRef,
        FivetranSettings,
        FlagValues,
        IfSyncing,
        ListSettings,
        load_list_settings,
        load_settings,
    )
    from eltops.fivetran._transformations import Transformation, TransformationResult, TransformationRunner
else:
    __getattr__, __dir__ = _lazy.lazy_exports(
        __name__,
        {
            "eltops.fivetran._action_settings": ["ACTION_SETTINGS", "ActionSettings", "Setting"],
            "eltops.fivetran._client": ["Directory", "FivetranClient"],
            "eltops.fivetran._destinations": ["Destination", "DestinationTable"],
            "eltops.fivetran._models": ["Connection", "Group", "SetupTest", "SyncOutcome", "format_timestamp"],
            "eltops.fivetran._orchestrator": [
                "OUTCOMES",
                "ConnectionResult",
                "JobCancelled",
                "JobResult",
                "Orchestrator",
                "SyncObserver",
                "poll_waits",
            ],
            "eltops.fivetran._transformations": ["Transformation", "TransformationResult", "TransformationRunner"],
            "eltops.fivetran._report": [
                "junit_cases",
                "markdown_summary",
                "result_to_json",
                "step_outputs",
                "summary_rows",
            ],
            "eltops.fivetran._schedule": ["Schedule"],
            "eltops.fivetran._settings": [
                "DEFAULT_API_URL",
                "Action",
                "ConnectionRef",
                "FivetranSettings",
                "FlagValues",
                "IfSyncing",
                "ListSettings",
                "load_list_settings",
                "load_settings",
            ],
        },
    )

__all__ = [
    "ACTION_SETTINGS",
    "DEFAULT_API_URL",
    "OUTCOMES",
    "Action",
    "ActionSettings",
    "Connection",
    "ConnectionRef",
    "ConnectionResult",
    "Destination",
    "DestinationTable",
    "Directory",
    "FivetranClient",
    "FivetranSettings",
    "FlagValues",
    "Group",
    "IfSyncing",
    "JobCancelled",
    "JobResult",
    "ListSettings",
    "Orchestrator",
    "Schedule",
    "Setting",
    "SetupTest",
    "SyncObserver",
    "SyncOutcome",
    "Transformation",
    "TransformationResult",
    "TransformationRunner",
    "format_timestamp",
    "junit_cases",
    "load_list_settings",
    "load_settings",
    "markdown_summary",
    "poll_waits",
    "result_to_json",
    "step_outputs",
    "summary_rows",
]
