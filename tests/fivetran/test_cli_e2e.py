"""End to end: the real ``eltops fivetran`` command against the Fivetran emulator over a real socket."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import orjson
import pytest

from tests.fivetran.conftest import E2E_KEY, E2E_SECRET, SECRETS, Served


def test_start_from_dataops_variables(served: Served) -> None:
    """The seed's job variables alone run START to success: exit 0, nothing on stdout, the outcome logged."""
    result = served.run("fivetran")
    assert result.code == 0, result.stderr
    assert result.stdout == ""
    assert "the sync succeeded" in result.stderr
    assert "final status" in result.stderr


def test_flags_for_people_at_a_terminal(served: Served) -> None:
    """`eltops fivetran start --connector-id X --timeout N` works without FIVETRAN_ACTION or CONNECTOR_ID."""
    env = {k: v for k, v in served.env().items() if k not in ("FIVETRAN_ACTION", "CONNECTOR_ID")}
    result = served.run("fivetran", "start", "--connector-id", "good", "--timeout", "60", env=env)
    assert result.code == 0, result.stderr


def test_status_prints_only_the_connection_json(served: Served) -> None:
    """STATUS prints the connection's data object as JSON on stdout and nothing else there."""
    result = served.run("fivetran", env=served.env(FIVETRAN_ACTION="status"))
    assert result.code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["id"] == "good"
    assert data["status"]["setup_state"] == "connected"


def test_status_of_several_connections_is_an_array(served: Served) -> None:
    """STATUS of several connections prints a JSON array of their objects."""
    result = served.run("fivetran", env=served.env(FIVETRAN_ACTION="STATUS", CONNECTOR_ID="good,bad"))
    assert [c["id"] for c in json.loads(result.stdout)] == ["good", "bad"]


@pytest.mark.parametrize(
    ("env", "code", "message"),
    [
        ({"CONNECTOR_ID": "bad"}, 1, "the sync failed"),
        ({"CONNECTOR_ID": "slow", "FIVETRAN_TIMEOUT": "3"}, 3, "goes on in Fivetran"),
        ({"CONNECTOR_ID": "ghost"}, 2, "no Fivetran connection has the id 'ghost'"),
        ({"FIVETRAN_API_SECRET": "wrong-secret-xyz"}, 4, "HTTP 401"),
        ({"FIVETRAN_ACTION": "TEST", "CONNECTOR_ID": "tested"}, 1, "role lacks USAGE on schema public"),
    ],
)
def test_exit_codes(served: Served, env: dict[str, str], code: int, message: str) -> None:
    """Each outcome has its documented exit code and a message that says what happened."""
    result = served.run("fivetran", env=served.env(**env))
    assert result.code == code, result.stderr
    assert message in result.stderr


def test_timeout_bounds_the_job(served: Served) -> None:
    """A job with FIVETRAN_TIMEOUT=3 ends within a few seconds of it, never hanging."""
    result = served.run("fivetran", env=served.env(CONNECTOR_ID="slow", FIVETRAN_TIMEOUT="3"))
    assert result.code == 3
    assert result.seconds < 10


def test_slow_answers_never_hang(served: Served) -> None:
    """An API slower than the deadline ends the job at the deadline with an error, not a hang."""
    served.emulator.script("good", latency_seconds=10)
    result = served.run("fivetran", env=served.env(FIVETRAN_TIMEOUT="3"))
    assert result.code in (3, 4)
    assert result.seconds < 10


