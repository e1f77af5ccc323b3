"""The vendored API definitions are the reference ones, byte for byte, wherever the reference is at hand."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REFERENCE = HERE.parents[2] / "shared" / "reference"


@pytest.mark.parametrize("name", ["orchestra-openapi.json", "fivetran-openapi-2024.yaml", "fivetran-openapi-2026.json"])
def test_the_vendored_copy_is_the_reference(name: str) -> None:
    """A vendored definition equals the workspace's reference copy (skipped in a clone without the workspace)."""
    reference = REFERENCE / name
    if not reference.exists():
        pytest.skip(f"no reference copy of {name} beside this clone")
    assert (HERE / name).read_bytes() == reference.read_bytes()
