"""The run endpoints: start a pipeline, its status, its task runs, their logs, cancel — answered from a RunBook.

Validation errors are FastAPI's 422 bodies (``{"detail": [{"type", "loc", "msg", "input", ...}]}``); an unknown
pipeline, run, task run or log file is a 404 ``{"detail": "... not found"}``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import orjson
from werkzeug.wrappers import Request, Response

from eltops.orchestra.emulator._generate import to_micros
from eltops.orchestra.emulator._model import Resource
from eltops.orchestra.emulator._query import ErrorDetail, ListQuery, _int_param
from eltops.orchestra.emulator._runs import RunBook, StartedRun, StartRequest

__all__ = ["RunEndpoints", "matches_listing"]

TASK_RUNS_PAGE_SIZE = 10
TASK_RUNS_MAX_PAGE_SIZE = 50

# WebhookRequestData: field -> (pydantic error type, message, accepts)
_START_FIELDS: dict[str, tuple[str, str, tuple[type, ...]]] = {
    "versionNumber": ("int_type", "Input should be a valid integer", (int,)),
    "branch": ("string_type", "Input should be a valid string", (str,)),
    "commit": ("string_type", "Input should be a valid string", (str,)),
    "taskIds": ("list_type", "Input should be a valid list", (list,)),
    "continueDownstreamRun": ("bool_type", "Input should be a valid boolean", (bool,)),
    "runInputs": ("dict_type", "Input should be a valid dictionary", (dict,)),
    "data": ("list_type", "Input should be a valid list", (list,)),
    "ciRunId": ("string_type", "Input should be a valid string", (str,)),
    "environment": ("string_type", "Input should be a valid string", (str,)),
    "environmentOverrides": ("dict_type", "Input should be a valid dictionary", (dict,)),
    "retryFromFailed": ("bool_type", "Input should be a valid boolean", (bool,)),
}
_NOT_NULL = {"data", "retryFromFailed"}


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status=status, content_type="application/json")


def _not_found(what: str) -> Response:
    return _json({"detail": f"{what} not found"}, 404)


def _invalid(errors: list[ErrorDetail]) -> Response:
    return _json({"detail": errors}, 422)


def _uuid4_path(name: str, raw: str) -> ErrorDetail | None:
    hexdigits = raw.replace("-", "")
    if len(hexdigits) != 32 or any(c not in "0123456789abcdefABCDEF" for c in hexdigits):
        return {
            "type": "uuid_parsing",
            "loc": ["path", name],
            "msg": "Input should be a valid UUID, invalid length: expected 32 hex digits",
            "input": raw,
            "ctx": {"error": "invalid length: expected 32 hex digits"},
        }
    if hexdigits[12] != "4":
        return {
            "type": "uuid_version",
            "loc": ["path", name],
            "msg": "UUID version 4 expected",
            "input": raw,
            "ctx": {"expected_version": 4},
        }
    return None


def _body(request: Request) -> tuple[Any, list[ErrorDetail]]:
    """The JSON body (None when empty), or FastAPI's json_invalid error."""
    raw = request.get_data()
    if not raw.strip():
        return None, []
    try:
        return orjson.loads(raw), []
    except orjson.JSONDecodeError as exc:
        return None, [
            {
                "type": "json_invalid",
                "loc": ["body", exc.pos],
                "msg": "JSON decode error",
                "input": {},
                "ctx": {"error": exc.msg},
            }
        ]


def _check_object(body: Any, fields: Mapping[str, tuple[str, str, tuple[type, ...]]]) -> list[ErrorDetail]:
    if body is None:
        return []
    if not isinstance(body, dict):
        return [
            {
                "type": "model_attributes_type",
                "loc": ["body"],
                "msg": "Input should be a valid dictionary or object to extract fields from",
                "input": body,
            }
        ]
    errors: list[ErrorDetail] = []
    for name, value in body.items():
        if name not in fields:
            errors.append(
                {
                    "type": "extra_forbidden",
                    "loc": ["body", name],
                    "msg": "Extra inputs are not permitted",
                    "input": value,
                }
            )
            continue
        kind, message, accepts = fields[name]
        if value is None and name not in _NOT_NULL:
            continue
        is_bool = isinstance(value, bool)
        if not isinstance(value, accepts) or (is_bool and bool not in accepts):
            errors.append({"type": kind, "loc": ["body", name], "msg": message, "input": value})
        elif name == "taskIds" and isinstance(value, list):
            for position, item in enumerate(value):
                if not isinstance(item, str):
                    errors.append(
                        {
                            "type": "string_type",
                            "loc": ["body", name, position],
                            "msg": "Input should be a valid string",
                            "input": item,
                        }
                    )
    return errors


