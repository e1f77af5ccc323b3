"""The setup script and the handlers' SQL parse as Snowflake SQL; the manifest and the script agree."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from eltops.orchestra import _records
from eltops.snowflake_app import _generate
from eltops.snowflake_app import orchestra_app as app

from ._app_runtime import split_statements
from .conftest import APP_DIR, SETUP_SCRIPT

sqlglot = pytest.importorskip("sqlglot", reason="sqlglot is a dev dependency (pip install -e '.[dev]')")
exp = sqlglot.expressions

# Native App statements sqlglot does not model: it keeps them whole as a Command, which we then check by shape.
APP_ONLY = [
    r"CREATE APPLICATION ROLE IF NOT EXISTS \w+",
    r"GRANT [\w, ]+ ON (SCHEMA|TABLE|PROCEDURE|FUNCTION|TASK|STREAMLIT) [\w.]+(\([\w, ]*\))?"
    r" TO APPLICATION ROLE app_public",
    r"CREATE OR ALTER VERSIONED SCHEMA \w+",
    r"CALL core\.\w+\(\)",
    r"CREATE OR REPLACE STREAMLIT core\.\w+\s+FROM '/streamlit'\s+MAIN_FILE = '\w+\.py'",
]


def _statements(text: str) -> list[Any]:
    parsed = []
    for statement in split_statements(text):
        (one,) = sqlglot.parse(statement, read="snowflake", error_level=sqlglot.ErrorLevel.RAISE)
        parsed.append(one)
    return parsed


def _without_comments(sql: str) -> str:
    return re.sub(r"/\*.*?\*/", "", sql, flags=re.DOTALL).strip()


def _api_object_statements() -> list[str]:
    return app.api_object_statements()


def test_every_setup_statement_parses() -> None:
    """Every top-level statement parses with sqlglot's Snowflake dialect; app-only syntax has the expected shape."""
    statements = _statements(SETUP_SCRIPT.read_text())
    assert len(statements) == len(split_statements(SETUP_SCRIPT.read_text())) >= 25
    for statement in statements:
        if isinstance(statement, exp.Command):
            text = _without_comments(statement.sql(dialect="snowflake"))
            assert any(re.fullmatch(p, text) for p in APP_ONLY), text


@pytest.mark.parametrize("statement", _api_object_statements(), ids=lambda s: " ".join(s.split()[:5]))
def test_api_objects_parse(statement: str) -> None:
    """Each function, procedure and grant that core.create_eai_objects() runs (orchestra_app.API_OBJECTS) parses."""
    (parsed,) = _statements(statement)
    if isinstance(parsed, exp.Command):
        assert any(re.fullmatch(p, " ".join(statement.split())) for p in APP_ONLY), statement
    else:
        assert isinstance(parsed, exp.Create)
        text = " ".join(statement.split())
        assert "EXTERNAL_ACCESS_INTEGRATIONS = (reference('orchestra_eai'))" in text
        assert "SECRETS = ('api_key' = reference('orchestra_api_key'))" in text
        shipped = ", ".join(f"'/python/{name}'" for name in _generate.shipped_sources())
        assert f"IMPORTS = ({shipped})" in text


def test_api_objects_point_at_existing_handlers() -> None:
    """Every HANDLER named in the setup script is a function of the shipped module."""
    text = SETUP_SCRIPT.read_text() + ";\n".join(app.api_object_statements())
    handlers = re.findall(r"HANDLER = 'orchestra_app\.(\w+)'", text)
    setup = ["register_reference", "get_configuration", "create_eai_objects", "recreate_eai_objects_if_bound"]
    operations = ["status", "schedule_refresh", "resume_refresh", "unschedule_refresh", "upgrade_task_definition"]
    assert sorted(handlers) == sorted([*app.API_OBJECT_NAMES, *setup, *operations])
    assert tuple(o.name for o in app.API_OBJECTS) == app.API_OBJECT_NAMES
    for name in handlers:
        assert callable(getattr(app, name)), name


