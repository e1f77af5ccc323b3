"""``eltops demo``: the whole product in under a minute, with no account and no configuration.

Both emulators start in-process on loopback; ``eltops fivetran`` runs START on two connections (one succeeds, one
fails), then TEST and FORCE_RESYNC on a third, then START on it followed by a Fivetran transformation, then CHECK
(the freshness gate), each as a job of one (pretend) GitLab pipeline recording itself;
``eltops orchestra load`` loads the Orchestra emulator's history; everything lands in ``eltops-demo.duckdb`` and
``eltops report`` turns it into ``eltops-demo-report.html``. Every job sends its OpenLineage events to the
``eltops emulate openlineage`` receiver, which checks each against the spec; the report draws the run's lineage.
The servers stop before the command returns.
"""

from __future__ import annotations

import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from eltops.cli._app import AppContext, examples, pass_app, run_command, verbosity_options
from eltops.errors import EltopsError

if TYPE_CHECKING:
    from eltops.fivetran.emulator import FivetranEmulator

DEMO_DB = "eltops-demo.duckdb"
DEMO_REPORT = "eltops-demo-report.html"
KEY, SECRET, ORCHESTRA_KEY = "demo-key", "demo-secret", "demo-orchestra-key"
QUERY_HINT = "`{eltops} report --from {db}` (or query the tables pipeline_runs, task_runs, operations with DuckDB)"

# each step: (what it shows, arguments, exit code it should end with)
STEPS: list[tuple[str, dict[str, str], int]] = [
    (
        "START two connections: demo_shop succeeds, demo_crm fails and says why",
        {
            "FIVETRAN_ACTION": "START",
            "CONNECTOR_ID": "demo_shop,demo_crm",
            "CI_JOB_ID": "101",
            "CI_JOB_NAME": "fivetran-start",
        },
        1,
    ),
    (
        "TEST the setup of demo_erp",
        {"FIVETRAN_ACTION": "TEST", "CONNECTOR_ID": "demo_erp", "CI_JOB_ID": "102", "CI_JOB_NAME": "fivetran-test"},
        0,
    ),
    (
        "FORCE_RESYNC public.orders of demo_erp",
        {
            "FIVETRAN_ACTION": "FORCE_RESYNC",
            "CONNECTOR_ID": "demo_erp",
            "SCHEMA": "public",
            "TABLE": "orders",
            "CI_JOB_ID": "103",
            "CI_JOB_NAME": "fivetran-resync",
        },
        0,
    ),
    (
        "START demo_erp, then its Fivetran transformation erp_marts in the same job (FIVETRAN_THEN_TRANSFORM)",
        {
            "FIVETRAN_ACTION": "START",
            "CONNECTOR_ID": "demo_erp",
            "FIVETRAN_THEN_TRANSFORM": "erp_marts",
            "CI_JOB_ID": "104",
            "CI_JOB_NAME": "fivetran-then-transform",
        },
        0,
    ),
    (
        "CHECK that demo_shop and demo_erp synced within the hour before building marts on them",
        {
            "FIVETRAN_ACTION": "CHECK",
            "CONNECTOR_ID": "demo_shop,demo_erp",
            "FIVETRAN_MAX_AGE": "1h",
            "CI_JOB_ID": "105",
            "CI_JOB_NAME": "fivetran-check",
        },
        0,
    ),
]


def _lineage_config(directory: Path, url: str) -> str:
    """An openlineage.yml sending to ``url`` (the demo's receiver); its path."""
    path = directory / "openlineage.yml"
    path.write_text(f"transport:\n  type: http\n  url: {url}\n", encoding="utf-8")
    return str(path)


