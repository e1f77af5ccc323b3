"""``eltops report``: one self-contained HTML page about the run history in a warehouse.

:func:`render` (and so :func:`write_report`) needs Plotly, the ``report`` extra: it is imported on first use, so
that ``eltops --help`` and the other commands work without it, and a missing extra is named when it is needed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from eltops.report._data import ReportData, collect
from eltops.report._source import open_history, write_report

if TYPE_CHECKING:
    from eltops.report._html import render

__all__ = ["ReportData", "collect", "open_history", "render", "write_report"]


def __getattr__(name: str) -> Any:
    if name == "render":
        from eltops.report._html import render

        return render
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
