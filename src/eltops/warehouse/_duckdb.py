"""DuckDB target: a local file, written one merge per batch, from the API's JSON as it came.

A batch gets its pages as the API sent them, as they arrive (:class:`StagedBatch`); DuckDB parses them itself
(``from_json``, in C++) into a temporary table typed by the column declarations, so a load into DuckDB builds no
Python value per record and imports neither pyarrow nor pandas. The run history comes as pages too
(:func:`eltops.orchestra.records_batch`).
"""

# ruff: noqa: S608  (SQL is built from the declared table and column names, never from input; values are bound)

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import logging
import re
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path

import duckdb

from eltops.errors import ApiResponseError
from eltops.orchestra import LOADED_AT, REST, STATE_TABLE, Column, ColumnType, LoadState, Page, Resource
from eltops.warehouse._ddl import SQL_TYPES, quote, string_literal
from eltops.warehouse._lock import HolderMark, busy_error
from eltops.warehouse._schema import SCHEMA_TABLE, SchemaTooNew, Upgrade, plan_upgrade
from eltops.warehouse._target import WarehouseError, WriteCounts

__all__ = ["ROW_GROUP_ROWS", "DuckDbTarget", "StagedBatch"]

ROW_GROUP_ROWS = 2_048
"""Rows per row group in the files eltops writes: DuckDB's smallest (one 2,048-row vector). A checkpoint rewrites
the row group still being filled, and holds all of it in memory to do so (twice its size, measured: 2,000 records
of 100 KB took 370 MB), so this bounds what a commit holds by 2,048 records, whatever the number of rows."""

_CHECKPOINT_EVERY = "0KB"  # of log: every commit that wrote anything is a checkpoint
_DATABASE = "eltops"  # the attached file's name in the connection (the file's own stem could be "temp")
_BATCH = "eltops_batch"
_EXTRA = "eltops_extra"  # each record's other fields, in the staging SELECT
_SEQ = "eltops_seq"  # read order within a batch: the last copy of an id wins
_counter = itertools.count()
log = logging.getLogger("eltops.warehouse")


def _q(name: str) -> str:
    return quote(name, "duckdb")


def _json_column(column: Column) -> str:
    """How ``from_json`` reads the API field: counts as raw JSON (checked below), everything else as text or JSON."""
    if column.type in _RAW:
        return "JSON"
    return "VARCHAR"


_NUMBERS = {ColumnType.INTEGER: "'BIGINT', 'UBIGINT'", ColumnType.FLOAT: "'BIGINT', 'UBIGINT', 'DOUBLE'"}
_RAW = {ColumnType.JSON, ColumnType.INTEGER, ColumnType.FLOAT, ColumnType.BOOLEAN}


def _typed(column: Column) -> str:
    """The SQL that types one field, strictly: a value the Arrow path would not take as is fails the statement.

    ``from_json`` itself is lenient (a wrong type becomes NULL, 1.5 rounds to 2, true to 1), so numbers are
    read as raw JSON and cast only when their JSON type is a number; timestamps are cast from text, which fails
    on anything that is not one. A failed statement sends the batch through :meth:`Page.normalised`, which
    either names the bad page or converts the value as :func:`~eltops.orchestra.page_to_arrow` does.
    """
    field = _q(column.source)
    if column.type is ColumnType.BOOLEAN:
        return (
            f"CASE WHEN json_type({field}) = 'BOOLEAN' THEN {field}::BOOLEAN "
            f"WHEN {field} IS NOT NULL THEN error('{column.source} is not true or false') END"
        )
    if column.type in _NUMBERS:
        sql_type = SQL_TYPES["duckdb"][column.type]
        return (
            f"CASE WHEN json_type({field}) IN ({_NUMBERS[column.type]}) THEN {field}::{sql_type} "
            f"WHEN {field} IS NOT NULL THEN error('{column.source} is not a number') END"
        )
    if column.type is ColumnType.TIMESTAMP:
        return f"{field}::TIMESTAMPTZ"  # the session's time zone is UTC: an offset-less value is UTC
    return field


