"""Warehouse targets: DuckDB (embedded default) and Snowflake.

A target is named by ``--to`` or ``ELTOPS_WAREHOUSE``: a path or ``duckdb:///path`` for DuckDB (default
``eltops.duckdb`` in the working directory), ``snowflake://[CONNECTION][/DATABASE[/SCHEMA]]`` for Snowflake.
"""

from eltops.warehouse._lock import WarehouseBusy, open_when_free
from eltops.warehouse._spec import (
    DEFAULT_DUCKDB_FILE,
    DuckDbSpec,
    SnowflakeSpec,
    TargetSpec,
    open_target,
    parse_target,
)
from eltops.warehouse._target import (
    STATE_TABLE,
    BufferedBatch,
    LoadState,
    PendingBatch,
    Target,
    WarehouseError,
    WriteCounts,
)

__all__ = [
    "DEFAULT_DUCKDB_FILE",
    "STATE_TABLE",
    "BufferedBatch",
    "DuckDbSpec",
    "LoadState",
    "PendingBatch",
    "SnowflakeSpec",
    "Target",
    "TargetSpec",
    "WarehouseBusy",
    "WarehouseError",
    "WriteCounts",
    "open_target",
    "open_when_free",
    "parse_target",
]
