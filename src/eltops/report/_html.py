"""Render :class:`ReportData` as one self-contained HTML page: Plotly charts (its JavaScript inlined once,
gzip-compressed, so the file opens with no network and weighs 2 MB rather than 5) and plain HTML tables for the
exact figures."""

from __future__ import annotations

import base64
import functools
import gzip
import html
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from eltops._extras import needs_extra

with needs_extra("report", "eltops report"):
    import plotly.graph_objects as go
    import plotly.io as pio
    from plotly.offline import get_plotlyjs
    from plotly.subplots import make_subplots

from eltops import __version__
from eltops.report._data import AnomalousRun, DayCost, ReportData
from eltops.report._lineage import lineage_section
from eltops.secrets import MASKER

STATUS_COLOURS = {
    "SUCCEEDED": "#2e9d5b",
    "WARNING": "#e3a008",
    "FAILED": "#d64545",
    "CANCELLED": "#8c8c8c",
    "CANCELLING": "#b0b0b0",
    "SKIPPED": "#c7c7c7",
    "RUNNING": "#3b7dd8",
    "QUEUED": "#86b3ee",
    "CREATED": "#a9c9f5",
}
DEFAULT_HEIGHT = 380
LAYOUT = {
    "template": "plotly_white",
    "margin": {"l": 60, "r": 20, "t": 50, "b": 50},
    "height": DEFAULT_HEIGHT,
    "font": {"family": "system-ui, -apple-system, Segoe UI, sans-serif", "size": 12},
    "legend": {"orientation": "h", "yanchor": "top", "y": -0.12, "x": 0},
    "separators": ".,",  # 1,234 and 1.5: the same separators as the tables
}
DAY_AXIS = {"type": "date", "tickformat": "%b %-d", "hoverformat": "%Y-%m-%d"}
"""Days as one-line ticks (Dec 3): plotly's default adds the year on a second line under the first tick, where a
legend below the plot covers it; the header says the period, year included."""
PLOT_CONFIG = {"displayModeBar": False, "responsive": True}  # no toolbar: the figures are read, not edited
PERCENTILES = (("p50", "#3b7dd8"), ("p90", "#e3a008"), ("p99", "#d64545"))
MAX_TREND_PIPELINES = 8
NONE = "\N{EN DASH}"

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; background: #f6f7f9; color: #1f2328; }
header { background: #1f2a44; color: #fff; padding: 20px 32px; }
header h1 { margin: 0 0 4px; font-size: 22px; }
header p { margin: 0; opacity: .8; font-size: 13px; }
main { padding: 24px 32px; max-width: 1400px; margin: auto; }
.tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(170px, 1fr)); gap: 12px; margin-bottom: 20px; }
.tile { background: #fff; border-radius: 8px; padding: 14px 16px; box-shadow: 0 1px 2px rgba(0,0,0,.08); }
.tile { min-width: 0; }
.tile .value { font-size: 20px; font-weight: 600; font-variant-numeric: tabular-nums; white-space: nowrap; }
.tile .label { font-size: 12px; color: #57606a; text-transform: uppercase; letter-spacing: .04em; }
.tile .note { font-size: 11px; color: #57606a; margin-top: 4px; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr)); gap: 16px; }
.grid section { min-width: 0; }
.grid section.wide { grid-column: 1 / -1; }
section { background: #fff; border-radius: 8px; padding: 12px 16px; box-shadow: 0 1px 2px rgba(0,0,0,.08);
  margin-bottom: 16px; }
section h2 { font-size: 15px; margin: 6px 0 8px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid #eaecef; vertical-align: top; }
th { color: #57606a; font-weight: 600; }
th.num, td.num { text-align: right; font-variant-numeric: tabular-nums; }
.chart-note { font-size: 12px; color: #57606a; margin: 0 0 4px; }
td.msg { font-family: ui-monospace, monospace; font-size: 12px; white-space: pre-wrap; word-break: break-word; }
.empty { color: #57606a; font-style: italic; }
"""


def _esc(value: object) -> str:
    return html.escape(MASKER.redact(str(value)))


def _seconds(value: float | None) -> str:
    if value is None:
        return NONE
    if value < 120:
        return f"{value:.1f} s"
    if value < 7200:
        return f"{value / 60:.1f} min"
    return f"{value / 3600:.1f} h"


def _percent(rate: float) -> str:
    """A rate as the page writes it everywhere, charts and tables alike: one decimal (3.7%)."""
    return f"{rate:.1%}"


def _si(value: float) -> str:
    """A count in SI form for a chart label (1.2k, 200M), as the axis ticks write it."""
    for size, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.3g}{suffix}"
    return f"{value:,.0f}"


def _when(moment: datetime | None) -> str:
    return NONE if moment is None else moment.strftime("%Y-%m-%d %H:%M UTC")


def _cell(value: object) -> str:
    """A count with thousands separators; anything else as it is."""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _table(
    headers: Sequence[str], rows: Iterable[Sequence[object]], numeric: Sequence[int] = (), message: int = -1
) -> str:
    num = ' class="num"'
    head = "".join(f"<th{num if i in numeric else ''}>{_esc(h)}</th>" for i, h in enumerate(headers))
    body = []
    for row in rows:
        cells = []
        for i, value in enumerate(row):
            cls = ' class="num"' if i in numeric else (' class="msg"' if i == message else "")
            cells.append(f"<td{cls}>{_esc(_cell(value))}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    if not body:
        return '<p class="empty">Nothing in this period.</p>'
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _figure_html(fig: go.Figure, *, div_id: str) -> str:
    """The chart's div and its drawing script, held back (``type`` :data:`DEFERRED`) until plotly.js is unpacked."""
    height = fig.layout.height or DEFAULT_HEIGHT
    fig.update_layout(**{**LAYOUT, "height": height})
    text = str(
        pio.to_html(
            fig,
            full_html=False,
            include_plotlyjs=False,
            div_id=div_id,
            default_width="100%",
            default_height=f"{height}px",
            config=PLOT_CONFIG,
        )
    )
    drawing = re.sub(r'<script(?: type="text/javascript")?>', f'<script type="{DEFERRED}">', text)
    if drawing.count(DEFERRED) != text.count("<script"):  # a Plotly that writes its scripts otherwise
        raise AssertionError("a chart's script was not held back until plotly.js is unpacked")
    return drawing


DEFERRED = "text/x-eltops-chart"
"""The type of a chart's drawing script: not run as the page is read (plotly.js is not there yet), but by
:data:`UNPACK` once it is."""

UNPACK = f"""<script>
(async () => {{
  const packed = document.getElementById("plotly-js-gzip");
  if (!("DecompressionStream" in window)) {{
    packed.insertAdjacentHTML("afterend", '<p class="empty">This browser cannot unpack the charts ' +
      '(it lacks DecompressionStream); every figure is also in the tables.</p>');
    return;
  }}
  const bytes = Uint8Array.from(atob(packed.textContent.trim()), (c) => c.charCodeAt(0));
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  const library = document.createElement("script");
  library.text = await new Response(stream).text();
  document.head.appendChild(library);
  for (const chart of document.querySelectorAll('script[type="{DEFERRED}"]')) {{
    const draw = document.createElement("script");
    draw.text = chart.textContent;
    chart.replaceWith(draw);
  }}
  window.dispatchEvent(new Event("resize"));
}})();
</script>"""
"""Unpacks plotly.js (inlined once, gzip-compressed: 1.5 MB instead of 4.8 MB; :func:`_packed_plotly`), runs it,
then draws every chart. Every current browser has DecompressionStream (Chrome 80, Firefox 113, Safari 16.4); an
older one says so, and the tables still hold every figure."""


@functools.cache
def _packed_plotly() -> str:
    """plotly.js (the one the installed Plotly ships), gzip-compressed and base64-encoded, once per process."""
    library = get_plotlyjs().encode()
    return base64.b64encode(gzip.compress(library, compresslevel=9, mtime=0)).decode()


def _bar_height(bars: int) -> int:
    """A horizontal bar chart tall enough for every bar to be read (about 18 px each)."""
    return max(DEFAULT_HEIGHT, 120 + 18 * bars)


def _runs_by_day(data: ReportData) -> go.Figure:
    by_status: dict[str, dict[str, int]] = defaultdict(dict)
    for row in data.runs_by_day:
        by_status[row.status][row.day.isoformat()] = row.runs
    fig = go.Figure()
    for status in sorted(by_status, key=lambda s: list(STATUS_COLOURS).index(s) if s in STATUS_COLOURS else 99):
        days = sorted(by_status[status])
        fig.add_bar(
            x=days, y=[by_status[status][d] for d in days], name=status, marker_color=STATUS_COLOURS.get(status)
        )
    fig.update_layout(
        barmode="stack",
        title="Pipeline runs per day, by status",
        yaxis={"title": "runs", "tickformat": ",d"},
        xaxis=DAY_AXIS,
    )
    return fig


def _duration_trend(data: ReportData) -> go.Figure:
    busiest = [p.pipeline_name for p in sorted(data.pipeline_durations, key=lambda p: -p.runs)][:MAX_TREND_PIPELINES]
    fig = go.Figure()
    for name in busiest:
        points = [row for row in data.duration_trend if row.pipeline_name == name]
        fig.add_scatter(
            x=[p.day.isoformat() for p in points],
            y=[p.median / 60 for p in points],
            mode="lines+markers",
            name=name,
        )
    pipelines = len(data.pipeline_durations)
    title = "Median pipeline duration per day"
    if pipelines > len(busiest):  # say what is left out: every pipeline is in the durations table
        title += f"<br><sup>the {len(busiest)} busiest of {pipelines} pipelines; all are in the table below</sup>"
    fig.update_layout(title=title, yaxis_title="minutes", xaxis=DAY_AXIS)
    return fig


def _percentiles(data: ReportData) -> go.Figure:
    """Horizontal bars (names read level, never clipped), each labelled with its value so a short one is seen."""
    rows = list(reversed(data.pipeline_durations[: MAX_TREND_PIPELINES * 2]))
    names = [r.pipeline_name for r in rows]
    fig = go.Figure()
    for label, colour in reversed(PERCENTILES):
        values = [getattr(r, label) for r in rows]
        fig.add_bar(
            y=names,
            x=[v / 60 for v in values],
            orientation="h",
            name=label,
            marker_color=colour,
            text=[_seconds(v) for v in values],
            textposition="outside",
            cliponaxis=False,
            textfont={"size": 10},
        )
    longest = max((r.p99 for r in rows), default=0) / 60
    fig.update_layout(
        barmode="group",
        title="Pipeline duration percentiles",
        xaxis={"title": "minutes", "range": [0, longest * 1.25 or 1]},
        yaxis={"automargin": True},
        legend={"traceorder": "reversed"},
        height=_bar_height(3 * len(rows)),
    )
    return fig


def _slowest_tasks(data: ReportData) -> go.Figure:
    rows = list(reversed(data.slowest_tasks))
    fig = go.Figure()
    fig.add_bar(
        y=[r.task_name for r in rows],
        x=[r.p90 / 60 for r in rows],
        orientation="h",
        name="p90",
        marker_color="#e3a008",
        text=[f"{_seconds(r.p90)} (p50 {_seconds(r.p50)})" for r in rows],
        textposition="outside",
        cliponaxis=False,
        textfont={"size": 10, "color": "#1f2328"},
    )
    fig.add_bar(
        y=[r.task_name for r in rows], x=[r.p50 / 60 for r in rows], orientation="h", name="p50", marker_color="#3b7dd8"
    )
    longest = max((r.p90 for r in rows), default=0) / 60
    fig.update_layout(
        title="Slowest tasks (p90 duration)",
        xaxis={"title": "minutes", "range": [0, longest * 1.45 or 1]},
        barmode="overlay",
        yaxis={"automargin": True},
        height=_bar_height(len(rows)),
    )
    return fig


def _failing_tasks(data: ReportData) -> go.Figure:
    rows = list(reversed(data.failing_tasks))
    fig = go.Figure()
    fig.add_bar(
        y=[r.task_name for r in rows],
        x=[r.failures for r in rows],
        orientation="h",
        marker_color="#d64545",
        text=[f"{r.failures:,} of {r.runs:,} runs ({_percent(r.failure_rate)})" for r in rows],
        textposition="outside",  # beside the bar, in the page's text colour: readable whatever the bar's length
        textfont={"size": 11, "color": "#1f2328"},
        cliponaxis=False,
        name="failures",
    )
    most = max((r.failures for r in rows), default=0)
    fig.update_layout(
        title="Most failing tasks",
        xaxis={"title": "failed runs", "tickformat": ",d", "range": [0, most * 1.6 or 1]},
        yaxis={"automargin": True},
        showlegend=False,
        height=_bar_height(len(rows)),
    )
    return fig


def _integrations(data: ReportData) -> go.Figure:
    """Two panels side by side, each on its own axis: no bars on top of each other, round ticks on both."""
    rows = list(reversed(data.integrations))
    names = [r.integration for r in rows]
    fig = make_subplots(
        rows=1, cols=2, shared_yaxes=True, horizontal_spacing=0.06, subplot_titles=("operations", "rows affected")
    )
    fig.add_bar(
        y=names,
        x=[r.operations for r in rows],
        orientation="h",
        name="operations",
        marker_color="#3b7dd8",
        text=[f"{r.operations:,}" for r in rows],
        textposition="outside",
        cliponaxis=False,
        textfont={"size": 10, "color": "#1f2328"},
        row=1,
        col=1,
    )
    fig.add_bar(
        y=names,
        x=[r.rows_affected for r in rows],
        orientation="h",
        name="rows affected",
        marker_color="#2e9d5b",
        text=[_si(r.rows_affected) for r in rows],
        textposition="outside",
        cliponaxis=False,
        textfont={"size": 10, "color": "#1f2328"},
        row=1,
        col=2,
    )
    most_operations = max((r.operations for r in rows), default=0)
    most_rows = max((r.rows_affected for r in rows), default=0)
    fig.update_xaxes(tickformat=",d", range=[0, most_operations * 1.35 or 1], row=1, col=1)
    # 200M, 400M: SI prefixes on round steps; room on the right for the labels
    fig.update_xaxes(tickformat="~s", range=[0, most_rows * 1.35 or 1], row=1, col=2)
    fig.update_yaxes(automargin=True)
    fig.update_layout(
        title="Operations and rows affected per integration", showlegend=False, height=_bar_height(len(rows))
    )
    return fig


def _cost_over_time(rows: tuple[DayCost, ...], title: str, limit: int = MAX_TREND_PIPELINES) -> go.Figure:
    """Stacked daily cost of the costliest names (the rest summed as "other"), so the total per day reads too."""
    totals: dict[str, float] = defaultdict(float)
    for row in rows:
        totals[row.name] += row.cost
    top = sorted(totals, key=lambda n: -totals[n])[:limit]
    by_name: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for row in rows:
        by_name[row.name if row.name in top else "other"][row.day.isoformat()] += row.cost
    currency = next((r.currency for r in rows if r.currency), "")
    fig = go.Figure()
    for name in [*top, *(["other"] if "other" in by_name else [])]:
        days = sorted(by_name[name])
        fig.add_bar(x=days, y=[by_name[name][d] for d in days], name=name)
    if not rows:
        title += "<br><sup>no operation carries a cost yet</sup>"
    fig.update_layout(
        barmode="stack", title=title, xaxis=DAY_AXIS, yaxis={"title": currency or "cost", "tickformat": ",.2f"}
    )
    return fig


def _anomalies(data: ReportData) -> go.Figure:
    """The flagged runs, by how far above their baseline their duration was."""
    rows = list(reversed(data.anomalous_runs))
    labels = [f"{r.pipeline_name} · {_when(r.at)}" for r in rows]
    fig = go.Figure()
    fig.add_bar(
        y=labels,
        x=[r.percent_above_baseline for r in rows],
        orientation="h",
        marker_color="#e3a008",
        text=[f"+{r.percent_above_baseline:.0f}%: {_seconds(r.observed_seconds)}, {_baseline(r)}" for r in rows],
        textposition="outside",
        textfont={"size": 11, "color": "#1f2328"},
        cliponaxis=False,
        name="above baseline",
    )
    most = max((r.percent_above_baseline for r in rows), default=0)
    title = "Anomalous pipeline runs (duration above baseline)"
    if not rows:
        title += "<br><sup>Orchestra flagged no run</sup>"
    fig.update_layout(
        title=title,
        xaxis={"title": "% above baseline", "range": [0, most * 2.4 or 1]},
        yaxis={"automargin": True},
        showlegend=False,
        height=_bar_height(len(rows)),
    )
    return fig


def _baseline(run: AnomalousRun) -> str:
    return f"baseline {_seconds(run.threshold_seconds)}"


def _money(value: float, currency: str) -> str:
    return f"{value:,.2f} {currency}".strip()


def _span(first: datetime | None, last: datetime | None) -> str:
    return "no runs" if first is None else f"runs from {_when(first)} to {_when(last)}"


def _page(data: ReportData, source: str, period: str, main: str, *, scripts: str = "") -> str:
    """The document around ``main``: the header (source, period, first and last run, when and by what)."""
    h = data.headline
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="generator" content="eltops {_esc(__version__)}">
<title>eltops run history</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{CSS}</style></head>
<body><header><h1>Run history</h1>
<p>{_esc(source)} · {_esc(period)} · {_esc(_span(h.first_run, h.last_run))} ·
generated {_esc(_when(data.generated_at))} by eltops {_esc(__version__)}</p></header>
<main>{main}</main>{scripts}</body></html>
"""


def _nothing_yet(data: ReportData, source: str, period: str, named: str) -> str:
    """The page of a warehouse with no run in the period: says so and how to get some, instead of empty charts."""
    where = f"since {_when(data.since)}" if data.since else "yet"
    body = (
        f'<section id="no-runs"><h2>No runs {_esc(where)}</h2>'
        f"<p>{_esc(source)} holds no pipeline run, task run or operation {_esc(where)}, so there is nothing to "
        "chart. Load some history into it, then write the report again:</p><ul>"
        f"<li><code>eltops orchestra load --to {_esc(named)}</code>: your Orchestra account's runs (the last 7 "
        "days, or from <code>--since DATE</code>)</li>"
        f"<li><code>eltops fivetran ... --record-to {_esc(named)}</code>: each Fivetran job records itself</li>"
        "<li><code>eltops demo</code>: a made-up week of history, and its report, to see what this page shows</li>"
        "</ul>"
        + ("<p>Or write the report without <code>--since</code>: older runs are not shown.</p>" if data.since else "")
        + "</section>"
    )
    return _page(data, source, period, body)


def render(data: ReportData, *, source: str, named: str = "WAREHOUSE", lineage: Mapping[str, Any] | None = None) -> str:
    """The whole report as one HTML document; ``named`` is the warehouse as a command line names it; with
    ``lineage`` (a run's lineage graph) a section drawing it."""
    h = data.headline
    period = f"since {_when(data.since)}" if data.since else "all history"
    if not (h.pipeline_runs or h.task_runs or h.operations):
        return _nothing_yet(data, source, period, named)
    rate = NONE if h.success_rate is None else _percent(h.success_rate)
    finished = f"{h.pipeline_runs_succeeded:,} SUCCEEDED of {h.pipeline_runs_finished:,} finished"
    notes = {"pipeline success rate": f"{finished}; WARNING, SKIPPED and CANCELLED count as not succeeded"}
    tiles = [
        ("pipeline runs", f"{h.pipeline_runs:,}"),
        ("pipeline success rate", rate),
        ("failed pipeline runs", f"{h.pipeline_runs_failed:,}"),
        ("task runs", f"{h.task_runs:,}"),
        ("failed task runs", f"{h.task_runs_failed:,}"),
        ("operations", f"{h.operations:,}"),
        ("rows affected", f"{h.rows_affected:,}"),
    ]
    if data.cost_by_pipeline:
        currency = next((r.currency for r in data.cost_by_pipeline if r.currency), "")
        tiles.append(("cost", _money(sum(r.cost for r in data.cost_by_pipeline), currency)))
    if data.anomalous_runs:
        tiles.append(
            ("anomalous runs", f"{len(data.anomalous_runs):,}" + ("+" if len(data.anomalous_runs) >= 15 else ""))
        )
    tile_html = "".join(
        f'<div class="tile" data-metric="{_esc(label)}"><div class="value">{_esc(value)}</div>'
        f'<div class="label">{_esc(label)}</div>'
        + (f'<div class="note">{_esc(notes[label])}</div>' if label in notes else "")
        + "</div>"
        for label, value in tiles
    )
    charts = [
        ("runs-by-day", _runs_by_day(data)),
        ("duration-trend", _duration_trend(data)),
        ("duration-percentiles", _percentiles(data)),
        ("slowest-tasks", _slowest_tasks(data)),
        ("failing-tasks", _failing_tasks(data)),
        ("integrations", _integrations(data)),
        ("cost-by-pipeline", _cost_over_time(data.cost_by_pipeline, "Cost per pipeline per day")),
        ("cost-by-integration", _cost_over_time(data.cost_by_integration, "Cost per integration per day")),
        ("anomalous-runs", _anomalies(data)),
    ]
    figures = [fig for _, fig in charts]
    for left, right in zip(figures[::2], figures[1::2], strict=False):  # side by side at 1400 px: one height,
        height = max(left.layout.height or DEFAULT_HEIGHT, right.layout.height or DEFAULT_HEIGHT)  # no half-empty card
        left.update_layout(height=height)
        right.update_layout(height=height)
    wide = len(charts) - 1 if len(charts) % 2 else -1  # a last chart alone in its row takes the whole row
    chart_html = "".join(
        ('<section class="wide">' if i == wide else "<section>") + _figure_html(fig, div_id=name) + "</section>"
        for i, (name, fig) in enumerate(charts)
    )
    tables = [
        (
            "Pipeline durations",
            "pipeline-durations",
            _table(
                ["pipeline", "runs", "p50", "p90", "p99", "max"],
                [
                    (r.pipeline_name, r.runs, _seconds(r.p50), _seconds(r.p90), _seconds(r.p99), _seconds(r.max))
                    for r in data.pipeline_durations
                ],
                numeric=(1, 2, 3, 4, 5),
            ),
        ),
        (
            "Recent failures",
            "recent-failures",
            _table(
                ["when", "pipeline", "task", "integration", "message"],
                [(_when(f.at), f.pipeline_name, f.task_name, f.integration, f.message) for f in data.recent_failures],
                message=4,
            ),
        ),
        (
            "Most failing tasks",
            "failing-tasks-table",
            _table(
                ["task", "integration", "runs", "failures", "failure rate"],
                [
                    (t.task_name, t.integration, t.runs, t.failures, _percent(t.failure_rate))
                    for t in data.failing_tasks
                ],
                numeric=(2, 3, 4),
            ),
        ),
        (
            "Operations per integration",
            "integrations-table",
            _table(
                ["integration", "operations", "failed", "rows affected"],
                [(r.integration, r.operations, r.failed, r.rows_affected) for r in data.integrations],
                numeric=(1, 2, 3),
            ),
        ),
    ]
    tables += [
        (
            "Most expensive pipeline runs",
            "expensive-runs",
            _table(
                ["when", "pipeline", "run", "status", "operations", "cost"],
                [
                    (_when(r.at), r.pipeline_name, r.run_id, r.status, r.operations, _money(r.cost, r.currency))
                    for r in data.expensive_runs
                ],
                numeric=(4, 5),
            ),
        ),
        (
            "Anomalous pipeline runs",
            "anomalous-runs-table",
            _table(
                ["when", "pipeline", "run", "status", "above baseline", "took", "baseline", "anomalies"],
                [
                    (
                        _when(r.at),
                        r.pipeline_name,
                        r.run_id,
                        r.status,
                        f"{r.percent_above_baseline:.0f}%",
                        _seconds(r.observed_seconds),
                        _seconds(r.threshold_seconds),
                        r.anomalies,
                    )
                    for r in data.anomalous_runs
                ],
                numeric=(4, 5, 6, 7),
            ),
        ),
    ]
    table_html = "".join(f'<section id="{tid}"><h2>{_esc(title)}</h2>{body}</section>' for title, tid, body in tables)
    lineage_html = (
        lineage_section(lineage, figure_html=lambda fig, div_id: _figure_html(fig, div_id=div_id)) if lineage else ""
    )
    main = f'<div class="tiles">{tile_html}</div><div class="grid">{chart_html}</div>{lineage_html}{table_html}'
    packed = f'<script type="application/gzip;base64" id="plotly-js-gzip">{_packed_plotly()}</script>'
    return _page(data, source, period, main, scripts=packed + UNPACK)
