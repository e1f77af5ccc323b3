"""A fetched page kept as the bytes the API sent, and a batch of such pages: what the loader hands a target.

The client decodes each page once (orjson) to check what the walk and the load depend on: the listing's
envelope (``page``, ``pageSize``, ``total``, ``results``), every record's ``id``, and the newest value of the
window column (the load cursor). It keeps the body as it came rather than building typed values in Python:
a target that can parse JSON itself (DuckDB) ingests the bytes directly, while the others (Snowflake, through
write_pandas) call :meth:`PageBatch.to_arrow`, which types the records with
:func:`eltops.orchestra._arrow.page_to_arrow`. Neither this module nor the walk imports pyarrow.

:meth:`Page.normalised` types a page's values in pure Python (the converters of :mod:`eltops.orchestra._records`)
and writes them back as JSON of the column types, which DuckDB's strict parse takes; :func:`records_batch` makes
pages of typed records (the orchestrator's own history), so every target writes them as it writes a load.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson

from eltops.errors import ApiResponseError
from eltops.orchestra import _plan
from eltops.orchestra._plan import MAX_PAGE_SIZE, ListingError, PageQuery
from eltops.orchestra._records import RecordError, Resource, _check_ids, _Record, _timestamp, map_page

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["Page", "PageBatch", "parse_page", "records_batch"]


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
        typed = [{c.source: row[c.name] for c in columns} for row in rows]
        return replace(self, body=_listing(self.query, self.total, typed))


@dataclass(frozen=True)
class PageBatch:
    """Pages of one resource, in the order they were read (a later copy of an ``id`` wins over an earlier)."""

    resource: Resource
    pages: tuple[Page, ...] = ()

    @property
    def rows(self) -> int:
        return sum(page.rows for page in self.pages)

    @property
    def page_numbers(self) -> list[int]:
        return [page.query.page for page in self.pages]

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
        results = [{c.source: getattr(r, c.name) for c in resource.columns} for r in chunk]
        stamps = [s for r in chunk if isinstance(s := getattr(r, resource.window_column), datetime)]
        body = _listing(query, len(records), results)
        pages.append(Page(query, len(records), MAX_PAGE_SIZE, len(chunk), body, max(stamps, default=None)))
    return PageBatch(resource, tuple(pages))


def _listing(query: PageQuery, total: int, results: list[dict[str, Any]]) -> bytes:
    """A listing body of ``results`` (orjson writes datetimes as RFC 3339 with their offset)."""
    listing = {"page": query.page, "pageSize": query.page_size, "total": total, "results": results}
    try:
        return orjson.dumps(listing)
    except orjson.JSONEncodeError as exc:  # an integer past 64 bits: no warehouse column takes it
        raise ApiResponseError(f"Orchestra answered {query.describe()} with a bad record: {exc}") from None


def parse_page(query: PageQuery, body: bytes) -> Page:
    """Decode and check one response body; any defect raises ``ApiResponseError`` naming the resource and page."""
    results, total, page_size = _decode(query, body)
    try:
        _check_ids(results)
        newest = _newest(query.resource, results)
    except RecordError as exc:
        raise _bad_record(query, exc) from None
    return Page(query=query, total=total, page_size=page_size, rows=len(results), body=body, newest=newest)


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


def _newest(resource: Resource, results: list[Any]) -> datetime | None:
    column = resource.column(resource.window_column)
    newest: datetime | None = None
    for position, record in enumerate(results):
        try:
            value = _timestamp(record.get(column.source), column)
        except RecordError as exc:
            raise RecordError(f"result {position}: {exc}") from None
        if value is not None and (newest is None or value > newest):
            newest = value
    return newest
