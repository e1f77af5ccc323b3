"""The setup script and the handlers' SQL parse as Snowflake SQL; the manifest and the script agree."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml

from eltops.orchestra import _records
from eltops.snowflake_app import _generate
from eltops.snowflake_app import orchestra_app as app

from .conftest import APP_DIR, SETUP_SCRIPT

sqlglot = pytest.importorskip("sqlglot", reason="sqlglot is a dev dependency (pip install -e '.[dev]')")
exp = sqlglot.expressions

# Native App statements sqlglot does not model: it keeps them whole as a Command, which we then check by shape.
APP_ONLY = [
    r"CREATE APPLICATION ROLE IF NOT EXISTS \w+",
    r"GRANT [\w, ]+ ON (SCHEMA|TABLE|PROCEDURE|FUNCTION|TASK) [\w.]+(\([\w, ]*\))? TO APPLICATION ROLE app_public",
    r"CREATE OR ALTER VERSIONED SCHEMA \w+",
    r"CALL core\.\w+\(\)",
]


def split_statements(text: str) -> list[str]:
    """Top-level statements: split on ``;`` outside quotes, ``$$`` bodies and ``--`` comments.

    (sqlglot's own splitting swallows everything after the first ``AS $$ ... $$`` body, so it is not used.)
    """
    statements, current, i = [], [], 0
    in_quote = in_dollar = False
    while i < len(text):
        char, pair = text[i], text[i : i + 2]
        if not in_quote and pair == "$$":
            in_dollar = not in_dollar
            current.append(pair)
            i += 2
            continue
        if not in_dollar and not in_quote and pair == "--":
            end = text.find("\n", i)
            i = len(text) if end < 0 else end
            continue
        if not in_dollar and char == "'":
            in_quote = not in_quote
        if not in_dollar and not in_quote and char == ";":
            statements.append("".join(current).strip())
            current = []
        else:
            current.append(char)
        i += 1
    statements.append("".join(current).strip())
    return [s for s in statements if s]


def _statements(text: str) -> list[Any]:
    parsed = []
    for statement in split_statements(text):
        (one,) = sqlglot.parse(statement, read="snowflake", error_level=sqlglot.ErrorLevel.RAISE)
        parsed.append(one)
    return parsed


def _without_comments(sql: str) -> str:
    return re.sub(r"/\*.*?\*/", "", sql, flags=re.DOTALL).strip()


def _api_object_statements() -> list[str]:
    body = SETUP_SCRIPT.read_text().split("-- BEGIN_API_OBJECTS", 1)[1].split("-- END_API_OBJECTS", 1)[0]
    return [s.strip() for s in body.split(";") if s.strip()]


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
    """Each function, procedure and grant that core.create_eai_objects() runs parses on its own."""
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
    handlers = re.findall(r"HANDLER = 'orchestra_app\.(\w+)'", SETUP_SCRIPT.read_text())
    assert sorted(handlers) == sorted([*app.API_OBJECT_NAMES, "status"])
    for name in handlers:
        assert callable(getattr(app, name)), name


def test_seed_functions_and_procedures_exist_with_grants() -> None:
    """The seed's names are all created and granted to the application role."""
    text = " ".join(SETUP_SCRIPT.read_text().split())
    for name in ("get_pipeline_runs", "get_task_runs", "get_operations"):
        assert f"CREATE OR REPLACE FUNCTION core.{name}(page INT DEFAULT 1, per_page INT DEFAULT 100)" in text
        assert f"GRANT USAGE ON FUNCTION core.{name}(INT, INT) TO APPLICATION ROLE app_public" in text
    for name in ("load_pipeline_runs", "load_task_runs", "load_operations", "load_all", "backfill"):
        assert f"CREATE OR REPLACE PROCEDURE core.{name}(" in text
        assert f"GRANT USAGE ON PROCEDURE core.{name}(DATE) TO APPLICATION ROLE app_public" in text
    for name in ("create_eai_objects()", "schedule_refresh(STRING)", "unschedule_refresh()", "status()", "refresh()"):
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
    """The CREATE TASK that core.schedule_refresh builds parses for the schedules it accepts."""
    body = SETUP_SCRIPT.read_text().split("CREATE OR REPLACE PROCEDURE core.schedule_refresh", 1)[1]
    pattern = re.search(r"EXECUTE IMMEDIATE (.*?);\n", body, re.DOTALL)
    assert pattern is not None
    pieces = re.findall(r"'((?:[^']|'')*)'|:wanted", pattern.group(1))
    text = "".join(p.replace("''", "'") if p else schedule for p in pieces)
    assert text.startswith("CREATE OR REPLACE TASK tasks.refresh_orchestra SCHEDULE = '")
    assert text.endswith("AS CALL core.refresh()")
    assert f" USER_TASK_TIMEOUT_MS = {app.TASK_TIMEOUT_MS} " in text
    assert _statements(text)


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
        assert f"reference('{name}')" in text
        assert name.upper() in text  # named in get_configuration
        for callback in (ref["register_callback"], ref["configuration_callback"]):
            assert f"CREATE OR REPLACE PROCEDURE {callback}(" in text
    assert '"host_ports": ["app.getorchestra.io:443"]' in text


def test_setup_script_is_idempotent_by_construction() -> None:
    """Data objects are created only when missing and code objects replaced, so reruns and upgrades converge."""
    for statement in _statements(SETUP_SCRIPT.read_text()):
        text = _without_comments(statement.sql(dialect="snowflake")).upper()
        if text.startswith("CREATE"):
            assert "IF NOT EXISTS" in text or "OR REPLACE" in text or "OR ALTER" in text, text[:80]


def _procedure_body(name: str) -> str:
    text = SETUP_SCRIPT.read_text()
    return text.split(f"CREATE OR REPLACE PROCEDURE core.{name}(", 1)[1].split("$$", 2)[1]


def test_time_budget_fits_inside_the_task_timeout() -> None:
    """The task's explicit timeout is Snowflake's 60-minute default and the refresh budget leaves room inside it."""
    assert app.TASK_TIMEOUT_MS == 3_600_000
    assert 0 < app.TASK_TIME_BUDGET <= app.TASK_TIMEOUT_MS / 1000 - 10 * 60


@pytest.mark.parametrize(
    ("operation", "call"),
    [
        ("ADD", "SELECT SYSTEM$SET_REFERENCE(:ref_name, :ref_or_alias)"),
        ("REMOVE", "SELECT SYSTEM$REMOVE_REFERENCE(:ref_name, :ref_or_alias)"),
        ("CLEAR", "SELECT SYSTEM$REMOVE_ALL_REFERENCES(:ref_name)"),
    ],
)
def test_register_callback_handles_the_documented_operations(operation: str, call: str) -> None:
    """core.register_reference maps ADD, REMOVE and CLEAR to the system functions Snowflake documents for them."""
    body = " ".join(_procedure_body("register_reference").split())
    branch = re.search(rf"WHEN '{operation}' THEN (.*?);", body)
    assert branch is not None, operation
    assert branch.group(1) == call
    (parsed,) = _statements(call.replace(":ref_name", "'ORCHESTRA_EAI'").replace(":ref_or_alias", "'alias'"))
    assert not isinstance(parsed, exp.Command)
    signature = "core.register_reference(ref_name STRING, operation STRING, ref_or_alias STRING)"
    assert signature in SETUP_SCRIPT.read_text()
    assert "ELSE RETURN 'unknown operation: ' || operation;" in body


def _configuration(reference: str) -> dict[str, Any]:
    body = _procedure_body("get_configuration")
    branch = re.search(rf"WHEN '{reference}' THEN\s+RETURN '((?:[^']|'')*)';", body)
    assert branch is not None, reference
    return dict(json.loads(branch.group(1).replace("''", "'")))


def test_configuration_callback_returns_only_documented_payloads() -> None:
    """The integration gets the documented host_ports payload; the generic-string key gets an ERROR pointing to SQL."""
    eai = _configuration("ORCHESTRA_EAI")
    assert eai["type"] == "CONFIGURATION"
    assert set(eai["payload"]) == {"host_ports", "allowed_secrets", "secret_references"}
    assert eai["payload"]["host_ports"] == ["app.getorchestra.io:443"]
    assert eai["payload"]["allowed_secrets"] == "LIST"
    assert eai["payload"]["secret_references"] == ["ORCHESTRA_API_KEY"]
    key = _configuration("ORCHESTRA_API_KEY")
    assert key["type"] == "ERROR"
    assert set(key["payload"]) == {"message"}
    message = key["payload"]["message"]
    assert "TYPE = GENERIC_STRING" in message
    assert "core.register_reference('ORCHESTRA_API_KEY', 'ADD', SYSTEM$REFERENCE('SECRET'" in message
    assert "GENERIC_STRING" not in json_type_values(key)


def json_type_values(payload: Any) -> list[str]:
    """Every value of a "type" key in a JSON document (the payload types a callback announces)."""
    if isinstance(payload, dict):
        found = [str(v) for k, v in payload.items() if k == "type"]
        return found + [t for v in payload.values() for t in json_type_values(v)]
    if isinstance(payload, list):
        return [t for v in payload for t in json_type_values(v)]
    return []


def test_upgrade_records_its_error_instead_of_swallowing_it() -> None:
    """recreate_eai_objects_if_bound writes a failure into public.app_status, as a MERGE that parses, and returns it."""
    body = _procedure_body("recreate_eai_objects_if_bound")
    handler = body.split("WHEN OTHER THEN", 1)[1]
    merge = handler.split("-- BEGIN RECORD UPGRADE ERROR", 1)[1].split("-- END RECORD UPGRADE ERROR", 1)[0]
    (parsed,) = _statements(merge.replace(":problem", "'boom'"))
    assert isinstance(parsed, exp.Merge)
    assert parsed.this.sql(dialect="snowflake").startswith("public.app_status")
    assert f"'{app.API_OBJECTS_COMPONENT}' AS component" in merge
    assert "RETURN problem;" in handler
    created = _procedure_body("create_eai_objects").split("-- END_API_OBJECTS", 1)[1]
    (success,) = _statements(created.split("RETURN", 1)[0])
    assert isinstance(success, exp.Merge)


def _consumer_sql() -> list[str]:
    readme = (APP_DIR / "README.md").read_text()
    section = readme.split("## Grant access", 1)[1].split("\n## ", 1)[0]
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
