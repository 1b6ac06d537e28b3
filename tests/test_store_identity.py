"""Evaluation identity in the store: the v1 -> v2 migration and "the current score" rule;
the v2 -> v3 key of FRet rejects.

``fixtures/store_v1`` is a database written by the schema-v1 code (commit 27518c1: `gecko-bench
eval --model minilm-l6 --tasks LeeSTS-tiny,DebianFAQRetrieval-tiny,BrownGenreClustering-tiny
--prompt-style none --max-seq-length 128`), kept as DuckDB's ``EXPORT DATABASE`` output so no
binary database sits in git.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from gecko_bench.store import connect
from gecko_bench.store import core as store_core
from gecko_bench.store.core import StoreError
from gecko_bench.store.scores import current_scores, legacy_rows, scores_frame

FIXTURE = Path(__file__).parent / "fixtures" / "store_v1"
COUNTED = ("runs", "models", "scores", "item_scores", "suite_tasks")


def _v1_file(tmp_path: Path) -> Path:
    db = tmp_path / "v1.duckdb"
    con = duckdb.connect(str(db))
    con.execute(f"IMPORT DATABASE '{FIXTURE}'")
    con.close()
    return db


def _counts(db: Path) -> dict[str, int]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in COUNTED}
    finally:
        con.close()


def test_v1_file_migrates_with_every_row_kept_and_marked(tmp_path):
    db = _v1_file(tmp_path)
    before = _counts(db)
    assert before["scores"] == 151 and before["item_scores"] == 360
    with pytest.raises(StoreError, match="schema v1"):  # readers ask for the upgrade first
        with connect(db, read_only=True):
            pass
    with connect(db):  # first write-open upgrades
        pass
    assert _counts(db) == before
    with connect(db, read_only=True) as con:
        assert con.execute("SELECT max(version) FROM schema_info").fetchone()[0] == \
            store_core.SCHEMA_VERSION
        for table in ("scores", "item_scores"):
            rows = con.execute(
                f"SELECT DISTINCT prompt_style, max_seq_length, dtype, code_version, "
                f"task_revision, identity_complete FROM {table}").fetchall()
            # recovered from the v1 run: style, cap, CPU float32, scoring v1; revision unknown
            assert rows == [("none", 128, "float32", "1", None, False)], (table, rows)
    assert legacy_rows(db) == 151
    # never guessed into a current identity: no reader returns them
    assert current_scores(db).empty
    assert len(scores_frame(db)) == 151  # but the history keeps them


def test_rejects_keep_their_rows_and_take_a_replica_in_their_key(tmp_path):
    """v3: fret_rejects gains `replica` in its primary key; an older file's rejects are
    replica 0, and then two replicas of one seed can be rejected at one attempt."""
    db = _v1_file(tmp_path)
    con = duckdb.connect(str(db))
    con.execute("INSERT INTO fret_rejects VALUES ('ds', 'seed/1', 0, 0, 0, 'unparseable', '')")
    con.close()
    with connect(db) as con:
        assert con.execute("SELECT seed_id, replica, attempt, reason FROM fret_rejects"
                           ).fetchall() == [("seed/1", 0, 0, "unparseable")]
        con.execute("INSERT INTO fret_rejects (dataset_id, seed_id, replica, attempt, shard, "
                    "batch_index, reason) VALUES ('ds', 'seed/1', 1, 0, 0, 0, 'duplicate')")
        with pytest.raises(duckdb.ConstraintException):
            con.execute("INSERT INTO fret_rejects (dataset_id, seed_id, replica, attempt, "
                        "shard, batch_index, reason) VALUES ('ds', 'seed/1', 1, 0, 0, 0, 'x')")
        assert "fret_rejects_v2" not in {r[0] for r in con.execute("SHOW TABLES").fetchall()}


def test_failed_migration_leaves_the_file_as_it_was(tmp_path, monkeypatch):
    db = _v1_file(tmp_path)
    before = _counts(db)
    values = duckdb.connect(str(db), read_only=True)
    total = values.execute("SELECT sum(value) FROM scores").fetchone()[0]
    values.close()

    def broken_step(con) -> None:
        con.execute("UPDATE scores SET value = -1")
        con.execute("SELECT * FROM no_such_table")

    monkeypatch.setitem(store_core.MIGRATIONS, 2, [*store_core.MIGRATIONS[2], broken_step])
    with pytest.raises(StoreError, match="could not upgrade.*unchanged"):
        with connect(db):
            pass
    assert _counts(db) == before
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT max(version) FROM schema_info").fetchone()[0] == 1
    assert con.execute("SELECT sum(value) FROM scores").fetchone()[0] == total
    columns = {r[0] for r in con.execute("DESCRIBE scores").fetchall()}
    con.close()
    assert "identity_complete" not in columns