_PAGES_PER_STATEMENT = 10
_STATEMENT_BYTES = 2_000_000
"""Pages parsed per statement: ten, or fewer once they hold this much JSON (one page at least). DuckDB holds a
statement's parsed documents at once, and a whole batch's would not fit its small buffer pool."""
_BYTES_PER_JSON_BYTE = 6
"""Memory DuckDB needs to parse a statement's JSON, per byte of it (its buffers grow in powers of two: a 10 MB page
needed 64 MB, a 30 MB one 192 MB). A statement larger than ``_STATEMENT_BYTES`` runs with the memory limit raised
by that much, and the limit goes back down after it."""


_ROW_GROUP_BYTES = 16_000_000
"""Above this, the row group a checkpoint rewrites is added to the commit's memory limit (and taken away after it):
DuckDB pins the whole of it (measured: 800 records of 100 KB failed at 64 MB). Only records over about 8 KB get
there (2,048 of them); smaller ones commit with the headroom below, and DuckDB, which fills whatever limit it is
given with blocks it could spill, stays small. (The limit used to be raised by twice each batch's JSON plus this,
with row groups of 10,240 rows: 20 KB records then peaked at 535 MB instead of about 310.)"""


def _statements(pages: Sequence[Page]) -> Iterator[list[Page]]:
    """``pages`` in groups of at most ``_PAGES_PER_STATEMENT`` pages and ``_STATEMENT_BYTES`` (a page at least)."""
    group: list[Page] = []
    size = 0
    for page in pages:
        if group and (len(group) >= _PAGES_PER_STATEMENT or size + len(page.body) > _STATEMENT_BYTES):
            yield group
            group, size = [], 0
        group.append(page)
        size += len(page.body)
    if group:
        yield group


def _power_of_two(size: int) -> int:
    """The smallest power of two at or above ``size`` (DuckDB's buffers grow that way)."""
    return 1 << max(0, size - 1).bit_length()


def _parse_memory(size: int) -> int:
    """The extra memory a statement parsing ``size`` bytes of JSON needs (none for up to ``_STATEMENT_BYTES``)."""
    return 0 if size <= _STATEMENT_BYTES else _BYTES_PER_JSON_BYTE * _power_of_two(size)


_COMMIT_HEADROOM_BYTES = 16_000_000
"""A commit also gets twice its batch's JSON (rounded up to a power of two), up to this much: without it the merge
of a batch of 10,000 small records spilled to the temporary file and took a third longer (same CPU time, more
waiting); a larger raise only lets DuckDB keep more blocks, which is the memory large records used to cost."""


def _commit_memory(size: int, rows: int, stored: int) -> int:
    """The extra memory merging and checkpointing a batch of ``rows`` records in ``size`` bytes of JSON needs.

    Twice the batch's JSON, up to ``_COMMIT_HEADROOM_BYTES`` (for the merge); or, when the row group the
    checkpoint rewrites (the last one, holding the ``stored`` rows' remainder and the batch's) would hold more than
    ``_ROW_GROUP_BYTES`` of such records and that is more, the row group, since DuckDB pins the whole of it to
    rewrite it. The merge and the checkpoint come one after the other, so the larger need is the one to meet.
    """
    if not rows:
        return 0
    headroom = min(2 * _power_of_two(size), _COMMIT_HEADROOM_BYTES)
    open_rows = min(ROW_GROUP_ROWS, stored % ROW_GROUP_ROWS + rows)
    row_group = open_rows * size // rows
    return max(headroom, row_group if row_group > _ROW_GROUP_BYTES else 0)


def _megabytes(limit: str) -> int:
    match = re.fullmatch(r"\s*(\d+)\s*MB\s*", limit, re.IGNORECASE)
    return int(match.group(1)) if match else 32


@functools.cache
def _pages_sql(resource: Resource) -> str:
    """A ``SELECT`` of the records of the pages bound as a list of JSON texts, typed, with their read order.

    The parameters: the read order of the statement's first record (the pages before it, counted), the pages'
    bodies, and their :attr:`~eltops.orchestra.Page.extra` arrays (each record's other fields, worked out by the
    fetch), unnested side by side with the records. With one thread and insertion order preserved,
    ``row_number()`` follows the pages and the records in each.
    """
    fields = {c.source: _json_column(c) for c in resource.columns if c.source != REST}
    spec = json.dumps({"results": [fields]}, separators=(",", ":"))
    columns = ", ".join(
        f"{_EXTRA} AS {_q(c.name)}" if c.source == REST else f"{_typed(c)} AS {_q(c.name)}" for c in resource.columns
    )
    return (
        f"SELECT {columns}, ?::BIGINT + row_number() OVER () AS {_SEQ} FROM ("
        f"SELECT unnest(from_json(page, '{spec}').results, recursive := true), "
        f"unnest(from_json(extra, '[\"JSON\"]')) AS {_EXTRA} "
        "FROM (SELECT unnest(?::VARCHAR[]) AS page, unnest(?::VARCHAR[]) AS extra))"
    )


