"""DuckDB connection handling and the versioned schema.

This package is the only code in gecko_bench that speaks SQL. Each area keeps its tables and
queries in its own module (``runs.py``, ``scores.py``, ``fret.py``, ``training.py``, ...) and lists
its DDL in ``TABLES``; :func:`ensure_schema` creates them all.

DuckDB lets one process hold a file open for writing at a time, so every operation opens the file,
does its work in one transaction and closes it again; a second writer waits and retries
(:func:`connect`). A transaction that fails is rolled back whole: a run never leaves partial rows.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

SCHEMA_VERSION = 1
DEFAULT_DB = Path("results") / "gecko_bench.duckdb"

# Table name -> CREATE TABLE statement. Area modules register theirs via register_tables().
TABLES: dict[str, str] = {}


class StoreError(RuntimeError):
    """The results database cannot be used as asked; the message says why."""


def register_tables(ddl: dict[str, str]) -> None:
    """Add an area's CREATE TABLE statements to the schema."""
    TABLES.update(ddl)


def default_db_path() -> Path:
    """``$GECKO_BENCH_DB`` or ``results/gecko_bench.duckdb``."""
    return Path(os.environ.get("GECKO_BENCH_DB", DEFAULT_DB))


def _is_lock_error(exc: Exception) -> bool:
    text = str(exc).lower()
    return "lock" in text or "conflict" in text


@contextmanager
def connect(db_path: str | Path | None = None, read_only: bool = False,
            timeout_s: float = 120.0) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the database, waiting while another process holds it; close it on exit.

    Writers get the schema created or checked. Readers of a file that does not exist yet get a
    StoreError saying what to run.
    """
    path = Path(db_path) if db_path else default_db_path()
    if read_only and not path.exists():
        raise StoreError(f"no results database at {path}; run `gecko-bench eval` or "
                         "`gecko-bench run` first")
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout_s
    delay = 0.05
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only)
            break
        except duckdb.IOException as exc:
            if not _is_lock_error(exc) or time.monotonic() > deadline:
                raise StoreError(f"could not open {path}: {exc}") from exc
            time.sleep(delay * (1 + random.random()))
            delay = min(delay * 2, 1.0)
    try:
        if not read_only:
            ensure_schema(con)
        else:
            check_schema(con, path)
        yield con
    finally:
        con.close()


@contextmanager
def transaction(db_path: str | Path | None = None,
                timeout_s: float = 120.0) -> Iterator[duckdb.DuckDBPyConnection]:
    """A write connection inside BEGIN/COMMIT; any exception rolls everything back."""
    with connect(db_path, timeout_s=timeout_s) as con:
        con.execute("BEGIN TRANSACTION")
        try:
            yield con
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create missing tables and record the schema version; refuse a newer file."""
    con.execute("CREATE TABLE IF NOT EXISTS schema_info (version INTEGER NOT NULL)")
    row = con.execute("SELECT max(version) FROM schema_info").fetchone()
    version = row[0] if row else None
    if version is not None and version > SCHEMA_VERSION:
        raise StoreError(f"database schema v{version} is newer than this gecko_bench "
                         f"(v{SCHEMA_VERSION}); upgrade gecko_bench")
    for ddl in TABLES.values():
        con.execute(ddl)
    if version is None:
        con.execute("INSERT INTO schema_info VALUES (?)", [SCHEMA_VERSION])
    elif version < SCHEMA_VERSION:
        con.execute("UPDATE schema_info SET version = ?", [SCHEMA_VERSION])


def check_schema(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """For read-only use: the file must have a schema this code understands."""
    tables = {r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables").fetchall()}
    if "schema_info" not in tables:
        raise StoreError(f"{path} is not a gecko_bench results database (no schema_info)")
    (version,) = con.execute("SELECT max(version) FROM schema_info").fetchone()
    if version != SCHEMA_VERSION:
        raise StoreError(f"{path} has schema v{version}; this gecko_bench reads "
                         f"v{SCHEMA_VERSION}. Open it once for writing (e.g. `gecko-bench "
                         "eval`) to upgrade an older file.")


def table_exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Whether `name` exists (read-only callers check before querying newer tables)."""
    return bool(con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]
    ).fetchone()[0])
