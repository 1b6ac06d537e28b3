"""Scores out of and into the store: Parquet export, and the SQL behind the mteb results
export/import (the mteb layout itself is built and read in :mod:`gecko_bench.mteb_results`).

Imported scores are a run of kind ``import`` whose rows carry ``code_version = 'mteb-import'``
(:data:`IMPORTED_CODE_VERSION`): the number was not computed by this store's scoring code, so it
is its own evaluation identity and never the same row as a measured one of the same weights
(see :mod:`gecko_bench.store.scores`). No schema change is needed for that.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from gecko_bench.store.core import connect, table_exists, transaction
from gecko_bench.store.scores import ITEM_COLUMNS, PROTOCOL_COLUMNS, SCORE_COLUMNS, _current_sql

IMPORTED_CODE_VERSION = "mteb-import"


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _in(column: str, values: Sequence[str] | None) -> tuple[str, list]:
    if values is None:
        return "true", []
    return f"{column} IN ({', '.join('?' for _ in values) or 'NULL'})", list(values)


def run_details(db_path: str | Path | None, run_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """run_id -> {durations, package_versions, kind, config} (JSON columns decoded)."""
    if not run_ids:
        return {}
    cond, params = _in("run_id", list(run_ids))
    with connect(db_path, read_only=True) as con:
        rows = con.execute(f"SELECT run_id, kind, durations, package_versions, config FROM runs "
                           f"WHERE {cond}", params).fetchall()
    return {r[0]: {"kind": r[1], "durations": json.loads(r[2]) if r[2] else {},
                   "package_versions": json.loads(r[3]) if r[3] else {},
                   "config": json.loads(r[4]) if r[4] else {}} for r in rows}


def export_parquet(out: str | Path, db_path: str | Path | None = None, *,
                   model_ids: Sequence[str] | None = None, suite: str | None = None,
                   history: bool = False) -> dict[str, int]:
    """Write ``scores.parquet`` and ``item_scores.parquet`` into folder `out`.

    Default: the current rows (:func:`gecko_bench.store.scores.current_scores`' selection, all
    dims and metrics) and the item rows of the runs that hold them. ``history``: every stored row
    (all runs, older revisions and migrated rows included). Columns: the tables' own
    (:data:`SCORE_COLUMNS`, :data:`ITEM_COLUMNS`). Returns rows written per file.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    score_cols = ", ".join(f"s.{c}" for c in SCORE_COLUMNS)
    item_cols = ", ".join(f"i.{c}" for c in ITEM_COLUMNS)
    if history:
        where, params = [], []
        cond, p = _in("s.model_id", model_ids)
        where.append(cond)
        params += p
        if suite is not None:
            where.append("(s.suite = ? OR s.task IN (SELECT task FROM suite_tasks "
                         "WHERE suite = ?))")
            params += [suite, suite]
        scores_sql = f"SELECT {score_cols} FROM scores s WHERE {' AND '.join(where)}"
        items_sql = (f"SELECT {item_cols} FROM item_scores i JOIN (SELECT DISTINCT run_id, "
                     f"task, subset, split, dim FROM ({scores_sql})) p "
                     "USING (run_id, task, subset, split, dim)")
        items_params = list(params)
    else:
        inner, params = _current_sql(model_ids=model_ids, suite=suite)
        scores_sql = f"WITH cur AS ({inner}) SELECT {score_cols} FROM cur s"
        items_sql = (f"WITH cur AS ({inner}), picked AS (SELECT DISTINCT run_id, task, subset, "
                     f"split, dim FROM cur) SELECT {item_cols} FROM item_scores i "
                     "JOIN picked USING (run_id, task, subset, split, dim)")
        items_params = list(params)
    counts = {}
    with connect(db_path, read_only=True) as con:
        if not table_exists(con, "scores"):
            return {"scores.parquet": 0, "item_scores.parquet": 0}
        for name, sql, p, order in (
                ("scores.parquet", scores_sql, params,
                 "run_id, model_id, task, subset, split, dim, metric"),
                ("item_scores.parquet", items_sql, items_params,
                 "run_id, model_id, task, subset, split, dim, item_id, metric")):
            target = out / name
            query = f"SELECT * FROM ({sql}) ORDER BY {order}"
            # COPY takes no bound parameters for the target; the path is quoted as a literal.
            literal = "'" + str(target).replace("'", "''") + "'"
            con.execute(f"COPY ({query}) TO {literal} (FORMAT parquet)", p)
            counts[name] = int(con.execute(f"SELECT count(*) FROM ({query})", p).fetchone()[0])
    return counts


