"""Runs: every run's config, package versions, git sha, device, durations; the lineage graph."""

from __future__ import annotations

import json
from pathlib import Path

import altair as alt
import pandas as pd
import streamlit as st

from dashboards import common
from gecko_bench.store import training
from gecko_bench.store.dashboard import model_eval_runs, models_frame, runs_frame

TRAIN_COLUMNS = ["run_id", "stage", "status", "experiment", "variant", "model_name", "steps_done",
                 "max_steps", "batch_size", "final_loss", "samples_per_s", "resumed_from_step",
                 "fret_dataset_id", "mixture"]
RUN_COLUMNS = ["run_id", "kind", "status", "started_at", "seconds", "profile", "experiment",
               "variant", "git_sha", "device", "host"]


def _json(text: str | None) -> dict:
    try:
        return json.loads(text) if text else {}
    except (TypeError, ValueError):
        return {}


def _short(model_id: str | None) -> str:
    return (model_id or "")[:10]


def lineage_dot(models: pd.DataFrame, evals: pd.DataFrame, runs: pd.DataFrame) -> str:
    """Graphviz DOT: FRet data -> training run -> checkpoint -> eval run (scores).

    Base/parent checkpoints point at the checkpoints trained from them.
    """
    kinds = dict(zip(runs["run_id"], runs["kind"])) if len(runs) else {}
    names = dict(zip(models["model_id"], models["name"]))
    lines = ["digraph lineage {", "rankdir=LR;", 'node [fontname="Helvetica", fontsize=10];']

    def q(text: str) -> str:
        return '"' + str(text).replace('"', "'") + '"'

    for m in models.itertuples():
        label = f"{m.name}\\n{_short(m.model_id)}" + (f"\\n{int(m.dim)}-d" if pd.notna(m.dim)
                                                       else "")
        lines.append(f'{q("m:" + m.model_id)} [label={q(label)}, shape=box, style="rounded,'
                     f'filled", fillcolor="#dbeafe"];')
        parent = m.parent_model_id if pd.notna(m.parent_model_id) else m.base_model_id
        if pd.notna(parent) and parent in names:
            lines.append(f'{q("m:" + parent)} -> {q("m:" + m.model_id)} [label="init"];')
        if pd.notna(m.train_run_id):
            run = m.train_run_id
            lines.append(f'{q("r:" + run)} [label={q(kinds.get(run, "train") + chr(92) + "n" + run)},'
                         ' shape=ellipse];')
            lines.append(f'{q("r:" + run)} -> {q("m:" + m.model_id)};')
            if pd.notna(m.fret_dataset_id):
                lines.append(f'{q("d:" + m.fret_dataset_id)} [label={q("FRet " + m.fret_dataset_id)}'
                             ', shape=cylinder, style=filled, fillcolor="#fef3c7"];')
                lines.append(f'{q("d:" + m.fret_dataset_id)} -> {q("r:" + run)};')
    for e in evals.itertuples():
        if e.model_id not in names:
            continue
        label = f"scores: {e.suite}\\n{e.n_tasks} tasks · {e.run_id}"
        lines.append(f'{q("s:" + e.run_id)} [label={q(label)}, shape=note, style=filled, '
                     'fillcolor="#dcfce7"];')
        lines.append(f'{q("m:" + e.model_id)} -> {q("s:" + e.run_id)};')
    lines.append("}")
    return "\n".join(lines)


