"""A small Fivetran REST client: the calls the orchestrator needs, both path families, typed answers.

Fivetran renamed ``/v1/connectors`` to ``/v1/connections`` in 2025 and which accounts still answer on the old
family is not settled, so the client starts on the new family and switches (once, for the whole client) when a
404 says the *path* is unknown rather than the *connection* (a ``NotFound_*`` code names a resource).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import httpx

from eltops import __version__
from eltops._deadline import NO_DEADLINE, Deadline
from eltops._http import ApiTransport, RetryPolicy
from eltops.errors import ApiResponseError, ApiStatusError, ConfigError
from eltops.fivetran._models import Connection, Group, SetupTest
from eltops.secrets import MASKER, Secret

DEFAULT_API_URL = "https://api.fivetran.com"
ACCEPT = "application/json;version=2"
PATH_FAMILIES = ("connections", "connectors")


class FivetranClient:
    """Fivetran API calls over an :class:`~eltops._http.ApiTransport` (retries, deadline, masking)."""

    def __init__(self, transport: ApiTransport, *, path_family: str = "connections") -> None:
        self._api = transport
        self._family = path_family
        self._family_lock = threading.Lock()

    @classmethod
    def create(
        cls,
        *,
        api_url: str,
        api_key: Secret,
        api_secret: Secret,
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy | None = None,
    ) -> FivetranClient:
        MASKER.add_basic_auth(api_key.reveal(), api_secret.reveal())
        api = ApiTransport(
            base_url=api_url,
            headers={"Accept": ACCEPT, "User-Agent": f"eltops/{__version__}"},
            auth=httpx.BasicAuth(api_key.reveal(), api_secret.reveal()),
            transport=transport,
            retry=retry,
            service="Fivetran",
        )
        return cls(api)

    def close(self) -> None:
        self._api.close()

    def __enter__(self) -> FivetranClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def path_family(self) -> str:
        return self._family

    # -- connection calls -------------------------------------------------------------------------------------

    def get_connection(self, connection_id: str, *, deadline: Deadline = NO_DEADLINE) -> Connection:
        return Connection.from_api(self._connection_call("GET", connection_id, "", deadline=deadline))

    def modify_connection(
        self, connection_id: str, changes: Mapping[str, Any], *, deadline: Deadline = NO_DEADLINE
    ) -> Connection:
        return Connection.from_api(
            self._connection_call("PATCH", connection_id, "", json=dict(changes), deadline=deadline)
        )

    def trigger_sync(self, connection_id: str, *, force: bool = True, deadline: Deadline = NO_DEADLINE) -> None:
        self._connection_call("POST", connection_id, "/sync", json={"force": force}, deadline=deadline)

    def resync_tables(
        self, connection_id: str, schema: str, tables: Sequence[str], *, deadline: Deadline = NO_DEADLINE
    ) -> None:
        self._connection_call(
            "POST", connection_id, "/schemas/tables/resync", json={schema: list(tables)}, deadline=deadline
        )

    def run_setup_tests(
        self, connection_id: str, *, deadline: Deadline = NO_DEADLINE
    ) -> tuple[Connection, tuple[SetupTest, ...]]:
        data = self._connection_call(
            "POST",
            connection_id,
            "/test",
            json={"trust_certificates": False, "trust_fingerprints": False},
            deadline=deadline,
        )
        tests = data.get("setup_tests") if isinstance(data, Mapping) else None
        if not isinstance(tests, list):
            raise ApiResponseError(f"Fivetran's setup-test answer for {connection_id} has no setup_tests list")
        return Connection.from_api(data), tuple(SetupTest.from_api(t) for t in tests)

    # -- lookup by name -----------------------------------------------------------------------------------------

    def groups(self, *, deadline: Deadline = NO_DEADLINE) -> Iterator[Group]:
        for item in self._paginate("/v1/groups", deadline=deadline):
            yield Group.from_api(item)

    def group_connections(self, group_id: str, *, deadline: Deadline = NO_DEADLINE) -> Iterator[Connection]:
        for item in self._paginate(f"/v1/groups/{quote(group_id, safe='')}/{{family}}", deadline=deadline):
            yield Connection.from_api(item)

    def find_connection(self, group_name: str, connection_name: str, *, deadline: Deadline = NO_DEADLINE) -> str:
        """The id of the connection named ``connection_name`` (its ``schema``) in the group named ``group_name``."""
        groups = [g for g in self.groups(deadline=deadline) if g.name == group_name]
        if not groups:
            raise ConfigError(f"no Fivetran group is named {group_name!r}")
        matches = [
            c.id for g in groups for c in self.group_connections(g.id, deadline=deadline) if c.name == connection_name
        ]
        if not matches:
            raise ConfigError(f"group {group_name!r} has no connection named {connection_name!r}")
        if len(matches) > 1:
            raise ConfigError(
                f"{group_name}/{connection_name} matches {len(matches)} connections ({', '.join(matches)}); "
                "use the connection id"
            )
        return matches[0]

    # -- plumbing -----------------------------------------------------------------------------------------------

    def _connection_call(
        self, method: str, connection_id: str, suffix: str, *, json: Any = None, deadline: Deadline
    ) -> Any:
        # percent-encoded: an id (from the user or the API) is one path segment, whatever characters it holds
        path = f"/v1/{{family}}/{quote(connection_id, safe='')}{suffix}"
        body = self._family_call(method, path, json=json, deadline=deadline)
        return body.get("data") if isinstance(body, Mapping) else None

    def _family_call(
        self,
        method: str,
        template: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        deadline: Deadline,
    ) -> Any:
        """Call ``template`` on the current path family; on a path-level 404 switch families and retry once."""
        family = self._family
        try:
            return self._api.request_json(
                method, template.format(family=family), params=params, json=json, deadline=deadline
            )
        except ApiStatusError as exc:
            if not _path_unknown(exc):
                raise
            other = PATH_FAMILIES[1] if family == PATH_FAMILIES[0] else PATH_FAMILIES[0]
            result = self._api.request_json(
                method, template.format(family=other), params=params, json=json, deadline=deadline
            )
            with self._family_lock:
                self._family = other
            return result

    def _paginate(self, template: str, *, deadline: Deadline) -> Iterator[Any]:
        """Every item of a cursor-paginated list; ``{family}`` in ``template`` makes it family-aware."""
        cursor: str | None = None
        while True:
            params = {"limit": 1000, **({"cursor": cursor} if cursor else {})}
            if "{family}" in template:
                body = self._family_call("GET", template, params=params, deadline=deadline)
            else:
                body = self._api.request_json("GET", template, params=params, deadline=deadline)
            items, cursor = _page(body)
            yield from items
            if not cursor:
                return


def _page(body: Any) -> tuple[list[Any], str | None]:
    data = body.get("data") if isinstance(body, Mapping) else None
    if not isinstance(data, Mapping) or not isinstance(data.get("items"), list):
        raise ApiResponseError("Fivetran answered a list call without data.items")
    cursor = data.get("next_cursor")
    return data["items"], cursor if isinstance(cursor, str) and cursor else None


def _path_unknown(exc: ApiStatusError) -> bool:
    """A 404 that is about the path, not about a connection or group (those carry a ``NotFound_*`` code)."""
    return exc.status_code == 404 and not (exc.api_code or "").startswith("NotFound_")
