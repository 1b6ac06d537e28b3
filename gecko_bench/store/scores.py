"""Evaluation scores: task-level metrics, per-item metrics and the task list of each suite.

Tables
------
``scores``: one row per (run, task, subset, split, dim, metric); every scalar metric mteb reports.
``item_scores``: one row per (run, task, subset, split, dim, item, metric); the per-item values the
regression checks pair up (see :mod:`gecko_bench.eval.items` for what each item metric means).
``suite_tasks``: the tasks a suite is expected to contain and the revision each was last
registered at, written when an eval of the suite starts; the leaderboard uses it to tell
complete models from incomplete ones.

Evaluation identity
-------------------
Every score and item score carries what produced it: the model's weights id, the task and its
data revision, subset, split and dim, and the :class:`Protocol` (prompt style, input-token cap,
compute dtype, scoring code version). Two rows that differ in any of these are different
measurements: :func:`current_scores` (the one home of "the current score") returns, per identity,
the newest row, and only rows of the task's current revision (the one last registered in
``suite_tasks``). Readers group by the protocol columns, so rows measured differently are never
averaged together or silently replaced by each other. Rows migrated from a schema-v1 file whose
identity cannot be recovered (v1 stored no task revision) keep ``identity_complete = false`` and
no reader returns them.

A task's rows (all its dims) are written in one transaction (:func:`write_task`), so a killed eval
never leaves a partial task behind, and :func:`finished_dims` lets a rerun skip finished work.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from gecko_bench.errors import StoreError
from gecko_bench.store.core import (
    column_exists,
    connect,
    default_db_path,
    register_migration,
    register_tables,
    table_exists,
    transaction,
)

# Columns of the identity besides model, task, subset, split and dim.
IDENTITY_COLUMNS = ("task_revision", "prompt_style", "max_seq_length", "dtype", "code_version",
                    "identity_complete")
_IDENTITY_DDL = """
            task_revision VARCHAR,            -- the task's data revision (mteb metadata)
            prompt_style VARCHAR,             -- gecko | none | e5 | plain | model
            max_seq_length INTEGER,           -- input-token cap the model ran with (resolved)
            dtype VARCHAR,                    -- compute dtype: float32 | bfloat16 | ...
            code_version VARCHAR,             -- gecko_bench scoring version (eval.SCORING_VERSION)
            identity_complete BOOLEAN NOT NULL DEFAULT true,  -- false: migrated, not recoverable"""

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
            eval_key VARCHAR NOT NULL,        -- hash of task + data source + model + protocol
            created_at TIMESTAMP NOT NULL,""" + _IDENTITY_DDL + """
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
            value DOUBLE,""" + _IDENTITY_DDL + """
            PRIMARY KEY (run_id, task, subset, split, dim, item_id, metric)
        )""",
    "suite_tasks": """
        CREATE TABLE IF NOT EXISTS suite_tasks (
            suite VARCHAR NOT NULL,
            task VARCHAR NOT NULL,
            category VARCHAR,
            revision VARCHAR,                 -- the task's data revision when last registered
            registered_at TIMESTAMP,
            PRIMARY KEY (suite, task)
        )""",
})

SCORE_COLUMNS = ["run_id", "model_id", "suite", "task", "category", "subset", "languages",
                 "multilingual", "split", "dim", "metric", "value", "is_main", "eval_key",
                 "created_at", *IDENTITY_COLUMNS]
ITEM_COLUMNS = ["run_id", "model_id", "task", "subset", "split", "dim", "item_id", "metric",
                "value", *IDENTITY_COLUMNS]


