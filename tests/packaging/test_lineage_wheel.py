"""From the wheel alone (``pip install eltops``): the lineage receiver has its schemas and its validator."""

from __future__ import annotations

import subprocess
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from eltops.lineage import EventType, JobKind, RunRef, run_event
from tests.packaging.conftest import LeanVenv

pytestmark = pytest.mark.slow


def test_the_lineage_receiver_checks_events_from_the_wheel(tmp_path: Path, lean_venv: LeanVenv) -> None:
    """`eltops emulate openlineage` from the lean venv accepts a valid event and refuses an invalid one."""
    event = run_event(
        EventType.START,
        run=RunRef("default", "fivetran.shop", str(uuid.uuid4())),
        kind=JobKind("FIVETRAN", "SYNC"),
        at=datetime.now(UTC),
    )
    proc = subprocess.Popen(
        [str(lean_venv.eltops), "emulate", "openlineage", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert httpx.post(f"{url}/api/v1/lineage", json=event, timeout=10).status_code == 201
        refused = httpx.post(f"{url}/api/v1/lineage", json={**event, "eventType": "X"}, timeout=10)
        assert refused.status_code == 400
        assert refused.json()["problems"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
