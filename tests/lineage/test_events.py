"""Events, names and placement: every event valid against the vendored spec, datasets named per the naming spec."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from eltops.fivetran import Destination, DestinationTable
from eltops.lineage import (
    SPEC_DIR,
    Dataset,
    EventType,
    JobKind,
    RunRef,
    ci_runs,
    destination_namer,
    parent_step_outputs,
    placement,
    run_event,
)
from eltops.lineage._settings import ConsoleTransportSettings, LineageSettings
from tests.lineage.conftest import ORACLE, TEST_SPEC, assert_valid

AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
RUN = RunRef("default", "fivetran.shop", str(uuid.uuid4()))
PARENT = RunRef("default", "gitlab.grp.proj.sync", str(uuid.uuid4()))
ROOT = RunRef("default", "gitlab.grp.proj", str(uuid.uuid4()))


@pytest.mark.parametrize("event_type", list(EventType))
@pytest.mark.parametrize("error", [None, "the sync failed"])
@pytest.mark.parametrize("parent", [None, PARENT])
def test_every_event_shape_is_valid(event_type: EventType, error: str | None, parent: RunRef | None) -> None:
    """Each event type, with and without an error and a parent, is a valid RunEvent with valid facets."""
    event = run_event(
        event_type,
        run=RUN,
        kind=JobKind("FIVETRAN", "SYNC"),
        at=AT,
        parent=parent,
        root=ROOT if parent else None,
        outputs=[Dataset("snowflake://org-acct", "RAW.PUBLIC.ORDERS", row_count=12), Dataset("bigquery", "p.d.t")],
        error=error,
    )
    assert_valid(event)
    assert event["eventTime"] == "2026-01-02T03:04:05.000Z"
    if parent:
        assert event["run"]["facets"]["parent"]["root"]["run"]["runId"] == ROOT.run_id
    assert ("errorMessage" in event["run"]["facets"]) == (error is not None)


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [
        (lambda e: e["run"].update(runId="42"), "event.run.runId: '42' is not a 'uuid'"),
        (lambda e: e.update(eventType="DONE"), "event.eventType"),
        (lambda e: e["job"].pop("name"), "event.job: 'name' is a required property"),
        (lambda e: e["run"]["facets"]["errorMessage"].pop("programmingLanguage"), "errorMessage"),
        (lambda e: e.update(eventTime="yesterday"), "event.eventTime"),
    ],
)
def test_the_oracle_catches_what_is_wrong(mutate: object, problem: str) -> None:
    """The validator the tests rely on refuses broken events, naming where (so it can fail)."""
    event = run_event(EventType.FAIL, run=RUN, kind=JobKind("FIVETRAN", "SYNC"), at=AT, error="x")
    mutate(event)  # type: ignore[operator]
    problems = ORACLE.problems(event)
    assert any(problem in p for p in problems), problems


def test_the_shipped_spec_is_the_vendored_one() -> None:
    """The schemas in the package (for the receiver) are byte for byte the ones the tests validate with."""
    shipped = {p.relative_to(SPEC_DIR): p.read_bytes() for p in SPEC_DIR.rglob("*.json")}
    vendored = {p.relative_to(TEST_SPEC): p.read_bytes() for p in TEST_SPEC.rglob("*.json")}
    assert shipped == vendored
    assert Path("2-0-2/OpenLineage.json") in shipped


def _destination(service: str, **config: object) -> Destination:
    return Destination.from_api({"id": "g", "service": service, "config": config})


@pytest.mark.parametrize(
    ("destination", "namespace", "name"),
    [
        (
            _destination("snowflake", host="MyOrg-MyAccount.snowflakecomputing.com", database="RAW"),
            "snowflake://myorg-myaccount",
            "RAW.shop.orders",
        ),
        (_destination("big_query", project_id="my-project"), "bigquery", "my-project.shop.orders"),
        (
            _destination("redshift", host="cl1.abc123.us-east-1.redshift.amazonaws.com", port=5439, database="dev"),
            "redshift://cl1.us-east-1:5439",
            "dev.shop.orders",
        ),
        (
            _destination("postgres_rds_warehouse", host="db.internal", database="wh"),
            "postgres://db.internal:5432",
            "wh.shop.orders",
        ),
        (
            _destination("sql_server_warehouse", host="sql", port=1434, database="wh"),
            "mssql://sql:1434",
            "wh.shop.orders",
        ),
        (_destination("mysql_warehouse", host="my", database="ignored"), "mysql://my:3306", "shop.orders"),
    ],
)
def test_destination_naming(destination: Destination, namespace: str, name: str) -> None:
    """Fivetran destinations name their tables as OpenLineage's naming spec says for each store."""
    namer = destination_namer(destination)
    assert namer is not None
    assert namer.namespace == namespace
    assert namer.name(DestinationTable("shop", "orders")) == name


