"""The installed app, offline: the setup script run statement by statement on fakesnow, its procedures callable.

fakesnow runs the tables, MERGE, JSON and information_schema; it knows nothing of Native Apps, stored procedures
or tasks. :class:`AppRuntime` runs every statement of ``setup_script.sql`` (install, then again as an upgrade)
and each statement a handler sends through its session; a statement fakesnow cannot run is one of the kinds in
:data:`NOT_ON_FAKESNOW`, each with what stands in for it here. Nothing else is intercepted: an unknown statement
goes to fakesnow and fails there if fakesnow cannot run it, so the list stays honest.

The stand-ins follow Snowflake's documentation and no more: a ``LANGUAGE PYTHON`` procedure's ``HANDLER`` is the
function of ``orchestra_app`` that ``CALL`` runs with a Snowpark-like session; references are the aliases the
register callback binds with ``SYSTEM$SET_REFERENCE``; a task keeps its state (created suspended, ``RESUME``,
``SUSPEND``) and run history, and is suspended after ``SUSPEND_TASK_AFTER_NUM_FAILURES`` failed runs in a row with
the last run's state ``FAILED_AND_AUTO_SUSPENDED``; a parameter set on the task is the session's value during
its runs. What only a real account can confirm is listed in snowflake_app/README.md.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from eltops.snowflake_app import orchestra_app as app

REPO = Path(__file__).resolve().parents[2]
APP_DIR = REPO / "snowflake_app"
SETUP_SCRIPT = APP_DIR / "app" / "setup_script.sql"
DATABASE = "ORCHESTRA_DATA_APP"


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


@dataclass(frozen=True)
class Kind:
    """A kind of statement fakesnow cannot run, how it is recognised, and what stands in for it here."""

    name: str
    pattern: str
    stand_in: str

    def matches(self, statement: str) -> bool:
        return re.match(self.pattern, statement, re.IGNORECASE | re.DOTALL) is not None


NOT_ON_FAKESNOW = (
    Kind("application role", r"CREATE APPLICATION ROLE\b", "recorded (application roles exist only in an app)"),
    Kind("grant to the application role", r"GRANT\b.*\bTO APPLICATION ROLE\b", "recorded"),
    Kind(
        "versioned schema",
        r"CREATE OR ALTER VERSIONED SCHEMA\b",
        "CREATE SCHEMA IF NOT EXISTS, after dropping the code recorded in it (an upgrade replaces the schema)",
    ),
    Kind(
        "Python procedure or function",
        r"CREATE (OR REPLACE )?(PROCEDURE|FUNCTION)\b.*\bLANGUAGE PYTHON\b",
        "recorded; CALL runs its HANDLER, a function of orchestra_app, with a session over this runtime",
    ),
    Kind("SQL procedure", r"CREATE (OR REPLACE )?PROCEDURE\b.*\bLANGUAGE SQL\b", "recorded; CALL refuses it"),
    Kind("call", r"CALL\b", "runs the recorded handler"),
    Kind("Streamlit", r"CREATE (OR REPLACE )?STREAMLIT\b", "recorded; its MAIN_FILE must exist in streamlit/"),
    Kind(
        "references",
        r"SELECT (ARRAY_SIZE\(PARSE_JSON\()?SYSTEM\$(SET_REFERENCE|REMOVE_REFERENCE|REMOVE_ALL_REFERENCES"
        r"|GET_ALL_REFERENCES)\(",
        "a dictionary of the aliases bound to each reference",
    ),
    Kind(
        "task",
        r"(CREATE (OR REPLACE )?TASK|ALTER TASK|DROP TASK|SHOW TASKS)\b"
        r"|.*\bRESULT_SCAN\(LAST_QUERY_ID\(\)\)|.*\bTASK_HISTORY\(",
        "a task table: state, schedule, parameters and run history",
    ),
    Kind("session parameters", r"SHOW PARAMETERS\b", "answered from AppRuntime.parameters (or the running task's)"),
    Kind(
        "code in information_schema",
        r"SELECT LOWER\(function_name\) FROM information_schema\.functions",
        "the recorded procedures and functions of core",
    ),
    Kind(
        "transaction",
        r"(BEGIN|COMMIT|ROLLBACK)\b",
        "no-op: fakesnow cannot MERGE inside BEGIN (the handler tests always ran without transactions)",
    ),
)
"""Every kind of statement this runtime answers itself instead of fakesnow: the written list of what the
offline run of the setup script cannot execute for real."""


def kind_of(statement: str) -> Kind | None:
    """The :data:`NOT_ON_FAKESNOW` kind of a statement, or None when fakesnow runs it."""
    return next((k for k in NOT_ON_FAKESNOW if k.matches(statement)), None)


@dataclass
class Answer:
    """A statement's rows and column names (what a Snowpark DataFrame collects or turns into pandas)."""

    rows: list[tuple[Any, ...]]
    columns: list[str]