def test_unreachable_api_is_exit_4(served: Served) -> None:
    """Nothing listening at FIVETRAN_API_URL is exit 4 after retries within the deadline."""
    result = served.run("fivetran", env=served.env(FIVETRAN_API_URL="http://127.0.0.1:9", FIVETRAN_TIMEOUT="3"))
    assert result.code == 4
    assert "could not reach Fivetran" in result.stderr
    assert result.seconds < 10


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"FIVETRAN_ACTION": "SYNC"}, "must be one of STATUS, START, TEST, FORCE_RESYNC, RESYNC, WAIT"),
        ({"FIVETRAN_IF_SYNCING": "sometimes"}, "FIVETRAN_IF_SYNCING must be one of wait, wait-then-sync, restart"),
        ({"FIVETRAN_WAIT": "maybe"}, "FIVETRAN_WAIT must be true or false"),
        ({"FIVETRAN_ACTION": "STATUS", "FIVETRAN_WAIT": "false"}, "only applies to START, FORCE_RESYNC and RESYNC"),
        ({"FIVETRAN_ACTION": "WAIT"}, "WAIT needs the moment"),
        ({"FIVETRAN_ACTION": "WAIT", "FIVETRAN_COMPLETED_AFTER": "yesterday"}, "FIVETRAN_COMPLETED_AFTER must be"),
        ({"FIVETRAN_ACTION": "WAIT", "FIVETRAN_COMPLETED_AFTER": "2024-12-01T15:43:29"}, "must say its time zone"),
        ({"FIVETRAN_COMPLETED_AFTER": "2024-12-01T15:43:29Z"}, "FIVETRAN_COMPLETED_AFTER only applies to WAIT"),
        ({"FIVETRAN_ACTION": "WAIT", "FIVETRAN_BASELINE": "good"}, "FIVETRAN_BASELINE must list"),
        ({"FIVETRAN_ACTION": "WAIT", "FIVETRAN_BASELINE": "other=never"}, "FIVETRAN_BASELINE has no entry for good"),
        ({"FIVETRAN_SKIP_IF_SYNCED_WITHIN": "soon"}, "FIVETRAN_SKIP_IF_SYNCED_WITHIN must be a positive duration"),
        ({"FIVETRAN_SKIP_IF_SYNCED_WITHIN": "-5"}, "FIVETRAN_SKIP_IF_SYNCED_WITHIN must be a positive duration"),
        (
            {"FIVETRAN_ACTION": "TEST", "FIVETRAN_SKIP_IF_SYNCED_WITHIN": "30m"},
            "FIVETRAN_SKIP_IF_SYNCED_WITHIN only applies to START",
        ),
        ({"FIVETRAN_ACTION": "RESYNC", "TABLE": "orders"}, "names no schema"),
        ({"FIVETRAN_ACTION": "RESYNC", "SCHEMA": "public"}, "RESYNC with SCHEMA needs TABLE"),
        ({"CONNECTOR_ID": "group:"}, "must name a group after group:"),
        ({"CONNECTOR_ID": ""}, "CONNECTOR_ID is required"),
        ({"FIVETRAN_ACTION": "FORCE_RESYNC"}, "FORCE_RESYNC needs TABLE and SCHEMA"),
        ({"FIVETRAN_TIMEOUT": "soon"}, "FIVETRAN_TIMEOUT must be a number"),
        ({"FIVETRAN_API_KEY": ""}, "FIVETRAN_API_KEY must be set"),
        ({"FIVETRAN_API_URL": "http://api.fivetran.com"}, "plain http"),
        (
            {"FIVETRAN_API_KEY": "DATAOPS_VAULT(FIVETRAN.X)", "DATAOPS_SECRETS_DIR": "/nonexistent"},
            "/nonexistent/vault.yml",
        ),
    ],
)
def test_bad_input_is_exit_2_before_any_request(served: Served, env: dict[str, str], message: str) -> None:
    """Invalid variables are exit 2 with a message naming them, and no request reaches the API."""
    result = served.run("fivetran", env=served.env(**env))
    assert result.code == 2, result.stderr
    assert message in result.stderr
    assert served.emulator.requests == []


def test_force_resync(served: Served) -> None:
    """FORCE_RESYNC re-syncs the given tables and waits for the sync to succeed."""
    result = served.run(
        "fivetran",
        env=served.env(FIVETRAN_ACTION="FORCE_RESYNC", CONNECTOR_ID="tested", SCHEMA="public", TABLE="orders"),
    )
    assert result.code == 0, result.stderr
    assert any(r.path.endswith("/schemas/tables/resync") for r in served.emulator.requests)


