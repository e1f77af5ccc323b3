"""End to end: an Orchestra API whose records echo the API key never gets it into the warehouse or any output."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest

from eltops._serve import serve_in_thread
from eltops.orchestra.emulator import OrchestraEmulator
from tests._leaks import leaks, secret_forms
from tests.orchestra._support import SMALL, Clock, Served

HOSTILE_KEY = 'orch"key\\<&% /x-5c1d'  # every character JSON, XML or a URL encodes differently (HTTP headers are ASCII)
FORMS = secret_forms(HOSTILE_KEY)


def _echoing(encode: Callable[[Any], bytes]) -> Callable[[Any], Any]:
    """A stand-in in front of the emulator: every task run's messages quote the request's Bearer token."""

    def wrap(app: Any) -> Any:
        def wsgi(environ: dict[str, Any], start_response: Any) -> Any:
            token = environ.get("HTTP_AUTHORIZATION", "").partition(" ")[2]
            captured: list[Any] = []
            body = b"".join(app(environ, lambda status, headers, *_: captured.extend((status, headers))))
            status, headers = captured
            if environ["PATH_INFO"].endswith("task_runs") and status.startswith("200"):
                page = orjson.loads(body)
                for record in page["results"]:
                    record["message"] = f"Unauthorized for Bearer {token}"
                    record["externalMessage"] = f'{{"request": {{"headers": {{"Authorization": "Bearer {token}"}}}}}}'
                    record["taskParameters"] = {"api_key": token, "nested": [token]}
                    record["fieldOfTomorrow"] = {"echo": f"Bearer {token}"}  # no column of its own: into extra
                body = encode(page)
            headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
            start_response(status, [*headers, ("Content-Length", str(len(body)))])
            return [body]

        return wsgi

    return wrap


ENCODERS = {
    "orjson (UTF-8, minimal escapes)": orjson.dumps,
    "json ensure_ascii": lambda page: json.dumps(page).encode(),
    "json with escaped slashes": lambda page: json.dumps(page).replace("/", "\\/").encode(),
}


@pytest.mark.parametrize("encoder", list(ENCODERS))
def test_echoed_api_key_is_masked_in_warehouse_and_output(tmp_path: Path, encoder: str) -> None:
    """Records quoting the key load with the mask in its place: not in rows, stdout, stderr, --json, the report."""
    clock = Clock()
    emulator = OrchestraEmulator(api_key=HOSTILE_KEY, seed=7, volume=SMALL, now=clock, anchor=clock.now)
    with serve_in_thread(_echoing(ENCODERS[encoder])(emulator.wsgi_app)) as server:
        served = Served(emulator, server, clock, tmp_path)
        env = served.env(ORCHESTRA_API_KEY=HOSTILE_KEY)
        load = served.run("orchestra", "load", "task-runs", "--to", "h.duckdb", "--json", env=env)
        page = served.run("orchestra", "get", "task-runs", env=env)
        report = served.run("report", "--from", "h.duckdb", "--out", "r.html", env=served.env())
    assert (load.code, page.code, report.code) == (0, 0, 0), load.stderr + page.stderr + report.stderr
    with duckdb.connect(str(tmp_path / "h.duckdb"), read_only=True) as con:
        rows = con.execute("SELECT message, external_message, task_parameters, extra FROM task_runs").fetchall()
    assert len(rows) > 0
    assert {row[0] for row in rows} == {"Unauthorized for Bearer ******"}
    assert {orjson.loads(row[2])["api_key"] for row in rows} == {"******"}
    assert {orjson.loads(row[3])["fieldOfTomorrow"]["echo"] for row in rows} == {"Bearer ******"}
    texts = {
        "rows": str(rows),
        "load": load.stdout + load.stderr,
        "get": page.stdout + page.stderr,
        "report": (tmp_path / "r.html").read_text(),
    }
    assert leaks(FORMS, texts) == []
