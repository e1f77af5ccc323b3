"""``GET /public/assets``: the tables the emulated pipelines produce, with their dependencies and freshness.

The assets are the distinct ``assetExternalId`` values of the workspace's operations (the raw tables the syncs
land, the models dbt builds), so an operation's asset is always in the listing. Dependencies follow the pipelines:
a pipeline's models depend on the tables its syncs land before them and on the model built before them in the same
task. The listing takes the definition's filters, sort (``sort_column``, ``sort_direction``, newest
``created_in_integration`` first by default) and paging (``page_size`` 50 by default, 100 at most); it has no time
filter, as Orchestra's has none.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from eltops.orchestra.emulator._generate import Dataset, iso, to_micros
from eltops.orchestra.emulator._ids import hash_of

__all__ = ["SORT_COLUMNS", "AssetCatalog", "AssetQueryError"]

ASSET_TAG = 7  # the kind baked into an asset's UUID (runs use 1-3)
SORT_COLUMNS = (
    "asset_name",
    "asset_type",
    "status",
    "integration",
    "created_in_integration",
    "last_updated_in_integration",
)
_STATUSES = ("HEALTHY", "HEALTHY", "HEALTHY", "WARNING", "UNHEALTHY", "UNKNOWN")
_TYPES = ("CHART", "DASHBOARD", "DASHBOARD_VIEWS", "DATASET", "QUERIES", "TABLE", "UNKNOWN", "VIEW", "WORKBOOK")
_HOUR = 3_600_000_000


class AssetQueryError(Exception):
    """A query the API would answer 422, with FastAPI's ``detail`` list."""

    def __init__(self, detail: list[dict[str, Any]]) -> None:
        super().__init__("invalid asset query")
        self.detail = detail


@dataclass(frozen=True)
class _Asset:
    index: int
    external_id: str
    integration: str
    upstream: tuple[str, ...]
    owner: str


