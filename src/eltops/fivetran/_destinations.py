"""Where a connection's data lands: its destination (``GET /v1/destinations/{id}``) and the tables it writes there.

A group and its destination share one id. The tables are the connection's schema config
(``GET /v1/connections/{id}/schemas``): every enabled table of every enabled schema, by ``name_in_destination``
(a schema or table without one keeps its source name). Malformed answers are an
:class:`~eltops.errors.ApiResponseError` naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from eltops.errors import ApiResponseError

__all__ = ["Destination", "DestinationTable", "enabled_tables"]


def _text(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ApiResponseError(f"Fivetran sent destination config {key} as {type(value).__name__}, not text")
    return str(value)


@dataclass(frozen=True)
class Destination:
    """A destination's service and the config fields that name its tables (never its credentials)."""

    id: str
    service: str
    host: str | None
    port: int | None
    database: str | None
    project_id: str | None  # BigQuery

    @classmethod
    def from_api(cls, data: Any) -> Destination:
        if (
            not isinstance(data, Mapping)
            or not isinstance(data.get("id"), str)
            or not isinstance(data.get("service"), str)
        ):
            raise ApiResponseError("Fivetran answered with a destination that has no id or service")
        config = data.get("config") or {}
        if not isinstance(config, Mapping):
            raise ApiResponseError("Fivetran sent a destination config that is not an object")
        port_text = _text(config, "port")
        try:
            port = int(port_text) if port_text is not None else None
        except ValueError:
            raise ApiResponseError(f"Fivetran sent destination config port {port_text!r}, not a number") from None
        return cls(
            id=data["id"],
            service=data["service"],
            host=_text(config, "host"),
            port=port,
            database=_text(config, "database"),
            project_id=_text(config, "project_id"),
        )


@dataclass(frozen=True)
class DestinationTable:
    schema: str
    table: str


def enabled_tables(data: Any) -> tuple[DestinationTable, ...]:
    """The tables a sync writes, from a schema config's ``data``."""
    schemas = data.get("schemas") if isinstance(data, Mapping) else None
    if schemas is None:
        return ()
    if not isinstance(schemas, Mapping):
        raise ApiResponseError("Fivetran sent a schema config whose schemas is not an object")
    found: list[DestinationTable] = []
    for schema_name, schema in schemas.items():
        if not isinstance(schema, Mapping) or schema.get("enabled") is False:
            continue
        schema_dest = schema.get("name_in_destination") or schema_name
        tables = schema.get("tables") or {}
        if not isinstance(tables, Mapping):
            raise ApiResponseError(f"Fivetran sent schema {schema_name!r}'s tables as something other than an object")
        for table_name, table in tables.items():
            if not isinstance(table, Mapping) or table.get("enabled") is False:
                continue
            found.append(DestinationTable(str(schema_dest), str(table.get("name_in_destination") or table_name)))
    return tuple(found)
