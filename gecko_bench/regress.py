"""Regression checks between two stored checkpoints: paired tests on per-item scores.

What is compared: each side is one model measured one way (:class:`Measured`: weights id and
:class:`~gecko_bench.store.scores.Protocol`), read through the store's current scores, so a later
evaluation under another prompt style, input cap or dtype never stands in for the one asked for.
A side whose stored scores match several protocols is refused with the list (pick one).

For each task (and language subset) both sides were scored on, the items are aligned by id and
the task's statistic (mean nDCG@10 / accuracy, Spearman with gold for STS, average precision for
pair classification, mean V-measure over mteb's clustering experiments) is compared with a paired
bootstrap CI and a paired permutation test (:mod:`gecko_bench.stats`). p-values are Holm-adjusted
across tasks (mteb#5208), with enough resamples for the number of tests (`resamples_for`).

The gate's rule (non-inferiority): a task *regresses* when the lower bound of the 95% CI of
(candidate - baseline) lies below ``-tolerance`` points and the difference is negative and
significant after Holm. The gate *fails closed*: a candidate that lacks a task or language subset
the baseline has, or a shared task that cannot be tested (no per-item metric, fewer than
:data:`MIN_ITEMS` items, no aligned items), makes the report incomplete unless missing work is
explicitly allowed. Exit codes of ``gecko-bench regress``: 0 pass, 1 regression, 2 bad input,
3 incomplete (a measured regression wins over incompleteness).
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
    resamples_for,
    spearman_statistic,
)
from gecko_bench.store import scores as score_store
from gecko_bench.store.runs import models_frame
from gecko_bench.store.scores import Protocol

MIN_ITEMS = 10
# Per-item reference values written by gecko_bench.eval.items: STS gold scores, pair labels.
REFERENCE_METRICS = ("gold", "label")
QUOTE = {'"': "&quot;"}
TABLE_COLUMNS = ["task", "subset", "category", "n_items", "baseline", "candidate", "delta",
                 "ci_low", "ci_high", "p_value", "p_adjusted", "significant", "regressed", "note"]
EXIT_PASS, EXIT_REGRESSION, EXIT_INCOMPLETE = 0, 1, 3


@dataclass(frozen=True)
class Measured:
    """One model measured one way: the weights id, its stored name and the protocol."""

    model_id: str
    name: str
    protocol: Protocol

    @property
    def label(self) -> str:
        return f"{self.name} ({self.protocol.label()})"


@dataclass
class RegressionReport:
    """Per-task deltas (points, 0-100) with CIs and the overall verdict."""

    baseline: Measured
    candidate: Measured
    dim: int
    alpha: float
    tolerance: float
    n_resamples: int
    table: pd.DataFrame
    missing: dict[str, list[str]] = field(default_factory=dict)
    allow_missing: bool = False

    @property
    def regressions(self) -> pd.DataFrame:
        return self.table[self.table["regressed"]]

    @property
    def untested(self) -> list[str]:
        """Shared tasks (task/subset) that got no test, with the reason."""
        rows = self.table[self.table["p_value"].isna()]
        return [f"{_where(r)} ({r.note or 'not tested'})" for r in rows.itertuples()]

    @property
    def incomplete(self) -> bool:
        """The candidate lacks work the baseline has, or a shared task went untested."""
        return bool(self.missing.get("candidate") or self.untested)

    @property
    def passed(self) -> bool:
        return self.exit_code == EXIT_PASS

    @property
    def exit_code(self) -> int:
        if self.table["regressed"].any():
            return EXIT_REGRESSION
        if self.incomplete and not self.allow_missing:
            return EXIT_INCOMPLETE
        return EXIT_PASS

    @property
    def message(self) -> str:
        tested = int(self.table["p_value"].notna().sum())
        rule = (f"lower 95% CI bound below -{self.tolerance} points and significant "
                f"(alpha={self.alpha}, Holm over {tested} tests, {self.n_resamples} resamples)")
        if self.exit_code == EXIT_REGRESSION:
            names = ", ".join(_where(r) for r in self.regressions.itertuples())
            return f"FAIL: {self.candidate.name} regresses on {names}: {rule}"
        if self.exit_code == EXIT_INCOMPLETE:
            lacking = self.missing.get("candidate", []) + self.untested
            return (f"INCOMPLETE: the gate cannot vouch for {self.candidate.name}: "
                    f"{len(lacking)} task(s) of the baseline not compared: "
                    f"{', '.join(lacking)}. Evaluate them, or pass --allow-missing")
        note = (f" ({len(self.missing.get('candidate', [])) + len(self.untested)} task(s) not "
                "compared, allowed by --allow-missing)" if self.incomplete else "")
        return f"PASS: no task of {tested} tested regresses: {rule}{note}"


def _where(row) -> str:
    return f"{row.task}/{row.subset}" if row.subset != "default" else row.task


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


def resolve_measured(db_path: str | Path | None, name_or_id: str,
                     protocol: Protocol = Protocol(), suite: str | None = None,
                     dim: int | None = None) -> Measured:
    """The stored model and the one protocol its current scores match; InputError when none or
    several match (the message lists them and the options that pick one)."""
    model_id, name = resolve_model_id(db_path, name_or_id)
    found = score_store.protocols_of(db_path, model_id, protocol, suite=suite, dim=dim)
    where = (f" on suite {suite}" if suite else "") + (f" at dim {dim}" if dim else "")
    if not found:
        others = score_store.protocols_of(db_path, model_id, suite=suite, dim=dim)
        raise InputError(
            f"{name} has no current scores{where} measured as {protocol.label()}"
            + (f"; it has: {'; '.join(p.label() for p in others)}" if others else
               f"; evaluate it with `gecko-bench eval --model {name_or_id} ...`"))
    if len(found) > 1:
        raise InputError(
            f"{name} was measured{where} under {len(found)} protocols: "
            f"{'; '.join(p.label() for p in found)}. Pick one with --prompt-style, "
            "--max-seq-length or --dtype (or the --baseline-/--candidate- variants)")
    return Measured(model_id, name, found[0])


def _statistic_kind(category: str, metrics: set[str]) -> str:
    """Which per-item metric a task is tested on, and how items combine into its score."""
    if "ndcg_at_10" in metrics:
        return "ndcg_at_10"
    if "correct" in metrics:
        return "correct"
    if "v_measure" in metrics:
        return "v_measure"
    if "cosine" in metrics and metrics & set(REFERENCE_METRICS):
        return "cosine-ap" if category == "PairClassification" else "cosine-spearman"
    raise KeyError(f"no per-item metric this check knows among {sorted(metrics)}")


def make_statistic(kind: str, gold: np.ndarray | None) -> Statistic:
    """The task statistic over selected items: mean, Spearman with gold, or average precision."""
    if kind in ("ndcg_at_10", "correct", "v_measure"):
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
    note = (f"only {len(common)} of {len(b)} items align" if len(common) < len(b) else "")
    return b.reindex(common).to_numpy(dtype=float), c.reindex(common).to_numpy(dtype=float), g, note


def _subsets(main: pd.DataFrame) -> set[tuple[str, str]]:
    return set(zip(main["task"], main["subset"]))


def task_pairs(db_path, baseline: Measured, candidate: Measured, dim: int,
               suite: str | None = None) -> tuple[list[TaskPair], dict[str, list[str]]]:
    """The shared task subsets of two measured models with aligned items, and what each side
    lacks (``task`` or ``task/subset`` names under "baseline" and "candidate")."""
    if suite is not None and score_store.suite_tasks_frame(db_path, suite).empty:
        raise InputError(f"suite {suite!r} has not been evaluated in this store")
    sides = []
    for side in (baseline, candidate):
        main = score_store.current_scores(db_path, selections=[(side.model_id, side.protocol)],
                                          suite=suite, dim=dim, main_only=True)
        items = score_store.current_items(db_path, side.model_id, side.protocol, suite=suite,
                                          dim=dim)
        sides.append((main, items))
    (base_main, base_items), (cand_main, cand_items) = sides
    categories = dict(zip(base_main["task"], base_main["category"]))
    base_keys, cand_keys = _subsets(base_main), _subsets(cand_main)

    def names(keys: set[tuple[str, str]]) -> list[str]:
        return sorted(t if sub == "default" else f"{t}/{sub}" for t, sub in keys)

    missing = {"baseline": names(cand_keys - base_keys), "candidate": names(base_keys - cand_keys)}
    pairs: list[TaskPair] = []
    for task, subset in sorted(base_keys & cand_keys):
        category = categories.get(task, "")
        bs = base_items[(base_items["task"] == task) & (base_items["subset"] == subset)]
        cs = cand_items[(cand_items["task"] == task) & (cand_items["subset"] == subset)]
        if bs.empty or cs.empty:
            pairs.append(TaskPair(task, subset, category,
                                  note="no per-item scores (task-level metric only)"))
            continue
        try:
            kind = _statistic_kind(category, set(bs["metric"]))
        except KeyError as exc:
            pairs.append(TaskPair(task, subset, category, note=str(exc.args[0])))
            continue
        b, c, g, note = _aligned(bs, cs, kind.split("-")[0])
        pairs.append(TaskPair(task, subset, category, kind, b, c, g, note))
    return pairs, missing


def _shared_dim(db_path, baseline: Measured, candidate: Measured, suite: str | None) -> int:
    dims = []
    for side in (baseline, candidate):
        frame = score_store.current_scores(db_path, selections=[(side.model_id, side.protocol)],
                                           suite=suite, main_only=True)
        dims.append(set(frame["dim"].astype(int)))
    # A model without embeddings (BM25, dim NO_DIM) pairs with the other at any of its dims.
    dims = [d - {score_store.NO_DIM} or other for d, other in zip(dims, dims[::-1])]
    shared = dims[0] & dims[1]
    if not shared:
        raise InputError(f"{baseline.label} and {candidate.label} share no evaluated dimension; "
                         "evaluate both on the same suite first")
    return max(shared)


def compare(db_path: str | Path | None, baseline: str, candidate: str, suite: str | None = None,
            dim: int | None = None, alpha: float = 0.05, tolerance: float = 0.5,
            n_resamples: int = 2000, seed: int = 0,
            baseline_protocol: Protocol = Protocol(), candidate_protocol: Protocol = Protocol(),
            allow_missing: bool = False) -> RegressionReport:
    """Paired per-task comparison of two stored, measured models; see the module docstring.

    `n_resamples` is a minimum: it grows with the number of tests (:func:`resamples_for`).
    """
    base = resolve_measured(db_path, baseline, baseline_protocol, suite)
    cand = resolve_measured(db_path, candidate, candidate_protocol, suite)
    dim = int(dim) if dim is not None else _shared_dim(db_path, base, cand, suite)
    pairs, missing = task_pairs(db_path, base, cand, dim, suite)
    if not pairs:
        raise InputError(f"{base.label} and {cand.label} share no evaluated task at dim {dim}; "
                         f"tasks only the baseline has: {missing['candidate'] or 'none'}; "
                         f"only the candidate: {missing['baseline'] or 'none'}")
    testable = [p for p in pairs if p.baseline is not None and len(p.baseline) >= MIN_ITEMS]
    resamples = resamples_for(len(testable), alpha, n_resamples)
    records = []
    for pair in pairs:
        b, c = pair.baseline, pair.candidate
        rec = dict(task=pair.task, subset=pair.subset, category=pair.category,
                   n_items=0 if b is None else len(b), baseline=np.nan, candidate=np.nan,
                   delta=np.nan, ci_low=np.nan, ci_high=np.nan, p_value=np.nan, note=pair.note)
        if b is not None and len(b) > 0:
            r = paired_test(b, c, pair.statistic, n_resamples=resamples, seed=seed)
            rec.update(baseline=100 * r.baseline, candidate=100 * r.candidate,
                       delta=100 * r.delta, ci_low=100 * r.ci_low, ci_high=100 * r.ci_high)
            if len(b) < MIN_ITEMS:
                rec["note"] = f"too few items ({len(b)} < {MIN_ITEMS}) for a test"
            else:
                rec["p_value"] = r.p_value
        elif b is not None:
            rec["note"] = "no aligned items"
        records.append(rec)
    table = pd.DataFrame.from_records(records)
    tested = table["p_value"].notna()
    table["p_adjusted"] = np.nan
    if tested.any():
        table.loc[tested, "p_adjusted"] = holm_adjust(table.loc[tested, "p_value"].tolist())
    table["significant"] = table["p_adjusted"].fillna(1.0) < alpha
    table["regressed"] = (table["significant"] & (table["delta"] < 0)
                          & (table["ci_low"] < -tolerance))
    return RegressionReport(base, cand, dim, alpha, tolerance, resamples, table[TABLE_COLUMNS],
                            missing, allow_missing)


def subset_weights(task_of_each_subset: list[str]) -> np.ndarray:
    """Averaging weights that make each task count once: 1 / (its number of language subsets),
    as the leaderboard does when it averages a task's subsets before the category mean."""
    counts = Counter(task_of_each_subset)
    return np.array([1.0 / counts[t] for t in task_of_each_subset])


