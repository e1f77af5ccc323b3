"""TRANSFORM and FIVETRAN_THEN_TRANSFORM: outcomes, baselines, cancels and faults, against the emulator on a fake clock.

The client's transformation calls are also checked against Fivetran's 2026 definition
(``tests/specs/fivetran-openapi-2026.json``): every request is one of its operations and every body it sends
validates against the operation's request schema.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from eltops._deadline import NO_DEADLINE, Deadline
from eltops.errors import ApiResponseError, ConfigError, ExitCode
from eltops.fivetran import FivetranClient, JobResult, Transformation, step_outputs
from eltops.fivetran._transformations import TransformationsApi
from eltops.fivetran.emulator import ConnectionScript, FailureBurst, TransformationScript
from eltops.secrets import Secret
from tests.fivetran.conftest import KEY, SECRET, Harness
from tests.specs._openapi import Definition, load_spec

TRANSFORM = {"FIVETRAN_ACTION": "TRANSFORM", "CONNECTOR_ID": ""}


def _transformation(harness: Harness, tid: str, **script: Any) -> None:
    fields = {k: script.pop(k) for k in ("schedule_type", "connection_ids", "status", "last_ended_at") if k in script}
    harness.emulator.add_transformation(
        tid,
        group_id="group_1",
        output_model_names=["model_a", "model_b"],
        script=TransformationScript(**{"queue_seconds": 1, "run_seconds": 10, **script}),
        **fields,
    )


def _transform(harness: Harness, ids: str, **env: str) -> JobResult:
    return harness.run(**TRANSFORM, TRANSFORMATION_ID=ids, **env)


def _runs(harness: Harness) -> list[Any]:
    return [r for r in harness.emulator.requests if r.method == "POST" and r.path.endswith("/run")]


# --- the calls, against the 2026 definition ---------------------------------------------------------------------


def test_every_transformation_call_is_an_operation_of_the_2026_definition(harness: Harness) -> None:
    """Each request TransformationsApi sends is a 2026 operation, and its body validates against the request schema."""
    definition = Definition(load_spec("fivetran-openapi-2026.json"))
    _transformation(harness, "t1", run_seconds=None)
    client = FivetranClient.create(
        api_url="http://emulator.test",
        api_key=Secret(KEY),
        api_secret=Secret(SECRET),
        deadline=NO_DEADLINE,
        transport=httpx.WSGITransport(app=harness.emulator.wsgi_app),
    )
    api = TransformationsApi(client)
    with client:
        assert [t.id for t in api.all()] == ["t1"]
        api.run("t1", full_refresh=True)
        assert api.get("t1").status == "SCHEDULING"
        api.cancel("t1")
    for request in harness.emulator.requests:
        template = definition.template_for(request.method, request.path)
        assert template is not None, request.path
        body_schema = definition.operation(request.method, template).get("requestBody")
        if body_schema is not None:
            schema = body_schema["content"]["application/json"]["schema"]
            assert definition.errors(schema, request.json) == [], request.json
    assert [r.path for r in harness.emulator.requests] == [
        "/v1/transformations",
        "/v1/transformations/t1/run",
        "/v1/transformations/t1",
        "/v1/transformations/t1/cancel",
    ]


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"status": "RUNNING"}, "no id"),
        ({"id": "t", "paused": "false"}, "paused"),
        ({"id": "t", "last_ended_at": "yesterday"}, "last_ended_at"),
        ({"id": "t", "output_model_names": "a,b"}, "output_model_names"),
        ({"id": "t", "schedule": ["INTEGRATED"]}, "schedule"),
    ],
)
def test_a_malformed_transformation_is_an_api_error(data: dict[str, Any], error: str) -> None:
    """A transformation object with a wrong type is an ApiResponseError naming the field, never a guess."""
    with pytest.raises(ApiResponseError, match=error):
        Transformation.from_api(data)


# --- TRANSFORM's outcomes ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("outcome", "env", "code", "said"),
    [
        ("SUCCEEDED", {}, ExitCode.OK, "SUCCEEDED at"),
        ("FAILED", {}, ExitCode.REMOTE_FAILED, "FAILED at"),
        ("PARTIALLY_SUCCEEDED", {}, ExitCode.REMOTE_FAILED, "FIVETRAN_ALLOW_PARTIAL=1 accepts"),
        ("PARTIALLY_SUCCEEDED", {"FIVETRAN_ALLOW_PARTIAL": "1"}, ExitCode.OK, "accepted (FIVETRAN_ALLOW_PARTIAL)"),
        ("BLOCKED", {}, ExitCode.REMOTE_FAILED, "BLOCKED at"),
        ("CANCELED", {}, ExitCode.REMOTE_FAILED, "CANCELED at"),
    ],
)
def test_each_outcome_has_its_exit_code(
    harness: Harness, outcome: str, env: dict[str, str], code: ExitCode, said: str
) -> None:
    """SUCCEEDED is 0; FAILED, BLOCKED, CANCELED and PARTIALLY_SUCCEEDED are 1 (the last 0 when allowed)."""
    _transformation(harness, "t1", outcome=outcome)
    job = _transform(harness, "t1", **env)
    (result,) = job.transformations
    assert job.exit_code is code
    assert said in result.message
    assert result.status == outcome
    assert result.output_models == ("model_a", "model_b")
    assert "model_a, model_b" in result.message


def test_several_run_together_and_full_refresh_is_sent(harness: Harness) -> None:
    """Comma-separated ids run side by side in one wait; FIVETRAN_FULL_REFRESH=1 sends full_refresh true."""
    _transformation(harness, "t1", run_seconds=30)
    _transformation(harness, "t2", run_seconds=5)
    job = _transform(harness, "t1,t2", FIVETRAN_FULL_REFRESH="1", FIVETRAN_TIMEOUT="60")
    assert job.exit_code is ExitCode.OK
    assert [r.json for r in _runs(harness)] == [{"full_refresh": True}, {"full_refresh": True}]
    assert harness.time.monotonic() < 40  # one wait for both, not one after the other


def test_an_earlier_runs_status_is_never_taken_for_this_run(harness: Harness) -> None:
    """A transformation whose last run SUCCEEDED and whose new run fails ends FAILED, though SUCCEEDED is read first."""
    _transformation(harness, "t1", outcome="FAILED", status="SUCCEEDED", last_ended_at="2023-11-14T00:00:00Z")
    job = _transform(harness, "t1")
    assert job.exit_code is ExitCode.REMOTE_FAILED
    assert job.transformations[0].baseline is not None


def test_a_run_going_on_is_awaited_then_the_transformation_runs_again(harness: Harness) -> None:
    """A run a schedule started is awaited, then this job's own run is requested: the data is as fresh as promised."""
    _transformation(harness, "t1", run_seconds=10)
    harness.emulator.wsgi_app  # noqa: B018 - the account exists
    with httpx.Client(transport=httpx.WSGITransport(app=harness.emulator.wsgi_app), auth=(KEY, SECRET)) as other:
        assert other.post("http://x/v1/transformations/t1/run", json={}).status_code == 200
    job = _transform(harness, "t1")
    assert job.exit_code is ExitCode.OK
    assert len(_runs(harness)) == 2
    assert harness.time.monotonic() >= 20