class RunEndpoints:
    """The run endpoints over one RunBook; every method answers one request."""

    def __init__(self, book: RunBook) -> None:
        self.book = book

    def start(self, request: Request, pipeline_id_or_alias: str, now: datetime) -> Response:
        body, errors = _body(request)
        errors = errors or _check_object(body, _START_FIELDS)
        if errors:
            return _invalid(errors)
        pipeline = self.book.find_pipeline(pipeline_id_or_alias)
        if pipeline is None:
            return _not_found("Pipeline")
        fields: dict[str, Any] = body or {}
        task_ids = fields.get("taskIds")
        unknown = [t for t in task_ids or [] if t not in {s.id for s in pipeline.tasks}]
        if unknown:
            return _json({"detail": f"Unknown task ids for this pipeline: {', '.join(unknown)}"}, 400)
        start = StartRequest(
            branch=fields.get("branch"),
            commit=fields.get("commit"),
            environment=fields.get("environment"),
            ci_run_id=fields.get("ciRunId"),
            task_ids=tuple(task_ids) if task_ids else None,
            run_inputs=fields.get("runInputs"),
            retry_from_failed=bool(fields.get("retryFromFailed")),
        )
        start_id, run = self.book.start(pipeline, start, to_micros(now))
        return _json({"id": start_id, "pipelineRunId": self.book.run_id(run), "message": "Pipeline run started"})

    def _run(self, run_id: str) -> StartedRun | Response:
        invalid = _uuid4_path("pipeline_run_id", run_id)
        if invalid is not None:
            return _invalid([invalid])
        run = self.book.run(run_id)
        return run if run is not None else _not_found("Pipeline run")

    def status(self, run_id: str, now: datetime) -> Response:
        run = self._run(run_id)
        if isinstance(run, Response):
            return run
        return _json(self.book.pipeline_run(run, to_micros(now)))

    def task_runs(self, run_id: str, args: Mapping[str, str], now: datetime) -> Response:
        run = self._run(run_id)
        if isinstance(run, Response):
            return run
        page = _int_param(args, "page", 1, 1, None)
        size = _int_param(args, "page_size", TASK_RUNS_PAGE_SIZE, 1, TASK_RUNS_MAX_PAGE_SIZE)
        errors = [v for v in (page, size) if isinstance(v, dict)]
        if errors:
            return _invalid(errors)
        assert isinstance(page, int)
        assert isinstance(size, int)
        now_us = to_micros(now)
        records = [self.book.task_run(run, task, now_us) for task in run.tasks]
        chosen = records[(page - 1) * size : page * size]
        return _json({"page": page, "pageSize": size, "total": len(records), "results": chosen})

    def cancel(self, request: Request, run_id: str, now: datetime) -> Response:
        run = self._run(run_id)
        if isinstance(run, Response):
            return run
        body, errors = _body(request)
        errors = errors or _check_object(body, {"force": ("bool_type", "Input should be a valid boolean", (bool,))})
        if errors:
            return _invalid(errors)
        self.book.cancel(run, to_micros(now))
        return Response(status=204)

    def logs(self, run_id: str, task_run_id: str, now: datetime) -> Response:
        found = self._task(run_id, task_run_id)
        if isinstance(found, Response):
            return found
        run, task = found
        text = self.book.log_text(run, task, to_micros(now))
        filenames = [] if text is None else [f"{task.script.id}.log"]
        files = {name: {"attemptNumber": run.attempt, "displayName": f"{task.script.name} log"} for name in filenames}
        return _json({"filenames": filenames, "files": files})

    def download(self, request: Request, run_id: str, task_run_id: str, now: datetime) -> Response:
        found = self._task(run_id, task_run_id)
        if isinstance(found, Response):
            return found
        run, task = found
        filename = request.args.get("filename")
        if filename is None:
            return _invalid([{"type": "missing", "loc": ["query", "filename"], "msg": "Field required", "input": None}])
        text = self.book.log_text(run, task, to_micros(now))
        if text is None or filename != f"{task.script.id}.log":
            return _not_found("Log file")
        data = text.encode()
        headers = {"Accept-Ranges": "bytes"}
        if request.range is not None:
            span = _byte_span(request.range.ranges, len(data))
            if span is None:
                return Response(status=416, headers={"Content-Range": f"bytes */{len(data)}"})
            start, stop = span
            headers["Content-Range"] = f"bytes {start}-{stop - 1}/{len(data)}"
            return Response(data[start:stop], status=206, headers=headers, content_type="text/plain; charset=utf-8")
        return Response(data, headers=headers, content_type="text/plain; charset=utf-8")

    def _task(self, run_id: str, task_run_id: str) -> tuple[StartedRun, Any] | Response:
        errors = [e for e in (_uuid4_path("pipeline_run_id", run_id), _uuid4_path("task_run_id", task_run_id)) if e]
        if errors:
            return _invalid(errors)
        run = self.book.run(run_id)
        if run is None:
            return _not_found("Pipeline run")
        task = self.book.find_task(run, task_run_id)
        return (run, task) if task is not None else _not_found("Task run")


