"""Each command imports what it uses: help, and input refused before any request, import nothing heavy."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import click
import pytest

from eltops.cli import cli

HEAVY = ("pyarrow", "pandas", "plotly", "werkzeug", "duckdb", "httpx", "stamina", "rich", "yaml")

_PROBE = """
import contextlib, io, json, sys
from eltops.cli import run_command
out, err = io.StringIO(), io.StringIO()
with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
    code = run_command(sys.argv[1:], env={})
print(json.dumps({"code": code, "help": out.getvalue(), "error": err.getvalue(),
                  "modules": sorted({m.split(".")[0] for m, module in sys.modules.items() if module is not None})}))
"""


def _imported_by(*args: str) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", _PROBE, *args], capture_output=True, text=True, check=True)
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _heavy_in(result: dict[str, object]) -> list[str]:
    modules = result["modules"]
    assert isinstance(modules, list)
    return [m for m in HEAVY if m in modules]


def _all_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    ctx = click.Context(group)
    found = [prefix]
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if isinstance(command, click.Group):
            found += _all_commands(command, (*prefix, name))
        else:
            found.append((*prefix, name))
    return found


@pytest.mark.parametrize("command", _all_commands(cli), ids=lambda c: " ".join(c) or "eltops")
def test_help_imports_nothing_heavy(command: tuple[str, ...]) -> None:
    """Every command's ``--help`` imports none of pyarrow, pandas, Plotly, werkzeug, DuckDB, httpx, rich, PyYAML."""
    result = _imported_by(*command, "--help")
    assert result["code"] == 0
    assert "Usage: eltops" in str(result["help"])
    assert _heavy_in(result) == []


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("no-such-command",), "No such command"),
        (("fivetran",), "FIVETRAN_ACTION"),
        (("fivetran", "start"), "CONNECTOR_ID"),
        (("fivetran", "start", "--connector-id", "shop"), "FIVETRAN_API_KEY"),
        (("orchestra", "get", "no-such-resource"), "no-such-resource"),
        (("orchestra", "load", "--since", "2025-13-01"), "2025-13-01"),
        (("orchestra", "load", "--to", "mysql://db"), "mysql"),
        (("report", "--from", "mysql://db"), "mysql"),
        (("emulate", "fivetran", "--port", "99999"), "99999"),
    ],
)
def test_bad_input_is_refused_before_anything_heavy_is_imported(args: tuple[str, ...], named: str) -> None:
    """Input refused with exit 2 names what is wrong and imported no HTTP client, warehouse driver or web server."""
    result = _imported_by(*args)
    assert result["code"] == 2
    assert named in str(result["error"])
    assert _heavy_in(result) == []


@pytest.mark.parametrize("command", [(), ("fivetran",), ("emulate", "fivetran")], ids=" ".join)
def test_help_imports_no_xml_url_or_mail_modules(command: tuple[str, ...]) -> None:
    """``--help`` loads no ``xml.sax``/``urllib.request``/``email`` (saxutils pulled all three in for one escape)."""
    result = _imported_by(*command, "--help")
    modules = result["modules"]
    assert isinstance(modules, list)
    assert [m for m in ("xml", "email") if m in modules] == []


@pytest.mark.parametrize(
    ("text", "entities"),
    [
        ("a&b<c>d", None),
        ("q\"t'\n\r\tz", {'"': "&quot;", "\n": "&#10;", "\r": "&#13;", "\t": "&#09;"}),
        ("&amp; '\"", {'"': "&quot;", "'": "&apos;"}),
        ("", None),
    ],
)
def test_the_local_xml_escape_matches_saxutils(text: str, entities: dict[str, str] | None) -> None:
    """The masker's own XML escape gives exactly what ``xml.sax.saxutils.escape`` gives."""
    from xml.sax.saxutils import escape

    from eltops.secrets._masking import xml_escape

    assert xml_escape(text, entities) == escape(text, entities or {})


def test_the_top_level_help_lists_every_command_with_its_whole_summary() -> None:
    """Lazy loading keeps ``eltops --help`` complete: each command with its full one-line summary."""
    result = _imported_by("--help")
    for name, lazy in cli.lazy.items():
        assert f"  {name}" in str(result["help"])
        assert " ".join(lazy.summary.split()[-3:]) in " ".join(str(result["help"]).split())


def _groups() -> list[tuple[str, click.Group]]:
    ctx = click.Context(cli)
    groups = [("eltops", cli)]
    for name in cli.list_commands(ctx):
        command = cli.get_command(ctx, name)
        if isinstance(command, click.Group):
            groups.append((name, command))
    return groups


@pytest.mark.parametrize(("name", "group"), _groups(), ids=[n for n, _ in _groups()])
def test_a_registered_summary_is_the_commands_own_first_docstring_line(name: str, group: click.Group) -> None:
    """The summary a lazy group lists without importing a command is the one the command itself states."""
    lazy = getattr(group, "lazy", {})
    ctx = click.Context(group)
    for command_name, entry in lazy.items():
        command = group.get_command(ctx, command_name)
        assert command is not None
        assert entry.summary == command.get_short_help_str(limit=1000), f"{name} {command_name}"


@pytest.mark.parametrize("package", ["eltops.fivetran", "eltops.fivetran.emulator", "eltops.orchestra.emulator"])
def test_every_export_of_a_lazy_package_resolves(package: str) -> None:
    """Each name a lazily importing package exports can be imported from it, and ``dir()`` lists it."""
    module = importlib.import_module(package)
    for name in module.__all__:
        assert getattr(module, name) is not None, name
    assert set(module.__all__) <= set(dir(module))
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = module.no_such_name
