"""``eltops report``: one self-contained HTML page about the run history in a warehouse.

:func:`render` (and so :func:`write_report`) needs Plotly, the ``report`` extra: it is imported on first use, so
that ``eltops --help`` and the other commands work without it, and a missing extra is named when it is needed.
"""

import typing

from eltops import _lazy
from eltops.report._data import ReportData, collect
from eltops.report._source import open_history, write_report

if typing.TYPE_CHECKING:
    from eltops.report._html import render
else:
    __getattr__, __dir__ = _lazy.lazy_exports(__name__, {"eltops.report._html": ["render"]})

__all__ = ["ReportData", "collect", "open_history", "render", "write_report"]
