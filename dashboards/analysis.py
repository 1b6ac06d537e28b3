"""Pure pandas/numpy shaping of stored scores for the experiment pages (no Streamlit here).

Scores are shown on a 0-100 scale ("points"), like the leaderboard and ``gecko-bench regress``.
A task's score is the mean of its language subsets; a category's score is the mean of its tasks;
a variant trained with several seeds shows the mean over its checkpoints.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gecko_bench.store.scores import PROTOCOL_COLUMNS, Protocol

# A checkpoint measured one way at one dim (the protocol keeps two ways of measuring apart).
KEYS = ["experiment", "variant", "model_id", "model_name", *PROTOCOL_COLUMNS, "dim"]


def parse_variant(variant: str | None) -> dict[str, str]:
    """``"pos=p1,neg=lowest"`` -> {"pos": "p1", "neg": "lowest"}; other labels -> {"variant": v}."""
    if not variant:
        return {}
    parts = [p.split("=", 1) for p in variant.split(",")]
    if all(len(p) == 2 for p in parts):
        return {k.strip(): v.strip() for k, v in parts}
    return {"variant": variant}


def task_scores(scores: pd.DataFrame) -> pd.DataFrame:
    """Current main-metric rows -> one row per (experiment, variant, measured model, dim, task)
    in points (the rows come from the store's current scores: one per identity).

    Columns: experiment, variant, model_id, model_name, the protocol columns, dim, task,
    category, score.
    """
    main = scores[scores["is_main"]].copy()
    if main.empty:
        return pd.DataFrame(columns=KEYS + ["task", "category", "score"])
    for col in ("experiment", "variant"):
        main[col] = main[col].fillna("") if col in main else ""
    main["score"] = 100 * main["value"]
    return (main.groupby(KEYS + ["task", "category"], as_index=False, dropna=False)["score"]
            .mean())


def category_scores(tasks: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Category means per checkpoint, then averaged over checkpoints sharing ``by``.

    Columns: *by, category, score, n_tasks, n_models (seeds).
    """
    measured = ["model_id", *PROTOCOL_COLUMNS]  # a checkpoint measured one way
    per_model = (tasks.groupby(by + measured + ["category"], as_index=False, dropna=False)
                 .agg(score=("score", "mean"), n_tasks=("task", "nunique")))
    return (per_model.groupby(by + ["category"], as_index=False, dropna=False)
            .agg(score=("score", "mean"), n_tasks=("n_tasks", "max"),
                 n_models=("model_id", "nunique")))


def bootstrap_category_ci(db_path: str | Path, selections: list[tuple[str, Protocol]], dim: int,
                          n_resamples: int = 400, confidence: float = 0.95,
                          seed: int = 0) -> pd.DataFrame:
    """Per-item category estimate and its percentile CI for a set of measured checkpoints
    (seeds: (model_id, protocol) pairs), points.

    Each draw resamples the checkpoints and, within every task, its items (queries, pairs), and
    recomputes each task's statistic as ``gecko-bench regress`` does (mean nDCG@10 / accuracy,
    Spearman with gold for STS), so the interval covers item and seed variation. Written here
    rather than with scipy.stats.bootstrap because the statistic is a mean of per-task
    statistics over independently resampled item sets. ``estimate`` is the same statistic on
    all items: show it with the CI, since a category's mean main score can use another metric
    (bitext main score is F1, its items are per-sentence accuracy). Columns: category, estimate,
    ci_low, ci_high.
    """
    from gecko_bench.regress import Measured, task_pairs

    models = []
    for model_id, protocol in selections:
        side = Measured(model_id, model_id[:12], protocol)
        pairs, _ = task_pairs(db_path, side, side, dim)
        by_cat: dict[str, dict[str, list]] = {}
        for pair in pairs:
            if pair.baseline is not None and len(pair.baseline):
                by_cat.setdefault(pair.category, {}).setdefault(pair.task, []).append(
                    (pair.baseline, pair.statistic))
        models.append(by_cat)
    categories = sorted({c for m in models for c in m})

    def category_stat(model: dict, category: str, draw) -> float | None:
        tasks = model.get(category, {})
        task_means = [np.mean([stat(v, draw(len(v))) for v, stat in subsets])
                      for subsets in tasks.values()]
        return float(np.mean(task_means)) if task_means else None

    estimate = {}
    for category in categories:
        values = [v for m in models if (v := category_stat(m, category, np.arange)) is not None]
        estimate[category] = 100 * float(np.mean(values))
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {c: [] for c in categories}
    for _ in range(n_resamples):
        picked = [models[i] for i in rng.integers(0, len(models), len(models))]
        for category in categories:
            means = [v for m in picked if (v := category_stat(
                m, category, lambda n: rng.integers(0, n, n))) is not None]
            if means:
                draws[category].append(100 * float(np.mean(means)))
    alpha = (1 - confidence) / 2
    rows = [(c, estimate[c], float(np.quantile(d, alpha)), float(np.quantile(d, 1 - alpha)))
            for c, d in draws.items() if d]
    return pd.DataFrame(rows, columns=["category", "estimate", "ci_low", "ci_high"])
