"""Warehouse targets: DuckDB (embedded default) and Snowflake."""
