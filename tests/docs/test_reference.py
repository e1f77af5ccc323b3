"""The generated reference (scripts/docs_reference.py): current, complete, and failing when the code moves on."""

from __future__ import annotations

import html
import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

from eltops.cli._app import COMMANDS
from eltops.fivetran import ACTION_SETTINGS, Setting
from eltops.lineage import VARIABLES

REPO = Path(__file__).resolve().parents[2]
REFERENCE = REPO / "docs" / "reference"


@pytest.fixture(scope="module")
def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_reference", REPO / "scripts" / "docs_reference.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["docs_reference"] = module
    spec.loader.exec_module(module)
    return module


def test_the_committed_reference_is_what_the_code_renders(generator: ModuleType) -> None:
    """docs/reference/ is current (else: make docs-reference), as make docs-check also checks."""
    assert (REFERENCE / "commands.md").read_text(encoding="utf-8") == generator.commands_page()
    assert (REFERENCE / "variables.md").read_text(encoding="utf-8") == generator.variables_page()


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_its_help_on_the_commands_page(name: str) -> None:
    """Each top-level command (and so each subcommand, walked from it) has a section with its usage line."""
    page = (REFERENCE / "commands.md").read_text(encoding="utf-8")
    assert f"## `eltops {name}`" in page
    assert f"Usage: eltops {name} " in page


@pytest.mark.parametrize("row", ACTION_SETTINGS, ids=[row.variable for row in ACTION_SETTINGS])
def test_every_row_of_the_settings_table_is_a_variable_with_its_flag_and_meaning(row: Setting) -> None:
    """The TRANSFORM/CHECK settings table's rows appear with their flag and the table's own meaning."""
    page = (REFERENCE / "variables.md").read_text(encoding="utf-8")
    line = next(line for line in page.splitlines() if line.startswith(f"| `{row.variable}`<br>"))
    assert f"`{row.flag}`" in line
    assert row.meaning.rstrip(".") in line


@pytest.mark.parametrize("variable", [v.name for v in VARIABLES])
def test_every_row_of_the_lineage_table_is_on_the_variables_page(variable: str) -> None:
    """The lineage settings table's rows appear with their default and meaning."""
    page = (REFERENCE / "variables.md").read_text(encoding="utf-8")
    (row,) = [v for v in VARIABLES if v.name == variable]
    line = next(line for line in page.splitlines() if line.startswith(f"| `{variable}` |"))
    assert html.escape(row.meaning, quote=False) in line
    assert not row.default or f"`{row.default}`" in line


def test_every_variable_the_code_reads_is_on_the_variables_page(generator: ModuleType) -> None:
    """Nothing the code reads by name is missing from the reference."""
    page = (REFERENCE / "variables.md").read_text(encoding="utf-8")
    assert [name for name in generator.code_reads() if f"`{name}`" not in page] == []


def test_a_default_comes_from_the_option(generator: ModuleType) -> None:
    """The timeout's default is the one --help shows."""
    page = (REFERENCE / "variables.md").read_text(encoding="utf-8")
    assert re.search(r"^\| `FIVETRAN_TIMEOUT`<br>`--timeout` \| `300` \|", page, flags=re.MULTILINE)


def test_a_variable_read_but_documented_nowhere_fails(generator: ModuleType, tmp_path: Path) -> None:
    """A new hand-written read of an undocumented variable stops the reference (and so make check)."""
    (tmp_path / "src" / "eltops").mkdir(parents=True)
    (tmp_path / "src" / "eltops" / "knob.py").write_text('value = env.get("ELTOPS_NEW_KNOB")\n')
    (tmp_path / "docs").mkdir()
    with pytest.raises(SystemExit, match="ELTOPS_NEW_KNOB"):
        generator.variables_page(src=tmp_path / "src", docs=tmp_path / "docs")
    (tmp_path / "docs" / "page.md").write_text(
        "# Page\n\n| variable | meaning |\n|---|---|\n| `ELTOPS_NEW_KNOB` | a knob |\n"
    )
    assert "| [`ELTOPS_NEW_KNOB`](../page.md#page) | `eltops.knob` | a knob |" in generator.variables_page(
        src=tmp_path / "src", docs=tmp_path / "docs"
    )


def test_the_check_fails_on_a_stale_reference(generator: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    """--check exits 1 when a committed page differs from what the code renders."""
    monkeypatch.setitem(generator.PAGES, "commands.md", lambda: "# Commands\n\nsomething else\n")
    assert generator.main(["docs_reference.py", "--check"]) == 1
