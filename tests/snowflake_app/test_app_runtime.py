"""The installed app end to end on fakesnow: setup script, callbacks, upgrade, schedule, task runs, status, faults."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from eltops.snowflake_app import orchestra_app as app
from tests._clock import Clock

from ._app_runtime import NOT_ON_FAKESNOW, AppRuntime, ProcedureError, kind_of, split_statements
from .conftest import APP_DIR, KEY, SETUP_SCRIPT, bind_both


def _status(runtime: AppRuntime) -> dict[str, Any]:
    return dict(json.loads(runtime.session().call("core.status")))


def _table(runtime: AppRuntime, table: str, columns: list[str] | None = None) -> list[tuple[Any, ...]]:
    return runtime.execute(f"SELECT {', '.join(columns or ['*'])} FROM public.{table} ORDER BY id").rows


def _columns(runtime: AppRuntime, table: str) -> list[str]:
    """The table's columns, in order."""
    found = runtime.execute(
        "SELECT column_name FROM information_schema.columns WHERE LOWER(table_schema) = 'public' "
        "AND LOWER(table_name) = ? ORDER BY ordinal_position",
        [table],
    )
    return [str(row[0]) for row in found.rows]


def _cursors(runtime: AppRuntime) -> dict[str, Any]:
    return dict(runtime.execute("SELECT resource, cursor FROM public.eltops_load_state").rows)  # type: ignore[arg-type]


# -- the setup script ------------------------------------------------------------------------------------------


def test_the_setup_script_runs_end_to_end(app_runtime: AppRuntime) -> None:
    """Every statement of the install ran: on fakesnow, or as one of the written kinds it cannot run."""
    statements = split_statements(SETUP_SCRIPT.read_text())
    ran = [(kind, s) for kind, s in app_runtime.ran if s in statements]
    assert [s for _, s in ran][: len(statements)] == statements
    kinds = {kind for kind, _ in app_runtime.ran}
    assert kinds - {"fakesnow"} <= {k.name for k in NOT_ON_FAKESNOW}
    assert sum(kind == "fakesnow" for kind, _ in ran) >= 7  # schemas and tables are real fakesnow objects
    tables = {r[0].lower() for r in app_runtime.execute("SELECT table_name FROM information_schema.tables").rows}
    assert {"pipeline_runs", "task_runs", "operations", "eltops_load_state", "app_status"} <= tables
    assert set(app_runtime.code) >= {
        "core.register_reference",
        "core.get_configuration",
        "core.create_eai_objects",
        "core.status",
        "core.schedule_refresh",
        "core.resume_refresh",
        "core.unschedule_refresh",
    }
    assert app_runtime.streamlits == {"core.orchestra_ui": str(APP_DIR / "streamlit" / "orchestra_ui.py")}


@pytest.mark.parametrize(
    ("statement", "kind"),
    [
        ("CREATE TABLE IF NOT EXISTS public.t (id VARCHAR)", None),
        ("GRANT SELECT ON TABLE public.t TO APPLICATION ROLE app_public", "grant to the application role"),
        ("CALL core.status()", "call"),
        ("SELECT SYSTEM$SET_REFERENCE(?, ?)", "references"),
        ("SHOW TASKS LIKE 'X' IN SCHEMA tasks", "task"),
        ("MERGE INTO public.t AS t USING (SELECT 1 AS id) AS s ON t.id = s.id WHEN MATCHED THEN DELETE", None),
    ],
)
def test_only_the_listed_kinds_are_answered_by_the_runtime(statement: str, kind: str | None) -> None:
    """A statement is intercepted only when it is one of NOT_ON_FAKESNOW's kinds; everything else goes to fakesnow."""
    found = kind_of(statement)
    assert (found.name if found else None) == kind


def test_binding_both_references_creates_the_api_objects(app_runtime: AppRuntime) -> None:
    """Binding the key says what is still missing; binding the integration creates every API object by itself."""
    first, second = bind_both(app_runtime)
    assert "Next: bind the API access integration" in first
    assert "core.load_all" in second
    assert "Created core.get_pipeline_runs" in second
    assert {f"core.{n}" for n in app.API_OBJECT_NAMES} <= set(app_runtime.code)
    status = _status(app_runtime)
    assert status["ready"] is True
    assert status["api_objects"]["missing"] == []
    assert status["next_step"] == (
        "Load once with CALL core.load_all(), then schedule the refresh: CALL core.schedule_refresh('60 MINUTES')."
    )


