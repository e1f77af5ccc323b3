"""The emulator itself: a WSGI app serving Orchestra's run-metadata endpoints from a generated history."""

from __future__ import annotations

import dataclasses
import hmac
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

import orjson
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from eltops.orchestra.emulator._assets import AssetCatalog, AssetQueryError
from eltops.orchestra.emulator._faults import Fault, render_page
from eltops.orchestra.emulator._generate import Dataset, to_micros
from eltops.orchestra.emulator._model import (
    BASE_PATH,
    DEFAULT_API_KEY,
    MAX_WINDOW_DAYS,
    RecordedRequest,
    Resource,
    Volume,
)
from eltops.orchestra.emulator._pages import run_page
from eltops.orchestra.emulator._query import QueryError, Selector, parse_query
from eltops.orchestra.emulator._run_api import RunEndpoints, matches_listing
from eltops.orchestra.emulator._runs import DEFAULT_PIPELINES, PipelineScript, RunBook

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

_MAX_RECORDED = 100_000
_RATE_WINDOW = 60.0


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status=status, headers=headers, content_type="application/json")


class _FailurePlan:
    """What ``fail_next`` armed: the next ``count`` requests answer ``status``."""

    __slots__ = ("count", "retry_after", "status")

    def __init__(self, status: int, count: int, retry_after: float | None) -> None:
        self.status, self.count, self.retry_after = status, count, retry_after


DEFAULT_WINDOWS = {Resource.TASK_RUNS: timedelta(hours=24)}
"""What Orchestra's listings serve without ``time_from``/``time_to`` since 2026-10: the last 24 hours of task runs
(it was 7 days), the last 7 days of the others."""


def _default_windows(windows: Mapping[str, timedelta]) -> dict[Resource, timedelta]:
    """The window each listing serves without ``time_from``/``time_to``: :data:`DEFAULT_WINDOWS` unless told."""
    by_path = {r.path: r for r in Resource}
    unknown = sorted(set(windows) - set(by_path))
    if unknown:
        raise ValueError(f"unknown resource {', '.join(unknown)} (known: {', '.join(by_path)})")
    for name, window in windows.items():
        if not timedelta(0) < window <= timedelta(days=MAX_WINDOW_DAYS):
            raise ValueError(f"the default window of {name} must be more than 0 and at most {MAX_WINDOW_DAYS} days")
    return {r: windows.get(r.path, DEFAULT_WINDOWS.get(r, timedelta(days=MAX_WINDOW_DAYS))) for r in Resource}


