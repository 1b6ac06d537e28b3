"""The Python API: evaluate a model, read its scores and the leaderboard, as DataFrames.

The ``gecko-bench eval`` and ``gecko-bench leaderboard`` commands call these functions, so a
script sees exactly what the command line prints::

    import gecko_bench as gb

    result = gb.evaluate("minilm-l6", ["LeeSTS-tiny"], db="results/my.duckdb")
    print(result.run_id, result.model_id[:12], result.protocol.label())
    print(result.scores[["task", "dim", "metric", "value"]])

    complete, incomplete = gb.leaderboard("results/my.duckdb")
    stored = gb.scores("results/my.duckdb", model="minilm-l6")

Scores are the store's values: main metrics in ``value`` on mteb's 0-1 scale (the leaderboard
shows task means x100). ``db`` is a DuckDB file (default ``$GECKO_BENCH_DB`` or
``results/gecko_bench.duckdb``). Errors in what was asked (unknown model, task, suite, dim,
option) raise :class:`gecko_bench.errors.InputError`. The engine is
:func:`gecko_bench.eval.runner.evaluate`; this module adds no computation of its own.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from gecko_bench.config import EvalConfig
from gecko_bench.store.scores import Protocol

__all__ = ["EvalResult", "evaluate", "leaderboard", "scores", "SCHEMA"]

# Version of the JSON documents written by ``--format json`` (docs/eval.md "Machine-readable
# output"): bumped when a key changes meaning or disappears; new keys may appear without a bump.
SCHEMA = 1

# Columns of EvalResult.scores, in order.
RESULT_COLUMNS = ["task", "category", "subset", "split", "dim", "metric", "value", "run_id",
                  "new"]

# Keyword options of evaluate(): the fields of the runner's TaskSource and RunContext
# (gecko_bench.eval.runner).
_SOURCE_OPTIONS = {"langs", "data_dir", "beir_dir", "tasks_file"}
_CONTEXT_OPTIONS = {"experiment", "variant", "run_id", "progress", "cache_dir", "use_cache",
                    "profile"}


@dataclass
class EvalResult:
    """What :func:`evaluate` measured.

    ``run_id``: the ``runs`` row of this evaluation. ``model``: the model's stored name;
    ``model_id``: its weights id (sha256). ``protocol``: how it was measured (prompt style,
    input-token cap, dtype, scoring version), as resolved. ``scores``: the current main score of
    every requested task, subset, split and dim for this model and protocol (columns
    :data:`RESULT_COLUMNS`; ``new`` is True for rows scored by this run, False for rows already in
    the store, which the run skipped). ``skipped``: tasks the run found already scored.
    """

    run_id: str
    model: str
    model_id: str
    protocol: Protocol
    scores: pd.DataFrame
    skipped: list[str] = dataclasses.field(default_factory=list)

    @property
    def new_scores(self) -> pd.DataFrame:
        """Only the rows this run scored."""
        return self.scores[self.scores["new"]]

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of ``gecko-bench eval --format json``."""
        return {"schema": SCHEMA, "kind": "eval", "run_id": self.run_id,
                "model": {"name": self.model, "model_id": self.model_id},
                "protocol": self.protocol.as_dict(), "skipped": list(self.skipped),
                "scores": records(self.scores)}


def _eval_config(config: EvalConfig | None) -> EvalConfig:
    # No config: the defaults of EvalConfig, but at the model's full dim only (an empty dims
    # list), rather than the profiles' MRL dims, which not every model has.
    return config if config is not None else EvalConfig(dims=[])