class DuckDbTarget:
    """Tables in a DuckDB database file (created when missing)."""

    def __init__(
        self,
        path: Path,
        *,
        memory_limit: str | None = "32MB",
        threads: int = 1,
        row_group_rows: int = ROW_GROUP_ROWS,
    ) -> None:
        """Open (or create) ``path``.

        The loader writes one batch of about ten thousand rows per transaction, so DuckDB needs little of the
        machine: one thread (more only add coordination for inserts this small, and take a core from the
        fetch), and a small buffer pool (``memory_limit``; the load's memory would otherwise grow with the
        table, as DuckDB keeps the blocks it wrote cached up to the limit).

        Each batch's commit is a checkpoint: the rows go straight into the file, compressed, instead of into
        the write-ahead log first and the file at some later checkpoint. That writes every row once, keeps
        nothing uncheckpointed in memory or in DuckDB's temporary files, and leaves no checkpoint for
        :meth:`close`. It pays because the file is attached with row groups of ``row_group_rows`` (2,048,
        DuckDB's smallest) rather than DuckDB's 122,880: a checkpoint rewrites the row group still being filled,
        holding all of it in memory, which with the default size meant rewriting up to 120,000 rows after every
        batch.
        """
        self.path = path
        self._memory_limit = memory_limit
        try:
            self._con = duckdb.connect(config={"threads": threads})
            # API timestamps without an offset are UTC (as page_to_arrow reads them), whatever the machine's zone
            self._con.execute("SET TimeZone = 'UTC'")
            # what does not fit the buffer pool spills next to the file (DuckDB's own place for a database file),
            # not into a .tmp folder in the working directory
            self._con.execute(f"SET temp_directory = {string_literal(str(path) + '.tmp')}")
            if memory_limit:
                self._con.execute(f"SET memory_limit = '{memory_limit}'")
            self._con.execute(f"SET checkpoint_threshold = '{_CHECKPOINT_EVERY}'")
            self._con.execute(f"ATTACH {string_literal(str(path))} AS {_DATABASE} (ROW_GROUP_SIZE {row_group_rows})")
            self._con.execute(f"USE {_DATABASE}")
        except duckdb.Error as exc:
            busy = busy_error(path, exc)
            if busy is not None:
                raise busy from None
            raise WarehouseError(f"cannot open the DuckDB database {path}: {exc}") from None
        self._holder = HolderMark(Path(path))
        self._holder.claim()  # the lock is ours: say so to whoever finds the file busy

    @property
    def description(self) -> str:
        return f"DuckDB {self.path}"

    @contextlib.contextmanager
    def more_memory(self, extra: int) -> Iterator[None]:
        """Run statements with the memory limit raised by ``extra`` bytes (none: as it is), then lowered again."""
        if not self._memory_limit or extra <= 0:
            yield
            return
        base = _megabytes(self._memory_limit)
        self._con.execute(f"SET memory_limit = '{base + extra // 1_000_000 + 1}MB'")
        try:
            yield
        finally:
            with contextlib.suppress(duckdb.Error):  # back to the small pool: written blocks are not kept cached
                self._con.execute(f"SET memory_limit = {string_literal(self._memory_limit)}")

    def _rows(self, resource: Resource) -> int:
        return self._count(f"SELECT count(*) FROM {_q(resource.table)}")

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        return self._con

    def close(self) -> None:
        self._con.close()
        self._holder.release()

    def prepare(self, resources: Sequence[Resource]) -> None:
        """Create what is missing and bring tables an older eltops made to today's schema, in one transaction.

        A kill at any moment leaves the file as it was or as it is meant to be (DuckDB commits a transaction
        whole or not at all); a file of a newer schema raises :class:`~eltops.warehouse.SchemaTooNew`, untouched.
        """
        self.upgrade: Upgrade | None = None
        con = self._con
        try:
            con.execute("BEGIN TRANSACTION")
            upgrade = plan_upgrade(
                dialect="duckdb",
                where=str(self.path),
                stored_version=self._stored_version(),
                found=self._tables(),
                wanted=resources,
            )
            con.execute(
                f"CREATE TABLE IF NOT EXISTS {STATE_TABLE} ("
                "resource VARCHAR PRIMARY KEY, table_name VARCHAR, cursor TIMESTAMPTZ, saved_at TIMESTAMPTZ)"
            )
            for statement in upgrade.statements:
                con.execute(statement)
            con.execute("COMMIT")
        except (SchemaTooNew, WarehouseError):
            self._rollback_quietly()
            raise
        except duckdb.Error as exc:
            self._rollback_quietly()
            raise WarehouseError(f"cannot create the tables in {self.path}: {exc}") from None
        except BaseException:
            self._rollback_quietly()
            raise
        if upgrade.added:
            self.upgrade = upgrade
            log.warning("%s: %s", self.path, upgrade.describe)

    def _rollback_quietly(self) -> None:
        with contextlib.suppress(duckdb.Error):
            self._con.execute("ROLLBACK")

    def _stored_version(self) -> int | None:
        if SCHEMA_TABLE not in self._tables():
            return None
        row = self._con.execute(f"SELECT max(version) FROM {SCHEMA_TABLE}").fetchone()
        return int(row[0]) if row and row[0] is not None else None

    def _tables(self) -> dict[str, list[str]]:
        """Every table of the file's main schema and its columns in order."""
        tables: dict[str, list[str]] = {}
        for table, column in self._con.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_catalog = current_database() AND table_schema = current_schema() "
            "ORDER BY table_name, ordinal_position"
        ).fetchall():
            tables.setdefault(str(table), []).append(str(column))
        return tables

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

    def begin_batch(self, resource: Resource) -> StagedBatch:
        return StagedBatch(self, resource)

    def merge(self, resource: Resource, batch: str, state: LoadState | None) -> WriteCounts:
        """Merge the relation ``batch`` (the resource's columns and the read order) on ``id``; save ``state``.

        Not one ``MERGE``: a MERGE joins the batch with every column of the whole table, so each batch would
        read the table back into memory. Instead the ids already stored are found from the ``id`` column
        alone; only when some are (a re-read) does an ``UPDATE`` compare those rows, and new ids are plain
        inserts. The common case, a batch of new runs, never reads the stored rows at all. Runs inside the
        caller's transaction.
        """
        table, columns = _q(resource.table), resource.column_names
        con = self._con
        row = con.execute(f"SELECT count(*), count(DISTINCT id) FROM {batch}").fetchone()
        rows, distinct = (int(row[0]), int(row[1])) if row else (0, 0)
        source = f"(SELECT * EXCLUDE ({_SEQ}) FROM {batch})"
        if distinct < rows:  # the same id twice in one batch (a window read again): the last one read wins
            source = (
                f"(SELECT * EXCLUDE ({_SEQ}) FROM {batch} "
                f"QUALIFY row_number() OVER (PARTITION BY id ORDER BY {_SEQ} DESC) = 1)"
            )
        matched = self._count(f"SELECT count(*) FROM {table} WHERE id IN (SELECT id FROM {batch})")
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
        return WriteCounts(inserted, updated, matched - updated)

    def _count(self, sql: str) -> int:
        """Run a statement that answers one count (a SELECT count, or the rows an INSERT or UPDATE changed)."""
        row = self._con.execute(sql).fetchone()
        return int(row[0]) if row else 0