def registered_revisions(db_path: str | Path | None) -> dict[str, tuple[str | None, str | None]]:
    """task -> (current revision, category) as registered in ``suite_tasks``; {} if no file."""
    path = Path(db_path) if db_path else None
    if path is not None and not path.exists():
        return {}
    try:
        with connect(db_path, read_only=True) as con:
            if not table_exists(con, "suite_tasks"):
                return {}
            rows = con.execute("SELECT task, arg_max(revision, registered_at), "
                               "arg_max(category, registered_at) FROM suite_tasks "
                               "GROUP BY task").fetchall()
    except Exception:  # no database yet (default path): nothing registered
        return {}
    return {t: (rev, cat) for t, rev, cat in rows}


def stored_main_metrics(db_path: str | Path | None) -> dict[str, str]:
    """task -> its main metric as stored by a measured run (for files of unknown tasks)."""
    path = Path(db_path) if db_path else None
    if path is not None and not path.exists():
        return {}
    try:
        with connect(db_path, read_only=True) as con:
            if not table_exists(con, "scores"):
                return {}
            rows = con.execute("SELECT task, arg_max(metric, created_at) FROM scores "
                               "WHERE is_main GROUP BY task").fetchall()
    except Exception:
        return {}
    return dict(rows)


def write_import(scores: pd.DataFrame, models: list[dict[str, Any]],
                 registrations: list[tuple[str, str, str | None, str | None]],
                 config: dict[str, Any], provenance: dict[str, Any],
                 db_path: str | Path | None = None) -> tuple[list[str], int]:
    """Store imported score rows as finished runs of kind ``import`` (one per model and
    protocol, since a run's rows are keyed without the protocol), all in one transaction.

    `scores` has :data:`SCORE_COLUMNS` except run_id / created_at; rows whose ``eval_key``
    (a hash of the source file's content and the identity) is already stored are skipped, so
    importing the same folder twice adds nothing. `models`: ``models`` rows inserted where the
    id is new (an existing row keeps its name and lineage). `registrations`: (suite, task,
    category, revision) for tasks whose file revision is their current one. Returns (run ids,
    empty when nothing was new; rows written).
    """
    with transaction(db_path) as con:
        keys = sorted(set(scores["eval_key"])) if len(scores) else []
        if keys:
            cond, params = _in("eval_key", keys)
            seen = {r[0] for r in con.execute(
                f"SELECT DISTINCT eval_key FROM scores WHERE {cond}", params).fetchall()}
            scores = scores[~scores["eval_key"].isin(seen)]
        if scores.empty:
            return [], 0
        now = _now()
        for m in models:
            con.execute(
                "INSERT INTO models (model_id, name, path, kind, n_params, dim, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (model_id) DO NOTHING",
                [m["model_id"], m["name"], m.get("path"), m.get("kind"), m.get("n_params"),
                 m.get("dim"), now])
        if registrations:
            con.executemany(
                "INSERT INTO suite_tasks VALUES (?, ?, ?, ?, ?) ON CONFLICT (suite, task) "
                "DO UPDATE SET category = excluded.category, revision = excluded.revision, "
                "registered_at = excluded.registered_at",
                [[s, t, c, r, now] for s, t, c, r in registrations])
        run_ids = []
        # One run per (model, protocol): a run's rows are keyed without the protocol.
        for _, group in scores.groupby(["model_id", *PROTOCOL_COLUMNS], dropna=False,
                                       sort=True):
            run_id = f"import-{uuid.uuid4().hex[:12]}"
            first = group.iloc[0]
            run_config = dict(config, model_id=first["model_id"],
                              **{c: (None if pd.isna(first[c]) else first[c])
                                 for c in PROTOCOL_COLUMNS})
            if run_config.get("max_seq_length") is not None:
                run_config["max_seq_length"] = int(run_config["max_seq_length"])
            con.execute(
                "INSERT INTO runs (run_id, kind, status, started_at, finished_at, git_sha, "
                "host, device, package_versions, config, durations) "
                "VALUES (?, 'import', 'finished', ?, ?, ?, ?, NULL, ?, ?, '{}')",
                [run_id, now, now, provenance.get("git_sha"), provenance.get("host"),
                 json.dumps(provenance.get("package_versions", {})),
                 json.dumps(run_config, default=str)])
            frame = group.assign(run_id=run_id, created_at=now, identity_complete=True)
            frame = frame[SCORE_COLUMNS]
            con.register("imported_scores", frame)
            con.execute(f"INSERT INTO scores ({', '.join(SCORE_COLUMNS)}) "
                        f"SELECT {', '.join(SCORE_COLUMNS)} FROM imported_scores")
            con.unregister("imported_scores")
            run_ids.append(run_id)
        return run_ids, len(scores)
