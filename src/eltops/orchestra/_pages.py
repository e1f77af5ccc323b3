"""A fetched page kept as the bytes the API sent, and a batch of such pages: what the loader hands a target.

The client decodes each page once (orjson) to check what the walk and the load depend on: the listing's
envelope (``page``, ``pageSize``, ``total``, ``results``), every record's ``id``, and the newest value of the
window column (the load cursor). It keeps the body as it came rather than building typed values in Python:
a target that can parse JSON itself (DuckDB) ingests the bytes directly, while the others (Snowflake, through
write_pandas) call :meth:`PageBatch.to_arrow`, which types the records with
:func:`eltops.orchestra._arrow.page_to_arrow`. Neither this module nor the walk imports pyarrow.

A page is accepted only with every secret masked: an API that echoes the key in a record would otherwise put it
in the warehouse. The check is a byte search for each JSON form of each secret (nothing else is decoded or
copied); only a page that holds one is decoded, masked and encoded again.

:meth:`Page.normalised` types a page's values in pure Python (the converters of :mod:`eltops.orchestra._records`)
and writes them back as JSON of the column types, which DuckDB's strict parse takes; :func:`records_batch` makes
pages of typed records (the orchestrator's own history), so every target writes them as it writes a load.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson

from eltops.errors import ApiResponseError
from eltops.orchestra import _plan
from eltops.orchestra._plan import MAX_PAGE_SIZE, ListingError, PageQuery
from eltops.orchestra._records import (
    REST,
    Column,
    RecordError,
    Resource,
    _check_ids,
    _Record,
    _timestamp,
    map_page,
)
from eltops.secrets import MASKER

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["MAX_PAGE_BYTES", "Page", "PageBatch", "PageTooLarge", "parse_page", "records_batch", "split_page"]

log = logging.getLogger("eltops.orchestra")

MAX_PAGE_BYTES = 32_000_000
"""The largest page body loaded (100 records of about 320 KB): the fetch holds a few pages at once, and DuckDB
parses one in memory (about six times its size). A larger page is read again in smaller pages
(:meth:`~eltops.orchestra.OrchestraClient.get_page`); only a single record over it fails, naming its id, page and
size."""


class PageTooLarge(ApiResponseError):
    """A page body over :data:`MAX_PAGE_BYTES`; the client reads its records again in smaller pages."""

    def __init__(self, message: str, *, query: PageQuery, size: int, body: bytes) -> None:
        super().__init__(message)
        self.query, self.size, self.body = query, size, body


@dataclass(frozen=True)
class Page:
    """One checked page: the query that fetched it, what the API said about the listing, and its raw body."""

    query: PageQuery
    total: int
    page_size: int
    rows: int
    body: bytes
    newest: datetime | None
    """The newest value of the resource's window column on this page (None when no record has one)."""
    parts: tuple[Page, ...] = ()
    """A page read again in smaller pages (it was over :data:`MAX_PAGE_BYTES`): those pages, in order. The page
    itself then stands for them in the walk (its ``rows``, ``total`` and ``page_size`` as asked), and the client
    hands on the parts instead of it (:func:`split_page` says which pages they are)."""
    extra: bytes = b"[]"
    """A JSON array, one item per record: the fields no column takes (:func:`~eltops.orchestra.rest_of`), or null.

    Worked out where the page is decoded anyway (the fetch), so a target that parses the body itself (DuckDB)
    stores the ``extra`` column from it without taking each record apart again."""

    def to_arrow(self) -> pa.Table:
        """The page's records as an Arrow table; a value of the wrong type raises ``ApiResponseError``."""
        from eltops.orchestra._arrow import page_to_arrow

        results, _, _ = _decode(self.query, self.body)
        try:
            return page_to_arrow(self.query.resource, results)
        except RecordError as exc:
            raise _bad_record(self.query, exc) from None

    def normalised(self) -> Page:
        """The page with each value converted to its column's type in Python, as the Arrow path converts it.

        A count sent as ``"3"`` becomes ``3``, a number in a text column its text, a timestamp an offset-aware
        one; a value that does not convert raises ``ApiResponseError`` naming the page, as :meth:`to_arrow` does.
        """
        results, _, _ = _decode(self.query, self.body)
        try:
            rows = map_page(self.query.resource, results)
        except RecordError as exc:
            raise _bad_record(self.query, exc) from None
        columns = self.query.resource.columns
        typed = [_api_shaped(columns, row) for row in rows]
        return replace(self, body=_listing(self.query, self.total, typed), extra=_extras(self.query.resource, typed))


