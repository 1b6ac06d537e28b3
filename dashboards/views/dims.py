"""Embedding dimensions: score vs MRL dimension per checkpoint (trained with and without MRL)."""

from __future__ import annotations

from pathlib import Path

import altair as alt
import pandas as pd
import streamlit as st

from dashboards import common
from dashboards.analysis import category_scores, task_scores
from gecko_bench.store import scores as score_store
from gecko_bench.store.scores import Protocol
from gecko_bench.store.dashboard import Unavailable

EXPERIMENT = "dims"


def curves(tasks: pd.DataFrame) -> pd.DataFrame:
    """Category score per (checkpoint label, dim), plus an 'Average' over categories."""
    tasks = tasks.copy()
    # The protocol is part of the label: one checkpoint measured two ways is two lines.
    tasks["checkpoint"] = [(f"{r.variant} ({r.model_name})" if r.variant else r.model_name)
                           + f" · {Protocol.of(r).label()}" for r in tasks.itertuples()]
    cats = category_scores(tasks, ["checkpoint", "dim"])
    overall = cats.groupby(["checkpoint", "dim"], as_index=False)["score"].mean()
    overall["category"] = "Average"
    return pd.concat([cats, overall], ignore_index=True)[["checkpoint", "category", "dim",
                                                          "score"]]


def chart(data: pd.DataFrame, category: str) -> alt.Chart:
    """Lines of score against dimension (log2 axis), one per checkpoint."""
    return alt.Chart(data[data["category"] == category],
                     title=f"{category}: score vs embedding dimension").mark_line(point=True).encode(
        x=alt.X("dim:Q", scale=alt.Scale(type="log", base=2, nice=False,
                                         domain=[int(data["dim"].min()), int(data["dim"].max())]),
                title="embedding dimension",
                axis=alt.Axis(values=sorted(data["dim"].unique().tolist()))),
        y=alt.Y("score:Q", title="score (points)", scale=alt.Scale(zero=False)),
        color=alt.Color("checkpoint:N", legend=alt.Legend(orient="bottom", labelLimit=400)),
        tooltip=["checkpoint", "dim", alt.Tooltip("score:Q", format=".2f")],
    ).properties(height=360)


def render(db: Path) -> None:
    st.caption("Matryoshka (MRL) training should keep scores high when embeddings are truncated; "
               "a checkpoint trained without it loses more at small dimensions.")
    try:
        tasks = common.experiment_tasks(db, EXPERIMENT, "gecko-bench experiment dims")
    except Unavailable as exc:
        tasks = task_scores(common.load(score_store.current_scores, db, main_only=True))
        multi = tasks.groupby("model_id")["dim"].nunique()
        tasks = tasks[tasks["model_id"].isin(multi[multi > 1].index)]
        if tasks.empty:
            raise Unavailable(exc.reason + " No checkpoint was scored at several dimensions "
                              "either.", exc.hint + " Or `gecko-bench eval --model minilm-l6 "
                              "--dims 384,256,128,64`.") from None
        st.info("No `dims` experiment yet: showing every checkpoint scored at several "
                "dimensions. Run `gecko-bench experiment dims` for the MRL vs no-MRL comparison.")
    data = curves(tasks)
    categories = ["Average"] + sorted(set(data["category"]) - {"Average"})
    category = st.selectbox("Category", categories, key="dims-category")
    st.altair_chart(chart(data, category), width="stretch")
    wide = data.pivot_table(index=["checkpoint", "category"], columns="dim",
                            values="score").round(2).reset_index()
    wide.columns = [str(c) for c in wide.columns]
    common.table(wide, "dims")
