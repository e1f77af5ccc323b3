"""A page over the byte bound is read again in smaller pages that line up with it; only one record over the bound
stops a load, naming the record's id, its page and its size."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import orjson
import pytest

from eltops._http import ApiTransport, ResponseTooLarge
from eltops.errors import ApiResponseError
from eltops.orchestra import TASK_RUNS, OrchestraClient, PageQuery, Window, _pages
from eltops.orchestra.emulator import OrchestraEmulator, PadField, Volume
from eltops.orchestra.emulator._model import Resource as EmulatedResource
from eltops.secrets import Secret
from tests._clock import NOW

KEY = "split-key"
WEEK = Window(NOW - timedelta(days=7), NOW)


def client_for(emulator: OrchestraEmulator) -> OrchestraClient:
    transport = httpx.WSGITransport(app=emulator.wsgi_app)
    base = "http://orchestra.test/api/engine/public"
    return OrchestraClient.create(api_url=base, api_key=Secret(KEY), transport=transport, concurrency=2)


def emulator_with(size: int, task_runs: int) -> OrchestraEmulator:
    emulator = OrchestraEmulator(
        api_key=KEY, seed=5, volume=Volume(task_runs=task_runs, days=6), now=lambda: NOW, anchor=NOW
    )
    emulator.inject(PadField(EmulatedResource.TASK_RUNS, "message", size))
    return emulator


@pytest.mark.parametrize(
    ("page_size", "smaller"), [(100, [50, 50]), (50, [25, 25]), (25, [5] * 5), (5, [1] * 5), (7, [1] * 7)]
)
def test_a_page_splits_into_pages_that_line_up_with_it(page_size: int, smaller: list[int]) -> None:
    """Page 3 of size N becomes the pages of N / (its smallest prime factor) holding exactly its records."""
    parts = _pages.split_page(PageQuery(TASK_RUNS, 3, page_size))
    assert [p.page_size for p in parts] == smaller
    assert (parts[0].page - 1) * parts[0].page_size == 2 * page_size
    assert parts[-1].page * parts[-1].page_size == 3 * page_size


def test_a_window_of_oversized_pages_loads_every_record_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """With a 100 KB bound, pages of 100 records of 5 KB are read again as 50s, 25s, then 5s: every record, once."""
    monkeypatch.setattr(_pages, "MAX_PAGE_BYTES", 100_000)
    emulator = emulator_with(5_000, 230)
    with client_for(emulator) as client:
        pages = list(client.iter_window(TASK_RUNS, WEEK))
    ids = [r["id"] for page in pages for r in orjson.loads(page.body)["results"]]
    assert len(ids) == len(set(ids)) == 230
    assert all(0 < len(page.body) <= 100_000 for page in pages)
    assert {r.query["page_size"] for r in emulator.requests} == {"100", "50", "25", "5"}
    assert all(page.rows * 5_000 <= 100_000 for page in pages)


def test_a_single_record_over_the_bound_names_its_id_page_and_size(monkeypatch: pytest.MonkeyPatch) -> None:
    """A record of 150 KB under a 100 KB bound stops the walk with an API error (exit 4) naming id, page, size."""
    monkeypatch.setattr(_pages, "MAX_PAGE_BYTES", 100_000)
    emulator = emulator_with(150_000, 3)
    with client_for(emulator) as client, pytest.raises(ApiResponseError) as caught:
        list(client.iter_window(TASK_RUNS, WEEK))
    message = str(caught.value)
    newest = orjson.loads(client_for(emulator).get_body(PageQuery(TASK_RUNS, 1, 1, WEEK)))["results"][0]["id"]
    assert re.search(rf"task-runs page 1 \(window .*\) with one record, task-runs {newest}, of 0\.\d MB", message)
    assert "even alone" in message
    assert caught.value.exit_code == 4


def test_an_answer_declaring_more_than_max_bytes_is_closed_unread() -> None:
    """The transport refuses a 50 MB answer by its Content-Length after at most its first chunk; a small one reads."""
    produced: list[int] = []

    def app(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        size = int(environ["QUERY_STRING"].partition("=")[2])
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(size * 1_000_000))])
        for n in range(size):
            produced.append(n)
            yield b" " * 1_000_000

    transport = ApiTransport(base_url="http://api.test", transport=httpx.WSGITransport(app=app))  # type: ignore[arg-type]
    with pytest.raises(ResponseTooLarge) as caught:
        transport.request("GET", "/big", params={"mb": 50}, max_bytes=10_000_000)
    assert caught.value.size == 50_000_000
    assert len(produced) <= 1
    produced.clear()
    assert len(transport.request("GET", "/small", params={"mb": 2}, max_bytes=10_000_000).content) == 2_000_000
    assert len(produced) == 2
