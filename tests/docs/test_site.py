"""The documentation site builds strictly and reads offline: no asset from another host, search from file:// too."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# an external script, stylesheet, font or preconnect: what an offline reader's browser cannot fetch
_EXTERNAL = re.compile(r"<(?:script|link)\b[^>]*\b(?:src|href)=\"(?:https?:)?//[^\"]*\"", flags=re.IGNORECASE)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", str(out)],
        cwd=REPO,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return out


def test_every_page_loads_nothing_from_another_host(site: Path) -> None:
    """No page names a script, stylesheet or font on another host (no CDN, no font service)."""
    pages = sorted(site.rglob("*.html"))
    assert len(pages) > 10
    found = {str(page.relative_to(site)): _EXTERNAL.findall(page.read_text(encoding="utf-8")) for page in pages}
    assert {page: tags for page, tags in found.items() if tags} == {}


def test_search_works_from_the_file_system(site: Path) -> None:
    """The index is inlined as a script (the offline plugin) and the worker shim it needs for file:// is local."""
    index = (site / "search" / "search_index.js").read_text(encoding="utf-8")
    assert index.startswith("var __index = ")
    assert "FIVETRAN_TIMEOUT" in index
    home = (site / "index.html").read_text(encoding="utf-8")
    assert '<script src="assets/javascripts/iframe-worker-shim.js"></script>' in home
    assert (site / "assets" / "javascripts" / "iframe-worker-shim.js").stat().st_size > 1000


@pytest.mark.parametrize(
    "page",
    ["fivetran", "orchestra-run", "orchestra-load", "report", "emulators", "native-app", "ci", "troubleshooting"],
)
def test_each_job_page_is_built_with_its_links_relative(site: Path, page: str) -> None:
    """Each page of the nav is a file that opens from the file system (no directory URLs)."""
    text = (site / f"{page}.html").read_text(encoding="utf-8")
    assert 'href="index.html"' in text
