"""The optional parts of eltops, the pip extra that installs each, and the error when one is missing.

``pip install eltops`` runs ``eltops fivetran`` (with DuckDB run history), ``eltops orchestra run|get|load`` into
DuckDB and both emulators. The rest comes with an extra::

    report      eltops report, eltops demo                      plotly
    snowflake   the Snowflake target (load, history, report)    snowflake-connector-python[pandas], pyarrow

A module that needs an extra imports it inside :func:`needs_extra`, which turns the ``ModuleNotFoundError`` of
one of that extra's modules into a :class:`MissingExtraError` (exit 2) naming the pip command that fixes it. Any
other missing module is a bug and goes on as it is.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager

from eltops.errors import ConfigError

__all__ = ["EXTRAS", "MissingExtraError", "needs_extra", "require_extra"]

EXTRAS: dict[str, tuple[str, ...]] = {
    "report": ("plotly",),
    "snowflake": ("snowflake.connector", "pyarrow", "pandas"),
}
"""Each extra and the modules it brings (``snowflake`` alone is a namespace package other installs may hold)."""


class MissingExtraError(ConfigError):
    """A feature's optional dependencies are not installed."""

    def __init__(self, feature: str, extra: str, module: str) -> None:
        super().__init__(
            f"{feature} needs the '{extra}' extra, which is not installed (no module named {module!r}): "
            f"pip install 'eltops[{extra}]'"
        )
        self.extra = extra


@contextmanager
def needs_extra(extra: str, feature: str) -> Iterator[None]:
    """Import an extra's modules inside this block: a missing one raises :class:`MissingExtraError` for ``feature``."""
    try:
        yield
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing.split(".")[0] not in {module.split(".")[0] for module in EXTRAS[extra]}:
            raise
        raise MissingExtraError(feature, extra, missing) from None


def require_extra(extra: str, feature: str) -> None:
    """Raise :class:`MissingExtraError` now, without importing anything, when one of ``extra``'s modules is missing.

    For a check at the edge (a ``snowflake://`` name is parsed before any request or write), where importing the
    modules themselves would cost seconds the command may spend only later.
    """
    with needs_extra(extra, feature):
        for module in EXTRAS[extra]:
            if importlib.util.find_spec(module) is None:
                raise ModuleNotFoundError(f"No module named {module!r}", name=module)