@dataclass(frozen=True)
class Protocol:
    """How a model was measured, besides the weights, task and dim that also decide a score.

    A field left None in a query means "any value", but each distinct value still stays its own
    identity in the results (see :func:`current_scores`).
    """

    prompt_style: str | None = None
    max_seq_length: int | None = None
    dtype: str | None = None
    code_version: str | None = None

    @classmethod
    def of(cls, row: Any) -> "Protocol":
        """The protocol of a score row, dict or run config (missing keys stay None)."""
        get = row.get if hasattr(row, "get") else lambda k, d=None: getattr(row, k, d)
        value = get("max_seq_length", None)
        return cls(get("prompt_style", None),
                   None if value is None or pd.isna(value) else int(value),
                   get("dtype", None), get("code_version", None))

    def label(self) -> str:
        """Short text, e.g. ``none, 128 tok, float32, scoring v1``."""
        parts = [self.prompt_style or "any prompt",
                 f"{self.max_seq_length} tok" if self.max_seq_length else
                 "whole texts" if self.max_seq_length == 0 else "any length",
                 self.dtype or "any dtype",
                 f"scoring v{self.code_version}" if self.code_version else "any scoring"]
        return ", ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


PROTOCOL_COLUMNS = tuple(f.name for f in fields(Protocol))
# The dim of a model without embeddings (the BM25 baseline, gecko_bench.eval.lexical): its rows
# match every dim filter, so it sits beside embedding models at whatever dim they are compared.
NO_DIM = 0
# One current score per identity: model, task, subset, split, dim, metric and the protocol.
IDENTITY_KEY = ("model_id", "task", "subset", "split", "dim", *PROTOCOL_COLUMNS)


def _migrate_v1_identity(con) -> None:
    """Schema v1 -> v2: add the identity columns and fill what the v1 file can prove.

    Recovered: prompt style (v1 stored it on scores), the input-token cap (v1 runs recorded the
    resolved ``max_seq_length`` in their config), the dtype where the run was on the CPU (v1
    encoded in float32 there; on CUDA it autocast to bf16 or fp16, not recorded), and the scoring
    code version ("1": every v1 row was scored by that code). Not recoverable: the task's data
    revision (v1 hashed it into eval_key only), so every migrated row is marked
    ``identity_complete = false`` and kept, never guessed into a current identity.
    """
    run_cap = ("(SELECT TRY_CAST(json_extract_string(r.config, '$.max_seq_length') AS INTEGER) "
               "FROM runs r WHERE r.run_id = {t}.run_id)")
    run_dtype = ("(SELECT CASE WHEN r.device LIKE 'cpu%' THEN 'float32' END FROM runs r "
                 "WHERE r.run_id = {t}.run_id)")
    run_style = ("(SELECT json_extract_string(r.config, '$.prompt_style') FROM runs r "
                 "WHERE r.run_id = {t}.run_id)")
    for table in ("scores", "item_scores"):
        if not table_exists(con, table):
            continue
        for column, sqltype in (("task_revision", "VARCHAR"), ("prompt_style", "VARCHAR"),
                                ("max_seq_length", "INTEGER"), ("dtype", "VARCHAR"),
                                ("code_version", "VARCHAR"),
                                ("identity_complete", "BOOLEAN DEFAULT true")):
            if not column_exists(con, table, column):
                con.execute(f"ALTER TABLE {table} ADD COLUMN {column} {sqltype}")
        style = "prompt_style" if table == "scores" else run_style.format(t=table)
        con.execute(f"UPDATE {table} SET prompt_style = {style}, "
                    f"max_seq_length = {run_cap.format(t=table)}, "
                    f"dtype = {run_dtype.format(t=table)}, code_version = '1', "
                    "task_revision = NULL, identity_complete = false")
    if table_exists(con, "suite_tasks"):
        for column, sqltype in (("revision", "VARCHAR"), ("registered_at", "TIMESTAMP")):
            if not column_exists(con, "suite_tasks", column):
                con.execute(f"ALTER TABLE suite_tasks ADD COLUMN {column} {sqltype}")


