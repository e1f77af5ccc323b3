"""A small Fivetran REST client: the calls the orchestrator needs, both path families, typed answers.

Fivetran renamed ``/v1/connectors`` to ``/v1/connections`` in 2025 and which accounts still answer on the old
family is not settled, so the client starts on the new family and switches (once, for the whole client) when a
404 says the *path* is unknown rather than the *connection* (a ``NotFound_*`` code names a resource).

A client is bound to one job's :class:`~eltops._deadline.Deadline` when it is made, and every request it sends
(each attempt, each retry sleep) is cut to fit it: no call can forget it. A client without a deadline is an
explicit ``deadline=NO_DEADLINE``.
"""

from __future__ import annotations

import difflib
import logging
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

import httpx

from eltops import __version__
from eltops._deadline import Deadline
from eltops._http import ApiTransport, RetryPolicy
from eltops.errors import ApiResponseError, ApiStatusError, ConfigError, EltopsError
from eltops.fivetran._destinations import Destination, DestinationTable, enabled_tables
from eltops.fivetran._models import ActiveError, Connection, Group, SetupTest, SyncRecord, format_timestamp
from eltops.secrets import MASKER, Secret

log = logging.getLogger("eltops.fivetran")

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

    def modify_connection_late(self, connection_id: str, changes: Mapping[str, Any], *, grace: float) -> Connection:
        """``modify_connection`` within the job's deadline plus ``grace`` seconds, tried at most twice: for putting
        back what the job changed, which must happen however (and however late) the job ends."""
        deadline = Deadline(self.deadline.remaining() + grace, self.deadline.clock)
        path = f"/v1/{{family}}/{quote(connection_id, safe='')}"
        body = self._family_call("PATCH", path, json=dict(changes), deadline=deadline, attempts=2)
        return Connection.from_api(body.get("data") if isinstance(body, Mapping) else None)

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

    # -- paths outside the connection families (fivetran._transformations) ------------------------------------

    def send(self, method: str, path: str, *, json: Any = None) -> Any:
        """One request to ``path`` as it is (no path family), within the client's deadline."""
        return self._request(method, path, json=json)

    def rebound(self, seconds: float) -> FivetranClient:
        """This client's connection and clock, with a deadline of its own (a cancel sent after the job's ran out)."""
        return FivetranClient(self._api, deadline=Deadline(seconds, self.deadline.clock), watch=self.watch)

    def items(self, path: str) -> Iterator[Any]:
        """Every item of the cursor-paginated list at ``path``."""
        return self._paginate(path)

    # -- why a sync failed: newer than the connectors → connections rename, so on /v1/connections only ----------

    def sync_history(
        self, connection_id: str, *, start: datetime, end: datetime, within: float, max_pages: int
    ) -> list[SyncRecord]:
        """The syncs that ended between ``start`` and ``end`` (at most 7 days apart), from at most ``max_pages``
        pages, all within ``within`` seconds (and the job's deadline), each page tried once: a look-up, not worth
        a retry."""
        deadline = self._bounded(within)
        if end - start > timedelta(days=7):
            raise ValueError("Fivetran's sync history window is at most 7 days")
        path = f"/v1/connections/{quote(connection_id, safe='')}/sync-history"
        window = {"start_time": format_timestamp(start), "end_time": format_timestamp(end)}
        items = self._paginate(path, params=window, deadline=deadline, max_pages=max_pages, limit=100, attempts=1)
        return [SyncRecord.from_api(item) for item in items]

    def connection_errors(self, connection_id: str, *, within: float, max_pages: int) -> list[ActiveError]:
        """The connection's active errors, from at most ``max_pages`` pages, within ``within`` seconds."""
        deadline = self._bounded(within)
        path = f"/v1/connections/{quote(connection_id, safe='')}/errors"
        items = self._paginate(path, deadline=deadline, max_pages=max_pages, limit=100, attempts=1)
        return [ActiveError.from_api(item) for item in items]

    def _bounded(self, seconds: float) -> Deadline:
        """A deadline ``seconds`` from now, or the job's if that comes first: for calls that must stay short."""
        return Deadline(min(seconds, self.deadline.remaining()), self.deadline.clock)

    # -- plumbing -----------------------------------------------------------------------------------------------

    def _connection_call(self, method: str, connection_id: str, suffix: str, *, json: Any = None) -> Any:
        # percent-encoded: an id (from the user or the API) is one path segment, whatever characters it holds
        path = f"/v1/{{family}}/{quote(connection_id, safe='')}{suffix}"
        body = self._family_call(method, path, json=json)
        return body.get("data") if isinstance(body, Mapping) else None

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        deadline: Deadline | None = None,
        attempts: int | None = None,
    ) -> Any:
        """The one place a request is sent: always within the client's deadline (or a shorter one from ``_bounded``)."""
        return self._api.request_json(
            method, path, params=params, json=json, deadline=deadline or self.deadline, attempts=attempts
        )

    def _family_call(
        self,
        method: str,
        template: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        deadline: Deadline | None = None,
        attempts: int | None = None,
    ) -> Any:
        """Call ``template`` on the current path family; on a path-level 404 switch families and retry once."""
        family = self._family
        sent = {"params": params, "json": json, "deadline": deadline, "attempts": attempts}
        try:
            return self._request(method, template.format(family=family), **sent)
        except ApiStatusError as exc:
            if not _path_unknown(exc):
                raise
            other = PATH_FAMILIES[1] if family == PATH_FAMILIES[0] else PATH_FAMILIES[0]
            result = self._request(method, template.format(family=other), **sent)
            with self._family_lock:
                self._family = other
            return result

    def _paginate(
        self,
        template: str,
        *,
        params: Mapping[str, Any] | None = None,
        deadline: Deadline | None = None,
        max_pages: int | None = None,
        limit: int = 1000,
        attempts: int | None = None,
    ) -> Iterator[Any]:
        """Every item of a cursor-paginated list (of its first ``max_pages`` pages); ``{family}`` in ``template``
        makes it family-aware. A cursor sent back twice is an API error, not a loop."""
        cursor: str | None = None
        seen: set[str] = set()
        pages = 0
        while max_pages is None or pages < max_pages:
            query = {**(params or {}), "limit": limit, **({"cursor": cursor} if cursor else {})}
            if "{family}" in template:
                body = self._family_call("GET", template, params=query)
            else:
                body = self._request("GET", template, params=query, deadline=deadline, attempts=attempts)
            pages += 1
            items, cursor = _page(body)
            yield from items
            if not cursor:
                return
            if cursor in seen:
                raise ApiResponseError(f"Fivetran sent the same next_cursor twice while listing {template}")
            seen.add(cursor)


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
MAX_NEAREST = 3


def unknown_connection(directory: Directory, connection_id: str) -> ConfigError:
    """The error for an id no connection has: the nearest ids and ``<group>/<name>`` forms of the account's
    connections (difflib over one listing), and where to see them all. A listing that fails only loses the
    suggestions."""
    candidates: dict[str, str] = {}  # what a user may have meant -> how to name that connection
    try:
        for group in directory.groups():
            for connection in directory.group_connections(group):
                named = f"{group.name}/{connection.name}"
                candidates[connection.id] = connection.id
                candidates[connection.name] = named
                candidates[named] = named
    except EltopsError as exc:
        log.debug("could not list the connections to suggest one: %s", exc)
    nearest = difflib.get_close_matches(connection_id, list(candidates), n=MAX_NEAREST * 2, cutoff=0.6)
    suggestions = list(dict.fromkeys(candidates[match] for match in nearest))[:MAX_NEAREST]
    did_you_mean = f"; the nearest: {', '.join(suggestions)}" if suggestions else ""
    return ConfigError(
        f"no Fivetran connection has the id {connection_id!r}{did_you_mean}. A connection is named by its id (a "
        "generated one such as 'decent_dropsy') or as '<group name>/<connection name>'; `eltops fivetran list` "
        "shows both for every connection"
    )


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
