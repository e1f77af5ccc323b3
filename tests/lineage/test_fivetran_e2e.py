"""End to end: the real ``eltops fivetran`` against the Fivetran emulator, its lineage to a receiver, over sockets."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from eltops.fivetran.emulator import ConnectionScript, FailureBurst
from tests.fivetran.conftest import SECRETS, Served
from tests.lineage.conftest import Receiving, StandIn, assert_valid

GITLAB = {
    "GITLAB_CI": "true",
    "CI_PROJECT_PATH": "grp/proj",
    "CI_PIPELINE_ID": "42",
    "CI_JOB_ID": "7",
    "CI_JOB_NAME": "sync",
}


def _by_job(events: list[dict[str, object]]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for event in events:
        found.setdefault(event["job"]["name"], []).append(event["eventType"])  # type: ignore[index]
    return found


def test_each_sync_is_a_run_with_its_tables(served: Served, receiving: Receiving, tmp_path: Path) -> None:
    """START then COMPLETE / FAIL per connection, valid, under the CI job, outputs the destination's tables."""
    served.emulator.add_connection(
        "shop",
        group_id="group_1",
        schema="shop",
        tables={"public": ["orders", "customers"]},
        script=ConnectionScript(sync_seconds=0.3),
    )
    dotenv = tmp_path / "out.env"
    result = served.run(
        "fivetran",
        env=served.env(
            CONNECTOR_ID="shop,bad", OPENLINEAGE_URL=receiving.url, ELTOPS_DOTENV_FILE=str(dotenv), **GITLAB
        ),
    )
    assert result.code == 1, result.stderr  # bad fails: lineage changes nothing
    assert "not delivered" not in result.stderr
    events = receiving.events()
    for event in events:
        assert_valid(event)
    assert _by_job(events) == {"fivetran.shop": ["START", "COMPLETE"], "fivetran.bad": ["START", "FAIL"]}
    shop = [e for e in events if e["job"]["name"] == "fivetran.shop"]
    assert shop[0]["run"]["runId"] == shop[1]["run"]["runId"]
    outputs = {(o["namespace"], o["name"]) for o in shop[1]["outputs"]}
    assert outputs == {
        ("snowflake://eltopsdemo-emulator", "RAW.shop_public.orders"),
        ("snowflake://eltopsdemo-emulator", "RAW.shop_public.customers"),
    }
    failed = next(e for e in events if e["eventType"] == "FAIL")
    assert "the sync failed" in failed["run"]["facets"]["errorMessage"]["message"]
    parent = shop[0]["run"]["facets"]["parent"]
    assert parent["job"]["name"] == "gitlab.grp.proj.sync"
    assert parent["root"]["job"]["name"] == "gitlab.grp.proj"
    written = dotenv.read_text()
    assert f"OPENLINEAGE_PARENT_ID=default/gitlab.grp.proj/{parent['root']['run']['runId']}" in written


def test_lineage_requests_to_fivetran_stay_in_budget(served: Served, receiving: Receiving) -> None:
    """Lineage costs Fivetran one /schemas per awaited connection and one /destinations per group, no more."""
    served.run("fivetran", env=served.env(CONNECTOR_ID="good,bad,tested", OPENLINEAGE_URL=receiving.url))
    paths = [r.path for r in served.emulator.requests if r.method == "GET"]
    assert sum(p.endswith("/schemas") for p in paths) == 3
    assert sum(p.startswith("/v1/destinations/") for p in paths) == 1


def test_timeout_is_abort(served: Served, receiving: Receiving) -> None:
    """A sync still running at the deadline ends ABORT, with the reason, and the exit code stays 3."""
    result = served.run(
        "fivetran", env=served.env(CONNECTOR_ID="slow", FIVETRAN_TIMEOUT="2", OPENLINEAGE_URL=receiving.url)
    )
    assert result.code == 3
    events = receiving.events()
    assert [e["eventType"] for e in events] == ["START", "ABORT"]
    assert "did not finish within" in events[1]["run"]["facets"]["errorMessage"]["message"]


def test_no_wait_then_wait_is_one_run(served: Served, receiving: Receiving, tmp_path: Path) -> None:
    """FIVETRAN_WAIT=false emits START only; the later WAIT job's RUNNING and COMPLETE are the same run."""
    dotenv = tmp_path / "out.env"
    first = served.run(
        "fivetran",
        env=served.env(FIVETRAN_WAIT="false", OPENLINEAGE_URL=receiving.url, ELTOPS_DOTENV_FILE=str(dotenv)),
    )
    assert first.code == 0, first.stderr
    baseline = next(line for line in dotenv.read_text().splitlines() if line.startswith("FIVETRAN_BASELINE="))
    second = served.run(
        "fivetran",
        env=served.env(
            FIVETRAN_ACTION="WAIT", FIVETRAN_BASELINE=baseline.split("=", 1)[1], OPENLINEAGE_URL=receiving.url
        ),
    )
    assert second.code == 0, second.stderr
    events = receiving.events()
    assert [e["eventType"] for e in events] == ["START", "RUNNING", "COMPLETE"]
    assert len({e["run"]["runId"] for e in events}) == 1