@pytest.mark.parametrize("bound", [[], ["ORCHESTRA_API_KEY"], ["ORCHESTRA_EAI"]])
def test_status_names_what_is_missing_and_the_next_step(app_runtime: AppRuntime, bound: list[str]) -> None:
    """Until both references are bound, core.status() says which one is missing and how to bind it."""
    for name in bound:
        app_runtime.session().call("core.register_reference", name, "ADD", f"alias_{name}")
    status = _status(app_runtime)
    assert status["ready"] is False
    assert status["api_objects"]["references_bound"] == {n: n.upper() in bound for n in app.REFERENCES}
    missing = next(n for n in app.SETUP_ORDER if n.upper() not in bound)
    assert f"CALL core.register_reference('{missing.upper()}', 'ADD'" in status["next_step"]
    assert status["next_step"].startswith("Bind " + app.REFERENCE_LABELS[missing])


def test_the_readme_sql_binds_through_the_register_callback(app_runtime: AppRuntime) -> None:
    """The README's consumer SQL, run as written (its CALLs here; the CREATEs are the consumer's own objects)."""
    readme = (APP_DIR / "README.md").read_text()
    block = readme.split("## Or set up with SQL", 1)[1].split("```sql\n", 1)[1].split("```", 1)[0]
    calls = [s for s in split_statements(block) if s.startswith("CALL ")]
    assert len(calls) == 2
    for statement in calls:
        app_runtime.execute(statement.replace("orchestra_data_app.", ""))
    assert all(app_runtime.references[name.upper()] for name in app.REFERENCES)
    assert _status(app_runtime)["ready"] is True
    assert not any("GRANT USAGE ON DATABASE" in s or "GRANT USAGE ON SCHEMA" in s for s in split_statements(block))


@pytest.mark.parametrize(
    ("operation", "left"),
    [("REMOVE", ["ORCHESTRA_EAI"]), ("CLEAR", ["ORCHESTRA_EAI"])],
)
def test_unbinding_is_reported_with_the_next_step(app_runtime: AppRuntime, operation: str, left: list[str]) -> None:
    """REMOVE (with the alias) and CLEAR unbind the key; the answer and core.status() say how to bind it again."""
    bind_both(app_runtime)
    answer = app_runtime.session().call("core.register_reference", "ORCHESTRA_API_KEY", operation, "ref_key")
    assert answer.startswith(f"{operation} ORCHESTRA_API_KEY: done.")
    assert "bind the Orchestra API key secret" in answer
    assert [n for n, v in app_runtime.references.items() if v] == left
    assert _status(app_runtime)["ready"] is False


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("ORCHESTRA_KEY", "ADD", "x"), "unknown reference 'ORCHESTRA_KEY'"),
        (("ORCHESTRA_EAI", "SET", "x"), "takes ADD, REMOVE or CLEAR"),
    ],
)
def test_the_register_callback_refuses_bad_input(app_runtime: AppRuntime, args: tuple[str, ...], message: str) -> None:
    """An unknown reference or operation fails with a message naming what is accepted, and binds nothing."""
    with pytest.raises(ProcedureError, match=re.escape(message)):
        app_runtime.session().call("core.register_reference", *args)
    assert not any(app_runtime.references.values())


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("ORCHESTRA_API_KEY", {"type": "CONFIGURATION", "payload": {"type": "GENERIC_STRING"}}),
        (
            "orchestra_eai",
            {
                "type": "CONFIGURATION",
                "payload": {
                    "host_ports": ["app.getorchestra.io:443"],
                    "allowed_secrets": "LIST",
                    "secret_references": ["ORCHESTRA_API_KEY"],
                },
            },
        ),
    ],
)
def test_the_configuration_callback_lets_snowsight_create_both(
    app_runtime: AppRuntime, name: str, expected: Mapping[str, Any]
) -> None:
    """The key is a GENERIC_STRING secret Snowsight creates; the integration allows only the Orchestra host and key."""
    assert json.loads(app_runtime.session().call("core.get_configuration", name)) == expected


