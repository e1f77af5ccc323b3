"""Run the Native App's page for real, offline: ``streamlit run scripts/preview_app_page.py``.

The app is installed from its setup script on fakesnow (tests/snowflake_app/_app_runtime.py), both references are
bound through the register callback, the three resources are loaded from the Orchestra emulator (served on
127.0.0.1), the refresh is scheduled and has run once; a failing run of task runs is added when
``PREVIEW_FAILURE=1``. Then the page itself (snowflake_app/streamlit/orchestra_ui.py) runs with that session, as
it runs inside Snowflake with Snowpark's. Nothing leaves the machine.
"""

from __future__ import annotations

import json
import os
import runpy
import sys
import types
from datetime import timedelta
from pathlib import Path
from typing import Any

import streamlit as st

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

PREVIEW_KEY = "preview-key"


@st.cache_resource
def installed_app() -> Any:
    """One installed, loaded and scheduled app for the whole preview (fakesnow stays patched while it runs)."""
    import fakesnow
    import snowflake.connector
    from tests._clock import Clock
    from tests.snowflake_app._app_runtime import DATABASE, AppRuntime

    from eltops._serve import serve_in_thread
    from eltops.orchestra.emulator import BASE_PATH, OrchestraEmulator, Volume
    from eltops.snowflake_app import orchestra_app as app

    clock = Clock()
    emulator = OrchestraEmulator(
        api_key=PREVIEW_KEY, seed=7, volume=Volume(task_runs=480, days=20), now=clock, future_days=1
    )
    serving = serve_in_thread(emulator.wsgi_app)
    server = serving.__enter__()
    secret = types.ModuleType("_snowflake")
    secret.get_generic_secret_string = {"api_key": PREVIEW_KEY}.__getitem__  # type: ignore[attr-defined]
    sys.modules["_snowflake"] = secret
    app.API_URL = server.url + BASE_PATH
    app.CLOCK = clock
    app.RATE_LIMIT_PER_MINUTE = None
    patching = fakesnow.patch()  # kept referenced below: a collected context manager would undo the patch
    patching.__enter__()
    runtime = AppRuntime(snowflake.connector.connect(database=DATABASE, paramstyle="qmark"), clock=clock)
    runtime.run_setup_script()
    session = runtime.session()
    session.call("core.register_reference", "ORCHESTRA_API_KEY", "ADD", "ref_key")
    session.call("core.register_reference", "ORCHESTRA_EAI", "ADD", "ref_eai")
    session.call("core.backfill", (clock() - timedelta(days=20)).date().isoformat())
    session.call("core.schedule_refresh", "60 MINUTES")
    clock.advance(hours=1)
    runtime.run_task()
    if os.environ.get("PREVIEW_FAILURE"):
        real = app.HTTP

        def http(url: str, headers: Any, timeout: float) -> Any:
            if "/task_runs" in url:
                return app.HttpResponse(403, {}, json.dumps({"detail": "plan does not include the API"}).encode())
            return real(url, headers, timeout)

        app.HTTP = http
        clock.advance(hours=1)
        runtime.run_task()
    runtime.keep_alive = (serving, patching)  # type: ignore[attr-defined]
    return runtime


st.session_state["snowpark_session"] = installed_app().session()
runpy.run_path(str(REPO / "snowflake_app" / "streamlit" / "orchestra_ui.py"), run_name="__main__")