def test_several_connections_print_a_summary(served: Served) -> None:
    """Several connections run together; the summary lists each and the job fails if one failed."""
    result = served.run("fivetran", env=served.env(CONNECTOR_ID="good,bad,Warehouse/erp"))
    assert result.code == 1
    lines = result.stderr.splitlines()
    assert any(line.startswith("good ") and "succeeded" in line for line in lines)
    assert any(line.startswith("bad ") and "failed" in line for line in lines)
    assert any(line.startswith("Warehouse/erp") and "succeeded" in line for line in lines)
    assert "1 of 3 connections did not succeed" in result.stderr


def test_secrets_from_the_vault_never_appear(served: Served) -> None:
    """Vault-provided credentials stay out of stdout, stderr and the JUnit report at the most verbose level."""
    vault = served.tmp / "vault.yml"
    vault.write_text(f"FIVETRAN:\n  DEFAULT:\n    API_KEY: {E2E_KEY}\n    API_SECRET: {E2E_SECRET}\n")
    env = served.env(SET_FIVETRAN_KEYS_TO_ENV="1", DATAOPS_VAULT_FILE=str(vault), CONNECTOR_ID="good,bad")
    del env["FIVETRAN_API_KEY"], env["FIVETRAN_API_SECRET"]
    report = served.tmp / "junit.xml"
    result = served.run("-vv", "fivetran", "--junit", str(report), "--json", env=env)
    assert result.code == 1
    assert "HTTP Request" in result.stderr  # -vv logs every request
    text = report.read_text()
    for secret in SECRETS:
        assert secret not in text


def test_junit_for_setup_tests(served: Served) -> None:
    """TEST writes one JUnit test case per setup test, failing the ones that did not pass."""
    report = served.tmp / "report.xml"
    result = served.run(
        "fivetran", env=served.env(FIVETRAN_ACTION="TEST", CONNECTOR_ID="tested", FIVETRAN_JUNIT_REPORT=str(report))
    )
    assert result.code == 1
    suite = ET.parse(report).getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures")) == ("3", "2")
    names = [case.get("name") for case in suite.iter("testcase")]
    assert names == ["Connecting to host", "Checking permissions", "Validating certificate"]
    assert "1 passed, 2 failed" in result.stderr


def test_junit_for_syncs(served: Served) -> None:
    """START writes one JUnit test case per connection: failures for failed syncs, errors for timeouts."""
    report = served.tmp / "report.xml"
    env = served.env(CONNECTOR_ID="good,bad,slow", FIVETRAN_TIMEOUT="2")
    served.run("fivetran", "--junit", str(report), env=env)
    suite = ET.parse(report).getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("3", "1", "1")


def test_json_result(served: Served) -> None:
    """--json prints one result object with each connection's outcome and timestamps."""
    result = served.run("fivetran", "--json", env=served.env(CONNECTOR_ID="good,bad"))
    body = json.loads(result.stdout)
    assert body["action"] == "START"
    assert body["exit_code"] == 1
    assert [(c["connection_id"], c["outcome"]) for c in body["connections"]] == [
        ("good", "succeeded"),
        ("bad", "failed"),
    ]
    assert body["connections"][0]["succeeded_at"].endswith("Z")


def test_gitlab_sections(served: Served) -> None:
    """Inside GitLab CI the log has a collapsible section around the run."""
    result = served.run("fivetran", env=served.env(GITLAB_CI="true"))
    assert "\x1b[0Ksection_start:" in result.stderr
    assert "\x1b[0Ksection_end:" in result.stderr


def test_github_groups_annotations_and_summary(served: Served) -> None:
    """Inside GitHub Actions: a log group, an ::error:: annotation per failure, and a step summary table."""
    summary = served.tmp / "summary.md"
    env = served.env(GITHUB_ACTIONS="true", GITHUB_STEP_SUMMARY=str(summary), CONNECTOR_ID="good,bad")
    result = served.run("fivetran", env=env)
    assert "::group::Fivetran START" in result.stderr
    assert "::endgroup::" in result.stderr
    assert "::error title=Fivetran bad::" in result.stderr
    assert "| `bad` | failed |" in summary.read_text()