register_migration(2, _migrate_v1_identity)


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def register_suite(suite: str, tasks: Iterable[tuple[str, str] | tuple[str, str, str | None]],
                   db_path: str | Path | None = None, con=None) -> None:
    """Record (task, category[, revision]) rows as members of `suite` (idempotent); the
    revision registered last is the task's current one for every reader."""
    rows = [(*row, None)[:3] for row in tasks]
    if not rows:
        return

    def _write(c) -> None:
        c.executemany("INSERT INTO suite_tasks VALUES (?, ?, ?, ?, ?) ON CONFLICT (suite, task) "
                      "DO UPDATE SET category = excluded.category, revision = excluded.revision, "
                      "registered_at = excluded.registered_at",
                      [[suite, t, cat, rev, _now()] for t, cat, rev in rows])

    if con is not None:
        _write(con)
        return
    with transaction(db_path) as c:
        _write(c)


def write_task(scores: pd.DataFrame, items: pd.DataFrame,
               db_path: str | Path | None = None) -> None:
    """Insert one finished task's score and item rows in a single transaction.

    `scores` has :data:`SCORE_COLUMNS` (created_at and identity_complete may be missing),
    `items` :data:`ITEM_COLUMNS` (identity_complete may be missing).
    """
    scores = scores.copy()
    if "created_at" not in scores:
        scores["created_at"] = _now()
    for frame in (scores, items):
        if "identity_complete" not in frame:
            frame["identity_complete"] = True
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


Selection = tuple[str, Protocol]  # (model_id, protocol): one model measured one way


def _protocol_condition(protocol: Protocol, alias: str = "s") -> tuple[str, list]:
    conds, params = [], []
    for column in PROTOCOL_COLUMNS:
        value = getattr(protocol, column)
        if value is not None:
            conds.append(f"{alias}.{column} = ?")
            params.append(value)
    return " AND ".join(conds) or "true", params


def _current_sql(*, selections: Sequence[Selection] | None = None,
                 model_ids: Sequence[str] | None = None, protocol: Protocol | None = None,
                 suite: str | None = None, tasks: Sequence[str] | None = None,
                 dim: int | None = None, main_only: bool = False) -> tuple[str, list]:
    """SELECT of the current score rows (``scores`` columns) for the given filters.

    Per identity (:data:`IDENTITY_KEY`), the rows of the newest run that scored it; only rows of
    the task's current revision and with a complete identity.
    """
    where, params = ["s.identity_complete"], []
    if selections is not None:
        ors = []
        for model_id, proto in selections:
            cond, cond_params = _protocol_condition(proto)
            ors.append(f"(s.model_id = ? AND {cond})")
            params += [model_id, *cond_params]
        where.append("(" + (" OR ".join(ors) or "false") + ")")
    if model_ids is not None:
        where.append(f"s.model_id IN ({', '.join('?' for _ in model_ids) or 'NULL'})")
        params += list(model_ids)
    if protocol is not None:
        cond, cond_params = _protocol_condition(protocol)
        where.append(cond)
        params += cond_params
    if suite is not None:  # a suite's tasks count wherever they were scored (resumed runs)
        where.append("(s.suite = ? OR s.task IN (SELECT task FROM suite_tasks WHERE suite = ?))")
        params += [suite, suite]
    if tasks is not None:
        where.append(f"s.task IN ({', '.join('?' for _ in tasks) or 'NULL'})")
        params += list(tasks)
    if dim is not None:
        where.append(f"(s.dim = ? OR s.dim = {NO_DIM})")
        params.append(int(dim))
    if main_only:
        where.append("s.is_main")
    key = ", ".join(IDENTITY_KEY)
    same = " AND ".join(f"n.{c} IS NOT DISTINCT FROM scoped.{c}" for c in IDENTITY_KEY)
    sql = (
        "WITH revisions AS (SELECT task, arg_max(revision, registered_at) AS revision "
        "                   FROM suite_tasks GROUP BY task), "
        "scoped AS (SELECT s.* FROM scores s JOIN revisions v ON v.task = s.task "
        "           AND v.revision IS NOT DISTINCT FROM s.task_revision "
        "           WHERE " + " AND ".join(where) + "), "
        f"newest AS (SELECT {key}, arg_max(run_id, created_at) AS run_id FROM scoped "
        f"           GROUP BY {key}) "
        f"SELECT scoped.* FROM scoped JOIN newest n ON {same} AND n.run_id = scoped.run_id")
    return sql, params


