"""``eltops emulate fivetran|orchestra``: serve the API emulators on loopback."""

from __future__ import annotations

import click

from eltops.cli._app import examples, verbosity_options


@click.group(
    short_help="Serve a vendor API emulator on loopback.",
    epilog=examples("eltops emulate fivetran            # http://127.0.0.1:8765", "eltops emulate orchestra --port 0"),
)
@verbosity_options
def emulate() -> None:
    """Serve a faithful emulator of a vendor API on loopback, to test pipelines offline."""


def _register() -> None:
    from eltops.cli._emulate_fivetran import fivetran_emulator
    from eltops.cli._emulate_orchestra import orchestra_emulator

    emulate.add_command(fivetran_emulator, "fivetran")
    emulate.add_command(orchestra_emulator, "orchestra")


_register()