def test_no_colour_off_a_terminal(served: Served) -> None:
    """Output to a pipe has no colour codes (CI-section markers aside)."""
    result = served.run("fivetran", env=served.env(CONNECTOR_ID="good,bad"))
    assert "\x1b[" not in result.stderr


def test_list_prints_groups_and_connections(served: Served) -> None:
    """`eltops fivetran list` prints every connection with its state; --json gives the same as objects."""
    result = served.run("fivetran", "list", env=served.env(FIVETRAN_ACTION=""))
    assert result.code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["group", "id", "name"]
    assert any(line.split()[:3] == ["Warehouse", "good", "shop_db"] for line in lines)
    as_json = served.run("fivetran", "list", "--group", "Warehouse", "--json", env=served.env())
    [group] = orjson.loads(as_json.stdout)
    assert [c["id"] for c in group["connections"]] == ["good", "bad", "slow", "tested"]
    assert group["connections"][0]["setup_state"] == "connected"


def test_list_of_an_unknown_group_lists_the_groups(served: Served) -> None:
    """`list --group` with a name that matches nothing is exit 2 naming the groups there are."""
    result = served.run("fivetran", "list", "--group", "Nowhere", env=served.env())
    assert result.code == 2
    assert "the groups are: Warehouse" in result.stderr


def test_trigger_now_wait_later_through_step_outputs(served: Served) -> None:
    """--no-wait writes the baselines to GITHUB_OUTPUT and the dotenv file; a WAIT job given them succeeds."""
    github, dotenv = served.tmp / "github-output", served.tmp / "job.env"
    env = served.env(GITHUB_OUTPUT=str(github), ELTOPS_DOTENV_FILE=str(dotenv), FIVETRAN_WAIT="false")
    first = served.run("fivetran", env=env)
    assert first.code == 0, first.stderr
    lines = dict(line.split("=", 1) for line in dotenv.read_text().splitlines())
    assert lines["FIVETRAN_BASELINE"] == "good=never"
    assert lines["ELTOPS_FIVETRAN_OUTCOME"] == "succeeded"
    assert orjson.loads(lines["ELTOPS_FIVETRAN_RESULTS"])["good"]["outcome"] == "triggered"
    assert "FIVETRAN_BASELINE=good=never" in github.read_text()
    second = served.run(
        "fivetran", env=served.env(FIVETRAN_ACTION="WAIT", FIVETRAN_BASELINE=lines["FIVETRAN_BASELINE"])
    )
    assert second.code == 0, second.stderr
    assert [r.method for r in served.emulator.requests].count("POST") == 1


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CONNECTOR_ID": "bad"}, "the sync failed"),
        ({"FIVETRAN_ACTION": "TEST", "CONNECTOR_ID": "tested"}, "role lacks USAGE on schema public"),
    ],
)
def test_a_failure_is_told_once_plus_the_summary(served: Served, env: dict[str, str], message: str) -> None:
    """A failed connection's message appears in its log line and its summary row, with no third `Error:` line."""
    result = served.run("fivetran", env=served.env(**env))
    assert result.code == 1, result.stderr
    lines = [line for line in result.stderr.splitlines() if message in line and " INFO " not in line]
    assert len(lines) == 2, result.stderr  # the ERROR log line and the summary row (TEST's INFO lines list each test)
    assert "Error:" not in result.stderr


def test_schedule_message_does_not_read_as_if_the_variable_were_set(served: Served) -> None:
    """Setting the schedule to manual names FIVETRAN_DONT_DISABLE_SYNC as what would prevent it, not as set."""
    result = served.run("fivetran", env=served.env(CONNECTOR_ID="good"))
    assert "schedule_type set to manual (set FIVETRAN_DONT_DISABLE_SYNC to leave the schedule as it is)" in (
        result.stderr
    )