def test_an_unknown_id_is_exit_2_before_anything_runs(harness: Harness) -> None:
    """An id Fivetran does not know names it and lists what exists; no run is requested, not even the known one."""
    _transformation(harness, "t1")
    with pytest.raises(ConfigError, match=r"no transformation 'ghost'.*t1 \(t1, DBT_CORE\)") as caught:
        _transform(harness, "t1,ghost")
    assert caught.value.exit_code is ExitCode.CONFIG
    assert _runs(harness) == []


def test_a_paused_transformation_fails_without_a_run(harness: Harness) -> None:
    """A paused transformation cannot run: exit 1 saying so, no run requested."""
    harness.emulator.add_transformation("t1", group_id="group_1", paused=True)
    job = _transform(harness, "t1")
    assert job.exit_code is ExitCode.REMOTE_FAILED
    assert "is paused" in job.transformations[0].message
    assert _runs(harness) == []


# --- the deadline, cancels and faults ----------------------------------------------------------------------------


def test_the_deadline_cancels_a_run_that_never_ends(harness: Harness) -> None:
    """At FIVETRAN_TIMEOUT a run that never ends is cancelled (exit 3), the cancel said, within the deadline."""
    _transformation(harness, "t1", run_seconds=None)
    job = _transform(harness, "t1", FIVETRAN_TIMEOUT="30")
    (result,) = job.transformations
    assert job.exit_code is ExitCode.TIMEOUT
    assert "eltops cancelled the run" in result.message
    assert "did not finish within 30 s" in result.message
    assert harness.calls("POST", "/cancel")
    assert harness.time.monotonic() <= 30 + 1e-6


