"""Fivetran's vendored definition: its file name, and the old path family its paths are written in."""

from __future__ import annotations

import re

__all__ = ["FIVETRAN_SPEC", "as_2024_path"]

FIVETRAN_SPEC = "fivetran-openapi-2024.yaml"
"""Fivetran's OpenAPI definition of April 2024 (tests/specs/README.md)."""

_NEW_FAMILY = re.compile(r"^(/v1|/v1/groups/[^/]+)/connections(?=/|$)")


def as_2024_path(path: str) -> str:
    """``path`` in the 2024 definition's words: ``/v1/connections/...`` (the 2025 name) as ``/v1/connectors/...``.

    Fivetran renamed connectors to connections in 2025 (API-NOTES.md, "Paths: connectors → connections"); the
    2024 file knows only the old family, and the two families answer the same operations.
    """
    return _NEW_FAMILY.sub(r"\1/connectors", path)
