"""A faithful emulator of the Fivetran REST API calls a CI orchestrator makes, served as a WSGI app.

Build it in Python (``FivetranEmulator`` + ``add_group`` + ``add_connection``) or from a scenario file, then
serve ``emulator.wsgi_app`` (``eltops._serve.serve_in_thread``, or ``eltops emulate fivetran``).
"""

from eltops.fivetran.emulator._account import RecordedRequest
from eltops.fivetran.emulator._app import PathFamilies
from eltops.fivetran.emulator._emulator import DEFAULT_API_KEY, DEFAULT_API_SECRET, FivetranEmulator
from eltops.fivetran.emulator._scenario import DEMO_SCENARIO
from eltops.fivetran.emulator._script import ConnectionScript, FailureBurst, SetupTest

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_API_SECRET",
    "DEMO_SCENARIO",
    "ConnectionScript",
    "FailureBurst",
    "FivetranEmulator",
    "PathFamilies",
    "RecordedRequest",
    "SetupTest",
]
