"""The Orchestra Data App's page (the manifest's ``default_streamlit``): setup, schedule, last loads, charts.

It runs in Snowflake on the warehouse runtime, with the packages of environment.yml from Snowflake's Anaconda
channel, as the app's owner: every figure comes from ``CALL core.status()`` (what is bound, what is missing, the
next step, the task's state and last error, each resource's last load) and from the app's own tables. Actions go
through the app's procedures (``core.schedule_refresh``, ``core.unschedule_refresh``, ``core.resume_refresh``),
so the page can do nothing a worksheet could not.

Offline (tests, ``streamlit run``) the session is put in ``st.session_state["snowpark_session"]`` before the page
runs; inside Snowflake it is Snowpark's active session.
"""

# ruff: noqa: S608  (SQL is built from the app's own table and column names, never from what a viewer types)

from __future__ import annotations

import json
import re
from typing import Any

import pandas as pd
import streamlit as st

SESSION_KEY = "snowpark_session"
CHART_DAYS = 30
TIME_COLUMN = {"pipeline_runs": "created_at", "task_runs": "created_at", "operations": "inserted_at"}
STATUS_COLORS = {  # Orchestra's pipeline-run statuses, coloured as people read them
    "SUCCEEDED": "#2e9e5b",
    "WARNING": "#e6a817",
    "FAILED": "#d64541",
    "CANCELLED": "#8c8c8c",
    "CANCELLING": "#b0b0b0",
    "SKIPPED": "#c8c8c8",
    "RUNNING": "#3b82c4",
    "CREATED": "#9cc3e6",
}


def get_session() -> Any:
    session = st.session_state.get(SESSION_KEY)
    if session is None:
        from snowflake.snowpark.context import get_active_session  # only inside Snowflake

        session = get_active_session()
    return session


def call(name: str, *args: Any) -> Any:
    """CALL a procedure of the app; a VARIANT result comes back as JSON text from Snowpark."""
    value = get_session().call(name, *args)
    if isinstance(value, str) and value[:1] in "{[":
        return json.loads(value)
    return value


def frame(sql: str) -> pd.DataFrame:
    df = get_session().sql(sql).to_pandas()
    df.columns = [str(c).lower() for c in df.columns]
    return df


def _answer(value: Any) -> str:
    """A procedure's answer as one line: a load's summaries as rows read per resource."""
    if isinstance(value, dict):
        value = [value]
    if isinstance(value, list) and all(isinstance(v, dict) and "resource" in v for v in value):
        parts = [
            f"{v['resource']}: skipped" if "skipped" in v else f"{v['resource']}: {v.get('rows_read', 0)} rows read"
            for v in value
        ]
        return "Loaded " + ", ".join(parts) + "."
    return str(value)


def _act(name: str, *args: Any) -> None:
    """A button's action: CALL the procedure, keep its answer (or error) for the next run of the page."""
    try:
        st.session_state["flash"] = ("success", _answer(call(name, *args)))
    except Exception as exc:  # the procedure's own message (the key is masked by the app)
        st.session_state["flash"] = ("error", str(exc))


def _apply_schedule() -> None:
    if st.session_state["schedule_on"]:
        _act("core.schedule_refresh", f"{int(st.session_state['schedule_minutes'])} MINUTES")
    else:
        _act("core.unschedule_refresh")


def _minutes(schedule: str | None) -> int:
    match = re.fullmatch(r"(\d+) MINUTES?", schedule or "", re.IGNORECASE)
    return int(match.group(1)) if match else 60


def setup_section(status: dict[str, Any]) -> None:
    """References bound or missing, the API objects, the next step, and a first load once everything exists."""
    st.subheader("Setup")
    api = status["api_objects"]
    labels = {"orchestra_api_key": "Orchestra API key", "orchestra_eai": "API access integration"}
    columns = st.columns(3)
    for column, (name, bound) in zip(columns, api["references_bound"].items(), strict=False):
        column.metric(labels.get(name, name), "bound" if bound else "missing")
    columns[2].metric("API objects", "ready" if not api["missing"] else f"{len(api['missing'])} missing")
    if api.get("last_error") and api["missing"]:
        st.error(f"Creating the API objects failed: {api['last_error']}")
    if status.get("next_step"):
        st.warning(f"Next step: {status['next_step']}")
    else:
        st.success("Everything is set up and the refresh is running.")
    if status.get("ready"):
        st.button("Load now", on_click=_act, args=("core.load_all",), key="load_now", help="CALL core.load_all()")


def schedule_section(task: dict[str, Any]) -> None:
    st.subheader("Schedule")
    state = task.get("state", "unknown")
    left, middle, right = st.columns(3)
    left.metric("Refresh task", state + (" (running now)" if task.get("running") else ""))
    middle.metric("Schedule", task.get("schedule") or "not scheduled")
    last = task.get("last_run") or {}
    right.metric("Last run", last.get("state", "-"))
    if last.get("completed_at"):
        right.caption(f"finished {last['completed_at']}")
    if task.get("error"):
        st.error(task["error"])
    if task.get("last_error"):
        error = task["last_error"]
        st.error(f"Last failed run ({error.get('scheduled_at')}): {error.get('error')}")
    if state == "auto-suspended":
        st.warning(
            f"Snowflake suspended the task after {task.get('failures_in_a_row')} failed runs in a row. "
            "Fix the cause, then resume it."
        )
    with st.container(border=True):
        st.toggle("Scheduled refresh", value=bool(task.get("scheduled")), key="schedule_on")
        st.number_input(
            "Every (minutes)",
            min_value=1,
            max_value=11520,
            value=_minutes(task.get("schedule")),
            key="schedule_minutes",
        )
        st.button("Apply", on_click=_apply_schedule, key="apply_schedule")
        if state in ("suspended", "auto-suspended"):
            st.button("Resume the task", on_click=_act, args=("core.resume_refresh",), key="resume")