def test_the_configuration_callback_answers_an_unknown_reference_with_an_error(app_runtime: AppRuntime) -> None:
    """A name the manifest does not declare gets the documented ERROR type with the names it does declare."""
    answer = json.loads(app_runtime.session().call("core.get_configuration", "OTHER"))
    assert answer["type"] == "ERROR"
    assert "ORCHESTRA_EAI, ORCHESTRA_API_KEY" in answer["payload"]["message"]


# -- upgrades --------------------------------------------------------------------------------------------------


def test_an_upgrade_keeps_the_data_and_recreates_the_api_objects(app_runtime: AppRuntime) -> None:
    """Running the setup script again (an upgrade) keeps rows, cursors and the task, and recreates the API objects."""
    bind_both(app_runtime)
    app_runtime.session().call("core.load_all")
    app_runtime.session().call("core.schedule_refresh", "60 MINUTES")
    before = {t: _table(app_runtime, t) for t in ("pipeline_runs", "task_runs", "operations")}
    cursors = _cursors(app_runtime)
    upgrade = app_runtime.run_setup_script()
    assert ("versioned schema", "CREATE OR ALTER VERSIONED SCHEMA core") in upgrade
    recreated = [
        s for kind, s in upgrade if kind == "Python procedure or function" and "reference('orchestra_eai')" in s
    ]
    assert len(recreated) == len(app.API_OBJECTS)
    assert {t: _table(app_runtime, t) for t in before} == before
    assert all(before.values())
    assert _cursors(app_runtime) == cursors
    status = _status(app_runtime)
    assert status["ready"] is True
    assert status["task"]["state"] == "started"
    assert status["next_step"] is None


def test_an_upgrade_that_cannot_recreate_the_api_objects_says_so(app_runtime: AppRuntime) -> None:
    """The upgrade completes; the error is in core.status() with the missing objects and the step that retries."""
    bind_both(app_runtime)
    revoked = "Insufficient privileges to operate on integration 'ORCHESTRA_EAI'"
    app_runtime.fail_on = lambda s: (
        revoked if s.startswith("CREATE OR REPLACE FUNCTION core.get_pipeline_runs") else None
    )
    upgrade = app_runtime.run_setup_script()
    assert upgrade[-1][1].startswith("GRANT USAGE ON STREAMLIT")  # the script ran to its end
    status = _status(app_runtime)
    assert status["ready"] is False
    assert status["api_objects"]["missing"] == list(app.API_OBJECT_NAMES)
    assert revoked in status["api_objects"]["last_error"]
    assert status["api_objects"]["last_error"].startswith("upgrade could not recreate the API objects")
    assert status["next_step"].startswith("Create the API objects: CALL core.create_eai_objects()")
    app_runtime.fail_on = lambda s: None
    assert "Created core.get_pipeline_runs" in app_runtime.session().call("core.create_eai_objects")
    assert _status(app_runtime)["ready"] is True


def test_create_eai_objects_before_binding_names_the_missing_reference(app_runtime: AppRuntime) -> None:
    """Called too early, core.create_eai_objects() fails with the binding step instead of a Snowflake error."""
    with pytest.raises(ProcedureError, match="Cannot create the API objects yet: bind the Orchestra API key secret"):
        app_runtime.session().call("core.create_eai_objects")


# -- the schedule and the task -----------------------------------------------------------------------------------


