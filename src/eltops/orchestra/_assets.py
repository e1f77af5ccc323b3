"""What a task run's operations say they wrote: ``assetExternalId`` (a table, as the integration names it) and
``rowsAffected``, from ``GET /operations?task_run_id=...``. Lineage names a task run's outputs with them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from eltops.errors import ApiResponseError

__all__ = ["OperationAsset", "operation_assets"]


@dataclass(frozen=True)
class OperationAsset:
    """One operation's asset: the table it names and the rows it says it affected (None: not said)."""

    asset_external_id: str
    rows_affected: int | None


def operation_assets(records: Any) -> tuple[OperationAsset, ...]:
    """The assets of a page of operations (``results``); operations that name none are left out."""
    if not isinstance(records, list):
        raise ApiResponseError("Orchestra answered GET /operations without a results list")
    found: list[OperationAsset] = []
    for record in records:
        if not isinstance(record, Mapping):
            raise ApiResponseError("Orchestra sent an operation that is not an object")
        asset = record.get("assetExternalId")
        if asset is None or asset == "":
            continue
        if not isinstance(asset, str):
            raise ApiResponseError(f"Orchestra sent assetExternalId as {type(asset).__name__}, not text")
        rows = record.get("rowsAffected")
        if rows is not None and (isinstance(rows, bool) or not isinstance(rows, int | float)):
            raise ApiResponseError(f"Orchestra sent rowsAffected as {type(rows).__name__}, not a number")
        found.append(OperationAsset(asset, None if rows is None else int(rows)))
    return tuple(found)
