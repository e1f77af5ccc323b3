"""The README is a front door: short, its links alive, and each example a copy of one the tests run in docs/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text(encoding="utf-8")
FENCE = re.compile(r"^```\w*\n(.*?)^```", flags=re.DOTALL | re.MULTILINE)


def _docs_lines() -> set[str]:
    """Every line of every fenced block of the hand-written docs pages."""
    return {
        line.rstrip()
        for page in (REPO / "docs").glob("*.md")
        for block in FENCE.findall(page.read_text(encoding="utf-8"))
        for line in block.splitlines()
    }


def test_the_readme_is_short() -> None:
    """At most about 250 lines: the rest lives in the docs."""
    assert len(README.splitlines()) <= 250


def _examples() -> list[str]:
    quick_start = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return [block for block in FENCE.findall(README) if block not in quick_start]


@pytest.mark.parametrize("block", _examples(), ids=[block.splitlines()[0] for block in _examples()])
def test_each_readme_example_is_a_copy_from_the_docs(block: str) -> None:
    """Every line of the example is a line of a docs page's example (the DataOps, GitHub and terminal ones are run
    there: tests/packaging, tests/fivetran), so the README shows nothing the docs do not."""
    lines = _docs_lines()
    assert [line for line in block.splitlines() if line.rstrip() not in lines] == []


def test_the_readme_names_make_check_as_its_test_command() -> None:
    """The Quick start's test command is the one CI runs."""
    assert "make check" in README.split("## Quick start", 1)[1].split("```", 2)[1]


@pytest.mark.parametrize("link", sorted(set(re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", README))))
def test_each_readme_link_leads_to_a_file(link: str) -> None:
    """A relative link of the README names a file of the repository (the docs pages among them)."""
    assert (REPO / link).exists()


@pytest.mark.parametrize(
    "name", sorted(set(re.findall(r'--8<-- "README\.md:([a-z-]+)"', (REPO / "docs" / "index.md").read_text())))
)
def test_each_section_the_home_page_includes_is_marked_in_the_readme(name: str) -> None:
    """The home page includes README sections by name (no copy); each one is there, start and end."""
    start, end = f"<!-- --8<-- [start:{name}] -->", f"<!-- --8<-- [end:{name}] -->"
    assert README.index(start) < README.index(end)