def test_seed_functions_and_procedures_exist_with_grants() -> None:
    """The seed's names are all created and granted to the application role."""
    text = " ".join((SETUP_SCRIPT.read_text() + ";\n".join(app.api_object_statements())).split())
    for name in ("get_pipeline_runs", "get_task_runs", "get_operations"):
        assert f"CREATE OR REPLACE FUNCTION core.{name}(page INT DEFAULT 1, per_page INT DEFAULT 100)" in text
        assert f"GRANT USAGE ON FUNCTION core.{name}(INT, INT) TO APPLICATION ROLE app_public" in text
    for name in ("load_pipeline_runs", "load_task_runs", "load_operations", "load_all", "backfill"):
        assert f"CREATE OR REPLACE PROCEDURE core.{name}(" in text
        assert f"GRANT USAGE ON PROCEDURE core.{name}(DATE) TO APPLICATION ROLE app_public" in text
    procedures = ("create_eai_objects()", "schedule_refresh(STRING)", "unschedule_refresh()", "resume_refresh()")
    for name in (*procedures, "status()", "refresh()"):
        assert f"GRANT USAGE ON PROCEDURE core.{name} TO APPLICATION ROLE app_public" in text


@pytest.mark.parametrize(
    "sql",
    [
        *(app.merge_sql(r) for r in _records.RESOURCES),
        *(app._open_records_sql(r) for r in _records.RESOURCES if r.open_statuses),
        "DELETE FROM public.eltops_load_state WHERE resource = ?",
        "INSERT INTO public.eltops_load_state (resource, table_name, cursor, saved_at) "
        "SELECT ?, ?, CAST(? AS TIMESTAMP_TZ), CURRENT_TIMESTAMP()",
        app.API_OBJECTS_SQL,
        *(app.references_sql(name) for name in app.REFERENCES),
    ],
    ids=lambda s: " ".join(s.split()[:4]),
)
def test_handler_sql_parses(sql: str) -> None:
    """The statements the load procedures run parse as real Snowflake SQL (not as an opaque command)."""
    (parsed,) = _statements(sql)
    assert not isinstance(parsed, exp.Command)


@pytest.mark.parametrize("schedule", ["60 MINUTES", "5 minute", "USING CRON 0 * * * * UTC"])
def test_schedule_task_statement_parses(schedule: str) -> None:
    """The CREATE TASK that core.schedule_refresh builds parses, with the timeouts and the suspension explicit."""
    text = app.task_sql(app.parse_schedule(schedule))
    assert text.startswith("CREATE OR REPLACE TASK tasks.refresh_orchestra ")
    assert text.endswith("AS CALL core.refresh()")
    assert f" USER_TASK_TIMEOUT_MS = {app.TASK_TIMEOUT_MS} " in text
    assert f" STATEMENT_TIMEOUT_IN_SECONDS = {app.TASK_TIMEOUT_MS // 1000} " in text
    assert f" SUSPEND_TASK_AFTER_NUM_FAILURES = {app.SUSPEND_AFTER_FAILURES} " in text
    assert _statements(text)


@pytest.mark.parametrize(
    "sql",
    [app.TASK_SHOW_SQL, app.TASK_SHOW_COLUMNS_SQL, app.TASK_HISTORY_SQL, app.STATEMENT_TIMEOUT_SQL],
    ids=lambda s: " ".join(s.split()[:3]),
)
def test_task_probes_parse(sql: str) -> None:
    """The statements core.status() and core.refresh() read the task and the statement timeout with parse."""
    assert _statements(sql)


def test_manifest_matches_the_setup_script() -> None:
    """Manifest v2 asks for the task privileges, and its references' callbacks exist in the setup script."""
    manifest = yaml.safe_load((APP_DIR / "app" / "manifest.yml").read_text())
    assert manifest["manifest_version"] == 2
    assert manifest["artifacts"]["setup_script"] == "setup_script.sql"
    privileges = {next(iter(p)) for p in manifest["privileges"]}
    assert privileges == {"EXECUTE TASK", "EXECUTE MANAGED TASK"}
    references = {name: ref for item in manifest["references"] for name, ref in item.items()}
    assert {r["object_type"] for r in references.values()} == {"EXTERNAL ACCESS INTEGRATION", "SECRET"}
    text = SETUP_SCRIPT.read_text()
    for name, ref in references.items():
        assert f"reference('{name}')" in "\n".join(app.api_object_statements())
        assert app.configuration(name)["type"] == "CONFIGURATION"
        for callback in (ref["register_callback"], ref["configuration_callback"]):
            assert f"CREATE OR REPLACE PROCEDURE {callback}(" in text
    assert manifest["artifacts"]["extension_code"] is True
    assert manifest["artifacts"]["default_streamlit"] == "core.orchestra_ui"
    assert "CREATE OR REPLACE STREAMLIT core.orchestra_ui" in text
    definitions = manifest["configuration"]["telemetry_event_definitions"]
    assert {d["type"] for d in definitions} == {"ERRORS_AND_WARNINGS", "DEBUG_LOGS"}
    assert {d["sharing"] for d in definitions} <= {"MANDATORY", "OPTIONAL"}
    assert manifest["configuration"]["log_level"] == "INFO"


