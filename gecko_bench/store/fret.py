"""FRet tables: datasets, passages (seeds + neighbours), queries, rejects, neighbours with every
LLM score and rank, finished batches (for resume), mined views and re-ranker checks.

Writers take a db path and do one transaction; readers return pandas DataFrames for the CLI and
the dashboards.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from gecko_bench.errors import StoreError
from gecko_bench.store.core import (TABLES, column_exists, connect, register_migration,
                                    register_tables, table_exists, transaction)

register_tables({
    "fret_datasets": """
        CREATE TABLE IF NOT EXISTS fret_datasets (
            dataset_id VARCHAR PRIMARY KEY,
            llm VARCHAR NOT NULL,
            retriever VARCHAR NOT NULL,
            n_seeds INTEGER NOT NULL,
            n_neighbours INTEGER NOT NULL,
            n_shards INTEGER NOT NULL,
            rrf_k DOUBLE NOT NULL,
            config JSON,
            run_id VARCHAR,
            status VARCHAR NOT NULL,          -- partial | complete
            created_at TIMESTAMP NOT NULL,
            finished_at TIMESTAMP
        )""",
    "fret_batches": """
        CREATE TABLE IF NOT EXISTS fret_batches (
            dataset_id VARCHAR NOT NULL,
            shard INTEGER NOT NULL,
            batch_index INTEGER NOT NULL,
            n_seeds INTEGER NOT NULL,
            n_queries INTEGER NOT NULL,
            n_rejects INTEGER NOT NULL,
            seconds DOUBLE,
            finished_at TIMESTAMP NOT NULL,
            PRIMARY KEY (dataset_id, shard, batch_index)
        )""",
    "fret_passages": """
        CREATE TABLE IF NOT EXISTS fret_passages (
            dataset_id VARCHAR NOT NULL,
            passage_id VARCHAR NOT NULL,
            title VARCHAR,
            text VARCHAR NOT NULL,
            source VARCHAR,
            licence VARCHAR,
            seed_index INTEGER,               -- position in the seed list; NULL: neighbour only
            PRIMARY KEY (dataset_id, passage_id)
        )""",
    "fret_queries": """
        CREATE TABLE IF NOT EXISTS fret_queries (
            dataset_id VARCHAR NOT NULL,
            query_id VARCHAR NOT NULL,
            seed_id VARCHAR NOT NULL,
            shard INTEGER NOT NULL,
            batch_index INTEGER NOT NULL,
            attempt INTEGER NOT NULL,
            task VARCHAR NOT NULL,
            task_type VARCHAR NOT NULL,
            example_type VARCHAR,             -- type of the last few-shot example shown
            query VARCHAR NOT NULL,
            PRIMARY KEY (dataset_id, query_id)
        )""",
    "fret_rejects": """
        CREATE TABLE IF NOT EXISTS fret_rejects (
            dataset_id VARCHAR NOT NULL,
            seed_id VARCHAR NOT NULL,
            replica INTEGER NOT NULL DEFAULT 0,  -- which of the seed's fret.queries_per_seed queries (v3)
            attempt INTEGER NOT NULL,
            shard INTEGER NOT NULL,
            batch_index INTEGER NOT NULL,
            reason VARCHAR NOT NULL,          -- unparseable | empty | too_long | copies_passage | duplicate | filter:retriever[+teacher] | filter:teacher
            raw_output VARCHAR,               -- the LLM output; for filter:* the kept query text
            PRIMARY KEY (dataset_id, seed_id, replica, attempt)
        )""",
    "fret_neighbours": """
        CREATE TABLE IF NOT EXISTS fret_neighbours (
            dataset_id VARCHAR NOT NULL,
            query_id VARCHAR NOT NULL,
            passage_id VARCHAR NOT NULL,
            is_seed BOOLEAN NOT NULL,
            retriever_rank INTEGER NOT NULL,
            retriever_score DOUBLE NOT NULL,
            ql_score DOUBLE NOT NULL,
            ql_rank INTEGER NOT NULL,
            rc_score DOUBLE NOT NULL,
            rc_rank INTEGER NOT NULL,
            rrf_score DOUBLE NOT NULL,
            rrf_rank INTEGER NOT NULL,
            PRIMARY KEY (dataset_id, query_id, passage_id)
        )""",
    # Columns added after v1 of this table, always by ALTER (never in the CREATE above) so old
    # and new files have the same column order. Additive and idempotent: re-run on every open.
    "fret_neighbours+rc_norm_score":
        "ALTER TABLE fret_neighbours ADD COLUMN IF NOT EXISTS rc_norm_score DOUBLE",
    "fret_neighbours+rc_norm_rank":
        "ALTER TABLE fret_neighbours ADD COLUMN IF NOT EXISTS rc_norm_rank INTEGER",
    "fret_mined": """
        CREATE TABLE IF NOT EXISTS fret_mined (
            dataset_id VARCHAR NOT NULL,
            positive VARCHAR NOT NULL,
            negative VARCHAR NOT NULL,
            query_id VARCHAR NOT NULL,
            positive_id VARCHAR NOT NULL,
            negative_id VARCHAR,
            mined_at TIMESTAMP NOT NULL,
            PRIMARY KEY (dataset_id, positive, negative, query_id)
        )""",
    "fret_rerank_checks": """
        CREATE TABLE IF NOT EXISTS fret_rerank_checks (
            check_id VARCHAR NOT NULL,
            task VARCHAR NOT NULL,
            llm VARCHAR NOT NULL,
            retriever VARCHAR NOT NULL,
            n_neighbours INTEGER NOT NULL,
            n_queries INTEGER NOT NULL,
            method VARCHAR NOT NULL,          -- retriever | ql | rc | rc_norm | rrf
            ndcg_at_10 DOUBLE NOT NULL,
            run_id VARCHAR,
            created_at TIMESTAMP NOT NULL,
            PRIMARY KEY (check_id, method)
        )""",
    # Added for teacher comparisons (issue 15 item 7), by ALTER like fret_neighbours' columns:
    # the paired bootstrap of method - retriever over the same queries, speed and settings.
    # NULL in checks stored before them (and delta/CI NULL on the retriever's own row).
    **{f"fret_rerank_checks+{col}":
       f"ALTER TABLE fret_rerank_checks ADD COLUMN IF NOT EXISTS {col} {kind}"
       for col, kind in (("delta", "DOUBLE"), ("ci_low", "DOUBLE"), ("ci_high", "DOUBLE"),
                         ("p_value", "DOUBLE"), ("pairs_per_s", "DOUBLE"),
                         ("prompt_version", "VARCHAR"), ("rankers", "VARCHAR"),
                         ("rrf_k", "DOUBLE"), ("task_revision", "VARCHAR"))},
    # Per-query nDCG@10 of each method, so a check's paired statistics can be recomputed.
    "fret_rerank_items": """
        CREATE TABLE IF NOT EXISTS fret_rerank_items (
            check_id VARCHAR NOT NULL,
            method VARCHAR NOT NULL,
            query_id VARCHAR NOT NULL,
            ndcg_at_10 DOUBLE NOT NULL,
            PRIMARY KEY (check_id, method, query_id)
        )""",
})


def _migrate_v2_reject_replicas(con: duckdb.DuckDBPyConnection) -> None:
    """v3: a reject's key holds its replica (one of the seed's ``fret.queries_per_seed``
    queries): before, two replicas of one seed rejected at the same attempt had the same key
    and the second failed the build. Every earlier reject is replica 0 (one query per seed)."""
    if not table_exists(con, "fret_rejects") or column_exists(con, "fret_rejects", "replica"):
        return
    con.execute("ALTER TABLE fret_rejects RENAME TO fret_rejects_v2")
    con.execute(TABLES["fret_rejects"])
    con.execute("INSERT INTO fret_rejects (dataset_id, seed_id, replica, attempt, shard, "
                "batch_index, reason, raw_output) SELECT dataset_id, seed_id, 0, attempt, shard, "
                "batch_index, reason, raw_output FROM fret_rejects_v2")
    con.execute("DROP TABLE fret_rejects_v2")


register_migration(3, _migrate_v2_reject_replicas)

RERANK_COLUMNS = ("check_id", "task", "llm", "retriever", "n_neighbours", "n_queries", "method",
                  "ndcg_at_10", "run_id", "created_at", "delta", "ci_low", "ci_high", "p_value",
                  "pairs_per_s", "prompt_version", "rankers", "rrf_k", "task_revision")

FRET_TABLES = ("fret_datasets", "fret_batches", "fret_passages", "fret_queries", "fret_rejects",
               "fret_neighbours", "fret_mined")
# The columns of a build's row tables (besides dataset_id): a row is a dict with these keys.
ROW_COLUMNS = {
    "fret_passages": ("passage_id", "title", "text", "source", "licence", "seed_index"),
    "fret_queries": ("query_id", "seed_id", "shard", "batch_index", "attempt", "task",
                     "task_type", "example_type", "query"),
    "fret_rejects": ("seed_id", "attempt", "shard", "batch_index", "reason", "raw_output",
                     "replica"),
    "fret_neighbours": ("query_id", "passage_id", "is_seed", "retriever_rank", "retriever_score",
                        "ql_score", "ql_rank", "rc_score", "rc_rank", "rrf_score", "rrf_rank",
                        "rc_norm_score", "rc_norm_rank"),
}


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


# ---------------------------------------------------------------- writing a build


def write_batch(db_path: str | Path | None, dataset: dict[str, Any], batch: dict[str, Any],
                rows: dict[str, list[dict[str, Any]]]) -> None:
    """Store one finished batch (and the dataset row if new) in a single transaction.

    `rows` maps fret_passages / fret_queries / fret_rejects / fret_neighbours to rows, each a
    dict keyed by that table's :data:`ROW_COLUMNS`. A batch already stored is left as it is.
    """
    ds = dataset["dataset_id"]
    with transaction(db_path) as con:
        _insert_dataset(con, dataset)
        (stored_shards,) = con.execute("SELECT n_shards FROM fret_datasets WHERE dataset_id = ?",
                                       [ds]).fetchone()
        if stored_shards != dataset["n_shards"]:
            raise StoreError(f"FRet dataset {ds} was started with {stored_shards} shard(s); "
                             f"rerun with --shard i/{stored_shards}")
        if con.execute("SELECT count(*) FROM fret_batches WHERE dataset_id = ? AND shard = ? "
                       "AND batch_index = ?", [ds, batch["shard"], batch["batch_index"]]
                       ).fetchone()[0]:
            return
        _insert_rows(con, ds, rows, [batch])
        _refresh_status(con, ds)


def _insert_dataset(con, dataset: dict[str, Any]) -> None:
    con.execute(
        "INSERT INTO fret_datasets (dataset_id, llm, retriever, n_seeds, n_neighbours, "
        "n_shards, rrf_k, config, run_id, status, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'partial', ?) ON CONFLICT DO NOTHING",
        [dataset["dataset_id"], dataset["llm"], dataset["retriever"], dataset["n_seeds"],
         dataset["n_neighbours"], dataset["n_shards"], dataset["rrf_k"],
         json.dumps(dataset["config"]), dataset.get("run_id"), _now()])


def _insert_rows(con, ds: str, rows: dict[str, list[dict[str, Any]]],
                 batches: list[dict[str, Any]]) -> None:
    for table, named in rows.items():
        if not named:
            continue
        cols = ROW_COLUMNS[table]
        conflict = ("ON CONFLICT DO UPDATE SET seed_index = coalesce(excluded.seed_index, "
                    "fret_passages.seed_index)" if table == "fret_passages" else "")
        con.executemany(
            f"INSERT INTO {table} (dataset_id, {', '.join(cols)}) "
            f"VALUES (?{', ?' * len(cols)}) {conflict}",
            [(ds, *(row[c] for c in cols)) for row in named])
    for batch in batches:
        con.execute(
            "INSERT INTO fret_batches VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [ds, batch["shard"], batch["batch_index"], batch["n_seeds"], batch["n_queries"],
             batch["n_rejects"], batch["seconds"], _now()])


def write_derived(db_path: str | Path | None, dataset: dict[str, Any],
                  batches: list[dict[str, Any]], rows: dict[str, list[dict[str, Any]]]) -> None:
    """Store a whole dataset re-ranked / re-filtered from another's stored scores, in one
    transaction (rows as in :func:`write_batch`; every batch of the source at once)."""
    ds = dataset["dataset_id"]
    with transaction(db_path) as con:
        if con.execute("SELECT count(*) FROM fret_datasets WHERE dataset_id = ?",
                       [ds]).fetchone()[0]:
            raise StoreError(f"FRet dataset {ds} exists already; it is not derived again")
        _insert_dataset(con, dataset)
        _insert_rows(con, ds, rows, batches)
        _refresh_status(con, ds)


def scored_source(db_path: str | Path | None, scores_id: str) -> str | None:
    """A complete, unfiltered dataset whose queries and LLM scores are those of `scores_id`
    (``config.scores_id``), oldest first; None when there is none."""
    path = Path(db_path) if db_path else None
    if path is not None and not path.exists():
        return None
    with connect(db_path, read_only=True) as con:
        if not table_exists(con, "fret_datasets"):
            return None
        row = con.execute(
            "SELECT dataset_id FROM fret_datasets WHERE status = 'complete' "
            "AND json_extract_string(config, '$.scores_id') = ? "
            "AND coalesce(json_extract_string(config, '$.filter'), 'none') = 'none' "
            "ORDER BY created_at, dataset_id LIMIT 1", [scores_id]).fetchone()
    return row[0] if row else None


def dataset_rows(db_path: str | Path | None, dataset_id: str) -> dict[str, pd.DataFrame]:
    """Every stored row of a dataset: fret_passages, fret_queries, fret_rejects,
    fret_neighbours (columns of :data:`ROW_COLUMNS`) and fret_batches."""
    with connect(db_path, read_only=True) as con:
        _require_dataset(con, dataset_id)
        out = {}
        for table, cols in ROW_COLUMNS.items():
            select = ", ".join(_added(con, c, table, table) if c.startswith("rc_norm") else
                               f"{table}.{c}" for c in cols)
            out[table] = con.execute(f"SELECT {select} FROM {table} WHERE dataset_id = ? "
                                     "ORDER BY ALL", [dataset_id]).df()
        out["fret_batches"] = con.execute(
            "SELECT shard, batch_index, n_seeds, n_queries, n_rejects, seconds FROM fret_batches "
            "WHERE dataset_id = ? ORDER BY shard, batch_index", [dataset_id]).df()
    return out


def _refresh_status(con, dataset_id: str) -> str:
    (n_seeds, done) = con.execute(
        "SELECT d.n_seeds, coalesce(sum(b.n_seeds), 0) FROM fret_datasets d "
        "LEFT JOIN fret_batches b USING (dataset_id) WHERE d.dataset_id = ? GROUP BY d.n_seeds",
        [dataset_id]).fetchone()
    status = "complete" if done >= n_seeds else "partial"
    con.execute("UPDATE fret_datasets SET status = ?, finished_at = CASE WHEN ? = 'complete' "
                "THEN coalesce(finished_at, ?) END WHERE dataset_id = ?",
                [status, status, _now(), dataset_id])
    return status


def build_state(db_path: str | Path | None, dataset_id: str) -> dict[str, Any]:
    """What a resumed build needs: status, finished (shard, batch) keys, accepted queries
    (those the round-trip filter dropped too: a resumed build must see them as taken)."""
    path = Path(db_path) if db_path else None
    if path is not None and not path.exists():
        return {"status": None, "batches": set(), "queries": set(), "n_queries": 0}
    with connect(db_path, read_only=True) as con:
        if not table_exists(con, "fret_datasets"):
            return {"status": None, "batches": set(), "queries": set(), "n_queries": 0}
        row = con.execute("SELECT status FROM fret_datasets WHERE dataset_id = ?",
                          [dataset_id]).fetchone()
        batches = {tuple(r) for r in con.execute(
            "SELECT shard, batch_index FROM fret_batches WHERE dataset_id = ?", [dataset_id]
        ).fetchall()}
        queries = {r[0] for r in con.execute(
            "SELECT query FROM fret_queries WHERE dataset_id = ? UNION SELECT raw_output FROM "
            "fret_rejects WHERE dataset_id = ? AND reason LIKE 'filter:%'",
            [dataset_id, dataset_id]).fetchall()}
        (n_queries,) = con.execute("SELECT count(*) FROM fret_queries WHERE dataset_id = ?",
                                   [dataset_id]).fetchone()
    return {"status": row[0] if row else None, "batches": batches, "queries": queries,
            "n_queries": n_queries}


def delete_dataset(db_path: str | Path | None, dataset_id: str) -> None:
    """Remove every row of a FRet dataset (used when a build produced nothing usable)."""
    with transaction(db_path) as con:
        for table in FRET_TABLES:
            con.execute(f"DELETE FROM {table} WHERE dataset_id = ?", [dataset_id])


def merge(sources: list[str | Path], db_path: str | Path | None) -> dict[str, int]:
    """Copy every FRet row of the shard databases `sources` into `db_path`; rows already there
    are kept. Returns rows added per table; dataset statuses are recomputed. One transaction:
    a missing or unreadable shard is a StoreError and nothing is merged."""
    missing = [str(s) for s in sources if not Path(s).is_file()]
    if missing:
        raise StoreError(f"no shard database at {', '.join(missing)}")
    added = {t: 0 for t in FRET_TABLES}
    with transaction(db_path) as con:
        for i, src in enumerate(sources):
            try:  # the path is a parameter, never spliced into the SQL
                con.execute(f"ATTACH ? AS shard{i} (READ_ONLY)", [str(Path(src).resolve())])
            except duckdb.Error as exc:
                raise StoreError(f"cannot read shard {src}: {exc}") from None
            for table in FRET_TABLES:
                if not con.execute(
                        "SELECT count(*) FROM information_schema.tables WHERE table_catalog = ? "
                        "AND table_name = ?", [f"shard{i}", table]).fetchone()[0]:
                    continue
                before = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                # By name: a shard written before a column was added lacks it (NULL here).
                cols = ", ".join(r[0] for r in con.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_catalog = ? "
                    "AND table_name = ? ORDER BY ordinal_position", [f"shard{i}", table]
                ).fetchall())
                con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM shard{i}.{table} "
                            "ON CONFLICT DO NOTHING")
                added[table] += con.execute(f"SELECT count(*) FROM {table}").fetchone()[0] - before
            con.execute(f"DETACH shard{i}")
        for (ds,) in con.execute("SELECT dataset_id FROM fret_datasets").fetchall():
            _refresh_status(con, ds)
    return added


# ---------------------------------------------------------------- mining and export


def mining_frame(db_path: str | Path | None, dataset_id: str) -> pd.DataFrame:
    """Columns query_id, seed_id, passage_id, rrf_rank: every neighbour of every query."""
    with connect(db_path, read_only=True) as con:
        _require_dataset(con, dataset_id)
        return con.execute(
            "SELECT q.query_id, q.seed_id, n.passage_id, n.rrf_rank FROM fret_queries q "
            "JOIN fret_neighbours n USING (dataset_id, query_id) WHERE q.dataset_id = ? "
            "ORDER BY q.query_id, n.rrf_rank", [dataset_id]).df()


def save_mined(db_path: str | Path | None, dataset_id: str, positive: str, negative: str,
               rows: list[tuple[str, str, str | None]]) -> None:
    """Replace the mined view (query_id, positive_id, negative_id) of one strategy pair."""
    now = _now()
    with transaction(db_path) as con:
        con.execute("DELETE FROM fret_mined WHERE dataset_id = ? AND positive = ? AND "
                    "negative = ?", [dataset_id, positive, negative])
        if rows:
            con.executemany("INSERT INTO fret_mined VALUES (?, ?, ?, ?, ?, ?, ?)",
                            [(dataset_id, positive, negative, q, p, n, now) for q, p, n in rows])


def fret_examples_frame(db_path: str | Path | None, dataset_id: str, positive: str = "p1",
                        negative: str = "lowest") -> pd.DataFrame:
    """One row per mined example (run ``mine`` for the strategy first).

    Columns: query_id, seed_id, task, task_type, query, positive_id, positive_title, positive,
    negative_id, negative_title, negative, relabelled (positive differs from the seed).
    """
    with connect(db_path, read_only=True) as con:
        _require_dataset(con, dataset_id)
        return con.execute(
            "SELECT q.query_id, q.seed_id, q.task, q.task_type, q.query, m.positive_id, "
            "pp.title AS positive_title, pp.text AS positive, m.negative_id, "
            "np.title AS negative_title, np.text AS negative, "
            "m.positive_id <> q.seed_id AS relabelled "
            "FROM fret_mined m JOIN fret_queries q USING (dataset_id, query_id) "
            "JOIN fret_passages pp ON pp.dataset_id = m.dataset_id AND pp.passage_id = m.positive_id "
            "LEFT JOIN fret_passages np ON np.dataset_id = m.dataset_id "
            "AND np.passage_id = m.negative_id "
            "WHERE m.dataset_id = ? AND m.positive = ? AND m.negative = ? ORDER BY q.query_id",
            [dataset_id, positive, negative]).df()


def _added(con, column: str, table: str = "fret_neighbours", alias: str = "n") -> str:
    """``alias.column``, or ``NULL AS column`` in a file opened read-only before the column
    was added (it is added on the next write)."""
    there = con.execute("SELECT count(*) FROM information_schema.columns WHERE table_name = ? "
                        "AND column_name = ?", [table, column]).fetchone()[0]
    return f"{alias}.{column}" if there else f"NULL AS {column}"


def _require_dataset(con, dataset_id: str) -> None:
    if not table_exists(con, "fret_datasets") or not con.execute(
            "SELECT count(*) FROM fret_datasets WHERE dataset_id = ?", [dataset_id]).fetchone()[0]:
        raise StoreError(f"no FRet dataset {dataset_id!r}; see `gecko-bench fret list`")


# ---------------------------------------------------------------- reading (CLI, dashboards)


def fret_datasets_frame(db_path: str | Path | None = None) -> pd.DataFrame:
    """One row per FRet dataset.

    Columns: dataset_id, llm, retriever, status, n_seeds, n_neighbours, n_shards, rrf_k,
    seeds_done, n_queries, n_rejects, relabel_rate (share of queries whose top RRF neighbour is
    not the seed), seed_found_rate (share of queries whose seed is among their n_neighbours
    retrieved neighbours), created_at, finished_at, run_id, config (JSON).
    """
    with connect(db_path, read_only=True) as con:
        if not table_exists(con, "fret_datasets"):
            return pd.DataFrame()
        return con.execute("""
            SELECT d.dataset_id, d.llm, d.retriever, d.status, d.n_seeds, d.n_neighbours,
                   d.n_shards, d.rrf_k,
                   (SELECT CAST(coalesce(sum(n_seeds), 0) AS BIGINT) FROM fret_batches b
                     WHERE b.dataset_id = d.dataset_id) AS seeds_done,
                   (SELECT count(*) FROM fret_queries q WHERE q.dataset_id = d.dataset_id)
                     AS n_queries,
                   (SELECT count(*) FROM fret_rejects r WHERE r.dataset_id = d.dataset_id)
                     AS n_rejects,
                   (SELECT avg(CASE WHEN n.passage_id <> q.seed_id THEN 1.0 ELSE 0.0 END)
                      FROM fret_queries q JOIN fret_neighbours n USING (dataset_id, query_id)
                     WHERE q.dataset_id = d.dataset_id AND n.rrf_rank = 1) AS relabel_rate,
                   (SELECT avg(CASE WHEN EXISTS (
                               SELECT 1 FROM fret_neighbours n WHERE n.dataset_id = q.dataset_id
                                  AND n.query_id = q.query_id AND n.passage_id = q.seed_id)
                           THEN 1.0 ELSE 0.0 END)
                      FROM fret_queries q WHERE q.dataset_id = d.dataset_id) AS seed_found_rate,
                   d.created_at, d.finished_at, d.run_id, d.config
              FROM fret_datasets d ORDER BY d.created_at DESC""").df()


def fret_rejects_frame(db_path: str | Path | None, dataset_id: str) -> pd.DataFrame:
    """Every rejected generation. Columns: seed_id, replica, attempt, shard, batch_index,
    reason, raw_output."""
    with connect(db_path, read_only=True) as con:
        _require_dataset(con, dataset_id)
        return con.execute("SELECT seed_id, replica, attempt, shard, batch_index, reason, "
                           "raw_output FROM fret_rejects WHERE dataset_id = ? ORDER BY shard, "
                           "batch_index, seed_id, replica, attempt", [dataset_id]).df()


def fret_queries_frame(db_path: str | Path | None, dataset_id: str) -> pd.DataFrame:
    """Accepted queries. Columns: query_id, seed_id, shard, batch_index, attempt, task,
    task_type, example_type, query, seed_title, seed_text, seed_source."""
    with connect(db_path, read_only=True) as con:
        _require_dataset(con, dataset_id)
        return con.execute(
            "SELECT q.query_id, q.seed_id, q.shard, q.batch_index, q.attempt, q.task, "
            "q.task_type, q.example_type, q.query, p.title AS seed_title, p.text AS seed_text, "
            "p.source AS seed_source FROM fret_queries q JOIN fret_passages p "
            "ON p.dataset_id = q.dataset_id AND p.passage_id = q.seed_id "
            "WHERE q.dataset_id = ? ORDER BY q.query_id", [dataset_id]).df()


def fret_neighbours_frame(db_path: str | Path | None, dataset_id: str,
                          query_id: str | None = None) -> pd.DataFrame:
    """Neighbours with all scores and ranks. Columns: query_id, passage_id, is_seed,
    retriever_rank, retriever_score, ql_score, ql_rank, rc_score, rc_rank, rc_norm_score,
    rc_norm_rank (NULL in datasets built before prompt v2), rrf_score, rrf_rank, title, text,
    source."""
    with connect(db_path, read_only=True) as con:
        _require_dataset(con, dataset_id)
        return con.execute(
            "SELECT n.query_id, n.passage_id, n.is_seed, n.retriever_rank, n.retriever_score, "
            "n.ql_score, n.ql_rank, n.rc_score, n.rc_rank, "
            f"{_added(con, 'rc_norm_score')}, {_added(con, 'rc_norm_rank')}, "
            "n.rrf_score, n.rrf_rank, p.title, "
            "p.text, p.source FROM fret_neighbours n JOIN fret_passages p "
            "ON p.dataset_id = n.dataset_id AND p.passage_id = n.passage_id "
            "WHERE n.dataset_id = ? AND (? IS NULL OR n.query_id = ?) "
            "ORDER BY n.query_id, n.rrf_rank", [dataset_id, query_id, query_id]).df()


def save_rerank_check(db_path: str | Path | None, check: dict[str, Any],
                      methods: list[dict[str, Any]],
                      items: dict[str, dict[str, float]] | None = None,
                      run_id: str | None = None) -> None:
    """Store one re-ranker check in one transaction.

    `check`: check_id, task, task_revision, llm, retriever, n_neighbours, n_queries,
    pairs_per_s, prompt_version, rankers, rrf_k. `run_id`: the rerank-check run that measured it
    (its config and the code version are in ``runs``). `methods`: one dict per method with method, ndcg_at_10,
    delta, ci_low, ci_high, p_value (None on the retriever's row). `items`: method ->
    {query_id: nDCG@10}.
    """
    now = _now()
    cols = ", ".join(RERANK_COLUMNS)
    rows = [tuple({**check, **m, "run_id": run_id, "created_at": now}.get(c)
                  for c in RERANK_COLUMNS) for m in methods]
    with transaction(db_path) as con:
        con.executemany(f"INSERT INTO fret_rerank_checks ({cols}) "
                        f"VALUES ({', '.join('?' * len(RERANK_COLUMNS))})", rows)
        if items:
            con.executemany("INSERT INTO fret_rerank_items VALUES (?, ?, ?, ?)",
                            [(check["check_id"], m, q, v) for m, per in items.items()
                             for q, v in per.items()])


def fret_rerank_frame(db_path: str | Path | None = None) -> pd.DataFrame:
    """Re-ranker checks, one row per (check, method). Columns: check_id, task, llm, retriever,
    n_neighbours, n_queries, method, ndcg_at_10, run_id, created_at, delta, ci_low, ci_high,
    p_value, pairs_per_s, prompt_version, rankers, rrf_k, task_revision (the last nine NULL in
    checks stored before they existed, and run_id too)."""
    with connect(db_path, read_only=True) as con:
        if not table_exists(con, "fret_rerank_checks"):
            return pd.DataFrame()
        select = ", ".join(_added(con, c, "fret_rerank_checks", "r") for c in RERANK_COLUMNS)
        return con.execute(f"SELECT {select} FROM fret_rerank_checks r "
                           "ORDER BY created_at DESC, check_id, method").df()


def fret_rerank_items_frame(db_path: str | Path | None, check_id: str) -> pd.DataFrame:
    """Per-query nDCG@10 of one check. Columns: method, query_id, ndcg_at_10."""
    with connect(db_path, read_only=True) as con:
        if not table_exists(con, "fret_rerank_items"):
            return pd.DataFrame(columns=["method", "query_id", "ndcg_at_10"])
        return con.execute("SELECT method, query_id, ndcg_at_10 FROM fret_rerank_items "
                           "WHERE check_id = ? ORDER BY method, query_id", [check_id]).df()