class OrchestraEmulator:
    """Orchestra's ``/public/pipeline_runs``, ``/public/task_runs`` and ``/public/operations``, offline.

    Records are generated from ``seed`` on demand (nothing is held in memory): ``volume`` says how many, spread
    evenly over ``[anchor - volume.days, anchor + future_days]``. Only records created (operations: inserted)
    at or before ``now()`` are visible, and a run's status follows the clock, so advancing an injected clock
    makes runs finish and new runs appear. ``default_windows`` (by path: ``{"task_runs": timedelta(days=7)}``)
    changes the window a listing serves when the request names none (:data:`DEFAULT_WINDOWS` otherwise: 24 hours
    of task runs, 7 days of the rest, as Orchestra serves them since 2026-10). ``/assets`` serves the workspace's
    tables (:mod:`~eltops.orchestra.emulator._assets`).
    """

    def __init__(
        self,
        *,
        api_key: str = DEFAULT_API_KEY,
        seed: int = 0,
        volume: Volume | None = None,
        now: Callable[[], datetime] | None = None,
        anchor: datetime | None = None,
        future_days: float = 0.0,
        rate_limit_per_minute: int | None = None,
        latency_seconds: float = 0.0,
        pipelines: Sequence[PipelineScript] = DEFAULT_PIPELINES,
        default_windows: Mapping[str, timedelta] | None = None,
        listing_retention: Mapping[str, timedelta] | None = None,
    ) -> None:
        if rate_limit_per_minute is not None and rate_limit_per_minute < 1:
            raise ValueError("rate_limit_per_minute must be >= 1 (or None for no limit)")
        if latency_seconds < 0:
            raise ValueError("latency_seconds must be >= 0")
        self.default_windows = _default_windows(default_windows or {})
        by_path = {r.path: r for r in Resource}
        self.listing_retention = {by_path[name]: age for name, age in (listing_retention or {}).items()}
        """How far back a listing serves records, by path (``{"task_runs": timedelta(days=7)}``, as Orchestra's
        tools say it lists task runs): older ones only through the by-id reads. None for a listing: all history."""
        self.api_key = api_key
        self.seed = seed
        self.volume = volume or Volume()
        self._now = now or _utc_now
        self.anchor = anchor or self._now()
        self.rate_limit_per_minute = rate_limit_per_minute
        self.latency_seconds = latency_seconds
        self.dataset = Dataset(seed=seed, volume=self.volume, anchor=self.anchor, future_days=future_days)
        self._selector = Selector(self.dataset)
        self.assets = AssetCatalog(self.dataset, self.anchor)
        self.runbook = RunBook(pipelines, seed=seed, account_id=self.dataset.account_id)
        """The pipelines this emulator can start and the runs it started (``pipelines=``, default: a demo set)."""
        self._run_api = RunEndpoints(self.runbook)
        self._lock = threading.Lock()
        self._request_count = 0
        self._requests: deque[RecordedRequest] = deque(maxlen=_MAX_RECORDED)
        self._failures: deque[_FailurePlan] = deque()
        self._faults: list[Fault] = []
        self._accepted: deque[datetime] = deque()  # moments of the requests inside the rate window
        self._routes = Map(
            [
                Rule(f"{BASE_PATH}/pipeline_runs", endpoint=Resource.PIPELINE_RUNS, methods=["GET"]),
                Rule(f"{BASE_PATH}/task_runs", endpoint=Resource.TASK_RUNS, methods=["GET"]),
                Rule(f"{BASE_PATH}/operations", endpoint=Resource.OPERATIONS, methods=["GET"]),
                Rule(f"{BASE_PATH}/assets", endpoint="assets", methods=["GET"]),
                Rule(f"{BASE_PATH}/health", endpoint="health", methods=["GET"]),
                # the app's page of a run (the link `orchestra run` prints, a task's platformLink): no key, as a
                # browser opens it; HTML, or the run's records as JSON for Accept: application/json
                Rule("/pipeline-runs/<pipeline_run_id>/lineage", endpoint="page", methods=["GET"]),
                Rule(f"{BASE_PATH}/pipelines/<pipeline_id_or_alias>/start", endpoint="start", methods=["POST"]),
                Rule(f"{BASE_PATH}/pipeline_runs/<pipeline_run_id>/status", endpoint="status", methods=["GET"]),
                Rule(f"{BASE_PATH}/pipeline_runs/<pipeline_run_id>/cancel", endpoint="cancel", methods=["POST"]),
                Rule(f"{BASE_PATH}/pipeline_runs/<pipeline_run_id>/task_runs", endpoint="run_tasks", methods=["GET"]),
                Rule(
                    f"{BASE_PATH}/pipeline_runs/<pipeline_run_id>/task_runs/<task_run_id>/logs",
                    endpoint="logs",
                    methods=["GET"],
                ),
                Rule(
                    f"{BASE_PATH}/pipeline_runs/<pipeline_run_id>/task_runs/<task_run_id>/logs/download",
                    endpoint="download",
                    methods=["GET"],
                ),
            ],
            strict_slashes=False,
        )

    # ------------------------------------------------------------------------------ public helpers

    @property
    def wsgi_app(self) -> Callable[[WSGIEnvironment, StartResponse], Iterable[bytes]]:
        return self._wsgi

    @property
    def request_count(self) -> int:
        with self._lock:
            return self._request_count

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of the requests answered so far, oldest first (the most recent 100,000)."""
        with self._lock:
            return list(self._requests)

    def fail_next(self, status: int = 500, count: int = 1, retry_after: float | None = None) -> None:
        """Answer the next ``count`` requests with ``status`` (with ``Retry-After`` when given)."""
        if not 400 <= status <= 599:
            raise ValueError("status must be an HTTP error status (400-599)")
        if count < 1:
            raise ValueError("count must be >= 1")
        with self._lock:
            self._failures.append(_FailurePlan(status, count, retry_after))

    def inject(self, *faults: Fault) -> None:
        """Serve faulty list pages from now on (see :mod:`eltops.orchestra.emulator._faults`), until :meth:`heal`."""
        with self._lock:
            self._faults.extend(faults)

    def heal(self) -> None:
        """Stop serving the injected faults."""
        with self._lock:
            self._faults.clear()

    def now(self) -> datetime:
        """The emulator's clock (the injected one, or the real UTC time)."""
        return self._now()

    # ------------------------------------------------------------------------------ WSGI

    def _wsgi(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        self.runbook.app_url = request.host_url.rstrip("/")  # the links it hands out point at itself
        query = dict(request.args.items(multi=True))  # the last value of a repeated parameter wins
        response = self._respond(request, query)
        with self._lock:
            self._request_count += 1
            self._requests.append(RecordedRequest(request.method, request.path, query, response.status_code))
        if self.latency_seconds:
            time.sleep(self.latency_seconds)
        return response(environ, start_response)

    def _respond(self, request: Request, query: dict[str, str]) -> Response:
        failure = self._take_failure()
        if failure is not None:
            return failure
        try:
            endpoint, values = self._routes.bind_to_environ(request.environ).match()
        except MethodNotAllowed as exc:
            allowed = ", ".join(exc.valid_methods or ["GET"])
            return _json({"detail": "Method Not Allowed"}, 405, {"Allow": allowed})
        except NotFound:
            return _json({"detail": "Not Found"}, 404)
        except HTTPException as exc:  # pragma: no cover - werkzeug redirects are off (strict_slashes=False)
            return _json({"detail": exc.description or "Error"}, exc.code or 400)
        if endpoint == "health":
            return _json({"status": "ok"})
        if endpoint == "page":
            return run_page(request, self.runbook, str(values["pipeline_run_id"]), to_micros(self._now()))
        denied = self._authenticate(request)
        if denied is not None:
            return denied
        limited = self._rate_limit()
        if limited is not None:
            return limited
        if isinstance(endpoint, Resource):
            return self._list(endpoint, query)
        if endpoint == "assets":
            try:
                return _json(self.assets.listing(query, to_micros(self._now())))
            except AssetQueryError as exc:
                return _json({"detail": exc.detail}, 422)
        return self._run_endpoint(str(endpoint), request, query, values)

    def _run_endpoint(
        self, endpoint: str, request: Request, query: dict[str, str], values: Mapping[str, Any]
    ) -> Response:
        api, now = self._run_api, self._now()
        run_id = str(values.get("pipeline_run_id", ""))
        task_run_id = str(values.get("task_run_id", ""))
        if endpoint in ("status", "run_tasks") and self.runbook.run(run_id) is None:
            generated = self._generated_run(endpoint, run_id, query, now)
            if generated is not None:
                return generated
        if endpoint == "start":
            return api.start(request, str(values["pipeline_id_or_alias"]), now)
        if endpoint == "status":
            return api.status(run_id, now)
        if endpoint == "cancel":
            return api.cancel(request, run_id, now)
        if endpoint == "run_tasks":
            return api.task_runs(run_id, query, now)
        if endpoint == "logs":
            return api.logs(run_id, task_run_id, now)
        return api.download(request, run_id, task_run_id, now)

    def _generated_run(self, endpoint: str, run_id: str, query: Mapping[str, str], now: datetime) -> Response | None:
        """A run of the generated history read by id: its ``/status``, or its ``/task_runs`` page by page, at any
        age (the listings may no longer serve it); None when ``run_id`` is not one of them (visible by now)."""
        decoded = self.dataset.ids.decode(run_id)
        now_us = to_micros(now)
        dataset = self.dataset
        if decoded is None or decoded[0] != Resource.PIPELINE_RUNS or decoded[1] >= dataset.pipeline_run_count:
            return None
        i = decoded[1]
        if dataset.pipeline_created(i) > now_us:
            return None
        if endpoint == "status":
            return _json(dataset.pipeline_run(i, now_us))
        tasks = self.volume.tasks_per_pipeline_run
        records = [
            dataset.task_run(j, now_us)
            for j in range(i * tasks, min((i + 1) * tasks, dataset.task_run_count))
            if dataset.task_created(j) <= now_us
        ]
        try:
            page, size = max(1, int(query.get("page", "1"))), min(50, max(1, int(query.get("page_size", "50"))))
        except ValueError:
            return None  # the run endpoints' own validation answers
        chosen = records[(page - 1) * size : page * size]
        return _json({"page": page, "pageSize": size, "total": len(records), "results": chosen})

    def _take_failure(self) -> Response | None:
        with self._lock:
            if not self._failures:
                return None
            plan = self._failures[0]
            plan.count -= 1
            if plan.count <= 0:
                self._failures.popleft()
        headers = {} if plan.retry_after is None else {"Retry-After": str(math.ceil(plan.retry_after))}
        if plan.status == 429:
            return _json({"detail": "Too Many Requests"}, 429, headers)
        if plan.status < 500:
            return _json({"detail": HTTPStatus(plan.status).phrase}, plan.status, headers)
        # what Starlette and the load balancers in front of it send: plain text, not JSON
        phrase = HTTPStatus(plan.status).phrase if plan.status in HTTPStatus._value2member_map_ else "Error"
        return Response(phrase, status=plan.status, headers=headers, content_type="text/plain; charset=utf-8")

    def _authenticate(self, request: Request) -> Response | None:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        challenge = {"WWW-Authenticate": "Bearer"}
        if scheme.lower() != "bearer" or not token.strip():
            return _json({"detail": "Not authenticated"}, 401, challenge)
        if not hmac.compare_digest(token.strip().encode(), self.api_key.encode()):
            return _json({"detail": "Invalid API key"}, 401, challenge)
        return None

    def _rate_limit(self) -> Response | None:
        limit = self.rate_limit_per_minute
        if limit is None:
            return None
        now = self._now()
        window_start = now - timedelta(seconds=_RATE_WINDOW)
        with self._lock:
            accepted = self._accepted
            while accepted and accepted[0] <= window_start:
                accepted.popleft()
            if len(accepted) < limit:
                accepted.append(now)
                return None
            wait = (accepted[0] - window_start).total_seconds()
        retry_after = str(max(1, math.ceil(wait)))
        return _json({"detail": "Rate limit exceeded"}, 429, {"Retry-After": retry_after})

    def _list(self, resource: Resource, args: dict[str, str]) -> Response:
        now = self._now()
        try:
            query = parse_query(resource, args, now, self.dataset, default_window=self.default_windows[resource])
        except QueryError as exc:
            return _json({"detail": exc.detail}, 422)
        now_us = to_micros(now)
        retention = self.listing_retention.get(resource)
        if retention is not None:
            oldest = now_us - int(retention.total_seconds() * 1_000_000)
            query = dataclasses.replace(query, time_from=max(query.time_from, oldest))
        selection = self._selector.select(query, now_us)
        # the runs this emulator started are the newest records: they come first, then the generated history
        superseded = args.get("include_superseded", "").strip().lower() in ("true", "1")
        started = [
            r
            for r in self.runbook.listing(resource.path, now_us, include_superseded=superseded)
            if matches_listing(r, query, args)
        ]
        offset = (query.page - 1) * query.page_size
        results: list[dict[str, Any]] = started[offset : offset + query.page_size]
        indices = selection.page(max(0, offset - len(started)), query.page_size - len(results))
        dataset = self.dataset
        if resource is Resource.PIPELINE_RUNS:
            results += [dataset.pipeline_run(i, now_us) for i in indices]
        elif resource is Resource.TASK_RUNS:
            results += [dataset.task_run(j, now_us) for j in indices]
        else:
            results += [dataset.operation(k) for k in indices]
        total = selection.total + len(started)
        with self._lock:
            faults = tuple(self._faults)
        if faults:
            body = render_page(resource, query.page, query.page_size, total, results, faults)
            return Response(body, status=200, content_type="application/json")
        return _json({"page": query.page, "pageSize": query.page_size, "total": total, "results": results})
