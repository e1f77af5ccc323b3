"""Warehouse targets: DuckDB (embedded default) and Snowflake.

Each target records the schema version of its tables and upgrades tables an older eltops made in place
(:mod:`eltops.warehouse._schema`); a warehouse of a newer eltops is refused (:class:`SchemaTooNew`).

A target is named by ``--to``, ``--record-to``, ``--from`` or ``ELTOPS_WAREHOUSE`` (:func:`parse_warehouse`, the
one route for every command): a path or ``duckdb:///path`` for DuckDB (default ``eltops.duckdb`` in the working
directory), ``snowflake://[CONNECTION][/DATABASE[/SCHEMA]]`` for Snowflake. Rows get in one way: a
:class:`PendingBatch` from :meth:`Target.begin_batch` (or :func:`write_pages` for a whole batch).

The package speaks the records vocabulary of :mod:`eltops.orchestra` (resources, pages, load state) and imports
nothing else of Orchestra's. Naming a target (``parse_warehouse``) imports only the standard library; the rest is
imported on first use (``eltops._lazy``), and the DuckDB and Snowflake drivers when a target is opened, so a job
that records nothing imports no warehouse code.
"""

import typing

from eltops import _lazy
from eltops.warehouse._spec import (
    DEFAULT_DUCKDB_FILE,
    WAIT_VARIABLE,
    WAREHOUSE_VARIABLE,
    DuckDbSpec,
    SnowflakeSpec,
    TargetSpec,
    open_target,
    parse_wait,
    parse_warehouse,
    warehouse_file,
)

if typing.TYPE_CHECKING:
    from eltops.warehouse._ddl import column_type, create_table_sql, string_literal
    from eltops.warehouse._duckdb import DuckDbTarget
    from eltops.warehouse._lock import WarehouseBusy, busy_error, open_when_free
    from eltops.warehouse._schema import SCHEMA_TABLE, SchemaTooNew, column_types, schema_table_sql
    from eltops.warehouse._snowflake import SnowflakeTarget
    from eltops.warehouse._snowflake_config import SnowflakeSettings
    from eltops.warehouse._target import (
        BufferedBatch,
        PendingBatch,
        Target,
        WarehouseError,
        WriteCounts,
        write_pages,
    )
else:
    __getattr__, __dir__ = _lazy.lazy_exports(
        __name__,
        {
            "eltops.warehouse._ddl": ["column_type", "create_table_sql", "string_literal"],
            "eltops.warehouse._duckdb": ["DuckDbTarget"],
            "eltops.warehouse._lock": ["WarehouseBusy", "busy_error", "open_when_free"],
            "eltops.warehouse._schema": ["SCHEMA_TABLE", "SchemaTooNew", "column_types", "schema_table_sql"],
            "eltops.warehouse._snowflake": ["SnowflakeTarget"],
            "eltops.warehouse._snowflake_config": ["SnowflakeSettings"],
            "eltops.warehouse._target": [
                "BufferedBatch",
                "PendingBatch",
                "Target",
                "WarehouseError",
                "WriteCounts",
                "write_pages",
            ],
        },
    )

__all__ = [
    "DEFAULT_DUCKDB_FILE",
    "SCHEMA_TABLE",
    "WAIT_VARIABLE",
    "WAREHOUSE_VARIABLE",
    "BufferedBatch",
    "DuckDbSpec",
    "DuckDbTarget",
    "PendingBatch",
    "SchemaTooNew",
    "SnowflakeSettings",
    "SnowflakeSpec",
    "SnowflakeTarget",
    "Target",
    "TargetSpec",
    "WarehouseBusy",
    "WarehouseError",
    "WriteCounts",
    "busy_error",
    "column_type",
    "column_types",
    "create_table_sql",
    "open_target",
    "open_when_free",
    "parse_wait",
    "parse_warehouse",
    "schema_table_sql",
    "string_literal",
    "warehouse_file",
    "write_pages",
]
