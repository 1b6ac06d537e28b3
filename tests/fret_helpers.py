"""Helpers for the FRet tests (``from fret_helpers import ...``)."""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb

# `fret build` on the tiny profile's smollm2-135m: 6 seeds in batches of 2, 4 neighbours
# The CLI starts from the tiny profile; --rankers ql,rc pins FretConfig's default, so a build
# resumed in-process with a plain FretConfig is the same dataset (the profile's rankers differ).
BUILD_CLI = [sys.executable, "-m", "gecko_bench", "fret", "build", "--n-seeds", "6", "-n", "4",
             "--corpus-size", "60", "--batch-size", "2", "--max-new-tokens", "48",
             "--rankers", "ql,rc"]


def stored_batches(db: Path) -> int:
    """FRet batches stored in `db` so far (0 while it does not exist or is being written)."""
    if not db.exists():
        return 0
    try:
        con = duckdb.connect(str(db), read_only=True)
    except duckdb.Error:
        return 0
    try:
        return con.execute("SELECT count(*) FROM fret_batches").fetchone()[0]
    except duckdb.Error:
        return 0
    finally:
        con.close()
