"""A small Fivetran REST client: the calls the orchestrator needs, both path families, typed answers.

Fivetran renamed ``/v1/connectors`` to ``/v1/connections`` in 2025 and which accounts still answer on the old
family is not settled, so the client starts on the new family and switches (once, for the whole client) when a
404 says the *path* is unknown rather than the *connection* (a ``NotFound_*`` code names a resource).

A client is bound to one job's :class:`~eltops._deadline.Deadline` when it is made, and every request it sends
(each attempt, each retry sleep) is cut to fit it: no call can forget it. A client without a deadline is an
explicit ``deadline=NO_DEADLINE``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

import httpx

from eltops import __version__
from eltops._deadline import Deadline
from eltops._http import ApiTransport, RetryPolicy
from eltops.errors import ApiResponseError, ApiStatusError, ConfigError
from eltops.fivetran._destinations import Destination, DestinationTable, enabled_tables
from eltops.fivetran._models import Connection, Group, SetupTest
from eltops.secrets import MASKER, Secret

ACCEPT = "application/json;version=2"
PATH_FAMILIES = ("connections", "connectors")


@dataclass(frozen=True)
class ApiBudget:
    """What the newest answer said about the account's request budget (``X-Rate-Limit[-Remaining]``)."""

    limit: int | None
    remaining: int


class ResponseWatch:
    """Keeps what every answer's headers tell: the API's clock (``Date``) and the request budget left."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.api_now: datetime | None = None
        self.budget: ApiBudget | None = None

    def __call__(self, response: httpx.Response) -> None:
        dates = response.headers.get_list("Date")  # a proxy or server may add its own; the application's is last
        date = _http_date(dates[-1] if dates else None)
        remaining = _integer(response.headers.get("X-Rate-Limit-Remaining"))
        limit = _integer(response.headers.get("X-Rate-Limit"))
        with self._lock:
            if date is not None:
                self.api_now = date
            if remaining is not None:
                self.budget = ApiBudget(limit, remaining)


class FivetranClient:
    """Fivetran API calls over an :class:`~eltops._http.ApiTransport` (retries, masking), all within ``deadline``."""

    def __init__(
        self,
        transport: ApiTransport,
        *,
        deadline: Deadline,
        watch: ResponseWatch | None = None,
    ) -> None:
        self._api = transport
        self.deadline = deadline
        """The job's deadline: it bounds every request this client sends (the orchestrator waits within it too)."""
        self._family = PATH_FAMILIES[0]
        self._family_lock = threading.Lock()
        self.watch = watch or ResponseWatch()

    @classmethod
    def create(
        cls,
        *,
        api_url: str,
        api_key: Secret,
        api_secret: Secret,
        deadline: Deadline,
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy | None = None,
    ) -> FivetranClient:
        MASKER.add_basic_auth(api_key.reveal(), api_secret.reveal())
        watch = ResponseWatch()
        api = ApiTransport(
            base_url=api_url,
            headers={"Accept": ACCEPT, "User-Agent": f"eltops/{__version__}"},
            auth=httpx.BasicAuth(api_key.reveal(), api_secret.reveal()),
            transport=transport,
            retry=retry,
            service="Fivetran",
            on_response=watch,
            auth_hint="check FIVETRAN_API_KEY and FIVETRAN_API_SECRET",
        )
        return cls(api, deadline=deadline, watch=watch)

    def close(self) -> None:
        self._api.close()

    def __enter__(self) -> FivetranClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- connection calls -------------------------------------------------------------------------------------

    def get_connection(self, connection_id: str) -> Connection:
        return Connection.from_api(self._connection_call("GET", connection_id, ""))

    def modify_connection(self, connection_id: str, changes: Mapping[str, Any]) -> Connection:
        return Connection.from_api(self._connection_call("PATCH", connection_id, "", json=dict(changes)))

    def trigger_sync(self, connection_id: str, *, force: bool = False) -> None:
        """``force=True`` stops a sync in progress and starts again; ``False`` starts one only if none runs."""
        self._connection_call("POST", connection_id, "/sync", json={"force": force})

    def resync(self, connection_id: str, scope: Mapping[str, Sequence[str]] | None = None) -> None:
        """A historical re-sync of the whole connection, or of ``scope`` ({schema: [table, ...]})."""
        body = None if scope is None else {"scope": {schema: list(tables) for schema, tables in scope.items()}}
        self._connection_call("POST", connection_id, "/resync", json=body)

    def resync_tables(self, connection_id: str, schema: str, tables: Sequence[str]) -> None:
        self._connection_call("POST", connection_id, "/schemas/tables/resync", json={schema: list(tables)})

    def run_setup_tests(self, connection_id: str) -> tuple[Connection, tuple[SetupTest, ...]]:
        data = self._connection_call(
            "POST", connection_id, "/test", json={"trust_certificates": False, "trust_fingerprints": False}
        )
        tests = data.get("setup_tests") if isinstance(data, Mapping) else None
        if not isinstance(tests, list):
            raise ApiResponseError(f"Fivetran's setup-test answer for {connection_id} has no setup_tests list")
        return Connection.from_api(data), tuple(SetupTest.from_api(t) for t in tests)

    # -- what a sync writes (for lineage) ------------------------------------------------------------------------

    def destination_tables(self, connection_id: str) -> tuple[DestinationTable, ...]:
        """The enabled tables of the connection's schema config, as named in the destination."""
        return enabled_tables(self._connection_call("GET", connection_id, "/schemas"))

    def destination(self, destination_id: str) -> Destination:
        """A group's destination (the group's id is its destination's)."""
        body = self._request("GET", f"/v1/destinations/{quote(destination_id, safe='')}")
        return Destination.from_api(body.get("data") if isinstance(body, Mapping) else None)

    # -- listings -----------------------------------------------------------------------------------------------

    def groups(self) -> Iterator[Group]:
        for item in self._paginate("/v1/groups"):
            yield Group.from_api(item)

    def group_connections(self, group_id: str) -> Iterator[Connection]:
        for item in self._paginate(f"/v1/groups/{quote(group_id, safe='')}/{{family}}"):
            yield Connection.from_api(item)

    # -- plumbing -----------------------------------------------------------------------------------------------

    def _connection_call(self, method: str, connection_id: str, suffix: str, *, json: Any = None) -> Any:
        # percent-encoded: an id (from the user or the API) is one path segment, whatever characters it holds
        path = f"/v1/{{family}}/{quote(connection_id, safe='')}{suffix}"
        body = self._family_call(method, path, json=json)
        return body.get("data") if isinstance(body, Mapping) else None

    def _request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None, json: Any = None) -> Any:
        """The one place a request is sent: always within the client's deadline."""
        return self._api.request_json(method, path, params=params, json=json, deadline=self.deadline)

    def _family_call(
        self, method: str, template: str, *, params: Mapping[str, Any] | None = None, json: Any = None
    ) -> Any:
        """Call ``template`` on the current path family; on a path-level 404 switch families and retry once."""
        family = self._family
        try:
            return self._request(method, template.format(family=family), params=params, json=json)
        except ApiStatusError as exc:
            if not _path_unknown(exc):
                raise
            other = PATH_FAMILIES[1] if family == PATH_FAMILIES[0] else PATH_FAMILIES[0]
            result = self._request(method, template.format(family=other), params=params, json=json)
            with self._family_lock:
                self._family = other
            return result

    def _paginate(self, template: str) -> Iterator[Any]:
        """Every item of a cursor-paginated list; ``{family}`` in ``template`` makes it family-aware."""
        cursor: str | None = None
        while True:
            params = {"limit": 1000, **({"cursor": cursor} if cursor else {})}
            if "{family}" in template:
                body = self._family_call("GET", template, params=params)
            else:
                body = self._request("GET", template, params=params)
            items, cursor = _page(body)
            yield from items
            if not cursor:
                return


