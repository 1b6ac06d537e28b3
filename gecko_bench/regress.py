"""Regression checks between two stored checkpoints: paired tests on per-item scores.

For each task (and language subset) both models were scored on, the items are aligned by id and
the task's statistic (mean nDCG@10 / accuracy, Spearman with gold for STS, average precision for
pair classification) is compared with a paired bootstrap CI and a paired permutation test
(:mod:`gecko_bench.stats`). p-values are Holm-adjusted across tasks, because with many tasks a few
unadjusted "significant" changes appear by chance (mteb#5208). A task *regresses* when the
candidate is significantly worse by more than ``tolerance`` points (scores on a 0-100 scale).
"""

from __future__ import annotations

import difflib
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score

from gecko_bench.errors import InputError
from gecko_bench.provenance import checkpoint_id
from gecko_bench.stats import (
    Statistic,
    holm_adjust,
    mean_statistic,
    paired_test,
    spearman_statistic,
)
from gecko_bench.store import scores as score_store
from gecko_bench.store.dashboard import models_frame

MIN_ITEMS = 10
# Per-item reference values written by gecko_bench.eval.items: STS gold scores, pair labels.
REFERENCE_METRICS = ("gold", "label")
QUOTE = {'"': "&quot;"}
TABLE_COLUMNS = ["task", "subset", "category", "n_items", "baseline", "candidate", "delta",
                 "ci_low", "ci_high", "p_value", "p_adjusted", "significant", "regressed", "note"]


@dataclass
class RegressionReport:
    """Per-task deltas (points, 0-100) with CIs and the overall verdict."""

    baseline: str
    candidate: str
    baseline_id: str
    candidate_id: str
    dim: int
    alpha: float
    tolerance: float
    table: pd.DataFrame
    missing: dict[str, list[str]] = field(default_factory=dict)

    @property
    def regressions(self) -> pd.DataFrame:
        return self.table[self.table["regressed"]]

    @property
    def passed(self) -> bool:
        return not bool(self.table["regressed"].any())

    @property
    def message(self) -> str:
        tested = int(self.table["p_value"].notna().sum())
        if not self.passed:
            names = ", ".join(f"{r.task}/{r.subset}" if r.subset != "default" else r.task
                              for r in self.regressions.itertuples())
            return (f"FAIL: {self.candidate} regresses significantly (alpha={self.alpha}, Holm) "
                    f"by more than {self.tolerance} points on {names}")
        return (f"PASS: no task of {tested} tested regresses significantly by more than "
                f"{self.tolerance} points (alpha={self.alpha}, Holm-adjusted)")


def resolve_model_id(db_path: str | Path | None, name_or_id: str) -> tuple[str, str]:
    """(model_id, name) of a stored model by exact id, id prefix, name or checkpoint folder
    (matched by its weights hash); close matches on a miss."""
    models = models_frame(db_path)
    if len(models):
        hit = models[(models["model_id"] == name_or_id) | (models["name"] == name_or_id)]
        if hit.empty and Path(name_or_id).is_dir():
            try:
                hit = models[models["model_id"] == checkpoint_id(name_or_id)]
            except FileNotFoundError:  # a folder without weights: no stored model
                pass
        if hit.empty and len(name_or_id) >= 6:
            hit = models[models["model_id"].str.startswith(name_or_id)]
        if len(hit):
            row = hit.sort_values("created_at").iloc[-1]
            return str(row["model_id"]), str(row["name"])
    known = sorted(set(models["name"]).union(models["model_id"].str[:12])) if len(models) else []
    close = difflib.get_close_matches(name_or_id, known, n=5, cutoff=0.4)
    hint = f"; did you mean: {', '.join(close)}" if close else (
        f"; stored models: {', '.join(known[:10])}" if known else "; the store has no models yet")
    raise InputError(f"no stored model {name_or_id!r}{hint}. Evaluate it first with "
                     f"`gecko-bench eval --model {name_or_id} --suite ...`")


def _latest_items(db_path, model_id: str, dim: int | None,
                  max_seq_length: int | None = None) -> pd.DataFrame:
    items = score_store.item_scores_frame(db_path, model_id, dim=dim,
                                          max_seq_length=max_seq_length)
    if items.empty:
        return items
    # keep only the newest run of each (task, subset, split, dim)
    key = ["task", "subset", "split", "dim"]
    newest = items.groupby(key)["run_started_at"].transform("max")
    return items[items["run_started_at"] == newest]