@dataclass
class Declared:
    """A procedure or function the setup script or a handler created."""

    kind: str
    name: str  # schema.name, lower case
    language: str
    handler: str | None
    text: str


@dataclass
class TaskRun:
    state: str
    error_code: str | None
    error_message: str | None
    scheduled_time: datetime
    completed_time: datetime | None


@dataclass
class Task:
    name: str
    schedule: str
    body: str
    text: str
    parameters: dict[str, int]
    suspend_after: int = 10  # Snowflake's default SUSPEND_TASK_AFTER_NUM_FAILURES
    state: str = "suspended"  # a task is created suspended
    history: list[TaskRun] = field(default_factory=list)  # newest first


class ProcedureError(Exception):
    """A procedure failed: its message is what Snowflake would report (and TASK_HISTORY keep)."""


def _call_arguments(text: str, references: dict[str, str]) -> list[Any]:
    """The literal arguments of a CALL: strings, NULL, numbers and SYSTEM$REFERENCE(...)."""
    args, current, depth, quoted = [], "", 0, False
    for char in text:
        if char == "'" and depth == 0:
            quoted = not quoted
        if not quoted and char == "(":
            depth += 1
        if not quoted and char == ")":
            depth -= 1
        if not quoted and depth == 0 and char == ",":
            args.append(current.strip())
            current = ""
        else:
            current += char
    if current.strip():
        args.append(current.strip())
    values: list[Any] = []
    for arg in args:
        if arg.upper() == "NULL":
            values.append(None)
        elif arg.startswith("'") and arg.endswith("'"):
            values.append(arg[1:-1].replace("''", "'"))
        elif arg.upper().startswith("SYSTEM$REFERENCE("):
            parts = [p.strip().strip("'") for p in arg[len("SYSTEM$REFERENCE(") : -1].split(",")]
            alias = f"ref_{len(references) + 1}"
            references[alias] = f"{parts[0]} {parts[1]} ({parts[3] if len(parts) > 3 else ''})"
            values.append(alias)
        else:
            values.append(float(arg) if "." in arg else int(arg))
    return values


class Session:
    """What the handlers and the page use of a Snowpark session: ``sql(...).collect()``, ``to_pandas()``, ``call``."""

    def __init__(self, runtime: AppRuntime) -> None:
        self.runtime = runtime

    def sql(self, statement: str, params: Sequence[Any] | None = None) -> Result:
        return Result(self.runtime, statement, list(params or ()))

    def call(self, name: str, *args: Any) -> Any:
        """Like Snowpark's ``Session.call``: a VARIANT result comes back as JSON text."""
        literal = ", ".join("NULL" if a is None else "'" + str(a).replace("'", "''") + "'" for a in args)
        return self.runtime.execute(f"CALL {name}({literal})").rows[0][0]