def fivetran_demo() -> FivetranEmulator:
    from eltops.fivetran.emulator import (
        ActiveError,
        ConnectionScript,
        FivetranEmulator,
        SetupTest,
        TransformationScript,
    )

    emulator = FivetranEmulator(api_key=KEY, api_secret=SECRET)
    emulator.add_group("demo_group", name="Demo Warehouse")
    emulator.add_connection(
        "demo_shop",
        group_id="demo_group",
        schema="shop_db",
        tables={"public": ["orders", "customers", "products"]},
        script=ConnectionScript(queue_seconds=0.5, sync_seconds=2),
    )
    emulator.add_connection(
        "demo_crm",
        group_id="demo_group",
        schema="crm",
        service="salesforce",
        tables={"salesforce": ["account", "contact", "opportunity"]},
        script=ConnectionScript(
            queue_seconds=0.5,
            sync_seconds=1.5,
            outcome="failure",
            failure_reason="Salesforce rejected the connection's OAuth token (INVALID_SESSION_ID)",
            errors=(
                ActiveError(
                    "reconnect",
                    "Reconnect Salesforce",
                    "The OAuth token has expired or was revoked",
                    "Re-authorize the connection in Fivetran: open its Setup tab and click Reconnect",
                ),
            ),
        ),
    )
    emulator.add_connection(
        "demo_erp",
        group_id="demo_group",
        schema="erp",
        service="sql_server",
        tables={"public": ["orders", "invoices", "customers"]},
        script=ConnectionScript(
            sync_seconds=1.5,
            setup_tests=(
                SetupTest("Connecting to host", "PASSED"),
                SetupTest("Validating certificate", "PASSED"),
                SetupTest("Checking permissions", "PASSED"),
            ),
        ),
    )
    emulator.add_transformation(
        "erp_marts",
        group_id="demo_group",
        name="erp_marts",
        output_model_names=["orders_enriched", "invoice_aging"],
        script=TransformationScript(queue_seconds=0.3, run_seconds=1.5),
    )
    return emulator


def eltops_command() -> str:
    """How to run this eltops from the user's shell: ``eltops`` when that is the one on the PATH, else the full path
    of this installation's script (after ``make demo`` it is ``.venv/bin/eltops``, not on the PATH until the
    virtual environment is activated), else ``python -m eltops`` with this interpreter."""
    script = Path(sys.executable).parent / "eltops"
    found = shutil.which("eltops")
    if found is not None and script.exists() and Path(found).resolve() == script.resolve():
        return "eltops"
    if script.exists():
        return shlex.quote(str(script))
    return f"{shlex.quote(sys.executable)} -m eltops"


def _activate_note() -> str:
    """How to type plain ``eltops`` from now on, when it is not on the PATH yet."""
    activate = Path(sys.prefix) / "bin" / "activate"
    if eltops_command() == "eltops" or not activate.exists():
        return ""
    return f"\n           (or `. {shlex.quote(str(activate))}` first, and then just eltops)"