def test_a_cancel_that_fails_is_said_and_has_its_own_few_seconds(harness: Harness) -> None:
    """A cancel answered 500 again and again is retried within its own seconds, then said to have failed."""
    _transformation(harness, "t1", run_seconds=None)
    harness.emulator.fail_requests(FailureBurst(500, count=1000, path_contains="/cancel"))
    job = _transform(harness, "t1", FIVETRAN_TIMEOUT="30")
    assert job.exit_code is ExitCode.TIMEOUT
    assert "cancelling it FAILED" in job.transformations[0].message
    assert "it may go on in Fivetran" in job.transformations[0].message
    assert len(harness.calls("POST", "/cancel")) > 1  # retried, within the cancel's own seconds


def test_interruption_cancels_what_runs(harness: Harness) -> None:
    """Ctrl-C while waiting cancels the run, re-raises, and leaves the cancelled result for the history."""
    _transformation(harness, "t1", run_seconds=None)

    def interrupted(seconds: float) -> None:
        raise KeyboardInterrupt

    harness.time.sleep = interrupted  # type: ignore[method-assign]
    from eltops.fivetran import FlagValues, Orchestrator, load_settings

    settings = load_settings({**harness.env, **TRANSFORM, "TRANSFORMATION_ID": "t1"}, FlagValues())
    client = FivetranClient.create(
        api_url="http://e.test",
        api_key=settings.api_key,
        api_secret=settings.api_secret,
        deadline=Deadline(60, harness.time.monotonic),
        transport=httpx.WSGITransport(app=harness.emulator.wsgi_app),
    )
    orchestrator = Orchestrator(client, settings, wall_clock=harness.time.time, sleep=harness.time.sleep)
    with client, pytest.raises(KeyboardInterrupt):
        orchestrator.run()
    partial = orchestrator.interrupted_result()
    assert partial is not None
    assert partial.transformations[0].label == "cancelled"
    assert harness.calls("POST", "/cancel")


@pytest.mark.parametrize("status", [429, 503])
def test_rate_limits_and_server_errors_are_retried(harness: Harness, status: int) -> None:
    """429 and 5xx on the run request and the polls are retried as for syncs; the job still succeeds."""
    _transformation(harness, "t1")
    harness.emulator.fail_requests(FailureBurst(status, count=2, path_contains="/v1/transformations", retry_after=1))
    assert _transform(harness, "t1").exit_code is ExitCode.OK


def test_a_cancel_client_has_a_deadline_of_its_own(harness: Harness) -> None:
    """``rebound`` gives a request its own seconds after the job's deadline ran out."""
    harness.connection("conn_a")
    deadline = Deadline(10, harness.time.monotonic)
    harness.time.sleep(20)
    client = FivetranClient.create(
        api_url="http://e.test",
        api_key=Secret(KEY),
        api_secret=Secret(SECRET),
        deadline=deadline,
        transport=httpx.WSGITransport(app=harness.emulator.wsgi_app),
    )
    with client:
        assert client.rebound(5).get_connection("conn_a").id == "conn_a"
        assert client.rebound(5).deadline.remaining() == 5


# --- after the syncs ---------------------------------------------------------------------------------------------


def test_then_transform_runs_after_every_sync_succeeded(harness: Harness) -> None:
    """START then the transformations, in one job and one deadline; the outputs name the synced schemas."""
    harness.connection("conn_a", schedule_type="manual")
    harness.connection("conn_b", schedule_type="manual")
    _transformation(harness, "t1")
    job = harness.run(CONNECTOR_ID="conn_a,conn_b", FIVETRAN_THEN_TRANSFORM="t1")
    assert job.exit_code is ExitCode.OK
    assert job.transformations[0].status == "SUCCEEDED"
    first_run = _runs(harness)[0].time
    assert all(r.time < first_run for r in harness.calls("POST", "/sync"))
    outputs = step_outputs(job)
    assert outputs["ELTOPS_FIVETRAN_SCHEMAS"] == "conn_a_db,conn_b_db"
    assert outputs["ELTOPS_FIVETRAN_SYNCED"] == "conn_a,conn_b"
    assert outputs["ELTOPS_FIVETRAN_MODELS"] == "model_a,model_b"


