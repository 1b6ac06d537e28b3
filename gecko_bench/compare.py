"""Leaderboard over the store: models x categories, averages only over complete task sets.

A leaderboard row is one model measured one way (weights id, protocol: prompt style, input-token
cap, dtype, scoring version) at one dim; its task scores are the store's current scores for that
identity (:func:`gecko_bench.store.scores.current_scores`), so rows measured differently are
never mixed. A task's score is the mean of its main metric over the task's subsets and splits, on
a 0-100 scale. The overall mean and the Borda rank are computed **only for rows that have every
task of the suite** (mteb#4263: averages over different task sets mislead), and Borda counts only
the rows on the board (pass `selections` to rank a job's own models); the others are returned
separately with the tasks they miss. Regression statistics live elsewhere.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from gecko_bench.store.scores import (
    PROTOCOL_COLUMNS,
    Protocol,
    Selection,
    current_scores,
    suite_tasks_frame,
)

CATEGORIES = ["Classification", "Clustering", "PairClassification", "Reranking", "Retrieval",
              "STS", "BitextMining", "Summarization"]
MULTILINGUAL = "Multilingual"
KEYS = ["model_id", *PROTOCOL_COLUMNS, "dim"]


def _current_main(db_path, suite: str | None, dim: int | None,
                  selections: list[Selection] | None, protocol: Protocol | None) -> pd.DataFrame:
    df = current_scores(db_path, selections=selections, protocol=protocol, suite=suite, dim=dim,
                        main_only=True)
    if df.empty:
        return df
    if dim is None:  # each measured model at its full (largest scored) dim
        full = df.groupby(KEYS[:-1], dropna=False)["dim"].transform("max")
        df = df[df["dim"] == full]
    return df.assign(score=df["value"] * 100.0)


def _expected_tasks(db_path, suite: str | None, df: pd.DataFrame) -> dict[str, str]:
    """task -> category for the suite (registered list plus anything scored under it)."""
    suites = [suite] if suite else sorted(df["suite"].dropna().unique())
    registered = suite_tasks_frame(db_path)
    registered = registered[registered["suite"].isin(suites)]
    expected = dict(zip(registered["task"], registered["category"]))
    for task, cat in df[["task", "category"]].drop_duplicates().itertuples(index=False):
        expected.setdefault(task, cat)
    return expected


def _borda(task_scores: pd.DataFrame) -> pd.Series:
    """Borda points per model row: sum over tasks of the number of models it beats (ties 0.5)."""
    n = len(task_scores)
    ranks = task_scores.rank(axis=0, ascending=True, method="average")  # 1 = worst
    return (ranks - 1).sum(axis=1) if n else pd.Series(dtype=float)


def leaderboard(db_path: str | Path | None = None, suite: str | None = None,
                dim: int | None = None, selections: list[Selection] | None = None,
                protocol: Protocol | None = None,
                exclude_tasks: tuple[str, ...] | list[str] = ()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(complete, incomplete) leaderboards (`exclude_tasks`: scores of these tasks left out).

    `selections`: only these (model_id, protocol) pairs (None fields of a protocol match any
    value); default every measured model in the store. `protocol`: only rows measured so.

    ``complete``: one row per (model, protocol, dim) with every expected task: columns
    ``rank`` (Borda), ``model``, ``prompt_style``, ``max_seq_length``, ``dtype``,
    ``code_version``, ``dim``, ``n_tasks``, ``mean`` (over tasks), ``borda``, one column per
    category present, ``Multilingual`` (mean over the language subsets of multilingual tasks,
    when any), ``model_id``. Sorted by rank.
    ``incomplete``: the same columns (means over what exists, no rank) plus ``missing``.
    """
    df = _current_main(db_path, suite, dim, selections, protocol)
    if len(exclude_tasks) and not df.empty:
        df = df[~df["task"].isin(list(exclude_tasks))]
    if df.empty:
        return pd.DataFrame(), pd.DataFrame()
    expected = {t: c for t, c in _expected_tasks(db_path, suite, df).items()
                if t not in exclude_tasks}
    per_task = (df.groupby(KEYS + ["model_name", "task"], dropna=False)["score"].mean()
                .unstack("task"))
    categories = [c for c in CATEGORIES if c in set(expected.values())] + sorted(
        set(expected.values()) - set(CATEGORIES) - {None})
    rows = []
    for key, scores in per_task.iterrows():
        *ident, name = key
        ident = dict(zip(KEYS, ident))
        have = [t for t in expected if t in scores and pd.notna(scores[t])]
        row = {"model": name, **{c: ident[c] for c in PROTOCOL_COLUMNS}, "dim": int(ident["dim"]),
               "n_tasks": len(have), "mean": scores[have].mean() if have else float("nan"),
               "model_id": ident["model_id"],
               "missing": ", ".join(sorted(set(expected) - set(have)))}
        for cat in categories:
            tasks = [t for t in have if expected[t] == cat]
            row[cat] = scores[tasks].mean() if tasks else float("nan")
        mine = pd.Series(True, index=df.index)
        for column, value in ident.items():
            mine &= (df[column] == value) if pd.notna(value) else df[column].isna()
        multi = df[mine & df["multilingual"].astype(bool)]
        if len(multi):
            row[MULTILINGUAL] = multi.groupby(["task", "subset"])["score"].mean().mean()
        rows.append(row)
    table = pd.DataFrame(rows)
    if MULTILINGUAL not in table:
        table[MULTILINGUAL] = float("nan")
    if table[MULTILINGUAL].isna().all():
        table = table.drop(columns=[MULTILINGUAL])
    done = table["missing"] == ""
    complete, incomplete = table[done].copy(), table[~done].copy()
    if len(complete):
        task_cols = per_task.loc[[tuple(getattr(r, k) for k in KEYS) + (r.model,)
                                  for r in complete.itertuples()], list(expected)]
        complete["borda"] = _borda(task_cols).to_numpy()
        complete = complete.sort_values(["borda", "mean"], ascending=False)
        complete.insert(0, "rank", range(1, len(complete) + 1))
    cols = ["model", *PROTOCOL_COLUMNS, "dim", "n_tasks", "mean"]
    tail = [c for c in categories + [MULTILINGUAL] if c in table]
    complete = complete[(["rank"] if len(complete) else []) + cols
                        + (["borda"] if len(complete) else []) + tail + ["model_id"]]
    incomplete = incomplete.sort_values("n_tasks", ascending=False)[
        cols + tail + ["missing", "model_id"]]
    return complete.reset_index(drop=True), incomplete.reset_index(drop=True)


def to_markdown(frame: pd.DataFrame, digits: int = 2) -> str:
    """A GitHub markdown table (written here to avoid a tabulate dependency for one table)."""
    if frame.empty:
        return "_(none)_\n"

    def cell(v) -> str:
        if isinstance(v, float):
            return "" if pd.isna(v) else f"{v:.{digits}f}"
        return str(v)

    lines = ["| " + " | ".join(map(str, frame.columns)) + " |",
             "|" + "|".join("---" for _ in frame.columns) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |"
              for row in frame.itertuples(index=False)]
    return "\n".join(lines) + "\n"
