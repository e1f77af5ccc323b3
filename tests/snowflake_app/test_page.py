"""The app's page (default_streamlit), run with Streamlit's AppTest against the app installed on fakesnow."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from eltops.snowflake_app import orchestra_app as app

from ._app_runtime import AppRuntime
from .conftest import APP_DIR, KEY, bind_both

testing = pytest.importorskip("streamlit.testing.v1", reason="streamlit is a dev dependency (pip install -e '.[dev]')")

PAGE = APP_DIR / "streamlit" / "orchestra_ui.py"


def _page(runtime: AppRuntime) -> Any:
    page = testing.AppTest.from_file(str(PAGE), default_timeout=60)
    page.session_state["snowpark_session"] = runtime.session()
    return page.run()


def _elements(node: Any) -> Iterator[Any]:
    children = getattr(node, "children", None)
    for child in children.values() if isinstance(children, dict) else []:
        yield child
        yield from _elements(child)


def _charts(page: Any) -> int:
    return sum("chart" in str(getattr(e, "type", "")) for e in _elements(page._tree))


def _metrics(page: Any) -> dict[str, str]:
    return {m.label: m.value for m in page.metric}


def _text(page: Any) -> str:
    return json.dumps([str(getattr(e, "value", "")) for e in _elements(page._tree)], default=str)


def test_a_fresh_install_shows_what_to_bind_first(app_runtime: AppRuntime) -> None:
    """Before binding, the page says both references are missing and the next step is the key; no charts yet."""
    page = _page(app_runtime)
    assert not page.exception
    metrics = _metrics(page)
    assert metrics["Orchestra API key"] == "missing"
    assert metrics["API access integration"] == "missing"
    assert next(w.value for w in page.warning).startswith("Next step: Bind the Orchestra API key secret")
    assert metrics["Refresh task"] == "none"
    assert _charts(page) == 0
    assert "No pipeline runs loaded yet." in [c.value for c in page.caption]


def test_a_loaded_and_scheduled_app_shows_state_loads_and_charts(app_runtime: AppRuntime) -> None:
    """Bound, loaded and scheduled: all set, the task started, the last loads listed and four charts drawn."""
    bind_both(app_runtime)
    session = app_runtime.session()
    session.call("core.load_all")
    session.call("core.schedule_refresh", "30 MINUTES")
    assert app_runtime.run_task() is not None
    page = _page(app_runtime)
    assert not page.exception
    metrics = _metrics(page)
    assert metrics["Orchestra API key"] == metrics["API access integration"] == "bound"
    assert metrics["API objects"] == "ready"
    assert metrics["Refresh task"] == "started"
    assert metrics["Schedule"] == "30 MINUTES"
    assert metrics["Last run"] == "SUCCEEDED"
    assert [s.value for s in page.success] == ["Everything is set up and the refresh is running."]
    loads, latest = page.dataframe
    assert list(loads.value["resource"]) == [r.name for r in app._records.RESOURCES]
    assert loads.value["rows read"].notna().all()
    assert len(latest.value) == 20
    assert _charts(page) == 4  # runs by status, slowest pipelines, failing tasks, and cost (the operations' own)
    assert page.toggle[0].value is True
    assert page.number_input[0].value == 30


def test_cost_is_charted_once_a_cost_column_exists(app_runtime: AppRuntime) -> None:
    """A numeric cost column in a loaded table (newer loads add them) gets its own chart."""
    bind_both(app_runtime)
    app_runtime.session().call("core.load_pipeline_runs")
    app_runtime.execute("ALTER TABLE public.pipeline_runs ADD COLUMN cost_usd FLOAT")
    app_runtime.execute("UPDATE public.pipeline_runs SET cost_usd = 0.25")
    page = _page(app_runtime)
    assert not page.exception
    assert "cost_usd of pipeline_runs, per day" in [c.value for c in page.caption]
    assert _charts(page) >= 2


@pytest.mark.parametrize(("on", "minutes", "expected"), [(True, 15, "15 MINUTES"), (False, 60, None)])
def test_the_schedule_switch_calls_the_app_procedures(
    app_runtime: AppRuntime, on: bool, minutes: int, expected: str | None
) -> None:
    """Apply schedules the refresh every N minutes, or unschedules it; the page then shows the new state."""
    bind_both(app_runtime)
    app_runtime.session().call("core.schedule_refresh", "60 MINUTES")
    page = _page(app_runtime)
    page.toggle[0].set_value(on)
    page.number_input[0].set_value(minutes)
    page = page.button(key="apply_schedule").click().run()
    assert not page.exception
    task = app_runtime.tasks.get(app.TASK)
    assert (task.schedule if task else None) == expected
    message = page.success[0].value
    assert message.startswith("Scheduled tasks.refresh_orchestra" if on else "Dropped tasks.refresh_orchestra")
    assert _metrics(page)["Refresh task"] == ("started" if on else "none")


def test_an_auto_suspended_task_shows_its_error_and_can_be_resumed(
    app_runtime: AppRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Failed runs until Snowflake suspends the task: the page shows why, masked, and resumes it on request."""
    bind_both(app_runtime)
    app_runtime.session().call("core.schedule_refresh", "60 MINUTES")

    def http(url: str, headers: Mapping[str, str], timeout: float) -> app.HttpResponse:
        if "/task_runs" in url:
            token = headers["Authorization"].partition(" ")[2]
            return app.HttpResponse(403, {}, json.dumps({"detail": f"plan does not allow {token}"}).encode())
        return app.urllib_get(url, headers, timeout)

    monkeypatch.setattr(app, "HTTP", http)
    for _ in range(app.SUSPEND_AFTER_FAILURES):
        app_runtime.run_task()
    page = _page(app_runtime)
    assert not page.exception
    assert _metrics(page)["Refresh task"] == "auto-suspended"
    errors = [e.value for e in page.error]
    assert any("HTTP 403" in e and "plan does not allow ***" in e for e in errors)
    assert any(w.value.startswith("Next step: Snowflake suspended the refresh task") for w in page.warning)
    assert KEY not in _text(page)
    page = page.button(key="resume").click().run()
    assert page.success[0].value == "Resumed tasks.refresh_orchestra."
    assert app_runtime.tasks[app.TASK].state == "started"


def test_a_failing_procedure_is_shown_as_an_error(app_runtime: AppRuntime) -> None:
    """When core.status() itself fails, the page says so instead of a traceback."""
    app_runtime.fail_on = lambda s: "Insufficient privileges" if s.startswith("CALL core.status") else None
    page = _page(app_runtime)
    assert not page.exception
    assert page.error[0].value == "CALL core.status() failed: Insufficient privileges"


def test_load_now_loads_and_says_what_it_read(app_runtime: AppRuntime) -> None:
    """Once the app is ready, *Load now* runs core.load_all() and reports the rows read per resource."""
    page = _page(app_runtime)
    assert not [b for b in page.button if b.key == "load_now"]  # not before the API objects exist
    bind_both(app_runtime)
    page = _page(app_runtime).button(key="load_now").click().run()
    assert not page.exception
    message = page.success[0].value
    assert message.startswith("Loaded pipeline-runs: ")
    assert message.endswith(" rows read.")
    assert app_runtime.execute("SELECT COUNT(*) FROM public.pipeline_runs").rows[0][0] > 0
    assert _metrics(page)["Refresh task"] == "none"
    assert page.warning[0].value.startswith("Next step: Schedule the refresh")