@dataclass(frozen=True)
class PageBatch:
    """Pages of one resource, in the order they were read (a later copy of an ``id`` wins over an earlier)."""

    resource: Resource
    pages: tuple[Page, ...] = ()

    @property
    def rows(self) -> int:
        return sum(page.rows for page in self.pages)

    def to_arrow(self) -> pa.Table:
        """All the pages' records as one Arrow table, page by page (an error names the page it is on)."""
        import pyarrow as pa

        from eltops.orchestra._arrow import arrow_schema

        if not self.pages:
            return arrow_schema(self.resource).empty_table()
        return pa.concat_tables([page.to_arrow() for page in self.pages])


def records_batch(resource: Resource, records: Sequence[_Record]) -> PageBatch:
    """Typed records of ``resource`` as a batch of pages shaped as the API's (camelCase, typed JSON values)."""
    pages = []
    for start in range(0, len(records), MAX_PAGE_SIZE):
        chunk = records[start : start + MAX_PAGE_SIZE]
        query = PageQuery(resource, page=start // MAX_PAGE_SIZE + 1)
        results = [r.api_object() for r in chunk]
        stamps = [s for r in chunk if isinstance(s := getattr(r, resource.window_column), datetime)]
        body = _listing(query, len(records), results)
        newest = max(stamps, default=None)
        pages.append(
            Page(query, len(records), MAX_PAGE_SIZE, len(chunk), body, newest, extra=_extras(resource, results))
        )
    return PageBatch(resource, tuple(pages))


def _api_shaped(columns: Sequence[Column], row: dict[str, Any]) -> dict[str, Any]:
    """A mapped row as the API's object again: each column under its field, the ``extra`` fields among them."""
    obj: dict[str, Any] = {}
    for column in columns:
        if column.source == REST:
            obj.update(row[column.name] or {})
        else:
            obj[column.source] = row[column.name]
    return obj


def _listing(query: PageQuery, total: int, results: list[dict[str, Any]]) -> bytes:
    """A listing body of ``results`` (orjson writes datetimes as RFC 3339 with their offset)."""
    listing = {"page": query.page, "pageSize": query.page_size, "total": total, "results": results}
    try:
        return orjson.dumps(listing)
    except orjson.JSONEncodeError as exc:  # an integer past 64 bits: no warehouse column takes it
        raise ApiResponseError(f"Orchestra answered {query.describe()} with a bad record: {exc}") from None


def parse_page(query: PageQuery, body: bytes, *, not_after: tuple[datetime, str] | None = None) -> Page:
    """Decode and check one response body, secrets masked; any defect raises ``ApiResponseError`` naming the page.

    ``not_after`` is the latest plausible window timestamp and whose clock it comes from: a later one (a
    ``createdAt`` of 9999-12-31) is logged and left out of the page's ``newest``, so it never becomes the load
    cursor (which would make every later load skip what was created in between). The record itself is kept.
    """
    if len(body) > MAX_PAGE_BYTES:
        raise PageTooLarge(
            f"Orchestra answered {query.describe()} with {_megabytes(len(body))} of JSON, more than the "
            f"{_megabytes(MAX_PAGE_BYTES)} eltops loads in one page",
            query=query,
            size=len(body),
            body=body,
        )
    body = MASKER.redact_json_bytes(body)
    results, total, page_size = _decode(query, body)
    try:
        _check_ids(results, query.resource.id_source)
        newest = _newest(query, results, not_after)
    except RecordError as exc:
        raise _bad_record(query, exc) from None
    return Page(
        query=query,
        total=total,
        page_size=page_size,
        rows=len(results),
        body=body,
        newest=newest,
        extra=_extras(query.resource, results),
    )


def _extras(resource: Resource, results: Sequence[Any]) -> bytes:
    """Each record's fields that no column takes, as one JSON array (null for a record with none)."""
    if resource.rest is None:
        return b"[]"
    typed = resource.typed_sources
    extras = [{k: v for k, v in record.items() if k not in typed} or None for record in results]
    try:
        return orjson.dumps(extras)
    except orjson.JSONEncodeError:  # a value orjson cannot write back (an integer past 64 bits): kept as text
        return json.dumps(extras).encode()


def split_page(query: PageQuery) -> list[PageQuery]:
    """The smaller pages that hold exactly the records of ``query``'s page: the page size divided by its smallest
    prime factor (100 -> 50 -> 25 -> 5 -> 1), so the smaller pages line up with the larger one."""
    size = query.page_size
    factor = next(f for f in range(2, size + 1) if size % f == 0)
    smaller = size // factor
    first = (query.page - 1) * factor + 1
    return [PageQuery(query.resource, n, smaller, query.window, query.filters) for n in range(first, first + factor)]


def joined(query: PageQuery, parts: Sequence[Page]) -> Page:
    """One page standing for ``parts``, the smaller pages ``query``'s page was read again as."""
    flat = tuple(p for part in parts for p in (part.parts or (part,)))
    newest = max((p.newest for p in flat if p.newest is not None), default=None)
    return Page(
        query=query,
        total=parts[0].total,
        page_size=query.page_size,
        rows=sum(p.rows for p in flat),
        body=b"",
        newest=newest,
        parts=flat,
    )


def too_large_record(error: PageTooLarge) -> ApiResponseError:
    """The error for a page of one record over the bound: the record's id, its page and its size."""
    record_id = "?"
    try:
        results, _, _ = _decode(error.query, error.body)
        if results and isinstance(results[0], dict):
            record_id = str(results[0].get(error.query.resource.id_source, "?"))
    except ApiResponseError:
        pass
    return ApiResponseError(
        f"Orchestra answered {error.query.describe()} with one record, {error.query.resource} {record_id}, of "
        f"{_megabytes(error.size)} of JSON: more than the {_megabytes(MAX_PAGE_BYTES)} eltops loads in one page, "
        "even alone. The load stops here, and its cursor does not move past this window"
    )


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"


def _decode(query: PageQuery, body: bytes) -> tuple[list[Any], int, int]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ApiResponseError(f"Orchestra answered {query.describe()} with a body that is not JSON: {exc}") from None
    try:
        return _plan.unpack_listing(query, data)
    except ListingError as exc:
        raise ApiResponseError(str(exc)) from None


def _bad_record(query: PageQuery, exc: RecordError) -> ApiResponseError:
    return ApiResponseError(f"Orchestra answered {query.describe()} with a bad record: {exc}")


def _newest(query: PageQuery, results: list[Any], not_after: tuple[datetime, str] | None) -> datetime | None:
    resource = query.resource
    column = resource.column(resource.window_column)
    newest: datetime | None = None
    future: list[tuple[int, datetime]] = []
    for position, record in enumerate(results):
        try:
            value = _timestamp(record.get(column.source), column)
        except RecordError as exc:
            raise RecordError(f"result {position}: {exc}") from None
        if value is None:
            continue
        if not_after is not None and value > not_after[0]:
            future.append((position, value))
        elif newest is None or value > newest:
            newest = value
    if future and not_after is not None:
        position, value = future[0]
        log.warning(
            "%s: %d record%s with a %s later than %s (%s), such as result %d at %s: stored as sent, "
            "but not used as the load cursor",
            query.describe(),
            len(future),
            "s" if len(future) != 1 else "",
            column.source,
            not_after[1],
            not_after[0].isoformat(),
            position,
            value.isoformat(),
        )
    return newest