def evaluate(model: str, tasks: list[str] | None = None, *, suite: str | None = None,
             config: EvalConfig | None = None, db: str | Path | None = None,
             device: str = "cpu", **options: Any) -> EvalResult:
    """Evaluate `model` on `tasks` or a `suite` and store every score; return an EvalResult.

    `model`: a registered name (``minilm-l6``, ...) or a sentence-transformers folder. `tasks`:
    task names (ours or mteb's); `suite`: a suite name (``gecko-offline-tiny``,
    ``mteb:MTEB(eng, v2)``, ...). With neither (nor a ``beir_dir`` / ``tasks_file`` option),
    ``config.tasks`` or else ``config.suite``. `config`: an :class:`~gecko_bench.config.EvalConfig`
    whose ``dims`` (empty: the model's full dim), ``prompt_style``, ``batch_size``,
    ``max_seq_length``, ``dtype`` and ``processes`` are used; default ``EvalConfig(dims=[])``.
    Tasks already scored for this model and protocol are not recomputed (they come back with
    ``new`` False). Other keyword `options` are the runner's task source (``langs``,
    ``data_dir``, ``beir_dir``, ``tasks_file``) and run context (``experiment``, ``variant``,
    ``use_cache``, ``cache_dir``, ``progress``: rich progress bars, default True, ``run_id``,
    ``profile``); see :mod:`gecko_bench.eval.runner`.
    """
    from gecko_bench.errors import InputError
    from gecko_bench.eval.runner import RunContext, TaskSource
    from gecko_bench.eval.runner import evaluate as run_evaluation

    unknown = sorted(set(options) - _SOURCE_OPTIONS - _CONTEXT_OPTIONS)
    if unknown:
        raise InputError(f"evaluate() got unknown option(s) {', '.join(unknown)}; accepted: "
                         f"{', '.join(sorted(_SOURCE_OPTIONS | _CONTEXT_OPTIONS))}")
    cfg = _eval_config(config)
    source = TaskSource(suite=suite, tasks=list(tasks) if tasks else None,
                        **{k: v for k, v in options.items() if k in _SOURCE_OPTIONS})
    if not (suite or tasks or source.beir_dir or source.tasks_file):
        source = dataclasses.replace(TaskSource.of(cfg), langs=source.langs,
                                     data_dir=source.data_dir)
    context = RunContext(device=device,
                         **{k: v for k, v in options.items() if k in _CONTEXT_OPTIONS})
    run_id = run_evaluation(model, source, config=cfg, db=db, context=context)
    return eval_result(run_id, db)


def eval_result(run_id: str, db: str | Path | None = None) -> EvalResult:
    """The EvalResult of a stored eval run (what :func:`evaluate` returns for it)."""
    from gecko_bench.store import get_model_row, get_run
    from gecko_bench.store.scores import current_scores, run_selection

    model_id, protocol = run_selection(db, run_id)
    run_config = json.loads((get_run(run_id, db) or {}).get("config") or "{}")
    row = get_model_row(model_id, db) or {}
    dims = set(run_config.get("dims") or [])
    current = current_scores(db, selections=[(model_id, protocol)],
                             tasks=run_config.get("task_names") or [], main_only=True)
    if dims:
        current = current[current["dim"].isin(dims)]
    frame = current.assign(new=current["run_id"] == run_id)
    frame = frame.reindex(columns=RESULT_COLUMNS)
    frame = frame.sort_values(["task", "subset", "split", "dim"], ascending=[True, True, True,
                                                                             False])
    frame["new"] = frame["new"].astype(bool)
    return EvalResult(run_id=run_id, model=str(row.get("name") or run_config.get("model")),
                      model_id=model_id, protocol=protocol, scores=frame.reset_index(drop=True),
                      skipped=list(run_config.get("skipped") or []))


