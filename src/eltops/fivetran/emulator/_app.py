"""The WSGI app: HTTP checks (auth, Accept, Content-Type, JSON), routing, and one handler per endpoint.

Every request goes through the same gate, in this order, so each kind of mistake gets the answer Fivetran
gives: record it → 401 bad credentials → 406 bad Accept → 404/405 routing → 404 unknown connection →
scripted latency and failure bursts → 415/400 body checks → the handler.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import time
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Literal

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.http import http_date
from werkzeug.routing import Map, RequestRedirect, Rule
from werkzeug.wrappers import Request, Response

from eltops.fivetran.emulator._account import TOO_MANY_REQUESTS, Account, RecordedRequest
from eltops.fivetran.emulator._script import FailureBurst
from eltops.fivetran.emulator._state import (
    DELAY_SENSITIVITIES,
    SCHEDULE_TYPES,
    SYNC_FREQUENCIES,
    ApiProblem,
    Connection,
    check_schedule,
    iso,
    to_epoch,
)
from eltops.fivetran.emulator._transformations import (
    cancel_transformation,
    list_transformations,
    run_transformation,
)

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

PathFamilies = Literal["both", "connections", "connectors"]
PATH_FAMILIES: tuple[PathFamilies, ...] = ("both", "connections", "connectors")
_FAMILIES = "any(connections, connectors)"
_C = f"/v1/<{_FAMILIES}:family>/<connection_id>"

_URL_MAP = Map(
    [
        Rule("/v1/groups", endpoint="list_groups", methods=["GET"]),
        Rule("/v1/groups/<group_id>", endpoint="group_details", methods=["GET"]),
        Rule(f"/v1/groups/<group_id>/<{_FAMILIES}:family>", endpoint="group_connections", methods=["GET"]),
        Rule(f"/v1/<{_FAMILIES}:family>", endpoint="list_connections", methods=["GET"]),
        Rule(_C, endpoint="connection_details", methods=["GET"]),
        Rule(_C, endpoint="modify_connection", methods=["PATCH"]),
        Rule(f"{_C}/sync", endpoint="sync", methods=["POST"]),
        Rule(f"{_C}/force", endpoint="force_sync", methods=["POST"]),
        Rule(f"{_C}/resync", endpoint="resync", methods=["POST"]),
        Rule(f"{_C}/test", endpoint="setup_tests", methods=["POST"]),
        Rule(f"{_C}/schemas", endpoint="schemas", methods=["GET"]),
        Rule(f"{_C}/schemas/tables/resync", endpoint="resync_tables", methods=["POST"]),
        Rule(f"{_C}/schemas/<schema>/tables/<table>/resync", endpoint="resync_table", methods=["POST"]),
        # newer than the rename: on /v1/connections only
        Rule("/v1/connections/<connection_id>/sync-history", endpoint="sync_history", methods=["GET"]),
        Rule("/v1/connections/<connection_id>/errors", endpoint="connection_errors", methods=["GET"]),
        Rule("/v1/account/info", endpoint="account_info", methods=["GET"]),
        Rule("/v1/users", endpoint="list_users", methods=["GET"]),
        Rule("/v1/destinations/<destination_id>", endpoint="destination_details", methods=["GET"]),
        Rule("/v1/metadata/<any(connectors, connections):kind>/<path:rest>", endpoint="metadata", methods=["GET"]),
    ],
    strict_slashes=False,
)

# the transformation endpoints (emulator._transformations), routed apart from the connection families
TRANSFORMATION_ROUTES = Map(
    [
        Rule("/v1/transformations", endpoint="list_transformations", methods=["GET"]),
        Rule("/v1/transformations/<transformation_id>", endpoint="transformation_details", methods=["GET"]),
        Rule("/v1/transformations/<transformation_id>/run", endpoint="run_transformation", methods=["POST"]),
        Rule("/v1/transformations/<transformation_id>/cancel", endpoint="cancel_transformation", methods=["POST"]),
    ],
    strict_slashes=False,
)

_ERROR_CODES = {
    400: "InvalidInput",
    401: "AuthFailed",
    403: "AccessDenied",
    404: "NotFound",
    409: "Conflict",
    429: "TooManyRequests",
    500: "InternalError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}
_PATCH_FIELDS = frozenset(
    {
        "schedule_type",
        "paused",
        "sync_frequency",
        "run_setup_tests",
        "daily_sync_time",
        "pause_after_trial",
        "is_historical_sync",
        "trust_certificates",
        "trust_fingerprints",
        "config",
        "auth",
        "data_delay_sensitivity",
        "data_delay_threshold",
        "schedule",
    }
)
METADATA_DEPRECATED = (
    "Metadata API is deprecated. You can retrieve schema metadata from the metadata tables in Platform Connector:\n"
    'https://fivetran.com/docs/logs/fivetran-platform")\n'
)
"""What Fivetran answers (404 NotFound) on its removed metadata API, character for character, its stray ``")`` and
newline included (astronomer/airflow-provider-fivetran-async#119 quotes the answer)."""
HISTORY_WINDOW_SECONDS = 7 * 24 * 3600


_USER_ID = "emulator_user"  # the API key's owner, who "connected" every emulated connection


def _json_response(status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(payload),
        status=status,
        headers=headers,
        content_type="application/json;charset=UTF-8",
    )


def _ok(message: str, data: Any = None) -> Response:
    payload: dict[str, Any] = {"code": "Success"}
    if message:  # reads carry no message, actions and updates do
        payload["message"] = message
    if data is not None:
        payload["data"] = data
    return _json_response(200, payload)


def _bad_input(message: str) -> ApiProblem:
    return ApiProblem(400, "InvalidInput", message)


def _seconds_header(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


def _accepts_json(accept: str | None) -> bool:
    if accept is None or not accept.strip():
        return True
    media_types = {part.split(";")[0].strip().lower() for part in accept.split(",")}
    return bool(media_types & {"application/json", "application/*", "*/*"})


def _lenient_json(raw: bytes) -> Any | None:
    try:
        return json.loads(raw) if raw.strip() else None
    except ValueError:
        return None


def _require_bool(body: dict[str, Any], key: str) -> None:
    if key in body and not isinstance(body[key], bool):
        raise _bad_input(f"Field '{key}' must be a boolean, not {json.dumps(body[key])}")


def _encode_cursor(last_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": last_id}).encode()).decode()


def _decode_cursor(cursor: str) -> str:
    try:
        decoded = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, binascii.Error):
        raise _bad_input(f"Invalid cursor '{cursor}'") from None
    if not isinstance(decoded, dict) or not isinstance(decoded.get("after"), str):
        raise _bad_input(f"Invalid cursor '{cursor}'")
    return str(decoded["after"])


def _page(request: Request, items: list[tuple[str, dict[str, Any]]]) -> Response:
    """One page of ``items`` (id, rendered) following ``cursor``, at most ``limit`` long."""
    raw_limit = request.args.get("limit", "100")
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 1000:
        raise _bad_input(f"Invalid limit '{raw_limit}': it must be a number in the range 1..1000")
    limit = int(raw_limit)
    start = 0
    cursor = request.args.get("cursor")
    if cursor:
        after = _decode_cursor(cursor)
        ids = [item_id for item_id, _ in items]
        if after not in ids:
            raise _bad_input(f"Invalid cursor '{cursor}'")
        start = ids.index(after) + 1
    page = items[start : start + limit]
    more = start + limit < len(items)
    next_cursor = _encode_cursor(page[-1][0]) if more and page else None
    return _ok("", {"items": [rendered for _, rendered in page], "next_cursor": next_cursor})


class FivetranApp:
    """The emulator's WSGI callable."""

    def __init__(self, account: Account, *, api_key: str, api_secret: str, paths: PathFamilies) -> None:
        if paths not in PATH_FAMILIES:
            raise ValueError(f"paths must be one of {', '.join(PATH_FAMILIES)}, not {paths!r}")
        self._account = account
        self._api_key = api_key
        self._api_secret = api_secret
        self._disabled = {"connections": "connectors", "connectors": "connections"}.get(paths)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        try:
            response = self._respond(request)
        except ApiProblem as problem:
            response = _json_response(
                problem.status, {"code": problem.code, "message": problem.message}, problem.headers
            )
        # the API's own clock, which clients compare Fivetran timestamps with (never their own clock)
        response.headers["Date"] = http_date(self._account.clock())
        return response(environ, start_response)

    # --- the gate ---------------------------------------------------------------------------------

    def _respond(self, request: Request) -> Response:
        raw_body = request.get_data(cache=True)
        self._account.record(
            RecordedRequest(
                method=request.method,
                path=request.path,
                query=request.args.to_dict(),
                json=_lenient_json(raw_body),
                time=self._account.clock(),
            )
        )
        self._check_credentials(request)
        remaining = self._account.spend_request()
        try:
            response = self._checked(request, raw_body)
        except ApiProblem as problem:
            problem.headers = {**self._account.rate_headers(remaining), **problem.headers}
            raise
        response.headers.update(self._account.rate_headers(remaining))
        return response

    def _checked(self, request: Request, raw_body: bytes) -> Response:
        if not _accepts_json(request.headers.get("Accept")):
            raise ApiProblem(406, "NotAcceptable", "The Accept header must allow application/json")
        endpoint, args = self._route(request)
        account_burst = self._account.take_burst(request.method, request.path)
        if account_burst is not None:
            self._fail(account_burst)
        connection_id = args.pop("connection_id", None)
        noun = "Connector" if args.get("family") == "connectors" else "Connection"
        if connection_id is not None:
            self._scripted_trouble(request, connection_id, noun)
        body = self._body(request, raw_body)
        if "transformation" in endpoint:
            with self._account.lock:
                return self._transformation(endpoint, request, body, args.get("transformation_id"))
        handler: Callable[..., Response] = getattr(self, f"_{endpoint}")
        with self._account.lock:
            if connection_id is None:
                return handler(request, body, **args)
            connection = self._account.connection(connection_id, noun=noun)
            return handler(request, body, connection=connection, noun=noun, **args)

    def _check_credentials(self, request: Request) -> None:
        auth = request.authorization
        valid = (
            auth is not None
            and auth.type == "basic"
            and hmac.compare_digest((auth.username or "").encode(), self._api_key.encode())
            and hmac.compare_digest((auth.password or "").encode(), self._api_secret.encode())
        )
        if not valid:
            raise ApiProblem(
                401,
                "AuthFailed",
                "Missing or invalid API key or secret: use HTTP Basic auth with your API key and secret",
                {"WWW-Authenticate": 'Basic realm="Fivetran API"'},
            )

    def _route(self, request: Request) -> tuple[str, dict[str, Any]]:
        segments = [*request.path.strip("/").split("/"), "", "", ""]
        family = segments[3] if segments[1] == "groups" else segments[1]  # /v1/FAMILY/.. or /v1/groups/g/FAMILY
        if self._disabled is not None and segments[0] == "v1" and family == self._disabled:
            raise self._no_route(request)
        routes = TRANSFORMATION_ROUTES if segments[:2] == ["v1", "transformations"] else _URL_MAP
        adapter = routes.bind_to_environ(request.environ)
        try:
            endpoint, args = adapter.match()
        except MethodNotAllowed as exc:
            allowed = ", ".join(sorted(exc.valid_methods or []))
            raise ApiProblem(
                405, "MethodNotAllowed", f"{request.method} is not allowed on {request.path}", {"Allow": allowed}
            ) from None
        except (NotFound, RequestRedirect):
            raise self._no_route(request) from None
        return str(endpoint), dict(args)

    @staticmethod
    def _no_route(request: Request) -> ApiProblem:
        return ApiProblem(404, "NotFound", f"No API endpoint matches {request.method} {request.path}")

    def _scripted_trouble(self, request: Request, connection_id: str, noun: str) -> None:
        """Apply the connection's scripted latency (a real sleep, outside the lock) and failure bursts."""
        with self._account.lock:
            connection = self._account.connection(connection_id, noun=noun)
            latency = connection.script.latency_seconds
            burst = connection.take_burst(request.method, request.path)
        if latency > 0:
            time.sleep(latency)
        if burst is not None:
            self._fail(burst)

    def _fail(self, burst: FailureBurst) -> None:
        headers = {} if burst.retry_after is None else {"Retry-After": _seconds_header(burst.retry_after)}
        if burst.status == 429:
            raise ApiProblem(429, "TooManyRequests", TOO_MANY_REQUESTS.format(limit=self._account.rate_limit), headers)
        phrase = HTTPStatus(burst.status).phrase if burst.status in HTTPStatus._value2member_map_ else "Error"
        code = _ERROR_CODES.get(burst.status, phrase.replace(" ", ""))
        message = f"{phrase} (scripted by the emulator)" if burst.message is None else self._echo(burst.message)
        raise ApiProblem(burst.status, code, message, headers)

    def _echo(self, text: str) -> str:
        """Scripted text with ``{api_key}``, ``{api_secret}`` and ``{basic_auth}`` replaced by the credentials."""
        basic = base64.b64encode(f"{self._api_key}:{self._api_secret}".encode()).decode()
        for placeholder, value in (("{api_key}", self._api_key), ("{api_secret}", self._api_secret)):
            text = text.replace(placeholder, value)
        return text.replace("{basic_auth}", basic)

    @staticmethod
    def _body(request: Request, raw_body: bytes) -> dict[str, Any]:
        """The JSON object sent with a POST/PATCH ({} when there is no body)."""
        if request.method not in ("POST", "PATCH") or not raw_body.strip():
            return {}
        if request.mimetype != "application/json":
            raise ApiProblem(
                415,
                "UnsupportedMediaType",
                f"Content type '{request.content_type or ''}' is not supported: send application/json",
            )
        try:
            body = json.loads(raw_body)
        except ValueError as exc:
            raise _bad_input(f"Malformed JSON request body: {exc}") from None
        if not isinstance(body, dict):
            raise _bad_input("The request body must be a JSON object")
        return body

    def _transformation(
        self, endpoint: str, request: Request, body: dict[str, Any], transformation_id: str | None
    ) -> Response:
        """The transformation endpoints (emulator._transformations), after every connection caught up with now."""
        now = self._account.clock()
        for connection in self._account.connections.values():  # a sync that succeeded may start one
            connection.advance(now)
        book = self._account.transformations
        if transformation_id is None:
            return _page(request, list_transformations(book, now, request.args.to_dict()))
        transformation = book.get(transformation_id)
        if endpoint == "run_transformation":
            return _ok(run_transformation(transformation, now, body))
        if endpoint == "cancel_transformation":
            return _ok(cancel_transformation(transformation, now))
        return _ok("", transformation.render(now))

    # --- groups and lists ----------------------------------------------------------------------------

    def _list_groups(self, request: Request, body: dict[str, Any]) -> Response:
        return _page(request, [(group.id, group.render()) for group in self._account.groups.values()])

    def _group_details(self, request: Request, body: dict[str, Any], *, group_id: str) -> Response:
        return _ok("", self._account.group(group_id).render())

    def _destination_details(self, request: Request, body: dict[str, Any], *, destination_id: str) -> Response:
        group = self._account.groups.get(destination_id)
        if group is None:
            raise ApiProblem(404, "NotFound_Destination", f"Destination with id '{destination_id}' does not exist.")
        return _ok("Destination details retrieved successfully", group.render_destination())

    def _group_connections(self, request: Request, body: dict[str, Any], *, group_id: str, family: str) -> Response:
        self._account.group(group_id)
        return self._connection_page(request, group_id=group_id)

    def _list_connections(self, request: Request, body: dict[str, Any], *, family: str) -> Response:
        return self._connection_page(request, group_id=request.args.get("group_id"))

    def _connection_page(self, request: Request, *, group_id: str | None) -> Response:
        now = self._account.clock()
        schema = request.args.get("schema")
        items = []
        for connection in self._account.connections.values():
            if (group_id is None or connection.group_id == group_id) and (schema in (None, connection.schema)):
                connection.advance(now)
                items.append((connection.id, connection.render()))
        return _page(request, items)

    # --- one connection ------------------------------------------------------------------------------

    def _connection_details(
        self, request: Request, body: dict[str, Any], *, connection: Connection, **_: str
    ) -> Response:
        return _ok("", connection.render())

    def _modify_connection(
        self, request: Request, body: dict[str, Any], *, connection: Connection, noun: str, **_: str
    ) -> Response:
        unknown = sorted(set(body) - _PATCH_FIELDS)
        if unknown:
            raise _bad_input(f"Unrecognized field(s): {', '.join(unknown)}")
        if "schedule_type" in body and body["schedule_type"] not in SCHEDULE_TYPES:
            raise _bad_input(f"Invalid schedule_type '{body['schedule_type']}': supported values are auto, manual")
        frequency = body.get("sync_frequency")
        if "sync_frequency" in body and (isinstance(frequency, bool) or frequency not in SYNC_FREQUENCIES):
            allowed = ", ".join(map(str, SYNC_FREQUENCIES))
            raise _bad_input(f"Invalid sync_frequency '{frequency}': supported values are {allowed} (minutes)")
        for key in ("paused", "run_setup_tests", "pause_after_trial", "is_historical_sync"):
            _require_bool(body, key)
        for key in ("trust_certificates", "trust_fingerprints"):
            _require_bool(body, key)
        if "config" in body and not isinstance(body["config"], dict):
            raise _bad_input("Field 'config' must be an object")
        sync_time = body.get("daily_sync_time")
        if "daily_sync_time" in body and not (
            isinstance(sync_time, str) and len(sync_time) == 5 and sync_time.endswith(":00") and sync_time[:2] < "24"
        ):
            raise _bad_input(f"Invalid daily_sync_time '{sync_time}': use whole hours 00:00 to 23:00")
        if "data_delay_sensitivity" in body and body["data_delay_sensitivity"] not in DELAY_SENSITIVITIES:
            raise _bad_input(f"Invalid data_delay_sensitivity '{body['data_delay_sensitivity']}'")
        threshold = body.get("data_delay_threshold")
        if "data_delay_threshold" in body and not (
            isinstance(threshold, int) and not isinstance(threshold, bool) and threshold >= 0
        ):
            raise _bad_input(f"Invalid data_delay_threshold '{threshold}': minutes, 0 or more")
        schedule = body.get("schedule")
        if schedule is not None:
            try:
                schedule = check_schedule(schedule)
            except ValueError as exc:
                raise _bad_input(f"Invalid schedule: {exc}") from None
            becomes = body.get("schedule_type", connection.schedule_type)
            if becomes == "manual":  # "Do not combine schedule_type: manual with schedule" (Create a Connection)
                raise _bad_input(
                    "A schedule cannot be combined with schedule_type manual: set schedule_type auto with it"
                )

        now = self._account.clock()
        if "config" in body:
            connection.config = {**connection.config, **body["config"]}
        if "schedule_type" in body:
            connection.set_schedule_type(now, body["schedule_type"])
        if "paused" in body:
            connection.set_paused(now, body["paused"])
        if "sync_frequency" in body:
            connection.sync_frequency = int(body["sync_frequency"])
        if "daily_sync_time" in body:
            connection.daily_sync_time = str(body["daily_sync_time"])
        if "pause_after_trial" in body:
            connection.pause_after_trial = bool(body["pause_after_trial"])
        if body.get("is_historical_sync"):
            connection.pending_historical = True
        if "data_delay_sensitivity" in body:
            connection.data_delay_sensitivity = str(body["data_delay_sensitivity"])
        if "data_delay_threshold" in body:
            connection.data_delay_threshold = int(body["data_delay_threshold"])
        if "schedule" in body:
            connection.schedule = schedule
        if body.get("run_setup_tests", True):  # Fivetran runs the setup tests on every PATCH unless told not to
            connection.run_setup_tests(now)
        return _ok(f"{noun} has been updated", connection.render())

    def _sync(self, request: Request, body: dict[str, Any], *, connection: Connection, noun: str, **_: str) -> Response:
        _require_bool(body, "force")
        connection.trigger(self._account.clock(), force=bool(body.get("force", False)))
        return _ok(f"Sync has been successfully triggered for {noun.lower()} with id '{connection.id}'")

    def _force_sync(
        self, request: Request, body: dict[str, Any], *, connection: Connection, noun: str, **_: str
    ) -> Response:
        connection.trigger(self._account.clock(), force=True)
        return _ok(f"Sync has been successfully triggered for {noun.lower()} with id '{connection.id}'")

    def _resync(self, request: Request, body: dict[str, Any], *, connection: Connection, **_: str) -> Response:
        if "scope" in body:
            self._check_tables(connection, body["scope"], what="scope")
        return self._start_resync(connection)

    def _resync_tables(self, request: Request, body: dict[str, Any], *, connection: Connection, **_: str) -> Response:
        self._check_tables(connection, body, what="request body")
        return self._start_resync(connection)

    def _resync_table(
        self, request: Request, body: dict[str, Any], *, connection: Connection, schema: str, table: str, **_: str
    ) -> Response:
        self._check_tables(connection, {schema: [table]}, what="path")
        return self._start_resync(connection)

    def _start_resync(self, connection: Connection) -> Response:
        if connection.script.resync_conflict:
            raise ApiProblem(
                409,
                "Conflict",
                "Re-sync cannot be triggered: a sync is in progress and could not be completed. Try again later",
            )
        connection.trigger(self._account.clock(), force=False, historical=True)
        return _ok("Re-sync has been triggered successfully")

    @staticmethod
    def _check_tables(connection: Connection, scope: Any, *, what: str) -> None:
        """400 unless ``scope`` is a non-empty {schema: [table, ...]} naming only known schemas and tables."""
        if not isinstance(scope, dict) or not scope:
            raise _bad_input(f'The {what} must name at least one schema and its tables, e.g. {{"public": ["t"]}}')
        known = connection.tables or {}
        for schema, tables in scope.items():
            if not isinstance(tables, list) or not tables or not all(isinstance(t, str) for t in tables):
                raise _bad_input(f"Schema '{schema}' must list at least one table name")
            if schema not in known:
                raise _bad_input(f"Schema '{schema}' does not exist in the schema config of '{connection.id}'")
            for table in tables:
                if table not in known[schema]:
                    raise _bad_input(f"Table '{table}' does not exist in schema '{schema}' of '{connection.id}'")

    def _setup_tests(self, request: Request, body: dict[str, Any], *, connection: Connection, **_: str) -> Response:
        for key in ("trust_certificates", "trust_fingerprints"):
            _require_bool(body, key)
        connection.run_setup_tests(self._account.clock())
        data = connection.render()
        data["setup_tests"] = [
            {**test.to_json(), "title": self._echo(test.title), "message": self._echo(test.message)}
            for test in connection.script.setup_tests
        ]
        return _ok("Setup tests were completed", data)

    def _sync_history(self, request: Request, body: dict[str, Any], *, connection: Connection, **_: str) -> Response:
        """The syncs that ended in ``start_time``..``end_time`` (at most 7 days; each defaults to an hour from the
        other, both to the last hour), newest first, a page at a time ("Retrieve Connection Sync History")."""
        start, end = (self._moment(request, name) for name in ("start_time", "end_time"))
        if start is None and end is None:
            end = self._account.clock()
        if start is None:
            assert end is not None
            start = end - 3600
        if end is None:
            end = start + 3600
        if end <= start:
            raise _bad_input("end_time must be after start_time")
        if end - start > HISTORY_WINDOW_SECONDS:
            raise _bad_input("The maximum allowed range between start_time and end_time is 7 days")
        records = [r.render() for r in reversed(connection.history) if start <= r.ended_at <= end]
        for record in records:
            record["reason"] = record["reason"] and self._echo(record["reason"])
        return _page(request, [(record["sync_id"], record) for record in records])

    @staticmethod
    def _moment(request: Request, name: str) -> float | None:
        text = request.args.get(name)
        if text is None:
            return None
        try:
            moment = to_epoch(text.replace("Z", "+00:00"))
        except ValueError:
            raise _bad_input(f"Invalid {name} '{text}': use ISO 8601, e.g. 2026-01-01T00:00:00Z") from None
        assert moment is not None
        return moment

    def _connection_errors(
        self, request: Request, body: dict[str, Any], *, connection: Connection, **_: str
    ) -> Response:
        errors = [
            {key: self._echo(value) if key in ("title", "reason", "message") else value for key, value in e.items()}
            for e in connection.active_errors()
        ]
        return _page(request, [(f"{error['type']}-{index}", error) for index, error in enumerate(errors)])

    def _account_info(self, request: Request, body: dict[str, Any]) -> Response:
        return _ok("", {"account_id": "emulated_account", "account_name": "Emulated account", "user_id": _USER_ID})

    def _list_users(self, request: Request, body: dict[str, Any]) -> Response:
        created = iso(min((g.created_at for g in self._account.groups.values()), default=self._account.clock()))
        user = {
            "id": _USER_ID,
            "email": "emulator@example.com",
            "given_name": "Emulator",
            "family_name": "User",
            "verified": True,
            "invited": False,
            "role": "Account Administrator",
            "active": True,
            "logged_in_at": created,
            "created_at": created,
        }
        return _page(request, [(_USER_ID, user)])

    def _metadata(self, request: Request, body: dict[str, Any], **_: str) -> Response:
        raise ApiProblem(404, "NotFound", METADATA_DEPRECATED)

    def _schemas(self, request: Request, body: dict[str, Any], *, connection: Connection, **_: str) -> Response:
        if not connection.tables:
            raise ApiProblem(
                404, "NotFound_SchemaConfig", f"Schema config for connection with id '{connection.id}' does not exist."
            )
        return _ok("", connection.render_schemas())
