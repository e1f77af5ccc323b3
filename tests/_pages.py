"""API pages built from records, as the loader hands them to a target (shared by the warehouse and report tests)."""

from __future__ import annotations

from typing import Any

import orjson

from eltops.orchestra import PageBatch, PageQuery, Resource, parse_page


def page_batch(resource: Resource, *pages: list[dict[str, Any]]) -> PageBatch:
    """API pages of ``resource`` (numbered from 1) as the loader hands them to a target."""
    bodies = [orjson.dumps({"page": n, "pageSize": 100, "total": 0, "results": r}) for n, r in enumerate(pages, 1)]
    return PageBatch(resource, tuple(parse_page(PageQuery(resource, page=n), b) for n, b in enumerate(bodies, 1)))