def test_file_transport_is_a_ci_artifact(served: Served) -> None:
    """OPENLINEAGE__TRANSPORT__TYPE=file writes valid JSON Lines next to the job."""
    result = served.run(
        "fivetran",
        env=served.env(OPENLINEAGE__TRANSPORT__TYPE="file", OPENLINEAGE__TRANSPORT__LOG_FILE_PATH="lineage.jsonl"),
    )
    assert result.code == 0, result.stderr
    lines = (served.tmp / "lineage.jsonl").read_text().splitlines()
    assert [orjson.loads(line)["eventType"] for line in lines] == ["START", "COMPLETE"]
    for line in lines:
        assert_valid(orjson.loads(line))


@pytest.mark.parametrize("mode", ["hang", "500", "400", "close", "refused"])
def test_a_bad_collector_never_changes_the_job(mode: str, served: Served, stand_in: Callable[[str], StandIn]) -> None:
    """A collector that hangs, errs, refuses or hangs up costs one warning and at most the budget; same exit code."""
    url = "http://127.0.0.1:9" if mode == "refused" else stand_in(mode).url
    baseline = served.run("fivetran", env=served.env(CONNECTOR_ID="good,bad"))
    result = served.run(
        "fivetran", env=served.env(CONNECTOR_ID="good,bad", OPENLINEAGE_URL=url, ELTOPS_LINEAGE_BUDGET="2")
    )
    assert result.code == baseline.code == 1
    assert result.stderr.count("OpenLineage:") == 1, result.stderr
    assert "not delivered" in result.stderr
    assert result.seconds < baseline.seconds + 2 + 4  # the budget, and slack for a loaded machine


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"OPENLINEAGE_URL": "ftp://collector"}, "OPENLINEAGE_URL"),
        ({"OPENLINEAGE__TRANSPORT__TYPE": "kafka"}, "OPENLINEAGE__TRANSPORT__TYPE"),
        ({"OPENLINEAGE_URL": "http://127.0.0.1:9", "OPENLINEAGE_PARENT_ID": "x/y"}, "OPENLINEAGE_PARENT_ID"),
        ({"OPENLINEAGE_DISABLED": "perhaps"}, "OPENLINEAGE_DISABLED"),
        ({"OPENLINEAGE_URL": "http://127.0.0.1:9", "ELTOPS_LINEAGE_BUDGET": "-3"}, "ELTOPS_LINEAGE_BUDGET"),
    ],
)
def test_bad_lineage_settings_are_exit_2_before_any_request(served: Served, env: dict[str, str], message: str) -> None:
    """A malformed lineage setting stops the command with exit 2, naming it, before Fivetran hears anything."""
    result = served.run("fivetran", env=served.env(**env))
    assert result.code == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert served.emulator.requests == []


def test_console_transport_keeps_stdout_clean(served: Served) -> None:
    """The console transport prints events on stderr; stdout stays the command's own (STATUS JSON)."""
    result = served.run("fivetran", env=served.env(OPENLINEAGE__TRANSPORT__TYPE="console", FIVETRAN_ACTION="STATUS"))
    assert result.code == 0
    assert orjson.loads(result.stdout)["id"] == "good"


def test_an_echoed_credential_never_reaches_an_event(served: Served, receiving: Receiving) -> None:
    """An API answer that quotes the credentials ends the run FAIL with the message masked, in every event."""
    served.emulator.script(
        "good",
        failures=(
            FailureBurst(400, count=5, method="GET", path_contains="/good", message="bad {api_key}:{api_secret}"),
        ),
    )
    # named by group/name: the connection comes from the group's listing, so the first GET is the wait's poll
    result = served.run("fivetran", env=served.env(CONNECTOR_ID="Warehouse/shop_db", OPENLINEAGE_URL=receiving.url))
    assert result.code == 4, result.stderr
    events = receiving.events()
    assert [e["eventType"] for e in events] == ["START", "FAIL"]
    assert "bad ******:******" in events[1]["run"]["facets"]["errorMessage"]["message"]
    text = orjson.dumps(events).decode()
    for secret in SECRETS:
        assert secret not in text