def _statistic_kind(category: str, metrics: set[str]) -> str:
    """Which per-item metric a task is tested on, and how items combine into its score."""
    if "ndcg_at_10" in metrics:
        return "ndcg_at_10"
    if "correct" in metrics:
        return "correct"
    if "cosine" in metrics and metrics & set(REFERENCE_METRICS):
        return "cosine-ap" if category == "PairClassification" else "cosine-spearman"
    raise KeyError(f"no per-item metric this check knows among {sorted(metrics)}")


def make_statistic(kind: str, gold: np.ndarray | None) -> Statistic:
    """The task statistic over selected items: mean, Spearman with gold, or average precision."""
    if kind in ("ndcg_at_10", "correct"):
        return mean_statistic
    if kind == "cosine-spearman":
        return spearman_statistic(gold)

    def ap(values: np.ndarray, idx: np.ndarray) -> float:
        labels = gold[idx]
        if labels.min() == labels.max():
            return 0.0
        return float(average_precision_score(labels, values[idx]))

    return ap


@dataclass
class TaskPair:
    """One task (subset) both models were scored on, with aligned per-item values."""

    task: str
    subset: str
    category: str
    kind: str | None = None
    baseline: np.ndarray | None = None
    candidate: np.ndarray | None = None
    gold: np.ndarray | None = None
    note: str = ""

    @property
    def statistic(self) -> Statistic:
        return make_statistic(self.kind, self.gold)


def _aligned(base: pd.DataFrame, cand: pd.DataFrame, metric: str):
    b = base[base["metric"] == metric].set_index("item_id")["value"]
    c = cand[cand["metric"] == metric].set_index("item_id")["value"]
    common = b.index.intersection(c.index).sort_values()
    gold = base[base["metric"].isin(REFERENCE_METRICS)].set_index("item_id")["value"]
    g = gold.reindex(common).to_numpy(dtype=float) if len(gold) else None
    return b.reindex(common).to_numpy(dtype=float), c.reindex(common).to_numpy(dtype=float), g


def task_pairs(db_path, baseline_id: str, candidate_id: str, dim: int | None,
               suite: str | None = None, max_seq_length: int | None = None,
               ) -> tuple[list[TaskPair], dict[str, list[str]]]:
    """The shared tasks of two models with aligned items, and the tasks each side lacks.

    `max_seq_length`: only evaluations run with that input-token cap (default: the newest run).
    """
    base_items = _latest_items(db_path, baseline_id, dim, max_seq_length)
    cand_items = _latest_items(db_path, candidate_id, dim, max_seq_length)
    main = score_store.scores_frame(db_path, main_only=True,
                                    model_ids=[baseline_id, candidate_id], dim=dim,
                                    max_seq_length=max_seq_length)
    if suite is not None:
        suite_tasks = set(score_store.suite_tasks_frame(db_path, suite)["task"])
        if not suite_tasks:
            raise InputError(f"suite {suite!r} has not been evaluated in this store")
        main = main[main["task"].isin(suite_tasks)]
    categories = dict(zip(main["task"], main["category"]))
    base_tasks = set(main[main["model_id"] == baseline_id]["task"])
    cand_tasks = set(main[main["model_id"] == candidate_id]["task"])
    missing = {"baseline": sorted(cand_tasks - base_tasks),
               "candidate": sorted(base_tasks - cand_tasks)}
    pairs: list[TaskPair] = []
    for task in sorted(base_tasks & cand_tasks):
        bt = base_items[base_items["task"] == task] if len(base_items) else base_items
        ct = cand_items[cand_items["task"] == task] if len(cand_items) else cand_items
        category = categories.get(task, "")
        subsets = sorted(set(bt["subset"]) & set(ct["subset"])) if len(bt) and len(ct) else []
        if not subsets:
            pairs.append(TaskPair(task, "default", category,
                                  note="no per-item scores (task-level metric only): not tested"))
            continue
        for subset in subsets:
            bs, cs = bt[bt["subset"] == subset], ct[ct["subset"] == subset]
            try:
                kind = _statistic_kind(category, set(bs["metric"]))
            except KeyError as exc:
                pairs.append(TaskPair(task, subset, category, note=str(exc)))
                continue
            metric = kind.split("-")[0]
            b, c, g = _aligned(bs, cs, metric)
            pairs.append(TaskPair(task, subset, category, kind, b, c, g))
    return pairs, missing


