"""Naming a target: parse ``--to``/``ELTOPS_WAREHOUSE`` (validated before any connection), then open it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from eltops._extras import require_extra
from eltops._paths import output_file
from eltops.errors import ConfigError
from eltops.secrets import EnvReader
from eltops.warehouse._target import Target

if TYPE_CHECKING:
    from eltops.warehouse._snowflake_config import SnowflakeSettings

DEFAULT_DUCKDB_FILE = "eltops.duckdb"


@dataclass(frozen=True)
class DuckDbSpec:
    path: Path

    def __str__(self) -> str:
        return f"DuckDB {self.path}"


@dataclass(frozen=True)
class SnowflakeSpec:
    settings: SnowflakeSettings

    def __str__(self) -> str:
        return self.settings.description


TargetSpec = DuckDbSpec | SnowflakeSpec


def parse_target(text: str | None, env: EnvReader, *, cwd: Path | None = None, write: bool = True) -> TargetSpec:
    """Validate a target name (no connection is made): exit code 2 for anything malformed.

    A DuckDB file that will be written (``write``) follows the rule for every output file (``eltops._paths``): its
    directory exists and can be written. One only read (the report's source) needs its directory to exist.
    """
    base = cwd or Path.cwd()
    if text is None or not text.strip():
        return _duckdb(base / DEFAULT_DUCKDB_FILE, write=write)
    text = text.strip()
    if text.startswith("snowflake://"):
        from eltops.warehouse._snowflake_config import snowflake_settings

        require_extra("snowflake", "the Snowflake target")
        return SnowflakeSpec(snowflake_settings(text, env))
    if text.startswith("duckdb://"):
        text = text.removeprefix("duckdb://")
        if not text:
            raise ConfigError("a DuckDB target is duckdb:///absolute/path.duckdb or duckdb://relative/path.duckdb")
    elif "://" in text:
        scheme = text.split("://", 1)[0]
        raise ConfigError(f"unknown warehouse {scheme!r}: use a DuckDB path, duckdb:///path or snowflake://...")
    path = Path(text).expanduser()
    if not path.is_absolute():
        path = base / path
    return _duckdb(path, write=write)


def _duckdb(path: Path, *, write: bool) -> DuckDbSpec:
    if path.is_dir():
        raise ConfigError(f"the DuckDB target {path} is a directory; name a file such as {path / DEFAULT_DUCKDB_FILE}")
    if write:
        return DuckDbSpec(output_file(path, "the DuckDB target"))
    if not path.parent.is_dir():
        raise ConfigError(f"the directory of the DuckDB target {path} does not exist")
    return DuckDbSpec(path)


def open_target(spec: TargetSpec) -> Target:
    """Connect to the target (raises ``WarehouseError`` when it cannot)."""
    if isinstance(spec, DuckDbSpec):
        from eltops.warehouse._duckdb import DuckDbTarget

        return DuckDbTarget(spec.path)
    from eltops.warehouse._snowflake import SnowflakeTarget

    return SnowflakeTarget(spec.settings)