def test_schedule_creates_a_bounded_task_and_status_follows_it(app_runtime: AppRuntime) -> None:
    """core.schedule_refresh creates and resumes the task; unschedule drops it; status reports each state."""
    bind_both(app_runtime)
    session = app_runtime.session()
    assert session.call("core.schedule_refresh", "15 minute") == "Scheduled tasks.refresh_orchestra: 15 MINUTES."
    task = app_runtime.tasks[app.TASK]
    assert task.state == "started"
    assert task.suspend_after == app.SUSPEND_AFTER_FAILURES
    assert task.parameters == {"USER_TASK_TIMEOUT_MS": app.TASK_TIMEOUT_MS, "STATEMENT_TIMEOUT_IN_SECONDS": 3600}
    assert task.body == "CALL core.refresh()"
    assert _status(app_runtime)["task"]["schedule"] == "15 MINUTES"
    app_runtime.execute(f"ALTER TASK {app.TASK} SUSPEND")
    status = _status(app_runtime)
    assert status["task"]["state"] == "suspended"
    assert status["next_step"] == "The refresh task is suspended: CALL core.resume_refresh() to start it again."
    assert session.call("core.resume_refresh") == "Resumed tasks.refresh_orchestra."
    assert session.call("core.unschedule_refresh") == "Dropped tasks.refresh_orchestra (if it existed)."
    assert _status(app_runtime)["task"]["state"] == "none"
    with pytest.raises(ProcedureError, match=re.escape("There is no refresh task yet")):
        session.call("core.resume_refresh")


@pytest.mark.parametrize("schedule", ["every hour", "0 MINUTES", "USING CRON 0 * * *", "60 MINUTES; DROP TABLE x"])
def test_schedule_refuses_anything_but_minutes_or_cron(app_runtime: AppRuntime, schedule: str) -> None:
    """A schedule that is not 'N MINUTES' or a five-field cron with a time zone is refused, and no task is made."""
    with pytest.raises(ProcedureError, match="The schedule must look like '60 MINUTES'"):
        app_runtime.session().call("core.schedule_refresh", schedule)
    assert app_runtime.tasks == {}


def test_a_scheduled_run_loads_and_is_reported(app_runtime: AppRuntime, clock: Clock) -> None:
    """The task's run calls core.refresh(), which loads all three; status shows the run and the loads."""
    bind_both(app_runtime)
    app_runtime.session().call("core.schedule_refresh", "60 MINUTES")
    run = app_runtime.run_task()
    assert run is not None
    assert run.state == "SUCCEEDED", run
    status = _status(app_runtime)
    assert all(r["last_load_at"] and r["complete"] for r in status["resources"])
    assert status["task"]["last_run"]["state"] == "SUCCEEDED"
    assert status["next_step"] is None
    app_runtime.start_run()
    assert _status(app_runtime)["task"]["running"] is True


def _failing_task_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Orchestra answers task runs with a 401 whose message echoes the request's key (pipeline runs still work)."""

    def http(url: str, headers: Mapping[str, str], timeout: float) -> app.HttpResponse:
        if "/task_runs" in url:
            token = headers["Authorization"].partition(" ")[2]
            body = json.dumps({"detail": f"token {token} is not valid for this workspace"}).encode()
            return app.HttpResponse(401, {}, body)
        return app.urllib_get(url, headers, timeout)

    monkeypatch.setattr(app, "HTTP", http)


