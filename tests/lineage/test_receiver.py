"""``eltops emulate openlineage``: accepts events as Marquez does, refuses invalid ones naming why, lists them."""

from __future__ import annotations

import signal
import subprocess
import sys
import uuid
from datetime import UTC, datetime

import httpx
import orjson
import pytest

from eltops.lineage import Dataset, EventType, JobKind, RunRef, run_event
from tests.lineage.conftest import Receiving


def _event(**changes: object) -> dict[str, object]:
    event = run_event(
        EventType.START,
        run=RunRef("default", "fivetran.shop", str(uuid.uuid4())),
        kind=JobKind("FIVETRAN", "SYNC"),
        at=datetime.now(UTC),
    )
    event.update(changes)
    return event


def test_valid_events_are_kept_and_listed(receiving: Receiving) -> None:
    """A valid event is answered 201 and listed by GET /api/v1/lineage, in order."""
    first, second = _event(), _event()
    with httpx.Client(base_url=receiving.url) as client:
        assert client.post("/api/v1/lineage", json=first).status_code == 201
        assert client.post("/api/v1/lineage", json=second).status_code == 201
        listed = client.get("/api/v1/lineage").json()["events"]
    assert [e["run"]["runId"] for e in listed] == [first["run"]["runId"], second["run"]["runId"]]  # type: ignore[index]


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (_event(eventType="FINISHED"), "event.eventType: 'FINISHED' is not one of"),
        (_event(run={"runId": "not-a-uuid"}), "event.run.runId: 'not-a-uuid' is not a 'uuid'"),
        (_event(job={"namespace": "default"}), "event.job: 'name' is a required property"),
        (_event(eventTime="soon"), "event.eventTime: 'soon' is not a 'date-time'"),
        (
            _event(
                run={
                    "runId": str(uuid.uuid4()),
                    "facets": {
                        "parent": {
                            "_producer": "https://x.test/",
                            "_schemaURL": "https://openlineage.io/spec/facets/1-1-0/ParentRunFacet.json#/$defs/ParentRunFacet",
                            "run": {"runId": "nope"},
                            "job": {"namespace": "n", "name": "j"},
                        }
                    },
                }
            ),
            "event.run.facets.parent.run.runId: 'nope' is not a 'uuid'",
        ),
        ("not json at all", "body: not JSON"),
    ],
)
def test_invalid_events_are_400_naming_what_is_wrong(receiving: Receiving, body: object, problem: str) -> None:
    """An invalid event (core or facet) is refused with 400 and each problem named by its place; nothing is kept."""
    with httpx.Client(base_url=receiving.url) as client:
        if isinstance(body, str):
            answer = client.post("/api/v1/lineage", content=body, headers={"Content-Type": "application/json"})
        else:
            answer = client.post("/api/v1/lineage", json=body)
    assert answer.status_code == 400
    assert any(problem in p for p in answer.json()["problems"]), answer.json()
    assert receiving.events() == []
    assert receiving.receiver.rejected == 1


def test_graph_and_reset(receiving: Receiving) -> None:
    """GET /api/v1/lineage/graph links jobs to what they write and children to parents; DELETE forgets all."""
    parent = RunRef("default", "gitlab.p", str(uuid.uuid4()))
    event = run_event(
        EventType.COMPLETE,
        run=RunRef("default", "fivetran.shop", str(uuid.uuid4())),
        kind=JobKind("FIVETRAN", "SYNC"),
        at=datetime.now(UTC),
        parent=parent,
        outputs=[Dataset("bigquery", "p.d.orders")],
    )
    with httpx.Client(base_url=receiving.url) as client:
        client.post("/api/v1/lineage", json=event)
        graph = client.get("/api/v1/lineage/graph").json()
        assert {"from": "job:default/fivetran.shop", "to": "dataset:bigquery/p.d.orders", "kind": "writes"} in graph[
            "edges"
        ]
        assert {"from": "job:default/gitlab.p", "to": "job:default/fivetran.shop", "kind": "parent"} in graph["edges"]
        assert client.delete("/api/v1/lineage").status_code == 204
        assert client.get("/api/v1/lineage").json()["events"] == []


def test_the_command_serves_until_ctrl_c_and_checks_the_key() -> None:
    """`eltops emulate openlineage --port 0 --api-key K` prints its URL, wants the key, and stops cleanly."""
    process = subprocess.Popen(
        [sys.executable, "-m", "eltops", "emulate", "openlineage", "--port", "0", "--api-key", "ol-test-key"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        with httpx.Client(base_url=url, timeout=10) as client:
            assert client.post("/api/v1/lineage", json=_event()).status_code == 401
            keyed = {"Authorization": "Bearer ol-test-key"}
            assert client.post("/api/v1/lineage", json=_event(), headers=keyed).status_code == 201
            assert client.post("/api/v1/lineage", json=_event(eventType="X"), headers=keyed).status_code == 400
            assert len(client.get("/api/v1/lineage", headers=keyed).json()["events"]) == 1
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=15)
    assert process.returncode == 0
    assert f"OPENLINEAGE_URL={url}" in stderr
    assert "refused an event: event.eventType" in stderr
    assert "1 event(s) accepted, 1 refused" in stderr


def test_the_last_run_is_the_events_under_the_last_root() -> None:
    """last_run keeps the events that share the last event's root run (one CI run), in order."""
    from eltops.lineage.receiver import last_run

    def under(root: RunRef) -> dict[str, object]:
        job = RunRef("default", "gitlab.p.job", str(uuid.uuid4()))
        return run_event(
            EventType.START,
            run=RunRef("default", "fivetran.x", str(uuid.uuid4())),
            kind=JobKind("FIVETRAN", "SYNC"),
            at=datetime.now(UTC),
            parent=job,
            root=root,
        )

    first, second = (RunRef("default", "gitlab.p", str(uuid.uuid4())) for _ in range(2))
    events = [under(first), under(second), under(first), under(second)]
    assert last_run(events) == [events[1], events[3]]
    assert last_run([]) == []


def test_a_body_over_a_mebibyte_is_413(receiving: Receiving) -> None:
    """An event over 1 MiB is refused with 413 before it is parsed, with or without a Content-Length."""
    big = _event(job={"namespace": "n", "name": "x" * (1024 * 1024)})
    with httpx.Client(base_url=receiving.url) as client:
        assert client.post("/api/v1/lineage", json=big).status_code == 413
        chunks = iter([orjson.dumps(big)])
        assert client.post("/api/v1/lineage", content=chunks).status_code == 413
