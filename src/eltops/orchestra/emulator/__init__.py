"""A faithful emulator of Orchestra's run-metadata API, served over real HTTP on loopback.

::

    emu = OrchestraEmulator(api_key="k", seed=0, volume=Volume(task_runs=2000))
    with serve_in_thread(emu.wsgi_app) as server:
        base_url = server.url + BASE_PATH      # what ORCHESTRA_API_URL should be

It serves ``GET /api/engine/public/pipeline_runs``, ``/task_runs`` and ``/operations`` as the OpenAPI spec
describes them (bearer auth, ``page``/``page_size``, 7-day ``time_from``/``time_to`` windows, the filters, 422
details shaped like FastAPI's), from a history generated deterministically from the seed without holding it
in memory. Runs move with the clock; an optional rate limit and ``fail_next`` exercise a client's retries, and
``inject`` serves faulty pages (large records, an inconsistent window, odd values: see ``_faults``).

It also starts scripted pipelines (``pipelines=``, see ``_runs``): ``POST /pipelines/{id or alias}/start``, the
run's ``/status``, ``/task_runs``, task logs (list and download, with ``Range``) and ``/cancel``; the runs it starts
appear in the three listings too.
"""

import typing

from eltops import _lazy
from eltops.orchestra.emulator._faults import EmptyPage, Fault, PadField, SetValue, parse_fault
from eltops.orchestra.emulator._model import BASE_PATH, DEFAULT_API_KEY, RecordedRequest, Volume

if typing.TYPE_CHECKING:
    from eltops.orchestra.emulator._app import OrchestraEmulator
    from eltops.orchestra.emulator._runs import DEFAULT_PIPELINES, PipelineScript, TaskScript, load_pipelines
else:  # the web framework and YAML are imported when the emulator is built, not for its defaults
    __getattr__, __dir__ = _lazy.lazy_exports(
        __name__,
        {
            "eltops.orchestra.emulator._app": ["OrchestraEmulator"],
            "eltops.orchestra.emulator._runs": ["DEFAULT_PIPELINES", "PipelineScript", "TaskScript", "load_pipelines"],
        },
    )

__all__ = [
    "BASE_PATH",
    "DEFAULT_API_KEY",
    "DEFAULT_PIPELINES",
    "EmptyPage",
    "Fault",
    "OrchestraEmulator",
    "PadField",
    "PipelineScript",
    "RecordedRequest",
    "SetValue",
    "TaskScript",
    "Volume",
    "load_pipelines",
    "parse_fault",
]
