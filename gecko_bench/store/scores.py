"""Evaluation scores: task-level metrics, per-item metrics and the task list of each suite.

Tables
------
``scores``: one row per (run, task, subset, split, dim, metric); every scalar metric mteb reports.
``item_scores``: one row per (run, task, subset, split, dim, item, metric); the per-item values the
regression checks pair up (see :mod:`gecko_bench.eval.items` for what each item metric means).
``suite_tasks``: the tasks a suite is expected to contain, written when an eval of the suite
starts; the leaderboard uses it to tell complete models from incomplete ones.

A task's rows (all its dims) are written in one transaction (:func:`write_task`), so a killed eval
never leaves a partial task behind, and :func:`finished_dims` lets a rerun skip finished work.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from gecko_bench.store.core import (
    connect,
    default_db_path,
    register_tables,
    table_exists,
    transaction,
)

register_tables({
    "scores": """
        CREATE TABLE IF NOT EXISTS scores (
            run_id VARCHAR NOT NULL,
            model_id VARCHAR NOT NULL,
            suite VARCHAR,                    -- suite label the task was run under (or 'tasks')
            task VARCHAR NOT NULL,
            category VARCHAR,                 -- Retrieval | STS | Classification | ...
            subset VARCHAR NOT NULL,          -- mteb hf_subset: language code or 'default'
            languages VARCHAR,                -- comma-separated ISO codes of the subset
            multilingual BOOLEAN NOT NULL,    -- the task has more than one language subset
            split VARCHAR NOT NULL,
            dim INTEGER NOT NULL,             -- embedding dim scored (MRL truncation)
            metric VARCHAR NOT NULL,
            value DOUBLE,
            is_main BOOLEAN NOT NULL,         -- metric is the task's main score
            prompt_style VARCHAR NOT NULL,    -- gecko | none | e5
            eval_key VARCHAR NOT NULL,        -- hash of task + data source + prompt style + max len
            created_at TIMESTAMP NOT NULL,
            PRIMARY KEY (run_id, task, subset, split, dim, metric)
        )""",
    "item_scores": """
        CREATE TABLE IF NOT EXISTS item_scores (
            run_id VARCHAR NOT NULL,
            model_id VARCHAR NOT NULL,
            task VARCHAR NOT NULL,
            subset VARCHAR NOT NULL,
            split VARCHAR NOT NULL,
            dim INTEGER NOT NULL,
            item_id VARCHAR NOT NULL,         -- query id (retrieval) or row index
            metric VARCHAR NOT NULL,          -- ndcg_at_10 | recall_at_10 | cosine | gold | correct
            value DOUBLE,
            PRIMARY KEY (run_id, task, subset, split, dim, item_id, metric)
        )""",
    "suite_tasks": """
        CREATE TABLE IF NOT EXISTS suite_tasks (
            suite VARCHAR NOT NULL,
            task VARCHAR NOT NULL,
            category VARCHAR,
            PRIMARY KEY (suite, task)
        )""",
})

SCORE_COLUMNS = ["run_id", "model_id", "suite", "task", "category", "subset", "languages",
                 "multilingual", "split", "dim", "metric", "value", "is_main", "prompt_style",
                 "eval_key", "created_at"]
ITEM_COLUMNS = ["run_id", "model_id", "task", "subset", "split", "dim", "item_id", "metric",
                "value"]


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def register_suite(suite: str, tasks: Iterable[tuple[str, str]],
                   db_path: str | Path | None = None, con=None) -> None:
    """Record (task, category) pairs as members of `suite` (idempotent)."""
    rows = list(tasks)
    if not rows:
        return

    def _write(c) -> None:
        c.executemany("INSERT INTO suite_tasks VALUES (?, ?, ?) ON CONFLICT (suite, task) "
                      "DO UPDATE SET category = excluded.category",
                      [[suite, t, cat] for t, cat in rows])

    if con is not None:
        _write(con)
        return
    with transaction(db_path) as c:
        _write(c)


def write_task(scores: pd.DataFrame, items: pd.DataFrame,
               db_path: str | Path | None = None) -> None:
    """Insert one finished task's score and item rows in a single transaction.

    `scores` has :data:`SCORE_COLUMNS` (created_at may be missing), `items` :data:`ITEM_COLUMNS`.
    """
    scores = scores.copy()
    if "created_at" not in scores:
        scores["created_at"] = _now()
    scores = scores[SCORE_COLUMNS]
    items = items[ITEM_COLUMNS] if len(items) else pd.DataFrame(columns=ITEM_COLUMNS)
    with transaction(db_path) as con:
        con.register("new_scores", scores)
        con.execute(f"INSERT INTO scores ({', '.join(SCORE_COLUMNS)}) "
                    f"SELECT {', '.join(SCORE_COLUMNS)} FROM new_scores")
        con.unregister("new_scores")
        if len(items):
            con.register("new_items", items)
            con.execute(f"INSERT INTO item_scores ({', '.join(ITEM_COLUMNS)}) "
                        f"SELECT {', '.join(ITEM_COLUMNS)} FROM new_items")
            con.unregister("new_items")


def finished_dims(db_path: str | Path | None, model_id: str, eval_key: str) -> set[int]:
    """Dims already scored for this model and eval key (any run); empty if no database yet."""
    path = Path(db_path) if db_path else default_db_path()
    if not path.exists():
        return set()
    with connect(path, read_only=True) as con:
        if not table_exists(con, "scores"):
            return set()
        rows = con.execute("SELECT DISTINCT dim FROM scores WHERE model_id = ? AND eval_key = ?",
                           [model_id, eval_key]).fetchall()
    return {int(r[0]) for r in rows}


# The input-token cap an evaluation ran with (resolved: the model's own when not capped).
_RUN_MAX_SEQ_LENGTH = "TRY_CAST(json_extract_string(r.config, '$.max_seq_length') AS INTEGER)"


def scores_frame(db_path: str | Path | None = None, suite: str | None = None,
                 dim: int | None = None, model_ids: list[str] | None = None,
                 experiment: str | None = None, main_only: bool = False,
                 max_seq_length: int | None = None) -> pd.DataFrame:
    """Score rows joined with their model and run (`max_seq_length`: runs with that input cap).

    Columns: every ``scores`` column (run_id, model_id, suite, task, category, subset, languages,
    multilingual, split, dim, metric, value, is_main, prompt_style, eval_key, created_at) plus
    ``model_name``, ``model_path``, ``base_model_id``, ``parent_model_id`` (from ``models``) and
    ``experiment``, ``variant``, ``run_status``, ``run_started_at``, ``device``, ``git_sha``,
    ``max_seq_length`` (from ``runs``). Empty frame if nothing was evaluated yet.
    """
    where, params = [], []
    if suite is not None:
        where.append("s.suite = ?")
        params.append(suite)
    if dim is not None:
        where.append("s.dim = ?")
        params.append(int(dim))
    if model_ids:
        where.append(f"s.model_id IN ({', '.join('?' for _ in model_ids)})")
        params.extend(model_ids)
    if experiment is not None:
        where.append("r.experiment = ?")
        params.append(experiment)
    if main_only:
        where.append("s.is_main")
    if max_seq_length is not None:
        where.append(f"{_RUN_MAX_SEQ_LENGTH} = ?")
        params.append(int(max_seq_length))
    sql = ("SELECT s.*, m.name AS model_name, m.path AS model_path, m.base_model_id, "
           "m.parent_model_id, r.experiment, r.variant, r.status AS run_status, "
           "r.started_at AS run_started_at, r.device, r.git_sha, " + _RUN_MAX_SEQ_LENGTH
           + " AS max_seq_length FROM scores s LEFT JOIN models m USING (model_id) LEFT JOIN runs r USING (run_id)"
           + (" WHERE " + " AND ".join(where) if where else "")
           + " ORDER BY s.created_at, s.task, s.subset, s.dim, s.metric")
    with connect(db_path, read_only=True) as con:
        if not table_exists(con, "scores"):
            return pd.DataFrame(columns=SCORE_COLUMNS)
        return con.execute(sql, params).df()


def item_scores_frame(db_path: str | Path | None, model_id: str, task: str | None = None,
                      dim: int | None = None, run_id: str | None = None,
                      max_seq_length: int | None = None) -> pd.DataFrame:
    """Per-item rows of one model (columns: :data:`ITEM_COLUMNS`, plus ``run_started_at`` and
    ``max_seq_length`` of the run; `max_seq_length` keeps runs with that input cap).

    With several runs of the same model, all are returned; pass `run_id` to pick one.
    """
    where, params = ["i.model_id = ?"], [model_id]
    for col, val in (("task", task), ("dim", dim), ("run_id", run_id)):
        if val is not None:
            where.append(f"i.{col} = ?")
            params.append(val)
    if max_seq_length is not None:
        where.append(f"{_RUN_MAX_SEQ_LENGTH} = ?")
        params.append(int(max_seq_length))
    sql = ("SELECT i.*, r.started_at AS run_started_at, " + _RUN_MAX_SEQ_LENGTH
           + " AS max_seq_length FROM item_scores i "
           "LEFT JOIN runs r USING (run_id) WHERE " + " AND ".join(where)
           + " ORDER BY i.task, i.subset, i.split, i.dim, i.item_id, i.metric")
    with connect(db_path, read_only=True) as con:
        if not table_exists(con, "item_scores"):
            return pd.DataFrame(columns=ITEM_COLUMNS)
        return con.execute(sql, params).df()


def suite_tasks_frame(db_path: str | Path | None = None, suite: str | None = None) -> pd.DataFrame:
    """Expected tasks per suite: columns suite, task, category."""
    sql = "SELECT suite, task, category FROM suite_tasks"
    params = []
    if suite is not None:
        sql += " WHERE suite = ?"
        params.append(suite)
    with connect(db_path, read_only=True) as con:
        if not table_exists(con, "suite_tasks"):
            return pd.DataFrame(columns=["suite", "task", "category"])
        return con.execute(sql + " ORDER BY suite, task", params).df()
