"""Naming a target: the one route from ``--to``/``--record-to``/``--from``/``ELTOPS_WAREHOUSE`` to a validated
:data:`TargetSpec` (before any connection, and without importing a driver), then opening it.

Every command reads its warehouse with :func:`parse_warehouse` (the flag, else ``ELTOPS_WAREHOUSE``) and how long
to wait for a busy DuckDB file with :func:`parse_wait`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, overload

from eltops._extras import require_extra
from eltops._parse import number
from eltops._paths import output_file
from eltops.errors import ConfigError
from eltops.secrets import EnvReader

if TYPE_CHECKING:
    from eltops.warehouse._snowflake_config import SnowflakeSettings
    from eltops.warehouse._target import Target

__all__ = [
    "DEFAULT_DUCKDB_FILE",
    "WAIT_VARIABLE",
    "WAREHOUSE_VARIABLE",
    "DuckDbSpec",
    "SnowflakeSpec",
    "TargetSpec",
    "open_target",
    "parse_wait",
    "parse_warehouse",
]

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


WAREHOUSE_VARIABLE = "ELTOPS_WAREHOUSE"
WAIT_VARIABLE = "ELTOPS_WAREHOUSE_WAIT"
MAX_WAIT_SECONDS = 86400.0


@overload
def parse_warehouse(
    flag: str | None,
    env: EnvReader,
    *,
    required: Literal[True] = True,
    write: bool = True,
    cwd: Path | None = None,
) -> TargetSpec: ...


@overload
def parse_warehouse(
    flag: str | None, env: EnvReader, *, required: Literal[False], write: bool = True, cwd: Path | None = None
) -> TargetSpec | None: ...


def parse_warehouse(
    flag: str | None, env: EnvReader, *, required: bool = True, write: bool = True, cwd: Path | None = None
) -> TargetSpec | None:
    """The warehouse a command names: its flag, else ``ELTOPS_WAREHOUSE``.

    When neither names one, a command that needs a warehouse (``required``: load, report) gets the default DuckDB
    file in the working directory; one for which it is optional (recording a run's history) gets None.
    """
    text = flag if flag and flag.strip() else env.get(WAREHOUSE_VARIABLE)
    if not required and (text is None or not text.strip()):
        return None
    return _spec(text, env, cwd=cwd, write=write)


def parse_wait(env: EnvReader, wait: float | None) -> float:
    """``--wait SECONDS``, else ``ELTOPS_WAREHOUSE_WAIT``, else 0: how long to wait for a busy DuckDB file."""
    seconds = wait
    if seconds is None:
        raw = env.get(WAIT_VARIABLE)
        seconds = number(raw, source=WAIT_VARIABLE) if raw is not None else 0.0
    if not 0 <= seconds <= MAX_WAIT_SECONDS:
        raise ConfigError(f"the wait for a busy warehouse must be seconds between 0 and 86400, got {seconds:g}")
    return seconds


def _spec(text: str | None, env: EnvReader, *, cwd: Path | None, write: bool) -> TargetSpec:
    """Validate a warehouse name (no connection is made): exit code 2 for anything malformed.

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


def warehouse_file(spec: TargetSpec | None) -> Path | None:
    """The file a DuckDB target lives in (which no other output may be written over); None for Snowflake."""
    return spec.path if isinstance(spec, DuckDbSpec) else None


def open_target(spec: TargetSpec) -> Target:
    """Connect to the target (raises ``WarehouseError`` when it cannot)."""
    if isinstance(spec, DuckDbSpec):
        from eltops.warehouse._duckdb import DuckDbTarget

        return DuckDbTarget(spec.path)
    from eltops.warehouse._snowflake import SnowflakeTarget

    return SnowflakeTarget(spec.settings)