def _run_details(run: pd.Series) -> None:
    st.subheader(f"Run `{run.run_id}`")
    cols = st.columns(4)
    cols[0].metric("status", run.status)
    cols[1].metric("wall time", "-" if pd.isna(run.seconds) else f"{run.seconds:.1f} s")
    cols[2].metric("git sha", (run.git_sha or "-")[:12])
    cols[3].metric("device", run.device or "-")
    if run.error:
        st.error(f"Failed: {run.error}")
    left, right = st.columns(2)
    with left:
        st.markdown("**Config**")
        st.json(_json(run.config), expanded=1)
    with right:
        st.markdown("**Package versions**")
        versions = pd.DataFrame(sorted(_json(run.package_versions).items()),
                                columns=["package", "version"])
        common.table(versions, f"versions-{run.run_id}")
    # Runs store stage seconds as floats and a few counters (texts encoded, cache hits) as ints.
    recorded = _json(run.durations)
    counters = {k: v for k, v in recorded.items() if isinstance(v, int)}
    durations = pd.DataFrame(sorted((k, v) for k, v in recorded.items() if isinstance(v, float)),
                             columns=["stage", "seconds"])
    if counters:
        st.caption("Counters: " + " · ".join(f"{k} {v}" for k, v in sorted(counters.items())))
    if len(durations):
        st.markdown("**Stage durations**")
        chart = alt.Chart(durations).mark_bar().encode(
            x=alt.X("seconds:Q", title="seconds"), y=alt.Y("stage:N", sort="-x", title=None),
            tooltip=["stage", alt.Tooltip("seconds:Q", format=".2f")])
        st.altair_chart(chart, width="stretch")
        common.table(durations, f"durations-{run.run_id}")


def loss_curve(db: Path, run_id: str) -> pd.DataFrame:
    """training.loss_curve with the database first, as common.load calls it."""
    return training.loss_curve(run_id, db)


def _training(db: Path) -> None:
    """Training attempts and the loss curve of the chosen one (trainers' store, when present)."""
    attempts = common.load(training.training_runs, db)
    if attempts.empty:
        return
    st.header("Training")
    common.table(attempts[[c for c in TRAIN_COLUMNS if c in attempts]], "training-runs")
    run_id = st.selectbox("Loss curve of", attempts["run_id"].tolist(), key="loss-run")
    curve = common.load(loss_curve, db, run_id=run_id)
    if curve.empty:
        st.caption("No loss logged for this attempt yet.")
        return
    chart = alt.Chart(curve).mark_line(point=True).encode(
        x=alt.X("step:Q", title="step"), y=alt.Y("loss:Q", title="training loss"),
        tooltip=["step", alt.Tooltip("loss:Q", format=".4f"), "run_id"])
    st.altair_chart(chart, width="stretch")
    common.download(curve, f"loss-{run_id}")


def render(db: Path) -> None:
    runs = common.load(runs_frame, db)
    if runs.empty:
        st.info("No runs recorded yet. Run `make demo` (or `gecko-bench run --profile tiny`).")
        return
    f1, f2, f3 = st.columns(3)
    kinds = f1.multiselect("Kind", sorted(runs["kind"].dropna().unique()))
    statuses = f2.multiselect("Status", sorted(runs["status"].dropna().unique()))
    experiments = f3.multiselect("Experiment", sorted(runs["experiment"].dropna().unique()))
    shown = runs
    if kinds:
        shown = shown[shown["kind"].isin(kinds)]
    if statuses:
        shown = shown[shown["status"].isin(statuses)]
    if experiments:
        shown = shown[shown["experiment"].isin(experiments)]
    common.table(shown[RUN_COLUMNS], "runs")
    if len(shown):
        run_id = st.selectbox("Run details", shown["run_id"].tolist(), key="run-detail")
        _run_details(shown.set_index("run_id", drop=False).loc[run_id])

    _training(db)
    st.header("Checkpoints and lineage")
    models = common.load(models_frame, db)
    if models.empty:
        st.info("No checkpoints registered yet: evaluating or training a model registers it.")
        return
    common.table(models[["name", "model_id", "kind", "dim", "n_params", "base_name",
                         "parent_name", "train_run_id", "fret_dataset_id", "path",
                         "created_at"]], "models")
    evals = common.load(model_eval_runs, db)
    st.graphviz_chart(lineage_dot(models, evals, runs), width="stretch")
    st.caption("FRet data (cylinder) → training run (ellipse) → checkpoint (box) → scores (note); "
               "a checkpoint's `init` edge comes from the checkpoint it was trained from.")
