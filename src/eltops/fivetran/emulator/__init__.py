"""A faithful emulator of the Fivetran REST API calls a CI orchestrator makes, served as a WSGI app.

Build it in Python (``FivetranEmulator`` + ``add_group`` + ``add_connection``) or from a scenario file, then
serve ``emulator.wsgi_app`` (``eltops._serve.serve_in_thread``, or ``eltops emulate fivetran``). Each name is
imported on first use (``eltops._lazy``): the defaults and the scenario need no web framework.
"""

import typing

from eltops import _lazy

if typing.TYPE_CHECKING:
    from eltops.fivetran.emulator._account import DEFAULT_API_KEY, DEFAULT_API_SECRET, RecordedRequest
    from eltops.fivetran.emulator._app import PathFamilies
    from eltops.fivetran.emulator._emulator import FivetranEmulator
    from eltops.fivetran.emulator._scenario import DEMO_SCENARIO
    from eltops.fivetran.emulator._script import ActiveError, ConnectionScript, FailureBurst, SetupTest
    from eltops.fivetran.emulator._transformations import TransformationScript
else:
    __getattr__, __dir__ = _lazy.lazy_exports(
        __name__,
        {
            "eltops.fivetran.emulator._account": ["DEFAULT_API_KEY", "DEFAULT_API_SECRET", "RecordedRequest"],
            "eltops.fivetran.emulator._app": ["PathFamilies"],
            "eltops.fivetran.emulator._emulator": ["FivetranEmulator"],
            "eltops.fivetran.emulator._scenario": ["DEMO_SCENARIO"],
            "eltops.fivetran.emulator._script": ["ActiveError", "ConnectionScript", "FailureBurst", "SetupTest"],
            "eltops.fivetran.emulator._transformations": ["TransformationScript"],
        },
    )

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_API_SECRET",
    "DEMO_SCENARIO",
    "ActiveError",
    "ConnectionScript",
    "FailureBurst",
    "FivetranEmulator",
    "PathFamilies",
    "RecordedRequest",
    "SetupTest",
    "TransformationScript",
]
