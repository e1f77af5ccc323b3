"""An answer ApiTransport returns is freed as soon as nothing uses it, without waiting for the cyclic collector."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import httpx
import pytest

from eltops._http import ApiTransport


@pytest.fixture
def no_cyclic_gc() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@pytest.mark.parametrize("status", [200, 204])
def test_an_answer_is_freed_by_reference_counting(no_cyclic_gc: None, status: int) -> None:
    """With the cyclic collector off, dropping the answer frees it (and its body) at once."""
    api = ApiTransport(
        base_url="http://api.test",
        transport=httpx.MockTransport(lambda request: httpx.Response(status, content=b"x" * 100_000)),
    )
    with api:
        response = api.request("GET", "/things")
        assert len(response.content) == 100_000
        gone = weakref.ref(response)
        del response
        assert gone() is None
