"""Lineage: every sync, pipeline run and load eltops drives, as OpenLineage run events (opt-in).

Settings as OpenLineage's clients read them (:mod:`._settings`), events valid against the OpenLineage spec
(:mod:`._events`, the schemas ship in ``spec/``), sent off the job's path within a budget (:mod:`._emitter`) over
HTTP, to a JSON Lines file or to the console (:mod:`._transport`). :mod:`._fivetran` and :mod:`._orchestra` turn
what the Fivetran orchestrator, the Orchestra runner and the loader do into runs; :mod:`._context` hangs them
under the CI job; :mod:`.receiver` is ``eltops emulate openlineage``.

Everything here is imported on first use (``eltops._lazy``): the settings need no HTTP stack.
"""

import typing

from eltops import _lazy

if typing.TYPE_CHECKING:
    from eltops.lineage._context import Placement, ci_runs, parent_step_outputs, placement
    from eltops.lineage._emitter import EmitReport, Emitter
    from eltops.lineage._events import Dataset, EventType, JobKind, run_event
    from eltops.lineage._fivetran import SYNC, FivetranLineage
    from eltops.lineage._naming import DatasetNamer, destination_namer, duckdb_namer, snowflake_namer
    from eltops.lineage._orchestra import LOAD, PIPELINE, TASK, OrchestraRunLineage, load_events
    from eltops.lineage._session import LineageSession, as_run_id
    from eltops.lineage._settings import VARIABLES, LineageSettings, RunRef, load_lineage_settings
    from eltops.lineage._spec import SPEC_DIR, SpecValidator
else:
    __getattr__, __dir__ = _lazy.lazy_exports(
        __name__,
        {
            "eltops.lineage._context": ["Placement", "ci_runs", "parent_step_outputs", "placement"],
            "eltops.lineage._emitter": ["EmitReport", "Emitter"],
            "eltops.lineage._events": ["Dataset", "EventType", "JobKind", "run_event"],
            "eltops.lineage._fivetran": ["SYNC", "FivetranLineage"],
            "eltops.lineage._naming": ["DatasetNamer", "destination_namer", "duckdb_namer", "snowflake_namer"],
            "eltops.lineage._orchestra": ["LOAD", "PIPELINE", "TASK", "OrchestraRunLineage", "load_events"],
            "eltops.lineage._session": ["LineageSession", "as_run_id"],
            "eltops.lineage._settings": ["VARIABLES", "LineageSettings", "RunRef", "load_lineage_settings"],
            "eltops.lineage._spec": ["SPEC_DIR", "SpecValidator"],
        },
    )

__all__ = [
    "LOAD",
    "PIPELINE",
    "SPEC_DIR",
    "SYNC",
    "TASK",
    "VARIABLES",
    "Dataset",
    "DatasetNamer",
    "EmitReport",
    "Emitter",
    "EventType",
    "FivetranLineage",
    "JobKind",
    "LineageSession",
    "LineageSettings",
    "OrchestraRunLineage",
    "Placement",
    "RunRef",
    "SpecValidator",
    "as_run_id",
    "ci_runs",
    "destination_namer",
    "duckdb_namer",
    "load_events",
    "load_lineage_settings",
    "parent_step_outputs",
    "placement",
    "run_event",
    "snowflake_namer",
]