def loads_section(status: dict[str, Any]) -> None:
    st.subheader("Last loads")
    rows = [
        {
            "resource": r["resource"],
            "last load": r["last_load_at"],
            "rows read": r["rows_read"],
            "complete": r["complete"],
            "cursor": r["cursor"],
            "last error": r["last_error"],
            "failed at": r["failed_at"],
        }
        for r in status["resources"]
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True)
    latest = frame(
        "SELECT pipeline_name, run_status, env_name, created_at, completed_at "
        "FROM public.pipeline_runs ORDER BY created_at DESC LIMIT 20"
    )
    st.caption("Latest pipeline runs")
    st.dataframe(latest, hide_index=True)


def _recent(table: str) -> str:
    column = TIME_COLUMN[table]
    return f"{column} >= (SELECT DATEADD(day, -{CHART_DAYS}, MAX({column})) FROM public.{table})"


def charts_section() -> None:
    st.subheader(f"Charts (the last {CHART_DAYS} days of loaded data)")
    runs = frame(
        "SELECT TO_DATE(created_at) AS day, run_status AS status, COUNT(*) AS runs FROM public.pipeline_runs "
        f"WHERE {_recent('pipeline_runs')} GROUP BY 1, 2 ORDER BY 1"
    )
    st.markdown("**Pipeline runs by status**")
    if runs.empty:
        st.caption("No pipeline runs loaded yet.")
    else:
        wide = runs.pivot_table(index="day", columns="status", values="runs", aggfunc="sum", fill_value=0)
        order = [c for c in STATUS_COLORS if c in wide.columns] + [c for c in wide.columns if c not in STATUS_COLORS]
        st.bar_chart(wide[order], color=[STATUS_COLORS.get(c, "#6b6b6b") for c in order])
    left, right = st.columns(2)
    slow = frame(
        "SELECT pipeline_name, AVG(DATEDIFF('second', started_at, completed_at)) / 60 AS avg_minutes "
        "FROM public.pipeline_runs WHERE started_at IS NOT NULL AND completed_at IS NOT NULL "
        f"AND {_recent('pipeline_runs')} GROUP BY 1 ORDER BY 2 DESC LIMIT 10"
    )
    with left:
        st.markdown("**Slowest pipelines** (average minutes)")
        if slow.empty:
            st.caption("No finished pipeline runs yet.")
        else:
            st.bar_chart(slow.set_index("pipeline_name")["avg_minutes"])
    failing = frame(
        "SELECT task_name, COUNT(*) AS failures FROM public.task_runs "
        f"WHERE status = 'FAILED' AND {_recent('task_runs')} GROUP BY 1 ORDER BY 2 DESC LIMIT 10"
    )
    with right:
        st.markdown("**Failing tasks** (failed runs)")
        if failing.empty:
            st.caption("No failed task runs.")
        else:
            st.bar_chart(failing.set_index("task_name")["failures"])
    cost_section()


# Orchestra's own cost columns first (operations carry the cost of what they ran), then any other numeric
# cost or credit column a table has (a column the consumer added, or one a later eltops adds)
PREFERRED_COST = [("operations", "final_cost_amount"), ("operations", "cost"), ("operations", "credits")]


def cost_section() -> None:
    """Cost by day: the first cost or credits column that holds any value in the period (none: says so)."""
    found = frame(
        "SELECT LOWER(table_name) AS table_name, LOWER(column_name) AS column_name FROM information_schema.columns "
        "WHERE table_schema = 'PUBLIC' AND LOWER(table_name) IN ('pipeline_runs', 'task_runs', 'operations') "
        "AND (LOWER(column_name) LIKE '%cost%' OR LOWER(column_name) LIKE '%credit%') "
        "AND data_type IN ('NUMBER', 'FLOAT', 'DECIMAL', 'DOUBLE', 'INTEGER', 'BIGINT', 'REAL') ORDER BY 1, 2"
    )
    st.markdown("**Cost**")
    present = list(zip(found["table_name"], found["column_name"], strict=True)) if not found.empty else []
    candidates = [c for c in PREFERRED_COST if c in present] + [c for c in present if c not in PREFERRED_COST]
    for table, column in candidates:
        cost = frame(
            f"SELECT TO_DATE({TIME_COLUMN[table]}) AS day, SUM({column}) AS {column} FROM public.{table} "
            f"WHERE {_recent(table)} AND {column} IS NOT NULL GROUP BY 1 ORDER BY 1"
        )
        if not cost.empty:
            st.caption(f"{column} of {table}, per day")
            st.bar_chart(cost.set_index("day")[column])
            return
    st.caption("No costs loaded yet." if candidates else "No cost columns in the loaded tables yet.")


def main() -> None:
    st.title("Orchestra Data App")
    st.caption("Orchestra's pipeline runs, task runs and operations, loaded into this account by the app.")
    flash = st.session_state.pop("flash", None)
    if flash:
        (st.success if flash[0] == "success" else st.error)(flash[1])
    try:
        status = call("core.status")
    except Exception as exc:
        st.error(f"CALL core.status() failed: {exc}")
        return
    setup_section(status)
    schedule_section(status.get("task") or {})
    loads_section(status)
    charts_section()


main()