def test_a_failing_task_run_writes_nothing_half_and_never_shows_the_key(
    app_runtime: AppRuntime, clock: Clock, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A run failing on task runs keeps that table and cursor as they were; the error shows, masked, everywhere."""
    bind_both(app_runtime)
    session = app_runtime.session()
    session.call("core.load_all")
    task_runs, cursors = _table(app_runtime, "task_runs"), _cursors(app_runtime)
    session.call("core.schedule_refresh", "60 MINUTES")
    clock.advance(hours=6)  # new runs exist upstream
    _failing_task_runs(monkeypatch)
    with caplog.at_level(logging.INFO, logger="orchestra_app"):
        run = app_runtime.run_task()
    assert run is not None
    assert run.state == "FAILED"
    assert _table(app_runtime, "task_runs") == task_runs
    after = _cursors(app_runtime)
    assert after["task-runs"] == cursors["task-runs"]
    assert after["pipeline-runs"] > cursors["pipeline-runs"]  # the resource before it committed, as a CLI load does
    status = _status(app_runtime)
    runs = {r["resource"]: r for r in status["resources"]}
    assert "HTTP 401" in runs["task-runs"]["last_error"]
    assert "HTTP 401" in status["task"]["last_error"]["error"]
    assert status["next_step"].startswith("The last load of task-runs failed: Orchestra answered")
    shown = json.dumps(status) + (run.error_message or "") + caplog.text
    assert KEY not in shown
    assert "token *** is not valid" in runs["task-runs"]["last_error"]
    assert "load task-runs failed" in caplog.text


def test_repeated_failures_are_shown_as_an_auto_suspended_task(
    app_runtime: AppRuntime, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After SUSPEND_AFTER_FAILURES failed runs Snowflake suspends the task; status and next step say so."""
    bind_both(app_runtime)
    app_runtime.session().call("core.schedule_refresh", "60 MINUTES")
    _failing_task_runs(monkeypatch)
    runs = []
    for _ in range(app.SUSPEND_AFTER_FAILURES + 1):
        runs.append(app_runtime.run_task())
        clock.advance(hours=1)
    assert [r.state if r else None for r in runs] == ["FAILED", "FAILED", "FAILED_AND_AUTO_SUSPENDED", None]
    task = _status(app_runtime)["task"]
    assert task["state"] == "auto-suspended"
    assert task["failures_in_a_row"] == app.SUSPEND_AFTER_FAILURES
    step = _status(app_runtime)["next_step"]
    assert step.startswith("Snowflake suspended the refresh task after 3 failed runs")
    assert step.endswith("Fix the cause, then CALL core.resume_refresh().")
    assert KEY not in step


# -- the statement timeout ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("timeout", "budget"),
    [(None, app.TASK_TIME_BUDGET), (172_800, app.TASK_TIME_BUDGET), (3600, 45 * 60), (1200, 900), (400, 300)],
)
def test_the_refresh_budget_ends_before_the_statement_timeout(timeout: int | None, budget: float) -> None:
    """The budget leaves the window in flight a quarter of the limit (at most 15 minutes) before the timeout."""
    assert app.refresh_budget(timeout) == budget
    limit = min(timeout or app.TASK_TIMEOUT_MS / 1000, app.TASK_TIMEOUT_MS / 1000)
    assert app.refresh_budget(timeout) < limit


def test_a_statement_timeout_too_short_for_any_load_is_said(app_runtime: AppRuntime) -> None:
    """Under a 2-minute STATEMENT_TIMEOUT_IN_SECONDS, core.refresh() fails at once saying so, loading nothing."""
    bind_both(app_runtime)
    app_runtime.parameters["STATEMENT_TIMEOUT_IN_SECONDS"] = 120
    with pytest.raises(ProcedureError, match="STATEMENT_TIMEOUT_IN_SECONDS is 120 here, too short for a load"):
        app_runtime.session().call("core.refresh")
    assert app_runtime.execute("SELECT COUNT(*) FROM public.eltops_load_state").rows == [(0,)]


def test_the_task_sets_its_own_statement_timeout_over_a_lower_account_value(app_runtime: AppRuntime) -> None:
    """A lower account value cannot cut the scheduled run: the task's own STATEMENT_TIMEOUT_IN_SECONDS applies."""
    bind_both(app_runtime)
    app_runtime.parameters["STATEMENT_TIMEOUT_IN_SECONDS"] = 120
    app_runtime.session().call("core.schedule_refresh", "60 MINUTES")
    run = app_runtime.run_task()
    assert run is not None
    assert run.state == "SUCCEEDED", run


# -- the task's state, from SHOW TASKS and TASK_HISTORY ------------------------------------------------------------

_T = Clock()()


def _run(state: str, error: str | None = None, minutes: int = 0) -> tuple[Any, ...]:
    at = _T - timedelta(minutes=minutes)
    return (state, "100357" if error else None, error, at, None if state == "EXECUTING" else at + timedelta(minutes=1))