@click.command(
    short_help="The whole product in ~10 s, against both emulators.",
    epilog=examples(
        "eltops demo                   # writes ./eltops-demo.duckdb and ./eltops-demo-report.html",
        "eltops demo --dir /tmp/demo",
    ),
)
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    help="Where to write eltops-demo.duckdb and the report.",
)
@verbosity_options
@pass_app
def demo(app: AppContext, directory: Path) -> int:
    """Run the whole product against both emulators, into eltops-demo.duckdb, and write a report."""
    from eltops._extras import require_extra
    from eltops._paths import REPORT, output_file
    from eltops._serve import serve_in_thread
    from eltops.lineage.receiver import LineageReceiver, last_run, lineage_graph
    from eltops.orchestra.emulator import OrchestraEmulator, Volume
    from eltops.report import write_report
    from eltops.warehouse import DuckDbSpec

    require_extra("report", "eltops demo")  # the demo ends with a report: a missing extra fails before any work

    started = time.monotonic()
    out = app.output
    directory.mkdir(parents=True, exist_ok=True)
    output_file(directory / DEMO_REPORT, REPORT)  # an earlier demo's report is replaced, nothing else
    db = (directory / DEMO_DB).resolve()
    for stale in (db, db.with_name(db.name + ".wal")):
        stale.unlink(missing_ok=True)
    orchestra = OrchestraEmulator(api_key=ORCHESTRA_KEY, seed=7, volume=Volume(task_runs=4000, days=6.9))
    unexpected: list[str] = []
    receiver = LineageReceiver()
    with (
        tempfile.TemporaryDirectory(prefix="eltops-demo-") as config_dir_name,
        serve_in_thread(fivetran_demo().wsgi_app) as fivetran_server,
        serve_in_thread(orchestra.wsgi_app) as orch,
        serve_in_thread(receiver) as lineage_server,
    ):
        config_dir = Path(config_dir_name)
        env = {
            **{k: v for k, v in app.env.items() if k in ("PATH", "HOME", "TERM", "NO_COLOR")},
            "FIVETRAN_API_URL": fivetran_server.url,
            "FIVETRAN_API_KEY": KEY,
            "FIVETRAN_API_SECRET": SECRET,
            "FIVETRAN_POLL_INTERVAL": "0.5",
            "FIVETRAN_TIMEOUT": "60",
            "ORCHESTRA_API_URL": f"{orch.url}/api/engine/public",
            "ORCHESTRA_API_KEY": ORCHESTRA_KEY,
            "ORCHESTRA_RATE_LIMIT": "0",
            "ELTOPS_WAREHOUSE": str(db),
            # every job's lineage goes to the receiver, which checks each event against the OpenLineage spec (an
            # openlineage.yml of its own: one in the user's home would otherwise win over any variable)
            "OPENLINEAGE_CONFIG": _lineage_config(config_dir, lineage_server.url),
            "OPENLINEAGE_NAMESPACE": "demo",
            # the Fivetran jobs record themselves as jobs of one GitLab pipeline
            "GITLAB_CI": "true",
            "CI_PROJECT_PATH": "acme/analytics",
            "CI_PIPELINE_ID": "4711",
            "CI_PIPELINE_URL": "https://gitlab.example.com/acme/analytics/-/pipelines/4711",
            "CI_COMMIT_REF_NAME": "main",
            "CI_COMMIT_SHA": "9fceb02d0ae598e95dc970b74767f19372d61af8",
        }
        for title, variables, expected in STEPS:
            out.line(f"\n== {title}")
            code = run_command(["fivetran"], env={**env, **variables}, output=out)
            if code != expected:
                unexpected.append(f"{title}: exit {code}, expected {expected}")
        out.line("\n== Load the Orchestra emulator's run history")
        code = run_command(
            ["orchestra", "load"], env={**env, "CI_JOB_ID": "104", "CI_JOB_NAME": "orchestra-load"}, output=out
        )
        if code != 0:
            unexpected.append(f"orchestra load: exit {code}")
    if receiver.rejected:
        unexpected.append(f"the lineage receiver refused {receiver.rejected} event(s) as not valid OpenLineage")
    events = receiver.events
    report_path = (directory / DEMO_REPORT).resolve()
    data = write_report(DuckDbSpec(db), report_path, since=None, lineage=lineage_graph(last_run(events)))
    head = data.headline
    out.line(
        f"\n== Done in {time.monotonic() - started:.0f} s\n"
        f"Warehouse: {db}\n"
        f"  pipeline_runs {head.pipeline_runs:,} · task_runs {head.task_runs:,} · operations {head.operations:,}\n"
        f"Lineage:   {len(events)} OpenLineage events, each valid against the spec (drawn in the report)\n"
        f"Report:    {report_path}\n"
        f"Next:      {QUERY_HINT.format(eltops=eltops_command(), db=shlex.quote(db.name))}{_activate_note()}"
    )
    if unexpected:
        raise EltopsError("the demo did not go as scripted: " + "; ".join(unexpected))
    return 0
