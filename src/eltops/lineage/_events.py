"""OpenLineage run events as plain JSON-ready dicts, each facet with the schema it is valid against.

Every event eltops sends is a ``RunEvent`` of spec 2-0-2. Facets: ``parent`` (ParentRunFacet 1-1-0, with its
``root``), ``errorMessage`` on FAIL and ABORT, ``processing_engine`` (eltops and its version) on every run,
``jobType`` on every job, ``outputStatistics`` on outputs whose row count is known. The tests validate every event
they make against the vendored schemas (core and each facet by its ``_schemaURL``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from eltops import __version__
from eltops.lineage._settings import RunRef

__all__ = [
    "PRODUCER",
    "SCHEMA_URL",
    "Dataset",
    "EventType",
    "JobKind",
    "run_event",
]

PRODUCER = f"https://pypi.org/project/eltops/{__version__}/"
SCHEMA_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
_FACETS = "https://openlineage.io/spec/facets"
PARENT_FACET = f"{_FACETS}/1-1-0/ParentRunFacet.json#/$defs/ParentRunFacet"
ERROR_FACET = f"{_FACETS}/1-0-1/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet"
ENGINE_FACET = f"{_FACETS}/1-1-1/ProcessingEngineRunFacet.json#/$defs/ProcessingEngineRunFacet"
JOB_TYPE_FACET = f"{_FACETS}/2-0-3/JobTypeJobFacet.json#/$defs/JobTypeJobFacet"
OUTPUT_STATS_FACET = (
    f"{_FACETS}/1-0-2/OutputStatisticsOutputDatasetFacet.json#/$defs/OutputStatisticsOutputDatasetFacet"
)


class EventType(Enum):
    START = "START"
    RUNNING = "RUNNING"
    COMPLETE = "COMPLETE"
    FAIL = "FAIL"
    ABORT = "ABORT"

    @property
    def final(self) -> bool:
        return self in (EventType.COMPLETE, EventType.FAIL, EventType.ABORT)


@dataclass(frozen=True)
class JobKind:
    """What the jobType facet says: which system ran it (``integration``) and what kind of run it is."""

    integration: str  # FIVETRAN, ORCHESTRA, ELTOPS
    job_type: str  # SYNC, TRANSFORMATION, PIPELINE, TASK, LOAD


@dataclass(frozen=True)
class Dataset:
    """A dataset named per OpenLineage's naming spec (``namespace`` = the datasource, ``name`` = the table)."""

    namespace: str
    name: str
    row_count: int | None = None


def _facet(schema_url: str, **fields: Any) -> dict[str, Any]:
    return {"_producer": PRODUCER, "_schemaURL": schema_url, **fields}


def _ref(ref: RunRef) -> dict[str, Any]:
    return {"run": {"runId": ref.run_id}, "job": {"namespace": ref.namespace, "name": ref.name}}


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def run_event(
    event_type: EventType,
    *,
    run: RunRef,
    kind: JobKind,
    at: datetime,
    parent: RunRef | None = None,
    root: RunRef | None = None,
    outputs: Sequence[Dataset] = (),
    inputs: Sequence[Dataset] = (),
    error: str | None = None,
    job_facets: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One run event: ``run`` is the job and run it is about, ``parent``/``root`` where it hangs."""
    run_facets: dict[str, Any] = {
        "processing_engine": _facet(
            ENGINE_FACET, version=__version__, name="eltops", openlineageAdapterVersion=__version__
        )
    }
    if parent is not None:
        parent_facet = _ref(parent)
        top = root or parent
        parent_facet["root"] = _ref(top)
        run_facets["parent"] = _facet(PARENT_FACET, **parent_facet)
    if error is not None:
        run_facets["errorMessage"] = _facet(ERROR_FACET, message=error, programmingLanguage="python")
    jobs: dict[str, Any] = {
        "jobType": _facet(JOB_TYPE_FACET, processingType="BATCH", integration=kind.integration, jobType=kind.job_type),
        **(job_facets or {}),
    }
    return {
        "eventType": event_type.value,
        "eventTime": _time(at),
        "producer": PRODUCER,
        "schemaURL": SCHEMA_URL,
        "run": {"runId": run.run_id, "facets": run_facets},
        "job": {"namespace": run.namespace, "name": run.name, "facets": jobs},
        "inputs": [{"namespace": d.namespace, "name": d.name} for d in inputs],
        "outputs": [_output(d) for d in outputs],
    }


def _output(dataset: Dataset) -> dict[str, Any]:
    out: dict[str, Any] = {"namespace": dataset.namespace, "name": dataset.name}
    if dataset.row_count is not None:
        out["outputFacets"] = {"outputStatistics": _facet(OUTPUT_STATS_FACET, rowCount=dataset.row_count)}
    return out