class Directory:
    """Groups and their connections, each listed at most once, for resolving names; errors list what exists.

    Its listings are the client's calls, so they run within the client's deadline.
    """

    def __init__(self, client: FivetranClient) -> None:
        self._client = client
        self._groups: list[Group] | None = None
        self._connections: dict[str, list[Connection]] = {}

    def groups(self) -> list[Group]:
        if self._groups is None:
            self._groups = list(self._client.groups())
        return self._groups

    def group_connections(self, group: Group) -> list[Connection]:
        if group.id not in self._connections:
            self._connections[group.id] = list(self._client.group_connections(group.id))
        return self._connections[group.id]

    def group(self, name: str) -> Group:
        matches = [g for g in self.groups() if g.name == name]
        if not matches:
            raise ConfigError(f"no Fivetran group is named {name!r}; the groups are: {_names(self.groups())}")
        if len(matches) > 1:
            ids = ", ".join(g.id for g in matches)
            raise ConfigError(f"{len(matches)} Fivetran groups are named {name!r} ({ids}); name a connection by id")
        return matches[0]

    def connection(self, group_name: str, connection_name: str) -> Connection:
        group = self.group(group_name)
        connections = self.group_connections(group)
        matches = [c for c in connections if c.name == connection_name]
        if not matches:
            listing = _names(connections, with_ids=True) if connections else "(none)"
            raise ConfigError(
                f"group {group_name!r} has no connection named {connection_name!r}; its connections are: {listing}"
            )
        if len(matches) > 1:
            raise ConfigError(
                f"{group_name}/{connection_name} matches {len(matches)} connections "
                f"({', '.join(c.id for c in matches)}); use the connection id"
            )
        return matches[0]


MAX_NAMES_LISTED = 30


def _names(items: Sequence[Group] | Sequence[Connection], *, with_ids: bool = False) -> str:
    shown = [f"{item.name} ({item.id})" if with_ids else item.name for item in items[:MAX_NAMES_LISTED]]
    more = len(items) - len(shown)
    return ", ".join(shown) + (f" and {more} more (see `eltops fivetran list`)" if more > 0 else "")


def _http_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo is not None else None


def _integer(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _page(body: Any) -> tuple[list[Any], str | None]:
    data = body.get("data") if isinstance(body, Mapping) else None
    if not isinstance(data, Mapping) or not isinstance(data.get("items"), list):
        raise ApiResponseError("Fivetran answered a list call without data.items")
    cursor = data.get("next_cursor")
    return data["items"], cursor if isinstance(cursor, str) and cursor else None


def _path_unknown(exc: ApiStatusError) -> bool:
    """A 404 that is about the path, not about a connection or group (those carry a ``NotFound_*`` code)."""
    return exc.status_code == 404 and not (exc.api_code or "").startswith("NotFound_")