def _items(raw: str | None) -> set[str] | None:
    if raw is None:
        return None
    items = {item.strip() for item in raw.split(",") if item.strip()}
    return items or None


def matches_listing(record: Mapping[str, Any], query: ListQuery, args: Mapping[str, str]) -> bool:
    """Whether a started run's record passes a list request's window and filters, as generated records do."""
    resource, filters = query.resource, query.filters
    stamp = record["insertedAt" if resource is Resource.OPERATIONS else "createdAt"]
    if not query.time_from <= to_micros(datetime.fromisoformat(stamp)) <= query.time_to:
        return False
    status = record[
        "runStatus"
        if resource is Resource.PIPELINE_RUNS
        else "status"
        if resource is Resource.TASK_RUNS
        else "operationStatus"
    ]
    if filters.statuses is not None and status not in filters.statuses:
        return False
    if filters.integrations is not None and record.get("integration") not in filters.integrations:
        return False
    if filters.operation_types is not None and record.get("operationType") not in filters.operation_types:
        return False
    if filters.external_id is not None and record.get("externalId") != filters.external_id:
        return False
    id_params = {
        Resource.PIPELINE_RUNS: (("pipeline_run_ids", "id"), ("pipeline_ids", "pipelineId"), ("environments", "envId")),
        Resource.TASK_RUNS: (("task_run_ids", "id"), ("pipeline_ids", "pipelineId")),
        Resource.OPERATIONS: (("task_run_id", "taskRunId"),),
    }[resource]
    for param, field_name in id_params:
        wanted = _items(args.get(param))
        if wanted is not None and record.get(field_name) not in wanted:
            return False
    return True


def _byte_span(ranges: Sequence[tuple[int, int | None]], length: int) -> tuple[int, int] | None:
    """The one byte range ``[start, stop)`` that a ``Range`` header selects of ``length`` bytes, as RFC 9110 §14.1.2
    says; None when it is unsatisfiable (answered 416).

    A suffix range (``bytes=-N``) longer than the representation selects all of it (werkzeug's
    ``range_for_length`` refuses it); a last position past the end is the end; a first position at or past the end,
    a zero-length suffix, or an empty representation is unsatisfiable. Several ranges are served as the first (the
    emulator sends no multipart answers).
    """
    if not ranges or length == 0:
        return None
    first, last = ranges[0]  # werkzeug: (start, stop) with stop exclusive, or (-suffix, None)
    if first < 0:  # a suffix range
        return (max(0, length + first), length)
    if first >= length:
        return None
    return (first, length if last is None else min(last, length))
