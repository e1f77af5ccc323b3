"""A lineage receiver: ``POST /api/v1/lineage`` as Marquez takes it, each event checked against the OpenLineage spec.

- ``POST /api/v1/lineage``: one event (a JSON object). Valid against the spec (core schema and each known facet's
  own, :class:`~eltops.lineage.SpecValidator`): ``201 Created``, kept. Invalid: ``400`` with ``{"error": ...,
  "problems": ["event.run.runId: 'x' is not a 'uuid'", ...]}`` naming each problem, and not kept. A body that is
  not JSON is a 400 too; one over 1 MiB a 413. With ``api_key`` set, a request without ``Authorization: Bearer
  <key>`` is a 401, as a collector behind an API key answers.
- ``GET /api/v1/lineage``: what was received, in order: ``{"events": [...]}``.
- ``GET /api/v1/lineage/graph``: the graph of the runs received (:func:`lineage_graph`).
- ``DELETE /api/v1/lineage``: forget everything (a test's fresh start).

It keeps what it received in memory, at most ``max_events`` (the oldest go first).
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from eltops.lineage._spec import SpecValidator

__all__ = ["LINEAGE_PATH", "MAX_BODY_BYTES", "LineageReceiver", "last_run", "lineage_graph"]

LINEAGE_PATH = "/api/v1/lineage"
MAX_BODY_BYTES = 1024 * 1024

_URLS = Map(
    [
        Rule(LINEAGE_PATH, endpoint="lineage", methods=["GET", "POST", "DELETE"]),
        Rule(f"{LINEAGE_PATH}/graph", endpoint="graph", methods=["GET"]),
    ],
    strict_slashes=False,
)


def _json(status: int, payload: Mapping[str, Any]) -> Response:
    return Response(json.dumps(payload), status=status, content_type="application/json")


class LineageReceiver:
    """The receiver's WSGI app; ``events`` is what it accepted, ``rejected`` how many it refused."""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        max_events: int = 10_000,
        validator: SpecValidator | None = None,
        on_event: Callable[[Any, Sequence[str]], None] | None = None,
    ) -> None:
        """``on_event(event, problems)`` hears every event posted (problems empty when it was accepted)."""
        self.api_key = api_key
        self.on_event = on_event
        self.validator = validator or SpecValidator()
        self._events: deque[dict[str, Any]] = deque(maxlen=max_events)
        self._lock = threading.Lock()
        self.rejected = 0

    @property
    def events(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._events)

    def __call__(self, environ: Any, start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        try:
            response = self._respond(request)
        except HTTPException as exc:
            response = _json(exc.code or 500, {"error": exc.description or exc.name})
        return response(environ, start_response)

    def _respond(self, request: Request) -> Response:
        adapter = _URLS.bind_to_environ(request.environ)
        try:
            endpoint, _ = adapter.match()
        except NotFound:
            return _json(404, {"error": f"no such path: {request.path}; events go to POST {LINEAGE_PATH}"})
        except MethodNotAllowed:
            return _json(405, {"error": f"{request.method} is not allowed on {request.path}"})
        if self.api_key and request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return _json(401, {"error": "send the API key as Authorization: Bearer <key>"})
        if endpoint == "graph":
            return _json(200, lineage_graph(self.events))
        if request.method == "GET":
            return _json(200, {"events": self.events})
        if request.method == "DELETE":
            with self._lock:
                self._events.clear()
                self.rejected = 0
            return Response(status=204)
        return self._accept(request)

    def _accept(self, request: Request) -> Response:
        if (request.content_length or 0) > MAX_BODY_BYTES:
            return _json(413, {"error": f"the event is over {MAX_BODY_BYTES} bytes"})
        raw = request.stream.read(MAX_BODY_BYTES + 1)  # a body with no length (chunked) is read no further
        if len(raw) > MAX_BODY_BYTES:
            return _json(413, {"error": f"the event is over {MAX_BODY_BYTES} bytes"})
        try:
            event = json.loads(raw)
        except ValueError as exc:
            return self._reject(None, f"the body is not JSON: {exc}", [f"body: not JSON ({exc})"])
        problems = self.validator.problems(event)
        if problems:
            return self._reject(event, f"the event is not valid OpenLineage ({len(problems)} problem(s))", problems)
        with self._lock:
            self._events.append(event)
        if self.on_event is not None:
            self.on_event(event, [])
        return Response(status=201)

    def _reject(self, event: Any, error: str, problems: list[str]) -> Response:
        with self._lock:
            self.rejected += 1
        if self.on_event is not None:
            self.on_event(event, problems)
        return _json(400, {"error": error, "problems": problems})


def _root_run_id(event: Mapping[str, Any]) -> str | None:
    run = event.get("run") or {}
    parent = (run.get("facets") or {}).get("parent") or {}
    root = parent.get("root") or {}
    found = (root.get("run") or {}).get("runId") or (parent.get("run") or {}).get("runId") or run.get("runId")
    return str(found) if found else None


def last_run(events: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The events of the last run received: those under the same root run (the CI run) as the last event."""
    if not events:
        return []
    root = _root_run_id(events[-1])
    return [event for event in events if _root_run_id(event) == root]


def lineage_graph(events: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The jobs, datasets and runs the events describe, as nodes and edges.

    Nodes: ``job:{namespace}/{name}`` and ``dataset:{namespace}/{name}``; edges: job → each output dataset, each
    input dataset → job, and parent job → child job (from the parent run facet). Each job carries the last state
    of its last run.
    """
    nodes: dict[str, dict[str, Any]] = {}
    edges: dict[tuple[str, str, str], None] = {}
    for event in events:
        job = event.get("job") or {}
        job_key = f"job:{job.get('namespace')}/{job.get('name')}"
        run = event.get("run") or {}
        nodes[job_key] = {
            "id": job_key,
            "kind": "job",
            "name": job.get("name"),
            "state": event.get("eventType"),
            "runId": run.get("runId"),
            "time": event.get("eventTime"),
        }
        parent = ((run.get("facets") or {}).get("parent")) or {}
        parent_job = parent.get("job") or {}
        if parent_job.get("name"):
            parent_key = f"job:{parent_job.get('namespace')}/{parent_job.get('name')}"
            nodes.setdefault(parent_key, {"id": parent_key, "kind": "job", "name": parent_job.get("name")})
            edges[(parent_key, job_key, "parent")] = None
            root_job = (parent.get("root") or {}).get("job") or {}
            root_key = f"job:{root_job.get('namespace')}/{root_job.get('name')}"
            if root_job.get("name") and root_key != parent_key:
                nodes.setdefault(root_key, {"id": root_key, "kind": "job", "name": root_job.get("name")})
                edges[(root_key, parent_key, "parent")] = None
        for side in ("inputs", "outputs"):
            for dataset in event.get(side) or []:
                key = f"dataset:{dataset.get('namespace')}/{dataset.get('name')}"
                nodes.setdefault(
                    key,
                    {"id": key, "kind": "dataset", "name": dataset.get("name"), "namespace": dataset.get("namespace")},
                )
                edges[(job_key, key, "writes") if side == "outputs" else (key, job_key, "reads")] = None
    return {
        "nodes": list(nodes.values()),
        "edges": [{"from": a, "to": b, "kind": kind} for a, b, kind in edges],
    }
