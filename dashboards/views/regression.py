"""Regression: per-task deltas of a candidate checkpoint against a baseline, with the verdict."""

from __future__ import annotations

from pathlib import Path

import altair as alt
import pandas as pd
import streamlit as st

from dashboards import common
from gecko_bench.errors import InputError
from gecko_bench.regress import EXIT_PASS, EXIT_REGRESSION, compare
from gecko_bench.store.dashboard import Unavailable
from gecko_bench.store.scores import PROTOCOL_COLUMNS, Protocol, current_scores


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


def measured_models(db: Path) -> pd.DataFrame:
    """One row per model measured one way (current scores): model_id, model_name, protocol
    columns and a readable ``label``, oldest first."""
    scores = common.load(current_scores, db, main_only=True)
    if scores.empty:
        return pd.DataFrame(columns=["model_id", "model_name", *PROTOCOL_COLUMNS, "label"])
    first = scores.groupby(["model_id", "model_name", *PROTOCOL_COLUMNS], dropna=False,
                           as_index=False)["created_at"].min().sort_values("created_at")
    first["label"] = [f"{r.model_name} ({r.model_id[:10]}) · {Protocol.of(r).label()}"
                      for r in first.itertuples()]
    return first.reset_index(drop=True)


def render(db: Path) -> None:
    measured = measured_models(db)
    if len(measured) < 2:
        raise Unavailable("A regression check needs two evaluated checkpoints; the store has "
                          f"{len(measured)}.", "Evaluate both, e.g. `gecko-bench eval --model A` "
                          "and `--model B`, or run `gecko-bench regress --baseline A "
                          "--candidate B` (it evaluates what is missing).")
    rows = list(range(len(measured)))
    c1, c2 = st.columns(2)
    b = c1.selectbox("Baseline", rows, index=0, format_func=measured["label"].__getitem__,
                     key="rg-base")
    c = c2.selectbox("Candidate", rows, index=len(rows) - 1,
                     format_func=measured["label"].__getitem__, key="rg-cand")
    base, cand = measured.iloc[b], measured.iloc[c]
    c3, c4 = st.columns(2)
    alpha = c3.number_input("alpha", 0.001, 0.5, 0.05, step=0.01, key="rg-alpha")
    tolerance = c4.number_input("tolerance (points)", 0.0, 20.0, 0.5, step=0.1, key="rg-tol")
    st.caption(f"Same check as `gecko-bench regress --baseline {base.model_id[:12]} --candidate "
               f"{cand.model_id[:12]} --alpha {alpha} --tolerance {tolerance}` on these two "
               "protocols: paired bootstrap CI and permutation test over per-item scores, "
               "Holm-adjusted across tasks; a task regresses when its CI's lower bound is below "
               "-tolerance and the drop is significant.")
    try:
        report = common.load(compare, db, baseline=base.model_id, candidate=cand.model_id,
                             baseline_protocol=Protocol.of(base),
                             candidate_protocol=Protocol.of(cand),
                             alpha=float(alpha), tolerance=float(tolerance))
    except InputError as exc:
        st.warning(str(exc))
        return
    show = {EXIT_PASS: st.success, EXIT_REGRESSION: st.error}.get(report.exit_code, st.warning)
    show(report.message)
    st.caption(f"dimension {report.dim}")
    st.altair_chart(delta_chart(report.table), width="stretch")
    styled = report.table.style.apply(
        lambda row: ["background-color: #fee2e2" if row["regressed"] else "" for _ in row],
        axis=1).format(precision=3)
    st.dataframe(styled, hide_index=True, width="stretch")
    common.download(report.table, f"regression-{base.model_id[:10]}-vs-{cand.model_id[:10]}")
    for side, tasks in report.missing.items():
        if tasks:
            st.info(f"The {side} has no scores for: {', '.join(tasks)} (not compared).")