def test_a_failed_sync_runs_no_transformation_and_says_so(harness: Harness) -> None:
    """One failed sync: no run requested, each transformation 'not run' naming it; only the good schema is output."""
    harness.connection("conn_a", schedule_type="manual")
    harness.connection("conn_b", schedule_type="manual", script=ConnectionScript(outcome="failure"))
    _transformation(harness, "t1")
    job = harness.run(CONNECTOR_ID="conn_a,conn_b", FIVETRAN_THEN_TRANSFORM="t1")
    assert job.exit_code is ExitCode.REMOTE_FAILED
    (result,) = job.transformations
    assert result.label == "not run"
    assert "conn_b" in result.message
    assert _runs(harness) == []
    assert step_outputs(job)["ELTOPS_FIVETRAN_SCHEMAS"] == "conn_a_db"


def test_an_unknown_then_transform_id_stops_the_job_before_any_sync(harness: Harness) -> None:
    """FIVETRAN_THEN_TRANSFORM naming an unknown transformation is exit 2 before a sync is triggered."""
    harness.connection("conn_a")
    with pytest.raises(ConfigError, match="ghost"):
        harness.run(FIVETRAN_THEN_TRANSFORM="ghost")
    assert harness.calls("POST") == []
    assert harness.calls("PATCH") == []


def test_a_sync_held_by_an_integrated_transformation_says_so(harness: Harness) -> None:
    """A sync queued behind a running integrated transformation ends saying it waited behind it."""
    harness.connection("conn_a", schedule_type="manual", script=ConnectionScript(sync_seconds=5))
    _transformation(harness, "t_int", run_seconds=60, schedule_type="INTEGRATED", connection_ids=["conn_a"])
    with httpx.Client(transport=httpx.WSGITransport(app=harness.emulator.wsgi_app), auth=(KEY, SECRET)) as other:
        assert other.post("http://x/v1/transformations/t_int/run", json={}).status_code == 200
    job = harness.run(FIVETRAN_TIMEOUT="300")
    assert job.exit_code is ExitCode.OK
    assert "waited behind transformation t_int" in job.results[0].message
    assert harness.time.monotonic() >= 60


def test_skipped_and_untriggered_syncs_are_not_synced_schemas(harness: Harness) -> None:
    """A connection skipped as fresh enough got no new data: it is not in ELTOPS_FIVETRAN_SCHEMAS."""
    harness.connection("conn_a", succeeded_at=harness.time.now - 60)
    job = harness.run(FIVETRAN_SKIP_IF_SYNCED_WITHIN="1h")
    assert job.results[0].outcome == "skipped"
    assert step_outputs(job)["ELTOPS_FIVETRAN_SCHEMAS"] == ""


def test_a_long_wait_says_it_still_waits(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    """A run that takes minutes gets a line a minute saying what is awaited, and nothing more often."""
    _transformation(harness, "t1", run_seconds=150)
    with caplog.at_level("INFO", logger="eltops.fivetran"):
        assert _transform(harness, "t1", FIVETRAN_TIMEOUT="300").exit_code is ExitCode.OK
    beats = [r.getMessage() for r in caplog.records if "still waiting" in r.getMessage()]
    assert beats[0] == "still waiting for 1 transformation(s) after 60 s: t1 RUNNING"
    assert len(beats) == 2


def test_several_are_polled_with_one_listing(harness: Harness) -> None:
    """Three transformations awaited together cost one listing per poll, not a GET each."""
    for tid in ("t1", "t2", "t3"):
        _transformation(harness, tid, run_seconds=9)
    assert _transform(harness, "t1,t2,t3").exit_code is ExitCode.OK
    polls = len(harness.time.slept)
    gets = [r.path for r in harness.emulator.requests if r.method == "GET"]
    assert gets.count("/v1/transformations") == polls
    assert len(gets) == polls + 3 + 3  # the listings, the check before and the baseline read of each