def compare(db_path: str | Path | None, baseline: str, candidate: str, suite: str | None = None,
            dim: int | None = None, alpha: float = 0.05, tolerance: float = 0.5,
            n_resamples: int = 2000, seed: int = 0,
            max_seq_length: int | None = None) -> RegressionReport:
    """Paired per-task comparison of two stored models; see the module docstring.

    `max_seq_length`: compare only evaluations run with that input-token cap.
    """
    base_id, base_name = resolve_model_id(db_path, baseline)
    cand_id, cand_name = resolve_model_id(db_path, candidate)
    if dim is None:
        dims = [set(score_store.item_scores_frame(db_path, m)["dim"]) for m in (base_id, cand_id)]
        shared = dims[0] & dims[1]
        if not shared:
            raise InputError(f"{base_name} and {cand_name} share no evaluated dimension; "
                             "evaluate both on the same suite first")
        dim = int(max(shared))
    pairs, missing = task_pairs(db_path, base_id, cand_id, dim, suite, max_seq_length)
    if not pairs:
        raise InputError(f"{base_name} and {cand_name} share no evaluated task at dim {dim}; "
                         f"tasks only the baseline has: {missing['candidate'] or 'none'}; "
                         f"only the candidate: {missing['baseline'] or 'none'}")
    records = []
    for pair in pairs:
        b, c = pair.baseline, pair.candidate
        rec = dict(task=pair.task, subset=pair.subset, category=pair.category,
                   n_items=0 if b is None else len(b), baseline=np.nan, candidate=np.nan,
                   delta=np.nan, ci_low=np.nan, ci_high=np.nan, p_value=np.nan, note=pair.note)
        if b is not None and len(b) > 0:
            r = paired_test(b, c, pair.statistic, n_resamples=n_resamples, seed=seed)
            rec.update(baseline=100 * r.baseline, candidate=100 * r.candidate,
                       delta=100 * r.delta, ci_low=100 * r.ci_low, ci_high=100 * r.ci_high)
            if len(b) < MIN_ITEMS:
                rec["note"] = f"too few items ({len(b)} < {MIN_ITEMS}) for a test"
            else:
                rec["p_value"] = r.p_value
        records.append(rec)
    table = pd.DataFrame.from_records(records)
    tested = table["p_value"].notna()
    table["p_adjusted"] = np.nan
    if tested.any():
        table.loc[tested, "p_adjusted"] = holm_adjust(table.loc[tested, "p_value"].tolist())
    table["significant"] = table["p_adjusted"].fillna(1.0) < alpha
    table["regressed"] = table["significant"] & (table["delta"] < -tolerance)
    return RegressionReport(base_name, cand_name, base_id, cand_id, dim, alpha, tolerance,
                            table[TABLE_COLUMNS], missing)


def subset_weights(task_of_each_subset: list[str]) -> np.ndarray:
    """Averaging weights that make each task count once: 1 / (its number of language subsets),
    as the leaderboard does when it averages a task's subsets before the category mean."""
    counts = Counter(task_of_each_subset)
    return np.array([1.0 / counts[t] for t in task_of_each_subset])


def category_gains(db_path: str | Path | None, baseline: str | list[str],
                   candidate: str | list[str], suite: str | None = None, dim: int | None = None,
                   n_resamples: int = 1000, seed: int = 0,
                   max_seq_length: int | None = None) -> pd.DataFrame:
    """Per-category mean task delta (points) with a 95% bootstrap CI (items resampled per task).

    A multilingual task's language subsets share one task's weight (see `subset_weights`).

    `baseline` and `candidate` may be equal-length lists (one checkpoint per training seed): the
    i-th baseline is paired with the i-th candidate and their items are pooled, so the interval
    covers item and seed variation. Columns: category, n_tasks, baseline, candidate, delta,
    ci_low, ci_high.
    """
    bases = [baseline] if isinstance(baseline, str) else list(baseline)
    cands = [candidate] if isinstance(candidate, str) else list(candidate)
    if len(bases) != len(cands):
        raise InputError("category_gains needs as many baseline as candidate checkpoints")
    pooled: dict[tuple[str, str], TaskPair] = {}
    for b_name, c_name in zip(bases, cands):
        b_id, _ = resolve_model_id(db_path, b_name)
        c_id, _ = resolve_model_id(db_path, c_name)
        for pair in task_pairs(db_path, b_id, c_id, dim, suite, max_seq_length)[0]:
            if pair.baseline is None or not len(pair.baseline):
                continue
            key = (pair.task, pair.subset)
            if key not in pooled:
                pooled[key] = pair
                continue
            acc = pooled[key]
            acc.baseline = np.concatenate([acc.baseline, pair.baseline])
            acc.candidate = np.concatenate([acc.candidate, pair.candidate])
            if acc.gold is not None:
                acc.gold = np.concatenate([acc.gold, pair.gold])
    by_cat: dict[str, list[TaskPair]] = {}
    for pair in pooled.values():
        by_cat.setdefault(pair.category, []).append(pair)
    rng = np.random.default_rng(seed)
    rows = []
    for category, tasks in sorted(by_cat.items()):
        weights = subset_weights([t.task for t in tasks])
        full = [np.arange(len(t.baseline)) for t in tasks]
        base = np.average([t.statistic(t.baseline, i) for t, i in zip(tasks, full)],
                          weights=weights)
        cand = np.average([t.statistic(t.candidate, i) for t, i in zip(tasks, full)],
                          weights=weights)
        boots = np.empty(n_resamples)
        for k in range(n_resamples):
            deltas = []
            for t in tasks:
                idx = rng.integers(0, len(t.baseline), len(t.baseline))
                deltas.append(t.statistic(t.candidate, idx) - t.statistic(t.baseline, idx))
            boots[k] = np.average(deltas, weights=weights)
        rows.append(dict(category=category, n_tasks=len({t.task for t in tasks}),
                         baseline=100 * base,
                         candidate=100 * cand, delta=100 * (cand - base),
                         ci_low=100 * np.quantile(boots, 0.025),
                         ci_high=100 * np.quantile(boots, 0.975)))
    return pd.DataFrame(rows, columns=["category", "n_tasks", "baseline", "candidate", "delta",
                                       "ci_low", "ci_high"])