class AssetCatalog:
    """The workspace's assets, derived from its pipelines (fixed per seed); records follow the clock."""

    def __init__(self, dataset: Dataset, anchor: datetime) -> None:
        self._dataset = dataset
        self._anchor = to_micros(anchor)
        found: dict[str, tuple[str, list[str], str]] = {}
        for pipeline in dataset.pipelines:
            landed: list[str] = []  # raw tables the pipeline's syncs land, in task order
            for task in pipeline.tasks:
                previous_model: str | None = None
                for template in task.operations:
                    table = template.asset_external_id
                    if table is None:
                        continue
                    if template.operation_type == "INGESTION":
                        found.setdefault(table, (task.kind.integration, [], pipeline.name))
                        landed.append(table)
                        continue
                    upstream = found.setdefault(table, ("SNOWFLAKE", [], pipeline.name))[1]
                    for source in [*landed[-2:], *([previous_model] if previous_model else [])]:
                        if source not in upstream and source != table:
                            upstream.append(source)
                    previous_model = table
        self._assets = tuple(
            _Asset(index, external_id, integration, tuple(upstream), f"{pipeline.replace(' ', '_').lower()}@acme.io")
            for index, (external_id, (integration, upstream, pipeline)) in enumerate(sorted(found.items()))
        )
        downstream: dict[str, list[str]] = {a.external_id: [] for a in self._assets}
        for asset in self._assets:
            for source in asset.upstream:
                downstream[source].append(asset.external_id)
        self._downstream = {k: tuple(v) for k, v in downstream.items()}
        self._ids = {a.external_id: dataset.ids.encode(ASSET_TAG, a.index) for a in self._assets}

    def __len__(self) -> int:
        return len(self._assets)

    def record(self, asset: _Asset, now: int) -> dict[str, Any]:
        """One asset as ``GET /public/assets`` sends it, as of ``now`` (microseconds)."""
        dataset, seed, k = self._dataset, self._dataset.seed, asset.index
        database, schema, table = asset.external_id.split(".")
        anchor = self._anchor
        created = anchor - (30 + hash_of(seed, 0xA55E7, k) % 300) * 24 * _HOUR
        last_run = min(now, anchor) - (1 + hash_of(seed, 0xA55E8, k) % 30) * _HOUR
        max_age = (6, 12, 24, 48)[hash_of(seed, 0xA55E9, k) % 4]
        status = _STATUSES[hash_of(seed, 0xA55EA, k) % len(_STATUSES)]
        if (now - last_run) > max_age * _HOUR:
            status = "UNHEALTHY"
        rows = hash_of(seed, 0xA55EB, k) % 5_000_000
        return {
            "assetId": self._ids[asset.external_id],
            "integration": asset.integration,
            "accountId": dataset.account_id,
            "assetName": table.lower(),
            "assetType": "TABLE" if database == "RAW" else ("VIEW" if k % 4 == 3 else "TABLE"),
            "integrationAccountId": "acme-snowflake",
            "databaseName": database,
            "schemaName": schema,
            "workspaceName": None,
            "workspaceId": None,
            "externalId": asset.external_id,
            "connection": "snowflake_prod",
            "status": status,
            "createdAt": iso(created),
            "updatedAt": iso(last_run),
            "connectionIntegration": "SNOWFLAKE",
            "lastSuccessfulRun": iso(last_run),
            "upstreamDependencies": [self._ids[u] for u in asset.upstream],
            "downstreamDependencies": [self._ids[d] for d in self._downstream[asset.external_id]],
            "integrationAssetType": "BASE TABLE",
            "owner": asset.owner,
            "owners": [asset.owner],
            "createdInIntegration": iso(created),
            "lastUpdatedInIntegration": iso(last_run),
            "usagePercentage": round(hash_of(seed, 0xA55EC, k) % 10_000 / 100, 2),
            "freshnessConfig": {"enabled": True, "maxAgeHours": max_age, "warnAfterHours": max_age // 2},
            "meta": {"rowCountAt": iso(last_run)},
            "tableName": table,
            "rowCount": rows,
            "bytes": rows * (40 + hash_of(seed, 0xA55ED, k) % 400),
            "description": f"{table.replace('_', ' ').lower()} in {database}.{schema}",
            "url": f"https://app.snowflake.com/acme/#/data/databases/{database}/schemas/{schema}/table/{table}",
            "lastViewed": None,
            "uniqueViewers": None,
            "viewCount": None,
            "viewCountFromTimestamp": None,
        }

    def listing(self, args: Mapping[str, str], now: int) -> dict[str, Any]:
        """A page of the listing for the query ``args``; raises :class:`AssetQueryError` for a bad query."""
        errors: list[dict[str, Any]] = []
        page = _integer(args, "page", 1, 1, None, errors)
        size = _integer(args, "page_size", 50, 1, 100, errors)
        column = args.get("sort_column", "created_in_integration")
        if column not in SORT_COLUMNS:
            errors.append(_enum_error("sort_column", column, SORT_COLUMNS))
        direction = args.get("sort_direction", "desc")
        if direction not in ("asc", "desc"):
            errors.append(_enum_error("sort_direction", direction, ("asc", "desc")))
        for name, allowed in (("asset_type", _TYPES), ("status", ("HEALTHY", "UNHEALTHY", "UNKNOWN", "WARNING"))):
            for value in _items(args.get(name)):
                if value not in allowed:
                    errors.append(_enum_error(name, value, allowed))
        if errors:
            raise AssetQueryError(errors)
        records = [self.record(asset, now) for asset in self._assets]
        wanted = {
            "assetType": _items(args.get("asset_type")),
            "status": _items(args.get("status")),
            "assetId": _items(args.get("asset_ids")),
            "integration": _items(args.get("integration")),
            "integrationAccountId": _items(args.get("integration_account_id")),
            "workspaceId": _items(args.get("workspace_id")),
            "databaseName": _items(args.get("database_name")),
            "schemaName": _items(args.get("schema_name")),
        }
        for field, values in wanted.items():
            if values:
                records = [r for r in records if r[field] in values]
        key = _camel(column)
        records.sort(key=lambda r: (r[key] or "", r["assetId"]), reverse=direction == "desc")
        start = (page - 1) * size
        return {"page": page, "pageSize": size, "total": len(records), "results": records[start : start + size]}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _items(raw: str | None) -> list[str]:
    return [item.strip() for item in (raw or "").split(",") if item.strip()]


def _enum_error(name: str, raw: str, allowed: tuple[str, ...]) -> dict[str, Any]:
    expected = ", ".join(f"'{a}'" for a in allowed[:-1]) + f" or '{allowed[-1]}'"
    return {"type": "enum", "loc": ["query", name], "msg": f"Input should be {expected}", "input": raw}


def _integer(
    args: Mapping[str, str], name: str, default: int, low: int, high: int | None, errors: list[dict[str, Any]]
) -> int:
    raw = args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        errors.append(
            {
                "type": "int_parsing",
                "loc": ["query", name],
                "msg": "Input should be a valid integer, unable to parse string as an integer",
                "input": raw,
            }
        )
        return default
    if value < low:
        message = f"Input should be greater than or equal to {low}"
        errors.append({"type": "greater_than_equal", "loc": ["query", name], "msg": message, "input": raw})
    elif high is not None and value > high:
        message = f"Input should be less than or equal to {high}"
        errors.append({"type": "less_than_equal", "loc": ["query", name], "msg": message, "input": raw})
    return value