def test_setup_script_is_idempotent_by_construction() -> None:
    """Data objects are created only when missing and code objects replaced, so reruns and upgrades converge."""
    for statement in _statements(SETUP_SCRIPT.read_text()):
        text = _without_comments(statement.sql(dialect="snowflake")).upper()
        if text.startswith("CREATE"):
            assert "IF NOT EXISTS" in text or "OR REPLACE" in text or "OR ALTER" in text, text[:80]


def test_time_budget_fits_inside_the_task_timeout() -> None:
    """The task's explicit timeout is Snowflake's 60-minute default and the refresh budget leaves room inside it."""
    assert app.TASK_TIMEOUT_MS == 3_600_000
    assert 0 < app.TASK_TIME_BUDGET <= app.TASK_TIMEOUT_MS / 1000 - 10 * 60


def _consumer_sql() -> list[str]:
    readme = (APP_DIR / "README.md").read_text()
    section = readme.split("## Or set up with SQL", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sql\n", 1)[1].split("```", 1)[0]
    return split_statements(block)


_BIND = re.compile(
    r"CALL orchestra_data_app\.(core\.\w+)\('(\w+)', 'ADD', "
    r"(SYSTEM\$REFERENCE\('([A-Z ]+)', '([\w.]+)', 'PERSISTENT', '(\w+)'\))\)"
)


def test_readme_binds_each_reference_through_the_register_callback() -> None:
    """The README's SQL calls the manifest's register callback with SYSTEM$REFERENCE for every declared reference."""
    manifest = yaml.safe_load((APP_DIR / "app" / "manifest.yml").read_text())
    references = {name: ref for item in manifest["references"] for name, ref in item.items()}
    statements = _consumer_sql()
    assert not any("SET REFERENCE" in s for s in statements)
    for statement in statements:
        sqlglot.parse(statement, read="snowflake", error_level=sqlglot.ErrorLevel.RAISE)
    bound = {}
    for statement in statements:
        match = _BIND.fullmatch(statement)
        if match is None:
            assert not statement.startswith("CALL"), statement
            continue
        callback, name, reference_call, object_type, _, privilege = match.groups()
        declared = references[name.lower()]
        assert callback == declared["register_callback"]
        assert object_type == declared["object_type"]
        assert privilege in declared["privileges"]
        (parsed,) = _statements(f"SELECT {reference_call}")
        assert not isinstance(parsed, exp.Command)
        bound[name.lower()] = object_type
    assert set(bound) == set(references)


def _smoke_run_sql() -> list[str]:
    readme = (APP_DIR / "README.md").read_text()
    script = readme.split("### Smoke run on a real account", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    queries = re.findall(r'snow sql -q "((?:[^"\\]|\\.)*)"', script, re.DOTALL)
    text = ";\n".join(q.replace("\\$", "$").replace('\\"', '"') for q in queries)
    text = text.replace("$EVENT_TABLE", "snowflake.telemetry.events").replace("$ORCHESTRA_API_KEY", "key")
    return split_statements(text)


def test_the_smoke_run_calls_only_procedures_the_app_has() -> None:
    """Every statement of the README's smoke run parses, and each app procedure it calls is declared."""
    statements = _smoke_run_sql()
    assert len(statements) >= 12
    for statement in statements:
        sqlglot.parse(statement, read="snowflake", error_level=sqlglot.ErrorLevel.RAISE)
    declared = set(
        re.findall(r"PROCEDURE (core\.\w+)\(", SETUP_SCRIPT.read_text() + "\n".join(app.api_object_statements()))
    )
    called = set(re.findall(r"CALL orchestra_data_app\.(core\.\w+)\(", "\n".join(statements)))
    assert called
    assert called <= declared
