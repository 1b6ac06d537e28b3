"""Task diversity: the Gecko paper's Table 4 as grouped bars per category and training variant."""

from __future__ import annotations

from pathlib import Path

import altair as alt
import pandas as pd
import streamlit as st

from dashboards import common

EXPERIMENT = "task-diversity"


def variant_table(db: Path, tasks: pd.DataFrame, dim: int) -> pd.DataFrame:
    """One row per (variant, category): score, CI, n_tasks, n_models."""
    tasks = tasks[tasks["dim"] == dim]
    cells = common.variant_cells(db, tasks, dim)
    return cells[["variant", "category", "score", "ci_low", "ci_high", "n_tasks", "n_models"]]


def grouped_bars(cells: pd.DataFrame) -> alt.Chart:
    """Bars per category, one per variant, with CI error bars."""
    base = alt.Chart(cells).encode(
        x=alt.X("category:N", title=None, axis=alt.Axis(labelAngle=0)),
        xOffset=alt.XOffset("variant:N"),
        color=alt.Color("variant:N", title="training data",
                        legend=alt.Legend(orient="bottom", columns=3, labelLimit=300)))
    bars = base.mark_bar().encode(
        y=alt.Y("score:Q", title="average score (points)"),
        tooltip=["variant", "category", alt.Tooltip("score:Q", format=".2f"),
                 alt.Tooltip("ci_low:Q", format=".2f"), alt.Tooltip("ci_high:Q", format=".2f"),
                 "n_tasks", "n_models"])
    errors = base.mark_errorbar(ticks=True).encode(y=alt.Y("ci_low:Q", title=""),
                                                   y2="ci_high:Q")
    return (bars + errors).properties(height=380)


def render(db: Path) -> None:
    st.caption("Gecko Table 4: equal-size training sets from single FRet task types, all types "
               "with original or uniform task sampling, and all types without the unified "
               "format. Bars are category averages; whiskers are bootstrap 95% CIs over items "
               "(and seeds).")
    tasks = common.experiment_tasks(db, EXPERIMENT, "gecko-bench experiment task-diversity")
    dim = common.pick_dim(tasks, key="td-dim")
    cells = variant_table(db, tasks, dim)
    st.altair_chart(grouped_bars(cells), width="stretch")
    wide = cells.pivot_table(index="variant", columns="category", values="score").round(2)
    st.dataframe(wide, width="stretch")
    common.table(cells.round(2), f"task-diversity-dim{dim}")
