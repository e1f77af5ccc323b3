"""Dataset names per OpenLineage's naming spec (https://openlineage.io/docs/spec/naming): namespace = the datasource,
name = the table's path in it.

| store | namespace | name |
|---|---|---|
| Snowflake | ``snowflake://{organization}-{account}`` (or the locator the host has) | ``{database}.{schema}.{table}`` |
| BigQuery | ``bigquery`` | ``{project id}.{dataset}.{table}`` |
| Redshift | ``redshift://{cluster}.{region}:{port}`` | ``{database}.{schema}.{table}`` |
| Postgres | ``postgres://{host}:{port}`` | ``{database}.{schema}.{table}`` |
| MySQL | ``mysql://{host}:{port}`` | ``{database}.{table}`` (Fivetran's schema is MySQL's database) |
| SQL Server | ``mssql://{host}:{port}`` | ``{database}.{schema}.{table}`` |
| DuckDB | ``duckdb://{file path}`` (as dbt-ol names it) | ``{database}.{schema}.{table}`` |

A Fivetran destination of any other service gets no outputs (and one log line saying so): a wrong name would join
nothing in a catalog, and would look as if it did.
"""

from __future__ import annotations

from dataclasses import dataclass

from eltops.fivetran import Destination, DestinationTable
from eltops.warehouse import DuckDbSpec, TargetSpec

__all__ = ["DatasetNamer", "destination_namer", "duckdb_namer", "snowflake_namer", "warehouse_namer"]

_DEFAULT_PORTS = {"postgres": 5432, "mysql": 3306, "mssql": 1433, "redshift": 5439}


@dataclass(frozen=True)
class DatasetNamer:
    """Names a destination's tables: ``namespace``, and the database a ``schema.table`` sits in (None: none)."""

    namespace: str
    database: str | None
    schema_is_database: bool = False  # MySQL: no schemas, Fivetran's schema is the database

    def name(self, table: DestinationTable) -> str:
        if self.schema_is_database:
            return f"{table.schema}.{table.table}"
        return ".".join(part for part in (self.database, table.schema, table.table) if part)


def snowflake_account(host: str) -> str:
    """``myorg-myaccount.snowflakecomputing.com`` → ``myorg-myaccount`` (a locator host keeps its region parts)."""
    return host.lower().removesuffix(".snowflakecomputing.com").removesuffix(".privatelink")


def snowflake_namer(account_or_host: str, database: str) -> DatasetNamer:
    return DatasetNamer(f"snowflake://{snowflake_account(account_or_host)}", database)


def duckdb_namer(path: str, database: str) -> DatasetNamer:
    return DatasetNamer(f"duckdb://{path}", database)


def _host_port(scheme: str, destination: Destination) -> str | None:
    if not destination.host:
        return None
    return f"{scheme}://{destination.host.lower()}:{destination.port or _DEFAULT_PORTS[scheme]}"


def destination_namer(destination: Destination) -> DatasetNamer | None:
    """How a Fivetran destination's tables are named, or None for a service the naming spec does not cover."""
    service = destination.service.lower()
    if service == "snowflake":
        if not destination.host or not destination.database:
            return None
        return snowflake_namer(destination.host, destination.database)
    if service in ("big_query", "managed_big_query"):
        return DatasetNamer("bigquery", destination.project_id) if destination.project_id else None
    if service == "redshift":
        if not destination.host or not destination.database:
            return None
        parts = destination.host.lower().split(".")
        if len(parts) >= 3 and destination.host.lower().endswith(".redshift.amazonaws.com"):
            authority = f"{parts[0]}.{parts[2]}:{destination.port or _DEFAULT_PORTS['redshift']}"
        else:
            authority = f"{destination.host.lower()}:{destination.port or _DEFAULT_PORTS['redshift']}"
        return DatasetNamer(f"redshift://{authority}", destination.database)
    if "postgres" in service:
        namespace = _host_port("postgres", destination)
        return DatasetNamer(namespace, destination.database) if namespace and destination.database else None
    if "mysql" in service:
        namespace = _host_port("mysql", destination)
        return DatasetNamer(namespace, None, schema_is_database=True) if namespace else None
    if "sql_server" in service or service in ("azure_sql_database", "azure_sql_managed_db_warehouse"):
        namespace = _host_port("mssql", destination)
        return DatasetNamer(namespace, destination.database) if namespace and destination.database else None
    return None


def warehouse_namer(target: TargetSpec) -> tuple[DatasetNamer, str]:
    """How eltops' own warehouse tables are named, and the schema they are in.

    DuckDB: ``duckdb://{absolute file path}``, database the file's stem, schema ``main`` (as DuckDB names them).
    Snowflake: the account, database and schema of the target, upper-cased as Snowflake stores the unquoted
    identifiers eltops writes.
    """
    if isinstance(target, DuckDbSpec):
        path = target.path.resolve()
        return duckdb_namer(str(path), path.stem), "main"
    params = target.settings.params
    account = str(params.get("account") or params.get("host") or "")
    return snowflake_namer(account, target.settings.database.upper()), target.settings.schema.upper()