@pytest.mark.parametrize(
    ("shown", "history", "expected"),
    [
        ([], [], {"state": "none", "scheduled": False, "running": False, "failures_in_a_row": 0}),
        ([("REFRESH_ORCHESTRA", "started", "60 MINUTES")], [], {"state": "started", "last_run": None}),
        (
            [("REFRESH_ORCHESTRA", "started", "60 MINUTES")],
            [_run("EXECUTING"), _run("FAILED", "boom", 60), _run("SUCCEEDED", None, 120)],
            {"state": "started", "running": True, "failures_in_a_row": 1},
        ),
        (
            [("REFRESH_ORCHESTRA", "suspended", "60 MINUTES")],
            [_run("FAILED_AND_AUTO_SUSPENDED", "boom"), _run("FAILED", "boom", 60)],
            {"state": "auto-suspended", "failures_in_a_row": 2},
        ),
        (
            [("REFRESH_ORCHESTRA", "suspended", "60 MINUTES")],
            [_run("SUCCEEDED")],
            {"state": "suspended", "failures_in_a_row": 0, "last_error": None},
        ),
    ],
)
def test_task_report_reads_show_tasks_and_task_history(
    shown: list[tuple[Any, ...]], history: list[tuple[Any, ...]], expected: dict[str, Any]
) -> None:
    """The task's state, running, auto-suspension, failures in a row and last error come from the two probes."""
    report = app.task_report(shown, history)
    assert {k: report[k] for k in expected} == expected
    if any(r[2] for r in history):
        assert report["last_error"]["error"] == "100357: boom"


def test_a_failing_task_probe_is_reported_not_raised(app_runtime: AppRuntime) -> None:
    """When SHOW TASKS fails (a privilege missing), core.status() still answers and says the task is unknown."""
    app_runtime.fail_on = lambda s: "Insufficient privileges" if s.startswith("SHOW TASKS") else None
    task = _status(app_runtime)["task"]
    assert task["state"] == "unknown"
    assert "Insufficient privileges" in task["error"]


# -- logging -----------------------------------------------------------------------------------------------------


def test_each_load_logs_its_start_windows_pages_rows_and_end(
    app_runtime: AppRuntime, caplog: pytest.LogCaptureFixture
) -> None:
    """The standard logging the event table receives: start, each window with pages and rows, and the summary."""
    bind_both(app_runtime)
    with caplog.at_level(logging.DEBUG, logger="orchestra_app"):
        summary = json.loads(app_runtime.session().call("core.load_pipeline_runs"))
    messages = [r.getMessage() for r in caplog.records if r.name == "orchestra_app"]
    assert any(m.startswith("load pipeline-runs: start, 1 window(s) from ") for m in messages)
    window = next(m for m in messages if m.startswith("load pipeline-runs: window 1/1 read"))
    assert f"{summary['pages']} page(s), {summary['rows_read']} row(s)" in window
    assert any(m.startswith(f"load pipeline-runs: done, {summary['pages']} page(s)") for m in messages)
    assert sum(" rows (total " in m for m in messages) == summary["pages"]  # one DEBUG line per page
    assert KEY not in caplog.text


def test_records_that_echo_the_key_are_stored_masked(app_runtime: AppRuntime, monkeypatch: pytest.MonkeyPatch) -> None:
    """An API that quotes the key in task runs' messages and parameters never gets it into a table or a log."""

    def http(url: str, headers: Mapping[str, str], timeout: float) -> app.HttpResponse:
        response = app.urllib_get(url, headers, timeout)
        if "/task_runs" not in url or response.status != 200:
            return response
        token = headers["Authorization"].partition(" ")[2]
        page = json.loads(response.body)
        for record in page["results"]:
            record["message"] = f"Unauthorized for Bearer {token}"
            record["taskParameters"] = {"api_key": token, "nested": [json.dumps(token)]}
        return app.HttpResponse(200, response.headers, json.dumps(page).encode())

    monkeypatch.setattr(app, "HTTP", http)
    bind_both(app_runtime)
    app_runtime.session().call("core.load_task_runs")
    rows = _table(app_runtime, "task_runs")
    assert rows
    assert KEY not in json.dumps(rows, default=str)
    messages = {r[0] for r in app_runtime.execute("SELECT message FROM public.task_runs").rows}
    assert messages == {"Unauthorized for Bearer ***"}