# ---------------------------------------------------------------- output formats


def to_markdown(report: RegressionReport) -> str:
    """The report as a GitHub-flavoured markdown table plus the verdict line."""
    t = report.table.copy()
    lines = [f"## Regression check: {report.candidate} vs {report.baseline} (dim {report.dim})",
             "", "| task | subset | category | n | baseline | candidate | delta [95% CI] | "
             "p (Holm) | verdict |", "|---|---|---|---|---|---|---|---|---|"]
    for r in t.itertuples():
        verdict = "REGRESSED" if r.regressed else ("significant" if r.significant else
                                                    (r.note or "n.s."))
        if np.isnan(r.delta):
            lines.append(f"| {r.task} | {r.subset} | {r.category} | {r.n_items} | | | | | "
                         f"{r.note} |")
            continue
        p = "" if np.isnan(r.p_adjusted) else f"{r.p_adjusted:.3g}"
        lines.append(f"| {r.task} | {r.subset} | {r.category} | {r.n_items} | {r.baseline:.2f} | "
                     f"{r.candidate:.2f} | {r.delta:+.2f} [{r.ci_low:+.2f}, {r.ci_high:+.2f}] | "
                     f"{p} | {verdict} |")
    lines += ["", f"**{report.message}**"]
    for side, tasks in report.missing.items():
        if tasks:
            lines.append(f"\nThe {side} has no scores for: {', '.join(tasks)}")
    return "\n".join(lines)


def to_json(report: RegressionReport) -> str:
    """Machine-readable report (NaN as null)."""
    table = json.loads(report.table.to_json(orient="records"))
    return json.dumps({"baseline": report.baseline, "candidate": report.candidate,
                       "baseline_id": report.baseline_id, "candidate_id": report.candidate_id,
                       "dim": report.dim, "alpha": report.alpha, "tolerance": report.tolerance,
                       "passed": report.passed, "message": report.message,
                       "missing": report.missing, "tasks": table}, indent=2)


def to_junit(report: RegressionReport) -> str:
    """JUnit XML: one testcase per task, a failure for each significant regression."""
    t = report.table
    cases = []
    for r in t.itertuples():
        name = escape(f"{r.task}[{r.subset}]")
        body = ""
        if r.regressed:
            detail = (f"delta {r.delta:+.2f} points, CI [{r.ci_low:+.2f}, {r.ci_high:+.2f}], "
                      f"p_holm={r.p_adjusted:.3g}")
            body = f'<failure message="{escape(detail, QUOTE)}"/>'
        elif np.isnan(r.delta) or np.isnan(r.p_value):
            body = f'<skipped message="{escape(r.note or "not tested", QUOTE)}"/>'
        cases.append(f'  <testcase classname="gecko_bench.regress" name="{name}">{body}'
                     "</testcase>")
    failures = int(t["regressed"].sum())
    skipped = int((t["p_value"].isna()).sum())
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<testsuite name="regress {escape(report.candidate)} vs {escape(report.baseline)}" '
            f'tests="{len(t)}" failures="{failures}" skipped="{skipped}">\n'
            + "\n".join(cases) + "\n</testsuite>\n")
