"""Label strategies: the Gecko paper's Table 3 grid (positive x hard negative) as heatmaps."""

from __future__ import annotations

from pathlib import Path

import altair as alt
import pandas as pd
import streamlit as st

from dashboards import common
from dashboards.analysis import parse_variant

EXPERIMENT = "label-strategies"
POSITIVES = ["seed", "p1"]
NEGATIVES = ["none", "random", "lowest"]


def cell_table(db: Path, tasks: pd.DataFrame, dim: int) -> pd.DataFrame:
    """One row per (variant, category): positive, negative, score, CI, n_tasks, n_models."""
    tasks = tasks[tasks["dim"] == dim]
    cells = common.variant_cells(db, tasks, dim)
    parsed = cells["variant"].map(parse_variant)
    cells["positive"] = parsed.map(lambda p: p.get("pos", p.get("positive", p.get("variant", ""))))
    cells["negative"] = parsed.map(lambda p: p.get("neg", p.get("negative", "")))
    return cells[["variant", "positive", "negative", "category", "score", "ci_low", "ci_high",
                  "n_tasks", "n_models"]]


def heatmap(cells: pd.DataFrame, category: str) -> alt.Chart:
    """Positive (rows) x hard negative (columns), colour = category score, text = score + CI."""
    data = cells[cells["category"] == category].copy()
    data["label"] = data.apply(
        lambda r: f"{r.score:.1f}" + ("" if pd.isna(r.ci_low) else
                                      f" [{r.ci_low:.1f}, {r.ci_high:.1f}]"), axis=1)
    neg_order = [n for n in NEGATIVES if n in set(data["negative"])] + \
        sorted(set(data["negative"]) - set(NEGATIVES))
    pos_order = [p for p in POSITIVES if p in set(data["positive"])] + \
        sorted(set(data["positive"]) - set(POSITIVES))
    base = alt.Chart(data, title=f"{category} average (points, 95% CI)").encode(
        x=alt.X("negative:N", sort=neg_order, title="hard negative",
                axis=alt.Axis(labelAngle=0, orient="top")),
        y=alt.Y("positive:N", sort=pos_order, title="positive"))
    rect = base.mark_rect().encode(
        color=alt.Color("score:Q", scale=alt.Scale(scheme="blues"), title="score"),
        tooltip=["variant", alt.Tooltip("score:Q", format=".2f"),
                 alt.Tooltip("ci_low:Q", format=".2f"), alt.Tooltip("ci_high:Q", format=".2f"),
                 "n_tasks", "n_models"])
    text = base.mark_text(fontSize=13).encode(text="label:N")
    return (rect + text).properties(height=alt.Step(56))


def render(db: Path) -> None:
    st.caption("Gecko Table 3: one FRet build re-mined with the positive taken as the seed "
               "passage or the LLM's top re-ranked passage (p1), and the hard negative none, "
               "random or the lowest-ranked neighbour; one student per cell. Cells show the "
               "category average with a bootstrap 95% CI over items (and seeds).")
    tasks = common.experiment_tasks(db, EXPERIMENT, "gecko-bench experiment label-strategies")
    dim = common.pick_dim(tasks, key="ls-dim")
    cells = cell_table(db, tasks, dim)
    categories = sorted(cells["category"].unique())
    headline = [c for c in ("Retrieval", "STS") if c in categories] or categories[:1]
    cols = st.columns(len(headline))
    for col, category in zip(cols, headline):
        col.altair_chart(heatmap(cells, category), width="stretch")
    others = [c for c in categories if c not in headline]
    if others:
        category = st.selectbox("Other category", others, key="ls-other")
        st.altair_chart(heatmap(cells, category), width="stretch")
    common.table(cells.round(2), f"label-strategies-dim{dim}")