@pytest.mark.parametrize(
    "destination",
    [_destination("databricks", host="x"), _destination("snowflake", database="RAW"), _destination("big_query")],
)
def test_unknown_or_incomplete_destinations_name_nothing(destination: Destination) -> None:
    """A service the naming spec does not cover, or missing host/database/project, names no tables (no guess)."""
    assert destination_namer(destination) is None


SETTINGS = LineageSettings(ConsoleTransportSettings(), namespace="ci")
GITLAB = {
    "GITLAB_CI": "true",
    "CI_PROJECT_PATH": "grp/proj",
    "CI_PIPELINE_ID": "42",
    "CI_JOB_ID": "7",
    "CI_JOB_NAME": "sync",
}
GITHUB = {
    "GITHUB_ACTIONS": "true",
    "GITHUB_REPOSITORY": "owner/repo",
    "GITHUB_RUN_ID": "99",
    "GITHUB_RUN_ATTEMPT": "2",
    "GITHUB_WORKFLOW": "elt",
    "GITHUB_JOB": "sync",
}


@pytest.mark.parametrize(
    ("env", "root_name", "job_name"),
    [
        (GITLAB, "gitlab.grp.proj", "gitlab.grp.proj.sync"),
        (GITHUB, "github.owner.repo.elt", "github.owner.repo.elt.sync"),
    ],
)
def test_ci_is_the_root(env: dict[str, str], root_name: str, job_name: str) -> None:
    """In CI the CI job is the parent and the CI pipeline run the root, with names dbt-ol can split on /."""
    where = placement(SETTINGS, env)
    assert where.root is not None
    assert where.parent is not None
    assert (where.root.name, where.parent.name) == (root_name, job_name)
    assert where.root == ci_runs({**env, "CI_JOB_ID": "8", "GITHUB_JOB": "other"}, "ci").root  # one root per CI run
    outputs = parent_step_outputs(where)
    assert outputs["OPENLINEAGE_PARENT_ID"] == f"ci/{root_name}/{where.root.run_id}"
    assert len(outputs["OPENLINEAGE_PARENT_ID"].split("/")) == 3


def test_root_id_is_the_run_historys_pipeline_run_id() -> None:
    """The CI root run's id is the pipeline_run_id eltops' run history gives the same CI run."""
    from eltops.history import detect_ci_run

    assert placement(SETTINGS, GITLAB).root.run_id == detect_ci_run(GITLAB, job_label="x").pipeline_run_id  # type: ignore[union-attr]


def test_given_parent_beats_ci_but_not_our_own_echo() -> None:
    """An OPENLINEAGE_PARENT_ID from elsewhere wins; the CI root handed back by a dotenv report does not."""
    other = RunRef("airflow", "dag.task", str(uuid.uuid4()))
    given = LineageSettings(ConsoleTransportSettings(), namespace="ci", parent=other)
    assert placement(given, GITLAB).parent == other
    assert placement(given, GITLAB).root == other  # no root given: the parent is the root, as dbt-ol does
    own_root = placement(SETTINGS, GITLAB).root
    echoed = LineageSettings(ConsoleTransportSettings(), namespace="ci", parent=own_root, root=own_root)
    assert placement(echoed, GITLAB) == placement(SETTINGS, GITLAB)


def test_outside_ci_nothing_is_above() -> None:
    """Run by hand, eltops' runs are roots of their own and no step outputs are written."""
    where = placement(SETTINGS, {})
    assert (where.parent, where.root) == (None, None)
    assert parent_step_outputs(where) == {}
