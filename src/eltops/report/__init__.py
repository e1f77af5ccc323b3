"""``eltops report``: one self-contained HTML page about the run history in a warehouse."""

from eltops.report._data import ReportData, collect
from eltops.report._html import render
from eltops.report._source import open_history, write_report

__all__ = ["ReportData", "collect", "open_history", "render", "write_report"]