class StagedBatch:
    """One batch's transaction, open while its pages arrive: DuckDB types each group of pages into a temporary
    table as it comes, and :meth:`commit` merges that table into the resource's and commits.

    The typing work is done while the fetch goes on, and all of it inside the transaction (a statement of its
    own would commit on its own, and each commit costs a checkpoint). The pages are kept until commit: when a
    value does not convert (a wrong type, or one the strict SQL casts do not take), DuckDB aborts the
    transaction, and at commit every page is typed in Python (:meth:`Page.normalised`, the converters the Arrow
    path uses, no pyarrow needed) and staged again; a value that does not convert raises ``ApiResponseError``
    naming its page. Nothing reaches the resource's table before :meth:`commit`.
    """

    def __init__(self, target: DuckDbTarget, resource: Resource) -> None:
        self._target = target
        self._resource = resource
        self._pages: list[Page] = []
        self._table: str | None = None  # the staging table, while the transaction is open
        self._read = 0  # records staged so far: the read order of the next one
        self._retype = False  # DuckDB refused a value: type the pages in Python at commit

    def add(self, pages: Sequence[Page]) -> None:
        self._pages.extend(pages)
        if self._retype:
            return
        if not self._stage(pages):
            self._rollback()  # the pages stay: commit types them in Python and stages them again
            self._retype = True

    def _stage(self, pages: Sequence[Page]) -> bool:
        """Type ``pages`` into the staging table; False when DuckDB refused a value (the transaction is aborted)."""
        table = self._open()
        con = self._target.connection
        select = _pages_sql(self._resource)
        for group in _statements(pages):
            size = sum(len(page.body) for page in group)
            try:
                with self._target.more_memory(_parse_memory(size)):
                    bodies = [page.body.decode() for page in group]
                    con.execute(
                        f"INSERT INTO {table} {select}", [self._read, bodies, [p.extra.decode() for p in group]]
                    )
            except (duckdb.ConversionException, duckdb.InvalidInputException):
                return False
            except duckdb.OutOfMemoryException as exc:
                pages_read = ", ".join(str(page.query.page) for page in group)
                raise WarehouseError(
                    f"DuckDB ran out of memory typing {self._resource} page{'s' if len(group) > 1 else ''} "
                    f"{pages_read} ({size / 1_000_000:.1f} MB of JSON) into {self._target.path}: {exc}"
                ) from None
            except duckdb.Error as exc:
                raise WarehouseError(f"staging {self._resource.table} in {self._target.path} failed: {exc}") from None
            self._read += sum(page.rows for page in group)
        return True

    def _stage_normalised(self) -> None:
        """Stage every page again, its values typed in Python first (:meth:`Page.normalised`), one page at a time.

        A page whose value does not convert raises ``ApiResponseError`` naming it; one that converts but that
        DuckDB still refuses (a number out of its column's range) does too.
        """
        self._retype, self._read = False, 0
        for page in self._pages:
            if not self._stage([page.normalised()]):
                raise ApiResponseError(
                    f"Orchestra answered {page.query.describe()} with a value {self._target.path} cannot store "
                    f"in {self._resource.table}"
                )

    def commit(self, state: LoadState | None) -> WriteCounts:
        try:
            if self._retype:
                self._stage_normalised()
        except BaseException:
            self.discard()
            raise
        table = self._open()
        con = self._target.connection
        size = sum(len(page.body) for page in self._pages)
        try:
            extra = _commit_memory(size, self._read, self._target._rows(self._resource))
            with self._target.more_memory(extra):
                counts = self._target.merge(self._resource, table, state)
                con.execute(f"DROP TABLE {table}")
                con.execute("COMMIT")
        except duckdb.Error as exc:
            self.discard()
            raise WarehouseError(f"writing {self._resource.table} into {self._target.path} failed: {exc}") from None
        except BaseException:
            self.discard()
            raise
        self._table, self._pages = None, []
        return counts

    def discard(self) -> None:
        self._rollback()
        self._pages = []

    def _rollback(self) -> None:
        table, self._table = self._table, None
        if table is not None:
            with contextlib.suppress(duckdb.Error):  # nothing to roll back when the transaction already failed
                self._target.connection.execute("ROLLBACK")

    def _open(self) -> str:
        """The staging table, in the batch's transaction (both begun on first use)."""
        if self._table is None:
            table = f"{_BATCH}_{next(_counter)}"
            columns = ", ".join(f"{_q(c.name)} {SQL_TYPES['duckdb'][c.type]}" for c in self._resource.columns)
            try:
                self._target.connection.execute("BEGIN TRANSACTION")
                self._table = table
                self._target.connection.execute(f"CREATE TEMP TABLE {table} ({columns}, {_SEQ} BIGINT)")
            except duckdb.Error as exc:
                self._rollback()
                raise WarehouseError(f"staging {self._resource.table} in {self._target.path} failed: {exc}") from None
        return self._table
