"""Read-only queries for the Streamlit dashboard (dashboards/).

The dashboard never writes. It opens the file read-only for the length of one query batch and
closes it again, so a running eval or training job (which opens, writes one transaction and
closes) can keep writing. When a writer holds the lock at the moment we look, :func:`reader`
retries briefly and then raises :class:`Unavailable` with a plain "busy, refresh" message instead
of DuckDB's lock error.

Everything that cannot be shown (no file, not a gecko_bench file, older schema, a table a later
stage has not created yet) becomes :class:`Unavailable` carrying a one-line reason and the command
that fixes it. Every query here is parametrized.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pandas as pd

from gecko_bench.errors import StoreError
from gecko_bench.store.core import connect, default_db_path, table_exists
from gecko_bench.store.runs import MODELS_SQL

RUN_HINT = "`make demo` (or `gecko-bench run --profile tiny`)"

# Which command fills each table; shown when a page needs a table that does not exist yet.
TABLE_HINTS: dict[str, str] = {
    "runs": RUN_HINT,
    "models": RUN_HINT,
    "scores": "`gecko-bench eval --model minilm-l6` or " + RUN_HINT,
    "item_scores": "`gecko-bench eval --model minilm-l6` or " + RUN_HINT,
}


class Unavailable(StoreError):
    """Data for a page cannot be read right now; ``str(exc)`` says why, ``hint`` what to run."""

    def __init__(self, reason: str, hint: str = "", busy: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.hint = hint
        self.busy = busy


@contextmanager
def reader(db_path: str | Path | None, wait_s: float = 8.0) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection; waits up to ``wait_s`` for a writer, then raises Unavailable."""
    path = Path(db_path) if db_path else default_db_path()
    if not path.exists():
        raise Unavailable(f"There is no results database at `{path}` yet.",
                          f"Run {RUN_HINT} to create one, or pass `--db PATH`.")
    try:
        with connect(path, read_only=True, timeout_s=wait_s) as con:
            yield con
    except Unavailable:
        raise
    except (StoreError, duckdb.Error) as exc:
        raise as_unavailable(exc, path) from None


def as_unavailable(exc: Exception, db_path: str | Path) -> Unavailable:
    """Translate a store or DuckDB error (lock, schema, not our file) into a page explanation."""
    text = str(exc)
    low = text.lower()
    if "lock" in low or "conflict" in low:
        return Unavailable(f"A run is writing to `{db_path}` right now.",
                           "Wait a moment and press Refresh.", busy=True)
    if "schema" in low:
        return Unavailable(text, "Open it once for writing with " + RUN_HINT +
                           " or point `--db` at a current file.")
    return Unavailable(f"`{db_path}` cannot be read: {text}",
                       f"Point `--db` at a gecko_bench results file, or run {RUN_HINT}.")


def require(con: duckdb.DuckDBPyConnection, *tables: str) -> None:
    """Raise Unavailable naming the command to run when any of ``tables`` is missing."""
    for name in tables:
        if not table_exists(con, name):
            raise Unavailable(f"The database has no `{name}` table yet.",
                              "Run " + TABLE_HINTS.get(name, RUN_HINT) + ".")


