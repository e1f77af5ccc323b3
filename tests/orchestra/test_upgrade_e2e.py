"""`eltops orchestra load` into a file eltops 0.1.0 wrote: upgraded once, in place, every old row kept, even when
two loads start on it at once (the second waits for the first, as the lock rules say)."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb

from tests.orchestra._support import Served

RELEASED_FILE = Path(__file__).resolve().parents[1] / "fixtures" / "eltops-0.1.0.duckdb"


def ids(db: Path, table: str) -> set[str]:
    with duckdb.connect(str(db), read_only=True) as con:
        return {row[0] for row in con.execute(f"SELECT id FROM {table}").fetchall()}


def test_two_loads_into_a_010_file_upgrade_it_once_and_keep_every_row(served: Served) -> None:
    """Both loads succeed (one waits); one says it upgraded; one version row; the 0.1.0 rows are all still there."""
    db = served.tmp / "eltops.duckdb"
    shutil.copyfile(RELEASED_FILE, db)
    old = {table: ids(db, table) for table in ("pipeline_runs", "task_runs", "operations")}
    first = served.start("orchestra", "load", "--to", str(db), "--wait", "120")
    second = served.start("orchestra", "load", "--to", str(db), "--wait", "120")
    outputs = [process.communicate(timeout=180) for process in (first, second)]
    assert [first.returncode, second.returncode] == [0, 0], [err[-2000:] for _, err in outputs]
    upgraded = [err for _, err in outputs if "upgraded the tables from schema version 1 to 2" in err]
    assert len(upgraded) == 1
    assert all("Traceback" not in err for _, err in outputs)
    refill = served.load("--full-refresh")  # the saved cursors are the old file's: a full refresh reads 7 days again
    assert refill.code == 0, refill.stderr
    with duckdb.connect(str(db), read_only=True) as con:
        versions = con.execute("SELECT version FROM eltops_schema_version").fetchall()
        filled = con.execute("SELECT count(*) FROM operations WHERE cost IS NOT NULL").fetchone()
    assert versions == [(2,)]
    assert filled is not None
    assert filled[0] > 0, "the new columns fill from the reads after the upgrade"
    for table, before in old.items():
        assert before <= ids(db, table), table
