"""DuckDB connection handling and the versioned schema.

This package is the only code in gecko_bench that speaks SQL. Each area keeps its tables and
queries in its own module (``runs.py``, ``scores.py``, ``fret.py``, ``training.py``, ...) and lists
its DDL in ``TABLES``; :func:`ensure_schema` creates them all.

DuckDB lets one process hold a file open for writing at a time, so every operation opens the file,
does its work in one transaction and closes it again; a second writer waits and retries
(:func:`connect`). A transaction that fails is rolled back whole: a run never leaves partial rows.

Schema versions: a file written by an older gecko_bench is upgraded the first time it is opened
for writing, by the area migrations registered for each version step (:func:`register_migration`),
all in one transaction with the version bump, so a failed upgrade leaves the file as it was.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from gecko_bench.errors import StoreError

# v2: every score and item score carries its evaluation identity (see store/scores.py).
# v3: a FRet reject is keyed by its query replica too (see store/fret.py).
SCHEMA_VERSION = 3
DEFAULT_DB = Path("results") / "gecko_bench.duckdb"

# Table name -> CREATE TABLE statement. Area modules register theirs via register_tables().
TABLES: dict[str, str] = {}
# Target version -> steps that upgrade a file of the version before it (in registration order).
MIGRATIONS: dict[int, list[Callable[[duckdb.DuckDBPyConnection], None]]] = {}


def register_tables(ddl: dict[str, str]) -> None:
    """Add an area's CREATE TABLE statements to the schema."""
    TABLES.update(ddl)


def register_migration(version: int,
                       step: Callable[[duckdb.DuckDBPyConnection], None]) -> None:
    """Run `step` when a file of schema ``version - 1`` is upgraded to `version`."""
    MIGRATIONS.setdefault(version, []).append(step)


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
    """Create missing tables and record the schema version; upgrade an older file; refuse a
    newer one. The upgrade runs in one transaction: it lands whole or not at all."""
    con.execute("CREATE TABLE IF NOT EXISTS schema_info (version INTEGER NOT NULL)")
    row = con.execute("SELECT max(version) FROM schema_info").fetchone()
    version = row[0] if row else None
    if version is not None and version > SCHEMA_VERSION:
        raise StoreError(f"database schema v{version} is newer than this gecko_bench "
                         f"(v{SCHEMA_VERSION}); upgrade gecko_bench")
    if version == SCHEMA_VERSION:
        for ddl in TABLES.values():
            con.execute(ddl)
        return
    con.execute("BEGIN TRANSACTION")
    try:
        if version is not None:
            for target in range(version + 1, SCHEMA_VERSION + 1):
                for step in MIGRATIONS.get(target, []):
                    step(con)
        for ddl in TABLES.values():
            con.execute(ddl)
        con.execute("DELETE FROM schema_info")
        con.execute("INSERT INTO schema_info VALUES (?)", [SCHEMA_VERSION])
    except BaseException as exc:
        con.execute("ROLLBACK")
        if isinstance(exc, duckdb.Error):
            raise StoreError(f"could not upgrade the database from schema v{version} to "
                             f"v{SCHEMA_VERSION}: {str(exc).splitlines()[0]}; the file is "
                             "unchanged") from exc
        raise
    con.execute("COMMIT")


def column_exists(con: duckdb.DuckDBPyConnection, table: str, column: str) -> bool:
    """Whether `table` has `column` (migrations add columns only where missing)."""
    return bool(con.execute(
        "SELECT count(*) FROM information_schema.columns WHERE table_name = ? "
        "AND column_name = ?", [table, column]).fetchone()[0])


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
