"""The emulator's page of a run, at the address the Orchestra app uses (``/pipeline-runs/{id}/lineage``).

``eltops orchestra run`` prints that link (and records it), and each started task run's ``platformLink`` is the same
page with ``?taskRunId=``: so every link the emulator hands out for a run it started opens something. The page is
small HTML (the run, its tasks, the chosen task marked), or the run's and tasks' records as JSON when the client
asks for ``application/json``. The runs of the generated history have no page (their links, like the Fivetran,
Airbyte and Snowflake links of their tasks, are realistic placeholders): a 404 page says so.
"""

from __future__ import annotations

import html

import orjson
from werkzeug.wrappers import Request, Response

from eltops.orchestra.emulator._runs import RunBook

__all__ = ["run_page"]

_CSS = (
    "body{font-family:system-ui,sans-serif;margin:24px;color:#1f2328}table{border-collapse:collapse}"
    "th,td{text-align:left;padding:4px 10px;border-bottom:1px solid #eaecef}tr.chosen{background:#fff4c2}"
    ".note{color:#57606a;font-size:13px}"
)


def run_page(request: Request, book: RunBook, run_id: str, now: int) -> Response:
    """The page of the started run ``run_id`` (HTML, or JSON for ``Accept: application/json``), else a 404 page."""
    wants_json = request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json"
    run = book.run(run_id)
    if run is None:
        detail = (
            f"No run {run_id} was started on this emulator. It serves a page for each run it started "
            "(eltops orchestra run); the runs of its generated history have none."
        )
        if wants_json:
            return Response(orjson.dumps({"detail": detail}), status=404, content_type="application/json")
        return _html("Run not found", f"<p>{html.escape(detail)}</p>", status=404)
    record = book.pipeline_run(run, now)
    tasks = [book.task_run(run, task, now) for task in run.tasks]
    if wants_json:
        return Response(orjson.dumps({"pipelineRun": record, "taskRuns": tasks}), content_type="application/json")
    chosen = request.args.get("taskRunId")
    rows = "".join(
        f'<tr id="{html.escape(t["id"])}"{" class=chosen" if t["id"] == chosen else ""}>'
        + "".join(
            f"<td>{html.escape(str(t.get(k) or ''))}</td>"
            for k in ("taskName", "integration", "status", "startedAt", "completedAt", "message")
        )
        + "</tr>"
        for t in tasks
    )
    body = (
        f"<h1>{html.escape(str(record['pipelineName']))}: {html.escape(str(record['runStatus']))}</h1>"
        f'<p class="note">run {html.escape(run_id)} · created {html.escape(str(record["createdAt"]))} · '
        f"completed {html.escape(str(record['completedAt'] or 'not yet'))} · served by the eltops Orchestra "
        "emulator</p><table><thead><tr><th>task</th><th>integration</th><th>status</th><th>started</th>"
        f"<th>completed</th><th>message</th></tr></thead><tbody>{rows}</tbody></table>"
    )
    return _html(f"{record['pipelineName']} run", body)


def _html(title: str, body: str, *, status: int = 200) -> Response:
    page = (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{_CSS}</style></head><body>{body}</body></html>"
    )
    return Response(page, status=status, content_type="text/html; charset=utf-8")