_OLD_TASK = (  # what main's core.schedule_refresh created before this version
    "CREATE OR REPLACE TASK tasks.refresh_orchestra SCHEDULE = '30 MINUTES' "
    "USER_TASK_MANAGED_INITIAL_WAREHOUSE_SIZE = 'XSMALL' USER_TASK_TIMEOUT_MS = 3600000 "
    "ALLOW_OVERLAPPING_EXECUTION = FALSE COMMENT = 'Orchestra Data App' AS CALL core.refresh()"
)


@pytest.mark.parametrize("state", ["started", "suspended"])
def test_an_upgrade_gives_an_older_task_this_versions_definition(app_runtime: AppRuntime, state: str) -> None:
    """A task made by an older version gets the timeout and suspension clauses, keeping its schedule and state."""
    app_runtime.execute(_OLD_TASK)
    if state == "started":
        app_runtime.execute(f"ALTER TASK {app.TASK} RESUME")
    app_runtime.run_setup_script()
    task = app_runtime.tasks[app.TASK]
    assert (task.schedule, task.state, task.suspend_after) == ("30 MINUTES", state, app.SUSPEND_AFTER_FAILURES)
    assert task.parameters["STATEMENT_TIMEOUT_IN_SECONDS"] == 3600


def test_an_upgrade_that_cannot_update_the_task_says_so(app_runtime: AppRuntime) -> None:
    """When recreating the task fails, the upgrade completes and the status names the step that fixes it."""
    bind_both(app_runtime)
    app_runtime.execute(_OLD_TASK)
    app_runtime.fail_on = lambda s: (
        "Insufficient privileges on schema TASKS" if s.startswith("CREATE OR REPLACE TASK") else None
    )
    upgrade = app_runtime.run_setup_script()
    assert upgrade[-1][1].startswith("GRANT USAGE ON STREAMLIT")
    status = _status(app_runtime)
    assert "Insufficient privileges on schema TASKS" in status["task"]["upgrade_error"]
    assert status["next_step"].startswith("The refresh task kept its old definition")
    app_runtime.fail_on = lambda s: None
    app_runtime.session().call("core.schedule_refresh", "30 MINUTES")
    app_runtime.run_setup_script()
    assert "upgrade_error" not in _status(app_runtime)["task"]


def _report(**changes: Any) -> dict[str, Any]:
    bound = dict.fromkeys(app.REFERENCES, True) | changes.pop("bound", {})
    resource = {"last_load_at": "2025-05-01T12:00:00+00:00", "failed_at": None, "last_error": None}
    report: dict[str, Any] = {
        "api_objects": {"references_bound": bound, "missing": [], "last_error": None},
        "task": {"state": "started"},
        "resources": [{"resource": "pipeline-runs", **resource, **changes.pop("resource", {})}],
    }
    report["task"] |= changes.pop("task", {})
    report["api_objects"] |= changes
    return report


@pytest.mark.parametrize(
    ("report", "step"),
    [
        (_report(bound={"orchestra_eai": False, "orchestra_api_key": False}), "Bind the Orchestra API key secret"),
        (_report(missing=["refresh"], last_error="boom"), "Create the API objects: CALL core.create_eai_objects()"),
        (_report(task={"state": "auto-suspended", "failures_in_a_row": 3}), "Snowflake suspended the refresh task"),
        (_report(task={"upgrade_error": "no privilege"}), "The refresh task kept its old definition (no privilege)"),
        (
            _report(resource={"failed_at": "2025-05-01T13:00:00.5+00:00", "last_error": "HTTP 500"}),
            "The last load of pipeline-runs failed: HTTP 500",
        ),
        (_report(resource={"failed_at": "2025-05-01T11:00:00+00:00", "last_error": "old"}), None),
        (_report(task={"state": "none"}), "Schedule the refresh: CALL core.schedule_refresh('60 MINUTES')."),
        (_report(task={"state": "none"}, resource={"last_load_at": None}), "Load once with CALL core.load_all(), then"),
        (_report(task={"state": "suspended"}), "The refresh task is suspended: CALL core.resume_refresh()"),
        (_report(), None),
    ],
)
def test_next_step_names_the_first_thing_to_do(report: dict[str, Any], step: str | None) -> None:
    """Bind, create, resume after auto-suspension, fix the task, look at a newer error, schedule, resume: in order."""
    found = app.next_step(report)
    if step is None:
        assert found is None
    else:
        assert (found or "").startswith(step), found


