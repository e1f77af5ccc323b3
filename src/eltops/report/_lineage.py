"""The report's lineage section: what one CI run's jobs wrote, as a left-to-right flow and as a table.

It takes the graph :func:`eltops.lineage.receiver.lineage_graph` makes of a run's OpenLineage events (plain data:
``nodes`` and ``edges``), so the report reads no events itself. Flow: the CI pipeline run → its CI jobs → the runs
they drove (Fivetran syncs, Orchestra pipelines and their tasks, eltops' loads) → the tables those wrote.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from typing import Any

import plotly.graph_objects as go

from eltops.secrets import MASKER

__all__ = ["lineage_section"]

_COLOURS = {"dataset": "#2e9d5b", "FAIL": "#d64545", "ABORT": "#8c8c8c", "job": "#3b7dd8", "parent": "#1f2a44"}


def _esc(value: object) -> str:
    return html.escape(MASKER.redact(str(value)))


def _colour(node: Mapping[str, Any], parents: set[str]) -> str:
    if node.get("kind") == "dataset":
        return _COLOURS["dataset"]
    if node.get("state") in ("FAIL", "ABORT"):
        return _COLOURS[str(node["state"])]
    return _COLOURS["parent"] if node["id"] in parents and node.get("state") is None else _COLOURS["job"]


def lineage_section(graph: Mapping[str, Any], *, figure_html: Callable[[go.Figure, str], str]) -> str:
    """The section's HTML (a Sankey diagram and the table of what each job wrote); empty without any edge.

    ``figure_html(figure, div_id)`` writes the chart as the report writes every chart (its script held back until
    plotly.js, packed once in the page, is unpacked)."""
    nodes = list(graph.get("nodes") or [])
    edges = list(graph.get("edges") or [])
    if not nodes or not edges:
        return ""
    index = {node["id"]: i for i, node in enumerate(nodes)}
    parents = {edge["from"] for edge in edges if edge.get("kind") == "parent"}
    labels = [MASKER.redact(str(node.get("name") or node["id"])) for node in nodes]
    figure = go.Figure(
        go.Sankey(
            arrangement="snap",
            node={
                "label": labels,
                "color": [_colour(node, parents) for node in nodes],
                "pad": 14,
                "thickness": 14,
                "customdata": [
                    node.get("namespace") or (node.get("state") or "referenced by its children") for node in nodes
                ],
                "hovertemplate": "%{label}<br>%{customdata}<extra></extra>",
            },
            link={
                "source": [index[e["from"]] for e in edges],
                "target": [index[e["to"]] for e in edges],
                "value": [1] * len(edges),
                "color": ["rgba(46,157,91,.35)" if e["kind"] == "writes" else "rgba(59,125,216,.25)" for e in edges],
            },
        )
    )
    figure.update_layout(
        template="plotly_white",
        height=max(380, 26 * len(nodes)),
        margin={"l": 20, "r": 20, "t": 40, "b": 20},
        title={"text": "Lineage of the last run: CI run → jobs → runs → tables written", "x": 0},
        font={"family": "system-ui, -apple-system, Segoe UI, sans-serif", "size": 12},
    )
    chart = figure_html(figure, "lineage-graph")
    names = {node["id"]: node for node in nodes}
    rows = "".join(
        f"<tr><td>{_esc(names[e['from']].get('name'))}</td><td>{_esc(names[e['from']].get('state') or '')}</td>"
        f"<td>{_esc(names[e['to']].get('namespace'))}</td><td>{_esc(names[e['to']].get('name'))}</td></tr>"
        for e in edges
        if e.get("kind") == "writes"
    )
    table = (
        "<table><thead><tr><th>job</th><th>last event</th><th>dataset namespace</th><th>dataset</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )
    return (
        f'<section id="lineage"><h2>Lineage</h2><p class="note">The OpenLineage events this run sent, as a catalog '
        "(Marquez, DataHub, ...) draws them: each Fivetran sync and the tables it writes, each Orchestra pipeline "
        "run and its tasks, each eltops load and its tables, under the CI job that ran it. Orchestra does not say "
        f"which tables a pipeline reads, so no edge goes from a table to a pipeline.</p>{chart}{table}</section>"
    )
