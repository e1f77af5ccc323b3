"""DuckDB target: a local file, written with one MERGE per batch straight from Arrow."""

# ruff: noqa: S608  (SQL is built from the declared table and column names, never from input; values are bound)

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from eltops.orchestra._records import LOADED_AT, Resource
from eltops.warehouse._ddl import create_table_sql, quote
from eltops.warehouse._target import STATE_TABLE, LoadState, WarehouseError, WriteCounts

__all__ = ["DuckDbTarget"]

_BATCH_VIEW = "eltops_batch"
_counter = itertools.count()


def _q(name: str) -> str:
    return quote(name, "duckdb")


class DuckDbTarget:
    """Tables in a DuckDB database file (created when missing)."""

    def __init__(self, path: Path, *, memory_limit: str | None = "48MB", threads: int = 1) -> None:
        """Open (or create) ``path``.

        The loader writes one batch of a few thousand rows at a time, so DuckDB needs little of the machine:
        one thread (more only add coordination for inserts this small, and take a core from the fetchers), and
        a small buffer pool (``memory_limit``; the load's memory would otherwise grow with the table, as DuckDB
        keeps the blocks it wrote cached up to the limit). Checkpoints work one row group at a time, so the
        limit does not depend on the size of the table. A checkpoint rewrites the row group still being filled,
        so checkpointing after every 16 MB of log (DuckDB's default, about 1.5 batches here) rewrote the same
        rows many times over; every 64 MB halves the cost of writing. Commits are still durable: each
        transaction is in the log before COMMIT returns.
        """
        self.path = path
        try:
            self._con = duckdb.connect(str(path), config={"threads": threads, "checkpoint_threshold": "64MB"})
            if memory_limit:
                self._con.execute(f"SET memory_limit = '{memory_limit}'")
        except duckdb.Error as exc:
            raise WarehouseError(f"cannot open the DuckDB database {path}: {exc}") from None

    @property
    def description(self) -> str:
        return f"DuckDB {self.path}"

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        return self._con

    def close(self) -> None:
        self._con.close()

    def prepare(self, resources: Sequence[Resource]) -> None:
        try:
            self._con.execute(
                f"CREATE TABLE IF NOT EXISTS {STATE_TABLE} ("
                "resource VARCHAR PRIMARY KEY, table_name VARCHAR, cursor TIMESTAMPTZ, saved_at TIMESTAMPTZ)"
            )
            for resource in resources:
                self._con.execute(create_table_sql(resource, "duckdb"))
                self._check_columns(resource)
        except duckdb.Error as exc:
            raise WarehouseError(f"cannot create the tables in {self.path}: {exc}") from None

    def _check_columns(self, resource: Resource) -> None:
        found = [
            row[0]
            for row in self._con.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = ? AND table_schema = current_schema() ORDER BY ordinal_position",
                [resource.table],
            ).fetchall()
        ]
        wanted = [*resource.column_names, LOADED_AT]
        if found != wanted:
            raise WarehouseError(
                f"the table {resource.table} in {self.path} exists with other columns than eltops writes "
                f"(found {', '.join(found)}); rename or drop it"
            )

    def read_state(self, resource: Resource) -> LoadState:
        rows = self._con.execute(f"SELECT cursor FROM {STATE_TABLE} WHERE resource = ?", [resource.name]).fetchall()
        return LoadState(cursor=rows[0][0] if rows else None)

    def open_records(self, resource: Resource, *, created_after: datetime) -> list[tuple[str, datetime]]:
        if not resource.open_statuses:
            return []
        statuses = sorted(resource.open_statuses)
        marks = ", ".join("?" for _ in statuses)
        rows = self._con.execute(
            f"SELECT id, {_q(resource.window_column)} FROM {_q(resource.table)} "
            f"WHERE {_q(resource.status_column)} IN ({marks}) AND {_q(resource.window_column)} > ?",
            [*statuses, created_after],
        ).fetchall()
        return [(str(r[0]), r[1]) for r in rows]

    def values(self, resource: Resource, column: str, *, where: str, equals: str) -> list[object]:
        names = resource.column_names
        if column not in names or where not in names:
            raise ValueError(f"{resource.table} has no column {column!r} or {where!r}")
        rows = self._con.execute(
            f"SELECT {_q(column)} FROM {_q(resource.table)} WHERE {_q(where)} = ?", [equals]
        ).fetchall()
        return [r[0] for r in rows]

    def write_batch(self, resource: Resource, batch: pa.Table, state: LoadState | None) -> WriteCounts:
        """Merge ``batch`` on ``id`` and save ``state``, in one transaction.

        Not one ``MERGE``: a MERGE joins the batch with every column of the whole table, so each batch would
        read the table back into memory. Instead the ids already stored are found from the ``id`` column
        alone; only when some are (a re-read) does an ``UPDATE`` compare those rows, and new ids are plain
        inserts. The common case, a batch of new runs, never reads the stored rows at all.
        """
        table, columns = _q(resource.table), resource.column_names
        view = f"{_BATCH_VIEW}_{next(_counter)}"
        distinct = pc.count_distinct(batch["id"]).as_py()
        if distinct == batch.num_rows:
            registered, source = batch, view
        else:  # the same id twice in one batch (a window read again): the last one read wins
            registered = batch.append_column("_seq", pa.array(range(batch.num_rows), pa.int64()))
            source = (
                f"(SELECT * EXCLUDE (_seq) FROM {view} "
                "QUALIFY row_number() OVER (PARTITION BY id ORDER BY _seq DESC) = 1)"
            )
        con = self._con
        try:
            con.register(view, registered)
            con.execute("BEGIN TRANSACTION")
            try:
                matched = self._count(f"SELECT count(*) FROM {table} WHERE id IN (SELECT id FROM {view})")
                updated = 0
                if matched:
                    changed = " OR ".join(f"t.{_q(c)} IS DISTINCT FROM s.{_q(c)}" for c in columns[1:])
                    assignments = ", ".join(f"{_q(c)} = s.{_q(c)}" for c in columns[1:])
                    updated = self._count(
                        f"UPDATE {table} AS t SET {assignments}, {_q(LOADED_AT)} = now() "
                        f"FROM {source} AS s WHERE t.id = s.id AND ({changed})"
                    )
                    source = f"(SELECT * FROM {source} WHERE id NOT IN (SELECT id FROM {table}))"
                inserted = 0
                if matched < distinct:
                    names = ", ".join(_q(c) for c in columns)
                    inserted = self._count(
                        f"INSERT INTO {table} ({names}, {_q(LOADED_AT)}) SELECT {names}, now() FROM {source}"
                    )
                if state is not None:
                    con.execute(
                        f"INSERT OR REPLACE INTO {STATE_TABLE} VALUES (?, ?, ?, now())",
                        [resource.name, resource.table, state.cursor],
                    )
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        except duckdb.Error as exc:
            raise WarehouseError(f"writing {resource.table} into {self.path} failed: {exc}") from None
        finally:
            con.unregister(view)
        return WriteCounts(inserted, updated, matched - updated)

    def _count(self, sql: str) -> int:
        """Run a statement that answers one count (a SELECT count, or the rows an INSERT or UPDATE changed)."""
        row = self._con.execute(sql).fetchone()
        return int(row[0]) if row else 0