def category_gains(db_path: str | Path | None, baseline: str | list[str],
                   candidate: str | list[str], suite: str | None = None, dim: int | None = None,
                   n_resamples: int = 1000, seed: int = 0,
                   baseline_protocol: Protocol = Protocol(),
                   candidate_protocol: Protocol = Protocol(),
                   exclude_tasks: tuple[str, ...] | list[str] = ()) -> pd.DataFrame:
    """Per-category mean task delta (points) with a 95% bootstrap CI (items resampled per task;
    tasks in `exclude_tasks` left out).

    Each side is read under its protocol (:func:`resolve_measured`: exactly one must match). A
    multilingual task's language subsets share one task's weight (see `subset_weights`).

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
        b = resolve_measured(db_path, b_name, baseline_protocol, suite, dim)
        c = resolve_measured(db_path, c_name, candidate_protocol, suite, dim)
        pair_dim = int(dim) if dim is not None else _shared_dim(db_path, b, c, suite)
        for pair in task_pairs(db_path, b, c, pair_dim, suite)[0]:
            if pair.baseline is None or not len(pair.baseline) or pair.task in exclude_tasks:
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
    lines = [f"## Regression check: {report.candidate.label} vs {report.baseline.label} "
             f"(dim {report.dim})", "",
             "| task | subset | category | n | baseline | candidate | delta [95% CI] | "
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


def _side(m: Measured) -> dict:
    return {"name": m.name, "model_id": m.model_id, "protocol": m.protocol.as_dict()}


def to_json(report: RegressionReport) -> str:
    """Machine-readable report (NaN as null)."""
    table = json.loads(report.table.to_json(orient="records"))
    return json.dumps({"baseline": _side(report.baseline), "candidate": _side(report.candidate),
                       "dim": report.dim, "alpha": report.alpha, "tolerance": report.tolerance,
                       "n_resamples": report.n_resamples, "passed": report.passed,
                       "exit_code": report.exit_code, "incomplete": report.incomplete,
                       "allow_missing": report.allow_missing, "message": report.message,
                       "missing": report.missing, "untested": report.untested,
                       "tasks": table}, indent=2)


def to_junit(report: RegressionReport) -> str:
    """JUnit XML: one testcase per task; a failure for each regression, and (unless missing work
    is allowed) for each baseline task the candidate lacks or that could not be tested."""
    t = report.table
    strict = not report.allow_missing
    cases, failures, skipped = [], 0, 0
    for r in t.itertuples():
        name = escape(f"{r.task}[{r.subset}]")
        body = ""
        if r.regressed:
            detail = (f"delta {r.delta:+.2f} points, CI [{r.ci_low:+.2f}, {r.ci_high:+.2f}], "
                      f"p_holm={r.p_adjusted:.3g}")
            body = f'<failure message="{escape(detail, QUOTE)}"/>'
            failures += 1
        elif np.isnan(r.p_value):
            reason = escape(f"not tested: {r.note or 'no test'}", QUOTE)
            body = f'<failure message="{reason}"/>' if strict else f'<skipped message="{reason}"/>'
            failures, skipped = failures + strict, skipped + (not strict)
        cases.append(f'  <testcase classname="gecko_bench.regress" name="{name}">{body}'
                     "</testcase>")
    for task in report.missing.get("candidate", []):
        reason = escape("the candidate has no scores for this task", QUOTE)
        body = f'<failure message="{reason}"/>' if strict else f'<skipped message="{reason}"/>'
        failures, skipped = failures + strict, skipped + (not strict)
        cases.append(f'  <testcase classname="gecko_bench.regress" name="{escape(task)}">'
                     f"{body}</testcase>")
    title = escape(f"regress {report.candidate.name} vs {report.baseline.name}", QUOTE)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<testsuite name="{title}" tests="{len(cases)}" failures="{failures}" '
            f'skipped="{skipped}">\n' + "\n".join(cases) + "\n</testsuite>\n")
