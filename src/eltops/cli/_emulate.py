"""``eltops emulate fivetran|orchestra``: serve the API emulators on loopback."""

from __future__ import annotations

import click

from eltops.cli._app import Lazy, LazyGroup

EMULATORS = {
    "fivetran": Lazy(
        "eltops.cli._emulate_fivetran:fivetran_emulator",
        "Serve an emulated Fivetran REST API on loopback, to test pipelines offline.",
    ),
    "orchestra": Lazy(
        "eltops.cli._emulate_orchestra:orchestra_emulator",
        "Serve Orchestra's pipeline_runs, task_runs and operations endpoints, offline, with generated history.",
    ),
}


@click.group(cls=LazyGroup, lazy=EMULATORS)
def emulate() -> None:
    """Serve a faithful emulator of a vendor API on loopback, to test pipelines offline."""