def current_scores(db_path: str | Path | None = None, *,
                   selections: Sequence[Selection] | None = None,
                   model_ids: Sequence[str] | None = None, protocol: Protocol | None = None,
                   suite: str | None = None, tasks: Sequence[str] | None = None,
                   dim: int | None = None, main_only: bool = False) -> pd.DataFrame:
    """The current scores: per evaluation identity, the newest run's rows (see module doc).

    Filters: `selections` (each a model measured with a protocol), `model_ids`, `protocol`
    (None fields match any value), `suite` (its registered tasks), `tasks`, `dim`, `main_only`.
    Columns: every ``scores`` column plus ``model_name``, ``model_path``, ``base_model_id``,
    ``parent_model_id`` (from ``models``) and ``experiment``, ``variant``, ``run_status``,
    ``run_started_at``, ``device``, ``git_sha`` (from ``runs``). Empty frame if nothing matches.
    """
    inner, params = _current_sql(selections=selections, model_ids=model_ids, protocol=protocol,
                                 suite=suite, tasks=tasks, dim=dim, main_only=main_only)
    sql = ("WITH cur AS (" + inner + ") SELECT cur.*, m.name AS model_name, "
           "m.path AS model_path, m.base_model_id, m.parent_model_id, r.experiment, r.variant, "
           "r.status AS run_status, r.started_at AS run_started_at, r.device, r.git_sha "
           "FROM cur LEFT JOIN models m USING (model_id) LEFT JOIN runs r USING (run_id) "
           "ORDER BY cur.created_at, cur.task, cur.subset, cur.dim, cur.metric")
    with connect(db_path, read_only=True) as con:
        if not table_exists(con, "scores"):
            return pd.DataFrame(columns=SCORE_COLUMNS)
        return con.execute(sql, params).df()


def current_items(db_path: str | Path | None, model_id: str, protocol: Protocol, *,
                  suite: str | None = None, tasks: Sequence[str] | None = None,
                  dim: int | None = None) -> pd.DataFrame:
    """Per-item rows of the runs that hold `model_id`'s current scores under `protocol`.

    Columns: :data:`ITEM_COLUMNS`. Items of an older or differently measured run never mix in.
    """
    inner, params = _current_sql(selections=[(model_id, protocol)], suite=suite, tasks=tasks,
                                 dim=dim, main_only=True)
    sql = ("WITH cur AS (" + inner + "), picked AS (SELECT DISTINCT run_id, task, subset, split, "
           "dim FROM cur) SELECT i.* FROM item_scores i JOIN picked p "
           "USING (run_id, task, subset, split, dim) "
           "ORDER BY i.task, i.subset, i.split, i.dim, i.item_id, i.metric")
    with connect(db_path, read_only=True) as con:
        if not table_exists(con, "item_scores"):
            return pd.DataFrame(columns=ITEM_COLUMNS)
        return con.execute(sql, params).df()


def protocols_of(db_path: str | Path | None, model_id: str, protocol: Protocol | None = None,
                 suite: str | None = None, dim: int | None = None) -> list[Protocol]:
    """The distinct protocols `model_id` has current scores under (matching `protocol`)."""
    frame = current_scores(db_path, model_ids=[model_id], protocol=protocol, suite=suite,
                           dim=dim, main_only=True)
    if frame.empty:
        return []
    found = frame[list(PROTOCOL_COLUMNS)].drop_duplicates()
    return sorted((Protocol.of(r._asdict()) for r in found.itertuples(index=False)),
                  key=lambda p: p.label())


