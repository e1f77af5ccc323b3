"""How the report reads: aligned numbers, separators, honest titles and notes, no toolbar, and (in headless
Chromium, when it is installed) a page that renders every chart at 1400 px and 900 px with no console message."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.report.conftest import DemoRun

CHARTS = (
    "runs-by-day",
    "duration-trend",
    "duration-percentiles",
    "slowest-tasks",
    "failing-tasks",
    "integrations",
    "cost-by-pipeline",
    "cost-by-integration",
    "anomalous-runs",
    "lineage-graph",  # the demo sends its lineage: the report draws the run's graph
)
GRID = CHARTS[:8]  # the charts drawn two to a row at 1400 px (the ninth and the lineage graph have the page's width)
BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def demo_report(demo_run: DemoRun) -> str:
    """The report ``eltops demo`` writes (both emulators' history and the demo's own recorded runs)."""
    assert demo_run.code == 0, demo_run.stderr[-3000:]
    return str(demo_run.report)


def _cells(page: str, tag: str, table: str) -> list[str]:
    section = page.split(f'<section id="{table}">', 1)[1].split("</section>", 1)[0]
    return re.findall(rf"<{tag}( class=\"num\")?>", section)


@pytest.mark.parametrize(
    "table",
    ["pipeline-durations", "failing-tasks-table", "integrations-table", "expensive-runs", "anomalous-runs-table"],
)
def test_a_numeric_column_is_right_aligned_under_its_header(demo_report: str, table: str) -> None:
    """Each numeric column's header carries the same right-aligned class as its cells."""
    page = Path(demo_report).read_text()
    headers = _cells(page, "th", table)
    section = page.split(f'<section id="{table}">', 1)[1].split("</section>", 1)[0]
    first_row = re.findall(r"<td( class=\"(?:num|msg)\")?>", section.split("<tbody><tr>", 1)[1].split("</tr>", 1)[0])
    assert [h == ' class="num"' for h in headers] == [c == ' class="num"' for c in first_row]
    assert any(h == ' class="num"' for h in headers)


def test_counts_have_thousands_separators_and_the_success_rate_says_what_it_counts(demo_report: str) -> None:
    """Counts over 999 are written 1,234, and the success-rate tile says that WARNING counts as not succeeded."""
    page = Path(demo_report).read_text()
    integrations = page.split('<section id="integrations-table">', 1)[1].split("</section>", 1)[0]
    counts = re.findall(r'<td class="num">([\d,]+)</td>', integrations)
    assert counts
    assert all(re.fullmatch(r"\d{1,3}(,\d{3})*", c) for c in counts)
    assert any("," in c for c in counts)
    assert "WARNING, SKIPPED and CANCELLED count as not succeeded" in page


def test_no_chart_shows_plotly_toolbar_and_a_shortened_chart_says_so(demo_report: str) -> None:
    """Every chart is configured without the toolbar; the daily-duration chart names how many pipelines it shows."""
    page = Path(demo_report).read_text()
    assert page.count('"displayModeBar": false') == len(CHARTS)
    assert "the 8 busiest of 11 pipelines; all are in the table below" in page


def _chromium(page: str, width: int) -> tuple[str, list[str]]:
    """The DOM after scripts ran, and every console message, of ``page`` at ``width`` px in headless Chromium."""
    assert BROWSER is not None
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run(
            [
                BROWSER,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
                "--enable-logging=stderr",
                "--v=0",
                "--virtual-time-budget=5000",
                f"--window-size={width},2400",
                "--dump-dom",
                f"file://{page}",
            ],
            capture_output=True,
            text=True,
            timeout=90,
            check=True,
        )
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    return done.stdout, console


@pytest.mark.skipif(BROWSER is None, reason="chromium is not installed (.ci/run installs it)")
def test_the_console_check_sees_an_error(tmp_path: Path) -> None:
    """The console capture the report test relies on does report a page's error."""
    broken = tmp_path / "broken.html"
    broken.write_text("<html><body><script>throw new Error('broken-on-purpose')</script></body></html>")
    _, console = _chromium(str(broken), 900)
    assert any("broken-on-purpose" in line for line in console)