def table_counts(db_path: str | Path | None = None) -> dict[str, int]:
    """Row count of every table in the file, by name (the sidebar's overview)."""
    with reader(db_path) as con:
        names = [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'main' ORDER BY table_name").fetchall()]
        # Table names come from the catalogue itself, not from users; quoted as identifiers.
        return {n: con.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}


def runs_frame(db_path: str | Path | None = None) -> pd.DataFrame:
    """Every run, newest first.

    Columns: run_id, kind, status, started_at, finished_at, seconds (wall time), profile,
    experiment, variant, git_sha, host, device, package_versions, config, durations (JSON text),
    error.
    """
    with reader(db_path) as con:
        require(con, "runs")
        return con.execute(
            "SELECT run_id, kind, status, started_at, finished_at, "
            "date_diff('millisecond', started_at, finished_at) / 1000.0 AS seconds, "
            "profile, experiment, variant, git_sha, host, device, "
            "CAST(package_versions AS VARCHAR) AS package_versions, "
            "CAST(config AS VARCHAR) AS config, CAST(durations AS VARCHAR) AS durations, error "
            "FROM runs ORDER BY started_at DESC").df()


def models_frame(db_path: str | Path | None = None) -> pd.DataFrame:
    """:func:`gecko_bench.store.runs.models_frame` through the dashboard's waiting reader."""
    with reader(db_path) as con:
        require(con, "models")
        return con.execute(MODELS_SQL + " ORDER BY m.created_at").df()


def model_eval_runs(db_path: str | Path | None = None) -> pd.DataFrame:
    """Which run scored which model (the lineage graph's checkpoint -> scores edges).

    Columns: model_id, run_id, suite, n_tasks, n_scores. Empty when no ``scores`` table exists.
    """
    with reader(db_path) as con:
        if not table_exists(con, "scores"):
            return pd.DataFrame(columns=["model_id", "run_id", "suite", "n_tasks", "n_scores"])
        return con.execute(
            "SELECT model_id, run_id, any_value(suite) AS suite, "
            "count(DISTINCT task) AS n_tasks, count(*) AS n_scores "
            "FROM scores GROUP BY model_id, run_id ORDER BY run_id").df()


def fret_mined_strategies(db_path: str | Path | None, dataset_id: str) -> pd.DataFrame:
    """Mined (positive, negative) strategies stored for a FRet dataset.

    Columns: positive, negative, n_examples, mined_at. Empty when nothing was mined yet.
    """
    with reader(db_path) as con:
        if not table_exists(con, "fret_mined"):
            return pd.DataFrame(columns=["positive", "negative", "n_examples", "mined_at"])
        return con.execute(
            "SELECT positive, negative, count(*) AS n_examples, max(mined_at) AS mined_at "
            "FROM fret_mined WHERE dataset_id = ? GROUP BY positive, negative "
            "ORDER BY positive, negative", [dataset_id]).df()


def experiment_scores(db_path: str | Path | None, experiment: str) -> pd.DataFrame:
    """Current main-metric scores of every checkpoint an experiment's eval runs measured.

    A member is (model, protocol, experiment, variant) as a tagged eval run recorded it in its
    config, so a checkpoint whose tasks were already scored (the tagged eval skipped them) still
    belongs, and the same weights measured another way elsewhere do not leak in. A checkpoint a
    tagged training run produced but no tagged eval measured belongs with every protocol it was
    measured under (each stays its own row downstream). Scores are the store's current scores
    (:func:`gecko_bench.store.scores.current_scores`), limited to the tasks the experiment's
    eval runs asked for (all tasks when it has none).

    Columns: the ``scores`` columns, ``model_name``, ``fret_dataset_id`` (the FRet build the
    checkpoint was trained on, when recorded), ``experiment``, ``variant``.
    """
    from gecko_bench.store.scores import PROTOCOL_COLUMNS, _current_sql

    current, current_params = _current_sql(main_only=True)
    config = ", ".join(f"json_extract_string(config, '$.{c}') AS {c}" for c in PROTOCOL_COLUMNS)
    same = " AND ".join(f"(mb.{c} IS NULL OR CAST(s.{c} AS VARCHAR) = mb.{c})"
                        for c in PROTOCOL_COLUMNS)
    with reader(db_path) as con:
        require(con, "runs", "scores")
        members = ["SELECT json_extract_string(config, '$.model_id') AS model_id, "
                   f"{config}, experiment, variant FROM runs "
                   "WHERE experiment = ? AND kind = 'eval' "
                   "AND json_extract_string(config, '$.model_id') IS NOT NULL"]
        params = [experiment]
        if table_exists(con, "train_runs"):
            anyway = ", ".join(f"NULL AS {c}" for c in PROTOCOL_COLUMNS)
            members.append(f"SELECT t.model_id, {anyway}, r.experiment, r.variant "
                           "FROM train_runs t JOIN runs r USING (run_id) WHERE r.experiment = ? "
                           "AND t.stage = 'finetune' AND t.model_id IS NOT NULL")
            params.append(experiment)
        return con.execute(
            "WITH members AS (SELECT DISTINCT * FROM (" + " UNION ALL ".join(members) + ")), "
            "asked AS (SELECT DISTINCT unnest(CAST(json_extract(config, '$.task_names') "
            "          AS VARCHAR[])) AS task FROM runs WHERE experiment = ? AND kind = 'eval') "
            "SELECT DISTINCT s.*, m.name AS model_name, m.fret_dataset_id, mb.experiment, "
            "mb.variant "
            f"FROM ({current}) s JOIN members mb ON mb.model_id = s.model_id AND {same} "
            "LEFT JOIN models m ON m.model_id = s.model_id "
            "WHERE s.task IN (SELECT task FROM asked) OR NOT EXISTS (SELECT 1 FROM asked) "
            "ORDER BY s.created_at",
            [*params, experiment, *current_params]).df()