def run_selection(db_path: str | Path | None, run_id: str) -> Selection:
    """(model_id, protocol) an eval run measured, from its recorded config."""
    import json

    with connect(db_path, read_only=True) as con:
        row = con.execute("SELECT config FROM runs WHERE run_id = ? AND kind = 'eval'",
                          [run_id]).fetchone()
    config = json.loads(row[0]) if row and row[0] else {}
    if "model_id" not in config or "code_version" not in config:
        raise StoreError(f"run {run_id} records no evaluation protocol (written by an older "
                       "gecko_bench)")
    return config["model_id"], Protocol.of(config)


def legacy_rows(db_path: str | Path | None = None) -> int:
    """How many score rows carry an incomplete identity (migrated from schema v1)."""
    with connect(db_path, read_only=True) as con:
        if not table_exists(con, "scores"):
            return 0
        return int(con.execute(
            "SELECT count(*) FROM scores WHERE NOT identity_complete").fetchone()[0])


def scores_frame(db_path: str | Path | None = None, suite: str | None = None,
                 dim: int | None = None, model_ids: list[str] | None = None,
                 experiment: str | None = None, main_only: bool = False,
                 run_id: str | None = None) -> pd.DataFrame:
    """Every stored score row (all runs, all identities) joined with its model and run.

    For inspecting history and one run's output; comparisons read :func:`current_scores`.
    Columns: as :func:`current_scores`.
    """
    where, params = [], []
    for column, value in (("s.suite", suite), ("s.dim", dim), ("r.experiment", experiment),
                          ("s.run_id", run_id)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    if model_ids:
        where.append(f"s.model_id IN ({', '.join('?' for _ in model_ids)})")
        params.extend(model_ids)
    if main_only:
        where.append("s.is_main")
    sql = ("SELECT s.*, m.name AS model_name, m.path AS model_path, m.base_model_id, "
           "m.parent_model_id, r.experiment, r.variant, r.status AS run_status, "
           "r.started_at AS run_started_at, r.device, r.git_sha "
           "FROM scores s LEFT JOIN models m USING (model_id) LEFT JOIN runs r USING (run_id)"
           + (" WHERE " + " AND ".join(where) if where else "")
           + " ORDER BY s.created_at, s.task, s.subset, s.dim, s.metric")
    with connect(db_path, read_only=True) as con:
        if not table_exists(con, "scores"):
            return pd.DataFrame(columns=SCORE_COLUMNS)
        return con.execute(sql, params).df()


def item_scores_frame(db_path: str | Path | None, model_id: str, task: str | None = None,
                      dim: int | None = None, run_id: str | None = None) -> pd.DataFrame:
    """Every stored per-item row of one model (all runs; columns :data:`ITEM_COLUMNS`).

    For inspection; comparisons read :func:`current_items`.
    """
    where, params = ["model_id = ?"], [model_id]
    for col, val in (("task", task), ("dim", dim), ("run_id", run_id)):
        if val is not None:
            where.append(f"{col} = ?")
            params.append(val)
    sql = ("SELECT * FROM item_scores WHERE " + " AND ".join(where)
           + " ORDER BY task, subset, split, dim, item_id, metric")
    with connect(db_path, read_only=True) as con:
        if not table_exists(con, "item_scores"):
            return pd.DataFrame(columns=ITEM_COLUMNS)
        return con.execute(sql, params).df()


def suite_tasks_frame(db_path: str | Path | None = None, suite: str | None = None) -> pd.DataFrame:
    """Expected tasks per suite: columns suite, task, category, revision."""
    sql = "SELECT suite, task, category, revision FROM suite_tasks"
    params = []
    if suite is not None:
        sql += " WHERE suite = ?"
        params.append(suite)
    with connect(db_path, read_only=True) as con:
        if not table_exists(con, "suite_tasks"):
            return pd.DataFrame(columns=["suite", "task", "category", "revision"])
        return con.execute(sql + " ORDER BY suite, task", params).df()