@pytest.mark.slow
@pytest.mark.skipif(BROWSER is None, reason="chromium is not installed (.ci/run installs it)")
@pytest.mark.parametrize("width", [1400, 900])
def test_the_report_renders_in_chromium_without_console_messages(demo_report: str, width: int) -> None:
    """At 1400 px and 900 px every chart is drawn by Plotly, no toolbar is drawn, and the console stays silent."""
    dom, console = _chromium(demo_report, width)
    assert console == []
    for chart in CHARTS:
        assert re.search(rf'<div id="{chart}" class="plotly-graph-div js-plotly-plot', dom), chart
    assert dom.count('class="main-svg"') >= len(CHARTS)
    assert 'class="modebar ' not in dom


def test_charts_side_by_side_have_one_height(demo_report: str) -> None:
    """The two charts of each row of the 1400 px grid are drawn at one height: no half-empty card beside a tall one."""
    page = Path(demo_report).read_text()
    heights = {}
    for chart in CHARTS:  # the height is on the chart's div (Plotly 5) or the wrapper just before it (Plotly 6)
        on_div = re.search(rf'<div id="{chart}" class="plotly-graph-div" style="height:(\d+)px', page)
        before = page[: page.index(f'<div id="{chart}" class="plotly-graph-div"')]
        heights[chart] = (
            on_div.group(1) if on_div else re.findall(r'<div style="height:(\d+)px; width:100%;">', before)[-1]
        )
    assert set(heights) == set(CHARTS)
    for left, right in zip(GRID[::2], GRID[1::2], strict=True):
        assert heights[left] == heights[right], (left, right, heights)


def test_a_chart_rounds_a_rate_as_its_table_does(demo_report: str) -> None:
    """Every failure rate of the failing-tasks table appears, written the same way, in the chart's labels."""
    page = Path(demo_report).read_text()
    section = page.split('<section id="failing-tasks-table">', 1)[1].split("</section>", 1)[0]
    rates = re.findall(r'<td class="num">([\d.]+%)</td></tr>', section)
    assert rates
    for rate in rates:
        assert f"({rate})" in page, rate


@pytest.mark.slow
@pytest.mark.skipif(BROWSER is None, reason="chromium is not installed (.ci/run installs it)")
def test_horizontal_bars_carry_value_labels_and_day_ticks_have_no_year_line(demo_report: str) -> None:
    """In Chromium at 1400 px: each horizontal bar chart draws value labels, and the day axes draw one-line ticks
    (plotly's year line under the first tick is what a legend below the plot covered)."""
    dom, _ = _chromium(demo_report, 1400)
    for chart in ("duration-percentiles", "slowest-tasks", "failing-tasks", "integrations"):
        drawn = dom.split(f'<div id="{chart}"', 1)[1].split('<div id="', 1)[0]
        assert 'class="bartext' in drawn, chart
    for chart in ("runs-by-day", "duration-trend", "cost-by-pipeline", "cost-by-integration"):
        drawn = dom.split(f'<div id="{chart}"', 1)[1].split('<div id="', 1)[0]
        ticks = re.findall(r'<g class="xtick">(.*?)</g>', drawn)
        assert ticks, chart
        assert not any('class="line"' in tick for tick in ticks), (chart, ticks[:2])


def test_the_page_carries_plotly_once_packed(demo_report: str) -> None:
    """plotly.js is in the page once, gzip-packed (the page is about 2 MB, not 5), and no chart draws before it is
    unpacked; the report's docs page states the size."""
    page = Path(demo_report).read_text()
    assert page.count('id="plotly-js-gzip"') == 1
    assert len(page.encode()) < 2_500_000
    assert "<script>" not in page.split('id="plotly-js-gzip"', 1)[0].split("</style>", 1)[1]  # charts wait for it
    page_doc = (Path(__file__).resolve().parents[2] / "docs" / "report.md").read_text()
    assert re.search(r"about 2(\.\d)? MB", page_doc)
