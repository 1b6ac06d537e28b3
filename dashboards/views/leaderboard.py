"""Leaderboard: models x categories, overall mean over complete task sets only, Borda rank."""

from __future__ import annotations

from pathlib import Path

import altair as alt
import pandas as pd
import streamlit as st

from dashboards import common
from gecko_bench.compare import leaderboard
from gecko_bench.store import scores as score_store
from gecko_bench.store.dashboard import Unavailable
from gecko_bench.store.scores import PROTOCOL_COLUMNS, Protocol

NON_CATEGORY = {"rank", "model", *PROTOCOL_COLUMNS, "dim", "n_tasks", "mean", "borda",
                "model_id", "missing"}


def _filters(scores: pd.DataFrame, suites: list[str]) -> dict:
    c1, c2, c3, c4 = st.columns([2, 1, 2, 2])
    suite = c1.selectbox("Suite", ["(all)"] + suites, key="lb-suite")
    dims = sorted({int(d) for d in scores["dim"]}, reverse=True)
    dim = c2.selectbox("Dimension", ["full"] + dims, key="lb-dim",
                       help="'full': each model at its own largest dimension")
    first = scores["created_at"].min().date()
    last = scores["created_at"].max().date()
    dates = c3.date_input("Evaluated between", (first, last), min_value=first, max_value=last,
                          key="lb-dates")
    names = c4.multiselect("Models", sorted(scores["model_name"].dropna().unique()),
                           key="lb-models", placeholder="all models")
    return {"suite": None if suite == "(all)" else suite,
            "dim": None if dim == "full" else int(dim), "dates": dates, "names": names}


def _keep(board: pd.DataFrame, scores: pd.DataFrame, f: dict) -> pd.DataFrame:
    """Rows whose model is among the chosen names and was evaluated within the date range."""
    if board.empty:
        return board
    keep = pd.Series(True, index=board.index)
    if f["names"]:
        keep &= board["model"].isin(f["names"])
    if isinstance(f["dates"], tuple) and len(f["dates"]) == 2:
        start, end = f["dates"]
        when = scores["created_at"].dt.date
        in_range = set(scores[(when >= start) & (when <= end)]["model_id"])
        keep &= board["model_id"].isin(in_range)
    return board[keep]


def category_chart(board: pd.DataFrame) -> alt.Chart:
    """Heatmap of category scores (rows: model, prompt style, dim)."""
    cats = [c for c in board.columns if c not in NON_CATEGORY]
    data = board.assign(entry=entry_labels(board))
    long = data.melt(id_vars=["entry"], value_vars=cats + ["mean"], var_name="category",
                     value_name="score").dropna()
    base = alt.Chart(long).encode(
        x=alt.X("category:N", sort=cats + ["mean"], title=None,
                axis=alt.Axis(labelAngle=0, labelLimit=200, orient="top")),
        y=alt.Y("entry:N", sort=list(data["entry"]), title=None, axis=alt.Axis(labelLimit=400)))
    rect = base.mark_rect().encode(
        color=alt.Color("score:Q", scale=alt.Scale(scheme="greens"), title="points"),
        tooltip=["entry", "category", alt.Tooltip("score:Q", format=".2f")])
    text = base.mark_text(fontSize=12).encode(text=alt.Text("score:Q", format=".1f"))
    return (rect + text).properties(height=34 * len(data) + 60)


def entry_labels(board: pd.DataFrame) -> list[str]:
    """One label per leaderboard row: model, how it was measured, dim."""
    return [f"{r.model} · {Protocol.of(r).label()} · {r.dim}-d" for r in board.itertuples()]


def _per_task(db: Path, row: pd.Series, label: str, suite: str | None) -> None:
    st.subheader(f"Per-task scores: {label}")
    frame = common.load(score_store.current_scores, db,
                        selections=[(row["model_id"], Protocol.of(row))], suite=suite,
                        dim=int(row["dim"]), main_only=True)
    table = (frame.assign(score=100 * frame["value"])
             .groupby(["category", "task", "metric"], as_index=False)
             .agg(score=("score", "mean"), subsets=("subset", "nunique"),
                  evaluated=("created_at", "max"), run_id=("run_id", "last")))
    chart = alt.Chart(table).mark_bar().encode(
        x=alt.X("score:Q", title="main score (points)"),
        y=alt.Y("task:N", sort="-x", title=None, axis=alt.Axis(labelLimit=300)),
        color=alt.Color("category:N"), tooltip=["task", "category", "metric",
                                                alt.Tooltip("score:Q", format=".2f")])
    st.altair_chart(chart.properties(height=26 * len(table) + 40), width="stretch")
    common.table(table.round({"score": 2}), f"tasks-{row['model']}-{row['dim']}")


def render(db: Path) -> None:
    scores = common.load(score_store.current_scores, db, main_only=True)
    if scores.empty:
        raise Unavailable("Nothing has been evaluated yet.",
                          "Run `make demo` (or `gecko-bench eval --model minilm-l6`).")
    suites = sorted(common.load(score_store.suite_tasks_frame, db)["suite"].unique())
    f = _filters(scores, suites)
    complete, incomplete = common.load(leaderboard, db, suite=f["suite"], dim=f["dim"])
    complete, incomplete = _keep(complete, scores, f), _keep(incomplete, scores, f)
    st.caption("Scores in points (0-100). `mean` and the Borda `rank` cover only models with "
               "every task of the suite (averages over different task sets mislead); the rank "
               "is over all complete models, before the model and date filters.")
    if complete.empty:
        st.info("No model has the complete task set for this selection; see the incomplete "
                "entries below.")
        selection = None
    else:
        selection = common.table(complete.round(2), "leaderboard", key="lb-table",
                                 on_select="rerun", selection_mode="single-row")
        st.altair_chart(category_chart(complete), width="stretch")
    if not incomplete.empty:
        st.subheader("Incomplete (not ranked)")
        common.table(incomplete.round(2), "leaderboard-incomplete")
    board = pd.concat([complete, incomplete], ignore_index=True)
    if board.empty:
        return
    labels = entry_labels(board)
    picked = selection.selection.rows if selection is not None else []
    index = picked[0] if picked else 0
    choice = st.selectbox("Per-task scores for (or click a row above)", range(len(board)),
                          index=index, format_func=labels.__getitem__, key=f"lb-pick-{index}")
    _per_task(db, board.iloc[choice], labels[choice], f["suite"])
