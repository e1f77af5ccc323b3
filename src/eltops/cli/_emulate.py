"""``eltops emulate fivetran|orchestra|openlineage``: serve the API emulators on loopback."""

from __future__ import annotations

import click

from eltops.cli._app import Lazy, LazyGroup, examples, verbosity_options

EMULATORS = {
    "fivetran": Lazy(
        "eltops.cli._emulate_fivetran:fivetran_emulator",
        "Serve the Fivetran API emulator.",
    ),
    "orchestra": Lazy(
        "eltops.cli._emulate_orchestra:orchestra_emulator",
        "Serve the Orchestra API emulator.",
    ),
    "openlineage": Lazy(
        "eltops.cli._emulate_openlineage:openlineage_emulator",
        "Serve an OpenLineage collector that checks events.",
    ),
}


@click.group(
    cls=LazyGroup,
    lazy=EMULATORS,
    epilog=examples(
        "eltops emulate fivetran            # http://127.0.0.1:8765",
        "eltops emulate orchestra --port 0",
        "eltops emulate openlineage         # http://127.0.0.1:8767",
    ),
)
@verbosity_options
def emulate() -> None:
    """Serve a faithful emulator of a vendor API on loopback, to test pipelines offline."""