class Result:
    """A lazily run statement, as Snowpark's DataFrame of ``session.sql`` is."""

    def __init__(self, runtime: AppRuntime, statement: str, params: list[Any]) -> None:
        self._runtime, self._statement, self._params = runtime, statement, params

    def collect(self) -> list[tuple[Any, ...]]:
        return self._runtime.execute(self._statement, self._params).rows

    def to_pandas(self) -> Any:
        import pandas as pd

        answer = self._runtime.execute(self._statement, self._params)
        return pd.DataFrame(answer.rows, columns=[c.upper() for c in answer.columns])


class AppRuntime:
    """One installed app on fakesnow: run the setup script, bind references, CALL procedures, run the task."""

    def __init__(self, connection: Any, *, clock: Callable[[], datetime] | None = None) -> None:
        self.connection = connection
        self.clock = clock or (lambda: datetime.now(UTC))
        self.references: dict[str, list[str]] = {name.upper(): [] for name in app.REFERENCES}
        self.aliases: dict[str, str] = {}  # alias -> what SYSTEM$REFERENCE named
        self.code: dict[str, Declared] = {}
        self.streamlits: dict[str, str] = {}
        self.tasks: dict[str, Task] = {}
        self.parameters: dict[str, int] = {"STATEMENT_TIMEOUT_IN_SECONDS": 172_800}  # Snowflake's default, 2 days
        self.ran: list[tuple[str, str]] = []  # (kind or "fakesnow", statement) of everything executed
        self.fail_on: Callable[[str], str | None] = lambda statement: None  # a test's injected failure
        self._shown: list[tuple[Any, ...]] = []
        self._running: Task | None = None

    def session(self) -> Session:
        return Session(self)

    # -- the setup script -----------------------------------------------------------------------------------

    def run_setup_script(self, text: str | None = None) -> list[tuple[str, str]]:
        """Run every statement of the setup script in order (an install, or an upgrade when run again)."""
        start = len(self.ran)
        for statement in split_statements(SETUP_SCRIPT.read_text() if text is None else text):
            self.execute(statement)
        return self.ran[start:]

    # -- one statement --------------------------------------------------------------------------------------

    def execute(self, statement: str, params: Sequence[Any] = ()) -> Answer:
        statement = statement.strip()
        problem = self.fail_on(statement)
        if problem:
            raise ProcedureError(problem)
        kind = kind_of(statement)
        self.ran.append((kind.name if kind else "fakesnow", statement))
        if kind is None:
            return self._fakesnow(statement, params)
        handler = getattr(self, "_" + kind.name.lower().replace(" ", "_").replace("-", "_"))
        answer: Answer = handler(statement, list(params))
        return answer

    def _fakesnow(self, statement: str, params: Sequence[Any]) -> Answer:
        cursor = self.connection.cursor()
        try:
            cursor.execute(statement, list(params) or None)
            columns = [d[0] for d in cursor.description] if cursor.description else []
            try:
                rows = [tuple(row) for row in cursor.fetchall()]
            except Exception:  # statements without a result set
                rows = []
            return Answer(rows, columns)
        finally:
            cursor.close()

    # -- the stand-ins, one per kind ------------------------------------------------------------------------

    def _application_role(self, statement: str, params: list[Any]) -> Answer:
        return Answer([("ok",)], ["status"])

    def _grant_to_the_application_role(self, statement: str, params: list[Any]) -> Answer:
        return Answer([("ok",)], ["status"])

    def _versioned_schema(self, statement: str, params: list[Any]) -> Answer:
        schema = statement.split()[-1].lower()
        self.code = {k: v for k, v in self.code.items() if not k.startswith(schema + ".")}
        self.streamlits = {k: v for k, v in self.streamlits.items() if not k.startswith(schema + ".")}
        return self._fakesnow(f"CREATE SCHEMA IF NOT EXISTS {schema}", [])

    def _declare(self, statement: str, language: str) -> Answer:
        match = re.match(r"CREATE (?:OR REPLACE )?(PROCEDURE|FUNCTION) ([\w.]+)\(", statement, re.IGNORECASE)
        assert match is not None, statement
        handler = re.search(r"HANDLER = 'orchestra_app\.(\w+)'", statement)
        name = match.group(2).lower()
        self.code[name] = Declared(
            match.group(1).upper(), name, language, handler.group(1) if handler else None, statement
        )
        return Answer([(f"{name} successfully created.",)], ["status"])

    def _python_procedure_or_function(self, statement: str, params: list[Any]) -> Answer:
        return self._declare(statement, "PYTHON")

    def _sql_procedure(self, statement: str, params: list[Any]) -> Answer:
        return self._declare(statement, "SQL")

    def _call(self, statement: str, params: list[Any]) -> Answer:
        match = re.fullmatch(r"CALL ([\w.]+)\((.*)\)", statement, re.IGNORECASE | re.DOTALL)
        assert match is not None, statement
        name = match.group(1).lower()
        declared = self.code.get(name)
        if declared is None or declared.kind != "PROCEDURE":
            raise ProcedureError(f"Unknown procedure {name.upper()}")
        if declared.handler is None:
            raise ProcedureError(f"{name} is a SQL procedure, which this offline runtime cannot run")
        args = _call_arguments(match.group(2), self.aliases)
        try:
            result = getattr(app, declared.handler)(self.session(), *args)
        except Exception as exc:
            raise ProcedureError(str(exc)) from exc
        value = json.dumps(result, default=str) if isinstance(result, dict | list) else result
        return Answer([(value,)], [name.split(".")[-1].upper()])

    def _streamlit(self, statement: str, params: list[Any]) -> Answer:
        match = re.match(
            r"CREATE (?:OR REPLACE )?STREAMLIT ([\w.]+)\s+FROM '/(\w+)'\s+MAIN_FILE = '([\w.]+)'", statement
        )
        assert match is not None, statement
        main = APP_DIR / match.group(2) / match.group(3)
        if not main.is_file():
            raise ProcedureError(f"MAIN_FILE {main} does not exist")
        self.streamlits[match.group(1).lower()] = str(main)
        return Answer([("ok",)], ["status"])

    def _references(self, statement: str, params: list[Any]) -> Answer:
        function = re.search(r"SYSTEM\$(\w+)\(", statement)
        assert function is not None
        literal = re.search(r"\('(\w+)'\)", statement)
        args = params or ([literal.group(1)] if literal else [])
        name = str(args[0]).upper()
        if name not in self.references:
            raise ProcedureError(f"Reference {name} does not exist in the manifest")
        which = function.group(1)
        if which == "SET_REFERENCE":
            self.references[name] = [str(args[1])]  # single-valued: replaces
        elif which == "REMOVE_REFERENCE":
            self.references[name] = [a for a in self.references[name] if a != args[1]]
        elif which == "REMOVE_ALL_REFERENCES":
            self.references[name] = []
        else:
            bound = self.references[name]
            return Answer([(len(bound) if "ARRAY_SIZE" in statement else json.dumps(bound),)], ["RESULT"])
        return Answer([(None,)], ["RESULT"])

    def _task(self, statement: str, params: list[Any]) -> Answer:
        words = statement.upper().split()
        if words[:2] == ["CREATE", "OR"] or words[:2] == ["CREATE", "TASK"]:
            name = re.search(r"TASK ([\w.]+)", statement)
            schedule = re.search(r"SCHEDULE = '([^']*)'", statement)
            body = statement.rsplit(" AS ", 1)[1]
            assert name, statement
            assert schedule, statement
            parameters = {k.upper(): int(v) for k, v in re.findall(r"(\w+_IN_SECONDS|\w+_MS) = (\d+)", statement)}
            suspend = re.search(r"SUSPEND_TASK_AFTER_NUM_FAILURES = (\d+)", statement)
            task = Task(name.group(1).lower(), schedule.group(1), body, statement, parameters)
            if suspend:
                task.suspend_after = int(suspend.group(1))
            self.tasks[task.name] = task
            return Answer([(f"Task {task.name} successfully created.",)], ["status"])
        if words[:2] == ["ALTER", "TASK"]:
            task = self.tasks[words[2].lower()]
            task.state = {"RESUME": "started", "SUSPEND": "suspended"}[words[3]]
            return Answer([("ok",)], ["status"])
        if words[:2] == ["DROP", "TASK"]:
            self.tasks.pop(words[-1].lower(), None)
            return Answer([("ok",)], ["status"])
        if words[:2] == ["SHOW", "TASKS"]:
            like = re.search(r"LIKE '([^']*)'", statement)
            wanted = like.group(1).lower() if like else None
            self._shown = [
                (t.name.split(".")[-1].upper(), t.state, t.schedule)
                for t in self.tasks.values()
                if wanted is None or t.name.split(".")[-1] == wanted
            ]
            return Answer(self._shown, ["name", "state", "schedule"])
        if "RESULT_SCAN" in statement.upper():
            return Answer(list(self._shown), ["name", "state", "schedule"])
        named = re.search(r"TASK_NAME => '(\w+)'", statement)
        task = next((t for t in self.tasks.values() if named and t.name.endswith(named.group(1).lower())), None)
        rows = [
            (r.state, r.error_code, r.error_message, r.scheduled_time, r.completed_time)
            for r in (task.history if task else [])
        ]
        return Answer(rows, ["STATE", "ERROR_CODE", "ERROR_MESSAGE", "SCHEDULED_TIME", "COMPLETED_TIME"])

    def _session_parameters(self, statement: str, params: list[Any]) -> Answer:
        like = re.search(r"LIKE '(\w+)'", statement)
        assert like is not None
        key = like.group(1).upper()
        value = self.parameters.get(key, 0)
        if self._running is not None and key in self._running.parameters:
            value = self._running.parameters[key]  # set on the task: the session's value during its runs
        return Answer([(key, str(value), "172800", "SESSION", "", "NUMBER")], ["key", "value", "default", "level"])

    def _code_in_information_schema(self, statement: str, params: list[Any]) -> Answer:
        return Answer([(d.name.split(".")[-1],) for d in self.code.values() if d.name.startswith("core.")], ["NAME"])

    def _transaction(self, statement: str, params: list[Any]) -> Answer:
        return Answer([], [])

    # -- the scheduler --------------------------------------------------------------------------------------

    def run_task(self, name: str = app.TASK) -> TaskRun | None:
        """One scheduled run of a started task: its body, then the outcome in its history (None: not started)."""
        task = self.tasks.get(name)
        if task is None or task.state != "started":
            return None
        scheduled = self.clock()
        self._running = task
        try:
            self.execute(task.body)
        except ProcedureError as exc:
            run = TaskRun("FAILED", "100357", str(exc), scheduled, scheduled + timedelta(seconds=1))
        else:
            run = TaskRun("SUCCEEDED", None, None, scheduled, scheduled + timedelta(seconds=1))
        finally:
            self._running = None
        task.history.insert(0, run)
        failed = 0
        for previous in task.history:
            if previous.state not in ("FAILED", "FAILED_AND_AUTO_SUSPENDED"):
                break
            failed += 1
        if run.state == "FAILED" and task.suspend_after and failed >= task.suspend_after:
            run.state = "FAILED_AND_AUTO_SUSPENDED"
            task.state = "suspended"
        return run

    def start_run(self, name: str = app.TASK) -> None:
        """A run that is executing right now (what TASK_HISTORY shows while the task runs)."""
        self.tasks[name].history.insert(0, TaskRun("EXECUTING", None, None, self.clock(), None))
