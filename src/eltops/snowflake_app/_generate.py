"""Regenerate the app's table declarations from eltops' own: ``python -m eltops.snowflake_app._generate [--check]``.

The columns of the three tables are declared once, in :mod:`eltops.orchestra._records`. The Snowflake app cannot
import that module at run time (it needs pyarrow and orjson, which the app's sandbox does not promise), so this
script writes the declarations into two places the app ships:

- the ``BEGIN GENERATED`` block of :mod:`eltops.snowflake_app.orchestra_app` (the handlers' mapping and MERGE);
- the ``BEGIN GENERATED`` block of ``snowflake_app/app/setup_script.sql`` (the tables' DDL and their grants);
- ``snowflake_app/python/orchestra_app.py``, the byte-for-byte copy of the handlers module that the app ships
  (the Snowflake CLI refuses artifacts from outside the project directory, symlinks included).

``--check`` changes nothing and exits 1 when either file is out of date (the tests run it too).
"""

from __future__ import annotations

import argparse
import pprint
import sys
from pathlib import Path

from eltops.orchestra._records import LOADED_AT, RESOURCES, Resource
from eltops.warehouse._ddl import SQL_TYPES
from eltops.warehouse._target import STATE_TABLE

__all__ = [
    "APP_COPY",
    "APP_MODULE",
    "SETUP_SCRIPT",
    "main",
    "render_declarations",
    "render_setup_tables",
    "stale_files",
]

APP_MODULE = Path(__file__).with_name("orchestra_app.py")
REPO_ROOT = Path(__file__).resolve().parents[3]
SETUP_SCRIPT = REPO_ROOT / "snowflake_app" / "app" / "setup_script.sql"
APP_COPY = REPO_ROOT / "snowflake_app" / "python" / "orchestra_app.py"
"""The copy the app ships (the Snowflake CLI refuses artifacts from outside the project directory)."""

PY_BEGIN = "# BEGIN GENERATED (python -m eltops.snowflake_app._generate, from eltops.orchestra._records; do not edit)\n"
PY_END = "# END GENERATED\n"
SQL_BEGIN = "-- BEGIN GENERATED TABLES (python -m eltops.snowflake_app._generate; do not edit)\n"
SQL_END = "-- END GENERATED TABLES\n"


def _declaration(resource: Resource) -> dict[str, object]:
    types = SQL_TYPES["snowflake"]
    return {
        "name": resource.name,
        "path": resource.path,
        "table": resource.table,
        "columns": tuple((c.name, c.type.value, types[c.type], c.source) for c in resource.columns),
        "window_column": resource.window_column,
        "status_column": resource.status_column,
        "open_statuses": tuple(sorted(resource.open_statuses)),
        "id_filter": resource.id_filter,
        "filters": resource.filters,
    }


def render_declarations() -> str:
    """The generated block of the handlers module (between the markers)."""
    body = pprint.pformat(tuple(_declaration(r) for r in RESOURCES), indent=4, width=116, sort_dicts=False)
    return (
        f"_DECLARATIONS: tuple[dict[str, Any], ...] = {body}\n"
        f"LOADED_AT = {LOADED_AT!r}\n"
        f"STATE_TABLE = {STATE_TABLE!r}\n"
    )


def render_setup_tables() -> str:
    """The generated block of the setup script: the tables (kept across upgrades) and their grants."""
    from eltops.snowflake_app import orchestra_app as app

    resources = [app._resource(_declaration(r)) for r in RESOURCES]  # from the declarations, not the module
    statements = [app.create_table_sql(r) for r in resources]
    statements.append(app.create_state_table_sql())
    tables = [r.qualified_table for r in resources] + [f"{app.DATA_SCHEMA}.{STATE_TABLE}"]
    statements += [f"GRANT SELECT ON TABLE {t} TO APPLICATION ROLE app_public" for t in tables]
    return "".join(s + ";\n" for s in statements)


def _replace_block(text: str, begin: str, end: str, block: str, path: Path) -> str:
    head, sep, rest = text.partition(begin)
    _, sep2, tail = rest.partition(end)
    if not sep or not sep2:
        raise SystemExit(f"{path} lacks the generated-block markers")
    return head + begin + block + end + tail


def _format_python(source: str) -> str:
    """The module as ``ruff format`` writes it, when ruff is installed (so the check agrees with the linter)."""
    import shutil
    import subprocess

    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    if not Path(ruff).exists():
        return source
    result = subprocess.run(
        [ruff, "format", "--stdin-filename", str(APP_MODULE), "-"],
        input=source,
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout if result.returncode == 0 else source


def _wanted() -> dict[Path, str]:
    module = APP_MODULE.read_text()
    module = _format_python(_replace_block(module, PY_BEGIN, PY_END, render_declarations(), APP_MODULE))
    script = SETUP_SCRIPT.read_text()
    script = _replace_block(script, SQL_BEGIN, SQL_END, render_setup_tables(), SETUP_SCRIPT)
    return {APP_MODULE: module, SETUP_SCRIPT: script, APP_COPY: module}


def stale_files() -> list[Path]:
    """The generated files whose content differs from what the declarations give."""
    return [path for path, text in _wanted().items() if not path.exists() or path.read_text() != text]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="exit 1 when a generated file is out of date")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files()
        for path in stale:
            print(f"out of date: {path} (run python -m eltops.snowflake_app._generate)", file=sys.stderr)
        return 1 if stale else 0
    for path, text in _wanted().items():
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
