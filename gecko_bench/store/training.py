"""Training runs and their loss curves (trainers/): tables, writes, and DataFrame reads.

``train_runs``: one row per training attempt (a resumed run is a new attempt with the same
``checkpoint_key``). ``train_loss``: the loss logged at every logging step of an attempt.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from gecko_bench.store.core import connect, register_tables, table_exists, transaction

register_tables({
    "train_runs": """
        CREATE TABLE IF NOT EXISTS train_runs (
            run_id VARCHAR PRIMARY KEY,       -- runs.run_id of this attempt
            stage VARCHAR NOT NULL,           -- prefinetune | finetune
            checkpoint_key VARCHAR NOT NULL,  -- hash of config + inputs; same for resumed attempts
            checkpoint_path VARCHAR,
            model_id VARCHAR,                 -- models.model_id once finished
            init_model_id VARCHAR,
            fret_dataset_id VARCHAR,
            resumed_from_step INTEGER,
            max_steps INTEGER,
            batch_size INTEGER,
            steps_done INTEGER,
            final_loss DOUBLE,
            samples_per_s DOUBLE,
            mixture JSON
        )""",
    "train_loss": """
        CREATE TABLE IF NOT EXISTS train_loss (
            run_id VARCHAR NOT NULL,
            step INTEGER NOT NULL,
            epoch DOUBLE,
            loss DOUBLE,
            learning_rate DOUBLE,
            grad_norm DOUBLE,
            PRIMARY KEY (run_id, step)
        )""",
})


def record_train_run(run_id: str, stage: str, checkpoint_key: str, checkpoint_path: str,
                     init_model_id: str | None, fret_dataset_id: str | None,
                     resumed_from_step: int, max_steps: int, batch_size: int,
                     mixture: dict[str, Any], db_path: str | Path | None = None) -> None:
    """Insert the row for a training attempt as it starts."""
    with transaction(db_path) as con:
        con.execute(
            "INSERT INTO train_runs (run_id, stage, checkpoint_key, checkpoint_path, "
            "init_model_id, fret_dataset_id, resumed_from_step, max_steps, batch_size, mixture) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [run_id, stage, checkpoint_key, checkpoint_path, init_model_id, fret_dataset_id,
             resumed_from_step, max_steps, batch_size, json.dumps(mixture)])


def add_loss_rows(run_id: str, rows: list[dict[str, Any]],
                  db_path: str | Path | None = None) -> None:
    """Upsert logged steps ({step, epoch, loss, learning_rate, grad_norm}) of an attempt."""
    if not rows:
        return
    with transaction(db_path) as con:
        con.executemany(
            "INSERT INTO train_loss VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, step) DO "
            "UPDATE SET epoch = excluded.epoch, loss = excluded.loss, "
            "learning_rate = excluded.learning_rate, grad_norm = excluded.grad_norm",
            [[run_id, r["step"], r.get("epoch"), r.get("loss"), r.get("learning_rate"),
              r.get("grad_norm")] for r in rows])


def finish_train_run(run_id: str, model_id: str, steps_done: int, final_loss: float | None,
                     samples_per_s: float | None, con=None,
                     db_path: str | Path | None = None) -> None:
    """Attach the finished checkpoint and its final figures to an attempt."""
    sql = ("UPDATE train_runs SET model_id = ?, steps_done = ?, final_loss = ?, "
           "samples_per_s = ? WHERE run_id = ?")
    params = [model_id, steps_done, final_loss, samples_per_s, run_id]
    if con is not None:
        con.execute(sql, params)
        return
    with transaction(db_path) as c:
        c.execute(sql, params)


def training_runs(db_path: str | Path | None = None) -> pd.DataFrame:
    """All training attempts, newest first.

    Columns: run_id, stage, status, started_at, finished_at, experiment, variant, checkpoint_key,
    checkpoint_path, model_id, model_name, init_model_id, base_model_id, parent_model_id,
    fret_dataset_id, resumed_from_step, max_steps, batch_size, steps_done, final_loss,
    samples_per_s, mixture (JSON text).
    """
    with connect(db_path, read_only=True) as con:
        if not table_exists(con, "train_runs"):
            return pd.DataFrame()
        return con.execute(
            "SELECT t.run_id, t.stage, r.status, r.started_at, r.finished_at, r.experiment, "
            "r.variant, t.checkpoint_key, t.checkpoint_path, t.model_id, m.name AS model_name, "
            "t.init_model_id, m.base_model_id, m.parent_model_id, t.fret_dataset_id, "
            "t.resumed_from_step, t.max_steps, t.batch_size, t.steps_done, t.final_loss, "
            "t.samples_per_s, CAST(t.mixture AS VARCHAR) AS mixture "
            "FROM train_runs t LEFT JOIN runs r USING (run_id) "
            "LEFT JOIN models m ON m.model_id = t.model_id ORDER BY r.started_at DESC").df()


def loss_curve(key: str, db_path: str | Path | None = None) -> pd.DataFrame:
    """The loss per logged step of a checkpoint, across resumed attempts.

    `key` is a model_id, a run_id or a checkpoint_key. Where attempts logged the same step (a
    step re-run after a kill), the later attempt wins. Columns: step, epoch, loss,
    learning_rate, grad_norm, run_id.
    """
    with connect(db_path, read_only=True) as con:
        if not table_exists(con, "train_loss"):
            return pd.DataFrame()
        return con.execute(
            "WITH k AS (SELECT DISTINCT checkpoint_key FROM train_runs "
            "           WHERE model_id = ? OR run_id = ? OR checkpoint_key = ?), "
            "a AS (SELECT t.run_id, r.started_at FROM train_runs t JOIN runs r USING (run_id) "
            "      WHERE t.checkpoint_key IN (SELECT checkpoint_key FROM k)) "
            "SELECT l.step, l.epoch, l.loss, l.learning_rate, l.grad_norm, l.run_id "
            "FROM train_loss l JOIN a USING (run_id) "
            "QUALIFY row_number() OVER (PARTITION BY l.step ORDER BY a.started_at DESC) = 1 "
            "ORDER BY l.step", [key, key, key]).df()


def model_registered(model_id: str, con) -> bool:
    """Whether `model_id` already has a models row (inside an open transaction)."""
    return bool(con.execute("SELECT count(*) FROM models WHERE model_id = ?",
                            [model_id]).fetchone()[0])
