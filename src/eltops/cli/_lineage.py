"""The commands' lineage glue: settings read with the command's own (exit 2 before any request), a session per job."""

from __future__ import annotations

from typing import TYPE_CHECKING

from eltops._step_outputs import write_step_outputs
from eltops.cli._app import AppContext
from eltops.secrets import EnvReader

if TYPE_CHECKING:
    from eltops.lineage import LineageSession, LineageSettings

__all__ = ["lineage_settings", "open_lineage", "write_lineage_outputs"]


def lineage_settings(app: AppContext) -> LineageSettings | None:
    """The lineage settings (None: lineage is off); a ConfigError (exit 2) on anything malformed."""
    from eltops.lineage import load_lineage_settings

    return load_lineage_settings(app.env, read=EnvReader(app.env).get)


def open_lineage(app: AppContext, settings: LineageSettings | None) -> LineageSession | None:
    if settings is None:
        return None
    from eltops.lineage import LineageSession

    return LineageSession.open(settings, app.env, console=app.output.stderr, clock=app.clock)


def write_lineage_outputs(app: AppContext, settings: LineageSettings | None) -> None:
    """OPENLINEAGE_PARENT_ID / OPENLINEAGE_ROOT_PARENT_ID for later steps (a dbt-ol step nests under the CI run)."""
    if settings is None:
        return
    from eltops.lineage import parent_step_outputs, placement

    outputs = parent_step_outputs(placement(settings, app.env))
    if outputs:
        write_step_outputs(outputs, app.env)
