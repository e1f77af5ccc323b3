"""Write what the app ships from eltops' own sources: ``python -m eltops.snowflake_app._generate [--check]``.

The Snowflake CLI refuses artifacts from outside the project directory (``snowflake_app/``), symlinks included,
so the Python the app runs is copied into ``snowflake_app/python/``, byte for byte:

- ``orchestra_app.py``: the handlers, :mod:`eltops.snowflake_app.orchestra_app` (Snowflake glue only);
- ``_plan.py`` and ``_records.py``: :mod:`eltops.orchestra._plan` and :mod:`eltops.orchestra._records`, the
  paging, windows, load plan, load cursor, column declarations and mapping that ``eltops orchestra load`` uses;
- ``_retry.py`` and ``_api_errors.py``: :mod:`eltops._retry` and :mod:`eltops._api_errors`, the retry policy, the
  wait before a retry and the reading of an API's error answer that eltops' own HTTP layer uses.

All four import only the standard library, so inside Snowflake they are top-level modules next to the handlers.

It also writes the ``BEGIN GENERATED TABLES`` block of ``snowflake_app/app/setup_script.sql`` (the tables' DDL,
from the same declarations through :func:`eltops.warehouse._ddl.create_table_sql`, and their grants).

``--check`` changes nothing and exits 1 when a file is out of date (the tests run it too).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from eltops import __version__, _api_errors, _retry
from eltops.orchestra import _plan, _records
from eltops.snowflake_app import orchestra_app
from eltops.warehouse import SCHEMA_TABLE, column_type, create_table_sql, schema_table_sql

__all__ = [
    "APP_PYTHON",
    "SETUP_SCRIPT",
    "SHIPPED_MODULES",
    "main",
    "render_setup_tables",
    "shipped_sources",
    "stale_files",
]

REPO_ROOT = Path(__file__).resolve().parents[3]
APP_DIR = REPO_ROOT / "snowflake_app"
SETUP_SCRIPT = APP_DIR / "app" / "setup_script.sql"
APP_PYTHON = APP_DIR / "python"
"""Where the shipped copies live (the setup script's IMPORTS name them as ``/python/<file>``)."""

SHIPPED_MODULES = (orchestra_app, _plan, _records, _retry, _api_errors)
"""The handlers and every module they import that is not in Python's standard library."""

SQL_BEGIN = "-- BEGIN GENERATED TABLES (python -m eltops.snowflake_app._generate; do not edit)\n"
SQL_END = "-- END GENERATED TABLES\n"


def shipped_sources() -> dict[str, Path]:
    """File name in ``snowflake_app/python/`` -> the eltops source it is a copy of."""
    sources: dict[str, Path] = {}
    for module in SHIPPED_MODULES:
        assert module.__file__ is not None
        source = Path(module.__file__)
        sources[source.name] = source
    return sources


def render_setup_tables() -> str:
    """The generated block of the setup script: the tables (kept across upgrades) and their grants.

    The tables live in a schema the upgrade keeps (not the versioned one), so an app installed at an older version
    keeps its rows: each column a later version added is added in place (``ADD COLUMN IF NOT EXISTS``, appended
    after ``loaded_at``, as ``eltops orchestra load`` upgrades a warehouse), and the schema version is recorded.
    """
    schema = orchestra_app.DATA_SCHEMA
    statements = []
    for resource in _records.RESOURCES:
        statements.append(create_table_sql(resource, "snowflake", qualified_name=f"{schema}.{resource.table}"))
        base = min(c.since for c in resource.columns)
        statements += [
            f"ALTER TABLE {schema}.{resource.table} ADD COLUMN IF NOT EXISTS {name} "
            f"{column_type(resource, name, 'snowflake')}"
            for name in _records.table_layout(resource)
            if name != _records.LOADED_AT and resource.column(name).since > base
        ]
    version_table = f"{schema}.{SCHEMA_TABLE}"
    statements.append(schema_table_sql("snowflake", qualified_name=version_table))
    version = _records.SCHEMA_VERSION
    record = f"SELECT {version}, '{__version__}', CURRENT_TIMESTAMP()"
    newer = f"SELECT 1 FROM {version_table} WHERE version >= {version}"  # noqa: S608 (declared names only)
    statements.append(f"INSERT INTO {version_table} {record} WHERE NOT EXISTS ({newer})")
    statements.append(
        f"CREATE TABLE IF NOT EXISTS {schema}.{_plan.STATE_TABLE} "
        "(resource VARCHAR, table_name VARCHAR, cursor TIMESTAMP_TZ, saved_at TIMESTAMP_TZ)"
    )
    tables = [f"{schema}.{r.table}" for r in _records.RESOURCES] + [f"{schema}.{_plan.STATE_TABLE}", version_table]
    statements += [f"GRANT SELECT ON TABLE {t} TO APPLICATION ROLE app_public" for t in tables]
    return "".join(s + ";\n" for s in statements)


def _replace_block(text: str, begin: str, end: str, block: str, path: Path) -> str:
    head, sep, rest = text.partition(begin)
    _, sep2, tail = rest.partition(end)
    if not sep or not sep2:
        raise SystemExit(f"{path} lacks the generated-block markers")
    return head + begin + block + end + tail


def _wanted() -> dict[Path, str]:
    wanted = {APP_PYTHON / name: source.read_text() for name, source in shipped_sources().items()}
    script = SETUP_SCRIPT.read_text()
    wanted[SETUP_SCRIPT] = _replace_block(script, SQL_BEGIN, SQL_END, render_setup_tables(), SETUP_SCRIPT)
    return wanted


def _extra_files() -> list[Path]:
    """Python files in ``snowflake_app/python/`` that are not a copy of a shipped module (left over)."""
    return sorted(p for p in APP_PYTHON.glob("*.py") if p.name not in shipped_sources())


def stale_files() -> list[Path]:
    """The generated files whose content differs from their sources, and leftovers that should not be shipped."""
    stale = [path for path, text in _wanted().items() if not path.exists() or path.read_text() != text]
    return stale + _extra_files()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="exit 1 when a generated file is out of date")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files()
        for path in stale:
            print(f"out of date: {path} (run python -m eltops.snowflake_app._generate)", file=sys.stderr)
        return 1 if stale else 0
    APP_PYTHON.mkdir(exist_ok=True)
    for path, text in _wanted().items():
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            print(f"wrote {path}")
    for path in _extra_files():
        path.unlink()
        print(f"removed {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