# -- the upgrade consumers take: from the previous release's setup script ------------------------------------------

PREVIOUS = Path(__file__).parent / "data" / "setup_script_v1_0.sql"
"""The setup script of the release before this one (v1_0, SQL callbacks), kept as it shipped."""


def _install_previous_release(runtime: AppRuntime) -> None:
    """v1_0 installed, bound, its API objects created, loaded and scheduled, as a consumer of it would have it.

    Its SQL-scripting procedures cannot run offline, so what they did is done with their own statements: the
    install's ``CALL core.recreate_eai_objects_if_bound()`` did nothing (no reference bound yet), the bindings are
    what its register callback's SYSTEM$SET_REFERENCE stored, its ``create_eai_objects`` ran the DDL of its
    BEGIN_API_OBJECTS block, and its ``schedule_refresh`` ran its CREATE TASK.
    """
    text = PREVIOUS.read_text()
    for statement in split_statements(text):
        if statement != "CALL core.recreate_eai_objects_if_bound()":
            runtime.execute(statement)
    for name in app.REFERENCES:
        runtime.execute("SELECT SYSTEM$SET_REFERENCE(?, ?)", [name.upper(), f"v1_{name}"])
    block = text.split("-- BEGIN_API_OBJECTS", 1)[1].split("-- END_API_OBJECTS", 1)[0]
    for statement in (s.strip() for s in block.split(";")):
        if statement:
            runtime.execute(statement)
    # v1_0 had loaded some rows and saved its cursors (written here with v1_0's columns: today's load code writes
    # the columns this version adds, which v1_0's tables do not have until the upgrade)
    for table, moment in (("pipeline_runs", "created_at"), ("task_runs", "created_at"), ("operations", "inserted_at")):
        for n in (1, 2):
            runtime.execute(
                f"INSERT INTO public.{table} (id, {moment}, loaded_at) VALUES (?, ?, ?)",
                [f"{table}-{n}", f"2026-12-0{n} 10:00:00+00:00", "2026-12-03 00:00:00+00:00"],
            )
        runtime.execute(
            "INSERT INTO public.eltops_load_state VALUES (?, ?, ?, ?)",
            [table.replace("_", "-"), table, "2026-12-02 10:00:00+00:00", "2026-12-03 00:00:00+00:00"],
        )
    runtime.execute(_OLD_TASK)
    runtime.execute(f"ALTER TASK {app.TASK} RESUME")


def test_an_upgrade_from_the_previous_release_keeps_everything_and_replaces_its_code(
    fresh_runtime: AppRuntime,
) -> None:
    """v1_0 -> this version: rows, cursors, bindings and the task kept; every procedure now Python; status ready."""
    runtime = fresh_runtime
    _install_previous_release(runtime)
    assert {d.language for d in runtime.code.values()} == {"SQL", "PYTHON"}
    tables = ("pipeline_runs", "task_runs", "operations")
    old_columns = {t: _columns(runtime, t) for t in tables}
    rows = {t: _table(runtime, t, old_columns[t]) for t in tables}
    cursors = _cursors(runtime)
    upgrade = runtime.run_setup_script()
    assert ("call", "CALL core.recreate_eai_objects_if_bound()") in upgrade
    assert {d.language for d in runtime.code.values()} == {"PYTHON"}
    assert {f"core.{n}" for n in app.API_OBJECT_NAMES} <= set(runtime.code)
    assert {t: _table(runtime, t, old_columns[t]) for t in tables} == rows  # v1_0's columns, every row
    assert all(rows.values())
    assert all(len(_columns(runtime, t)) > len(old_columns[t]) for t in tables)  # today's columns added in place
    assert _cursors(runtime) == cursors
    task = runtime.tasks[app.TASK]
    assert (task.state, task.schedule, task.suspend_after) == ("started", "30 MINUTES", app.SUSPEND_AFTER_FAILURES)
    status = _status(runtime)
    assert status["ready"] is True
    assert status["next_step"] is None
    run = runtime.run_task()
    assert run is not None
    assert run.state == "SUCCEEDED", run
