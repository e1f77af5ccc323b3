"""`eltops demo` sends every job's lineage to the receiver, and the report draws the run's graph."""

from __future__ import annotations

import re

from tests.report.conftest import DemoRun, demo_run  # noqa: F401  (the demo, run once per session)


def test_the_demo_sends_valid_lineage_and_the_report_draws_it(demo_run: DemoRun) -> None:  # noqa: F811
    """Every event the demo's jobs send is accepted by the spec-checking receiver; the report shows the graph."""
    assert demo_run.code == 0, demo_run.stderr[-3000:]
    found = re.search(r"Lineage:\s+(\d+) OpenLineage events, each valid against the spec", demo_run.stderr)
    assert found is not None, demo_run.stderr[-2000:]
    # START and end of: demo_shop, demo_crm, the re-sync of demo_erp, its sync before erp_marts runs, the load
    assert int(found.group(1)) == 10
    page = demo_run.report.read_text()
    section = page[page.index('<section id="lineage">') :]
    section = section[: section.index("</section>")]
    assert 'id="lineage-graph"' in section  # the Sankey diagram
    for job, dataset in [
        ("fivetran.demo_shop", "RAW.shop_db_public.orders"),
        ("fivetran.demo_crm", "RAW.crm.account"),
        ("fivetran.demo_erp", "RAW.erp_public.invoices"),
        ("eltops.orchestra_load.eltops-demo", "eltops-demo.main.task_runs"),
    ]:
        assert re.search(rf"<td>{re.escape(job)}</td><td>\w+</td><td>[^<]+</td><td>{re.escape(dataset)}</td>", section)
    assert "gitlab.acme.analytics" in section  # the CI run is the root
