"""Regression: per-task deltas of a candidate checkpoint against a baseline, with the verdict."""

from __future__ import annotations

from pathlib import Path

import altair as alt
import pandas as pd
import streamlit as st

from dashboards import common
from gecko_bench.errors import InputError
from gecko_bench.regress import compare
from gecko_bench.store.dashboard import Unavailable, models_frame


def delta_chart(table: pd.DataFrame) -> alt.Chart:
    """Per-task delta (points) with CI error bars; significant regressions in red."""
    data = table.dropna(subset=["delta"]).copy()
    data["label"] = [f"{t}/{s}" if s != "default" else t
                     for t, s in zip(data["task"], data["subset"])]
    data["verdict"] = ["regressed" if r else ("significant" if s else "not significant")
                       for r, s in zip(data["regressed"], data["significant"])]
    colour = alt.Color("verdict:N", scale=alt.Scale(
        domain=["regressed", "significant", "not significant"],
        range=["#dc2626", "#2563eb", "#9ca3af"]), legend=alt.Legend(orient="top", title=None))
    base = alt.Chart(data).encode(y=alt.Y("label:N", title=None, sort=None,
                                          axis=alt.Axis(labelLimit=300)))
    bars = base.mark_errorbar(ticks=True, thickness=2).encode(
        x=alt.X("ci_low:Q", title="candidate − baseline (points, 95% CI)"), x2="ci_high:Q",
        color=colour)
    points = base.mark_point(filled=True, size=80).encode(
        x="delta:Q", color=colour,
        tooltip=["label", "category", "n_items", alt.Tooltip("baseline:Q", format=".2f"),
                 alt.Tooltip("candidate:Q", format=".2f"), alt.Tooltip("delta:Q", format="+.2f"),
                 alt.Tooltip("p_adjusted:Q", format=".3g"), "verdict"])
    zero = alt.Chart(pd.DataFrame({"x": [0.0]})).mark_rule(
        strokeDash=[4, 4], color="#6b7280").encode(x="x:Q")
    return (bars + points + zero).properties(height=alt.Step(36))


def render(db: Path) -> None:
    models = common.load(models_frame, db)
    if len(models) < 2:
        raise Unavailable("A regression check needs two evaluated checkpoints; the store has "
                          f"{len(models)}.", "Evaluate both, e.g. `gecko-bench eval --model A` "
                          "and `--model B`, or run `gecko-bench regress --baseline A "
                          "--candidate B` (it evaluates what is missing).")
    models = models.sort_values("created_at")
    labels = {r.model_id: f"{r.name} ({r.model_id[:10]})" for r in models.itertuples()}
    ids = list(labels)
    c1, c2 = st.columns(2)
    baseline = c1.selectbox("Baseline", ids, index=0, format_func=labels.get, key="rg-base")
    candidate = c2.selectbox("Candidate", ids, index=len(ids) - 1, format_func=labels.get,
                             key="rg-cand")
    c3, c4 = st.columns(2)
    alpha = c3.number_input("alpha", 0.001, 0.5, 0.05, step=0.01, key="rg-alpha")
    tolerance = c4.number_input("tolerance (points)", 0.0, 20.0, 0.5, step=0.1, key="rg-tol")
    st.caption(f"Same check as `gecko-bench regress --baseline {baseline[:12]} --candidate "
               f"{candidate[:12]} --alpha {alpha} --tolerance {tolerance}`: paired bootstrap CI "
               "and permutation test over per-item scores, Holm-adjusted across tasks.")
    try:
        report = common.load(compare, db, baseline=baseline, candidate=candidate,
                             alpha=float(alpha), tolerance=float(tolerance))
    except InputError as exc:
        st.warning(str(exc))
        return
    (st.success if report.passed else st.error)(report.message)
    st.caption(f"dimension {report.dim}")
    st.altair_chart(delta_chart(report.table), width="stretch")
    styled = report.table.style.apply(
        lambda row: ["background-color: #fee2e2" if row["regressed"] else "" for _ in row],
        axis=1).format(precision=3)
    st.dataframe(styled, hide_index=True, width="stretch")
    common.download(report.table, f"regression-{baseline[:10]}-vs-{candidate[:10]}")
    for side, tasks in report.missing.items():
        if tasks:
            st.info(f"The {side} has no scores for: {', '.join(tasks)} (not compared).")