def leaderboard(db: str | Path | None = None, *, suite: str | None = None,
                dim: int | None = None, prompt_style: str | None = None,
                max_seq_length: int | None = None,
                dtype: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(complete, incomplete) leaderboards of the store, as DataFrames.

    A row is one model measured one way (``model_id`` plus the protocol columns
    ``prompt_style``, ``max_seq_length``, ``dtype``, ``code_version``) at one ``dim``; its task
    scores are the mean current main metric over the task's subsets and splits, x100, averaged
    into one column per category. ``complete`` holds the rows with every task of the suite,
    sorted by ``rank`` (Borda count, MTEB's rule) with ``mean`` and ``borda``; ``incomplete``
    holds the others with the tasks they lack in ``missing`` and no rank. `suite`: only that
    suite's tasks (default: every score); `dim`: that dim (default each model's full dim);
    `prompt_style`, `max_seq_length`, `dtype`: only rows measured so. See
    :func:`gecko_bench.compare.leaderboard`.
    """
    from gecko_bench.compare import leaderboard as board

    return board(db, suite=suite, dim=dim,
                 protocol=Protocol(prompt_style, max_seq_length, dtype))


def scores(db: str | Path | None = None, *, model: str | None = None,
           suite: str | None = None, tasks: list[str] | None = None, dim: int | None = None,
           prompt_style: str | None = None, max_seq_length: int | None = None,
           dtype: str | None = None, main_only: bool = True) -> pd.DataFrame:
    """The store's current scores (per identity, the newest run's), one row per metric.

    `model`: a stored name, weights id (or a prefix of 6+ characters) or checkpoint folder
    (default: every model). Filters as in :func:`leaderboard`; `tasks`: only these;
    `main_only=False` adds every other metric mteb reported. Columns: the ``scores`` table's
    (``model_id``, ``task``, ``category``, ``subset``, ``split``, ``dim``, ``metric``,
    ``value``, ``is_main``, ``run_id``, the protocol columns, ...) plus ``model_name``,
    ``experiment``, ``variant``, ``git_sha`` and the other columns of
    :func:`gecko_bench.store.scores.current_scores`.
    """
    from gecko_bench.store.scores import current_scores

    model_ids = None
    if model is not None:
        from gecko_bench.regress import resolve_model_id

        model_ids = [resolve_model_id(db, model)[0]]
    return current_scores(db, model_ids=model_ids, suite=suite, tasks=tasks, dim=dim,
                          protocol=Protocol(prompt_style, max_seq_length, dtype),
                          main_only=main_only)


# ---------------------------------------------------------------- JSON helpers


def _plain(value: Any) -> Any:
    """A JSON-safe Python value: numpy scalars unwrapped, NaN/NA as None."""
    if value is None:
        return None
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return value


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of `frame` as JSON-safe dicts."""
    return [{str(k): _plain(v) for k, v in row.items()}
            for row in frame.to_dict(orient="records")]


def leaderboard_dict(complete: pd.DataFrame, incomplete: pd.DataFrame, *,
                     suite: str | None = None, dim: int | None = None,
                     protocol: Protocol = Protocol()) -> dict[str, Any]:
    """The JSON document of ``gecko-bench leaderboard --format json``."""
    from gecko_bench.store.scores import PROTOCOL_COLUMNS

    fixed = {"rank", "model", "dim", "n_tasks", "mean", "borda", "model_id", "missing",
             *PROTOCOL_COLUMNS}
    categories = [c for c in (list(complete.columns) + list(incomplete.columns))
                  if c not in fixed]
    categories = list(dict.fromkeys(categories))
    rows = []
    for done, frame in ((True, complete), (False, incomplete)):
        for row in records(frame):
            missing = row.get("missing") or ""
            rows.append({
                "complete": done, "rank": row.get("rank"), "model": row["model"],
                "model_id": row["model_id"],
                "protocol": {c: row.get(c) for c in PROTOCOL_COLUMNS},
                "dim": row["dim"], "n_tasks": row["n_tasks"], "mean": row.get("mean"),
                "borda": row.get("borda"),
                "categories": {c: row.get(c) for c in categories},
                "missing": [t for t in missing.split(", ") if t]})
    return {"schema": SCHEMA, "kind": "leaderboard", "suite": suite, "dim": dim,
            "protocol_filter": protocol.as_dict(), "categories": categories, "rows": rows}
