"""Fivetran's vendored definitions: their file names, and the old path family the 2024 one is written in."""

from __future__ import annotations

import re

__all__ = ["FIVETRAN_SPEC", "FIVETRAN_SPEC_2026", "as_2024_path"]

FIVETRAN_SPEC = "fivetran-openapi-2024.yaml"
"""Fivetran's OpenAPI definition of April 2024, on the old ``/v1/connectors`` family (tests/specs/README.md)."""

FIVETRAN_SPEC_2026 = "fivetran-openapi-2026.json"
"""Fivetran's current OpenAPI definition (last changed 2026-07), on ``/v1/connections`` only (tests/specs/README.md)."""

_NEW_FAMILY = re.compile(r"^(/v1|/v1/groups/[^/]+)/connections(?=/|$)")


def as_2024_path(path: str) -> str:
    """``path`` in the 2024 definition's words: ``/v1/connections/...`` (the 2025 name) as ``/v1/connectors/...``.

    Fivetran renamed connectors to connections in 2025 (API-NOTES.md, "Paths: connectors → connections"); the
    2024 file knows only the old family, and the two families answer the same operations.
    """
    return _NEW_FAMILY.sub(r"\1/connectors", path)
