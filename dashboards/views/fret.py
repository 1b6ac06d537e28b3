"""FRet explorer: generated examples, their neighbours' QL/RC/RRF ranks, rejects per stage."""

from __future__ import annotations

from pathlib import Path

import altair as alt
import pandas as pd
import streamlit as st

from dashboards import common
from gecko_bench.store import fret as fret_store
from gecko_bench.store.dashboard import Unavailable, fret_mined_strategies

# Where in the pipeline each reject reason arises (gecko_bench.fret.prompts.reject_reason).
STAGES = {"unparseable": "1 parse LLM output", "empty": "1 parse LLM output",
          "too_long": "2 filter query", "copies_passage": "2 filter query",
          "duplicate": "2 filter query"}
NEIGHBOUR_COLUMNS = ["passage_id", "is_seed", "title", "retriever_rank", "ql_rank", "rc_rank",
                     "rrf_rank", "retriever_score", "ql_score", "rc_score", "rrf_score", "text"]


def reject_table(rejects: pd.DataFrame, n_queries: int) -> pd.DataFrame:
    """Counts per (stage, reason), plus the accepted queries as the last stage."""
    counts = (rejects.assign(stage=rejects["reason"].map(STAGES).fillna("other"))
              .groupby(["stage", "reason"], as_index=False).size().rename(
                  columns={"size": "count"}))
    accepted = pd.DataFrame([{"stage": "3 accepted", "reason": "accepted", "count": n_queries}])
    return pd.concat([counts, accepted], ignore_index=True)


def examples(queries: pd.DataFrame, neighbours: pd.DataFrame) -> pd.DataFrame:
    """Queries with their top-RRF passage (p1) and whether it differs from the seed."""
    top = neighbours[neighbours["rrf_rank"] == 1][["query_id", "passage_id"]].rename(
        columns={"passage_id": "p1_id"})
    out = queries.merge(top, on="query_id", how="left")
    out["relabelled"] = out["p1_id"].notna() & (out["p1_id"] != out["seed_id"])
    return out


def _passage(label: str, title: str | None, text: str, note: str = "") -> None:
    st.markdown(f"**{label}**" + (f" · _{title}_" if title else "") + (f" — {note}" if note
                                                                        else ""))
    st.text(text[:1500] + ("…" if len(text) > 1500 else ""))


def _detail(row: pd.Series, neigh: pd.DataFrame, mined: pd.DataFrame | None) -> None:
    st.markdown(f"**Task** ({row.task_type}): {row.task}")
    st.markdown(f"**Query:** {row.query}")
    _passage("Seed passage", row.seed_title, row.seed_text)
    if mined is not None and row.query_id in set(mined["query_id"]):
        m = mined.set_index("query_id").loc[row.query_id]
        moved = m["positive_id"] != row.seed_id
        _passage("Positive", m["positive_title"], m["positive"],
                 "**differs from the seed (relabelled)**" if moved else "the seed itself")
        if pd.notna(m["negative_id"]):
            _passage("Hard negative", m["negative_title"], m["negative"])
        else:
            st.caption("No hard negative under this strategy.")
    else:
        top = neigh[neigh["rrf_rank"] == 1]
        if len(top):
            t = top.iloc[0]
            _passage("Top re-ranked neighbour (p1)", t["title"], t["text"],
                     "the seed itself" if t["is_seed"] else
                     "**differs from the seed (relabelled)**")
    st.markdown("**Neighbours** (rank 1 = best; QL = query likelihood, RC = relevance "
                "classification, RRF = their reciprocal-rank fusion)")
    shown = neigh[NEIGHBOUR_COLUMNS].assign(text=neigh["text"].str.slice(0, 160))
    common.table(shown.round(4), f"neighbours-{row.query_id}")
    rankers = {"retriever_rank": "retriever", "ql_rank": "QL", "rc_rank": "RC",
               "rrf_rank": "RRF"}
    long = neigh.rename(columns=rankers).melt(
        id_vars=["passage_id", "is_seed"], value_vars=list(rankers.values()),
        var_name="ranker", value_name="rank")
    chart = alt.Chart(long).mark_line(point=True).encode(
        x=alt.X("ranker:N", sort=list(rankers.values()), title=None,
                axis=alt.Axis(labelAngle=0)),
        y=alt.Y("rank:Q", scale=alt.Scale(reverse=True, domain=[1, len(neigh)]), title="rank",
                axis=alt.Axis(tickMinStep=1)),
        detail="passage_id:N",
        color=alt.Color("is_seed:N", title="seed passage",
                        scale=alt.Scale(domain=[True, False], range=["#dc2626", "#9ca3af"])),
        tooltip=["passage_id", "ranker", "rank"])
    st.altair_chart(chart.properties(height=260, title="How each ranker orders the neighbours"),
                    width="stretch")


def _rerank_checks(db: Path) -> None:
    checks = common.load(fret_store.fret_rerank_frame, db)
    if checks.empty:
        return
    st.header("Re-ranker checks")
    st.caption("nDCG@10 on an offline retrieval task: the retriever alone vs re-ranking its "
               "neighbours by QL, RC and RRF (`gecko-bench fret rerank-check`).")
    checks = checks.assign(check=checks["task"] + " · " + checks["llm"])
    chart = alt.Chart(checks).mark_bar().encode(
        x=alt.X("method:N", sort=["retriever", "ql", "rc", "rrf"], title=None),
        y=alt.Y("ndcg_at_10:Q", title="nDCG@10"), color="method:N", column=alt.Column(
            "check:N", title=None), tooltip=["check", "method", alt.Tooltip("ndcg_at_10:Q",
                                                                              format=".4f")])
    st.altair_chart(chart)
    common.table(checks.drop(columns=["check"]), "rerank-checks")


def render(db: Path) -> None:
    datasets = common.load(fret_store.fret_datasets_frame, db)
    if datasets.empty:
        raise Unavailable("No FRet dataset has been built yet.",
                          "Run `gecko-bench fret build` (or `make demo`).")
    common.table(datasets.drop(columns=["config"]), "fret-datasets")
    labels = {r.dataset_id: f"{r.dataset_id} · {r.llm} · {r.status}"
              for r in datasets.itertuples()}
    ds = st.selectbox("Dataset", list(labels), format_func=labels.get, key="fret-ds")
    info = datasets.set_index("dataset_id").loc[ds]
    c = st.columns(4)
    c[0].metric("seeds done", f"{int(info.seeds_done)} / {int(info.n_seeds)}")
    c[1].metric("queries", int(info.n_queries))
    c[2].metric("rejected generations", int(info.n_rejects))
    c[3].metric("relabel rate", "-" if pd.isna(info.relabel_rate) else
                f"{100 * info.relabel_rate:.0f}%")

    st.subheader("Rejects per stage")
    rejects = common.load(fret_store.fret_rejects_frame, db, dataset_id=ds)
    stages = reject_table(rejects, int(info.n_queries))
    st.altair_chart(alt.Chart(stages).mark_bar().encode(
        x=alt.X("count:Q", title="generations"), y=alt.Y("stage:N", title=None),
        color=alt.Color("reason:N"), tooltip=["stage", "reason", "count"]
    ).properties(height=140), width="stretch")
    common.table(stages, f"fret-rejects-{ds}")

    st.subheader("Examples")
    queries = common.load(fret_store.fret_queries_frame, db, dataset_id=ds)
    neighbours = common.load(fret_store.fret_neighbours_frame, db, dataset_id=ds)
    table = examples(queries, neighbours)
    f1, f2 = st.columns(2)
    types = f1.multiselect("Task type", sorted(table["task_type"].unique()), key="fret-types",
                           placeholder="all task types")
    relabel = f2.radio("Positive", ["all", "relabelled (p1 is not the seed)", "seed kept"],
                       horizontal=True, key="fret-relabel")
    if types:
        table = table[table["task_type"].isin(types)]
    if relabel.startswith("relabelled"):
        table = table[table["relabelled"]]
    elif relabel == "seed kept":
        table = table[~table["relabelled"]]
    common.table(table[["query_id", "task_type", "task", "query", "relabelled", "seed_id",
                        "p1_id"]], f"fret-examples-{ds}")
    if table.empty:
        st.info("No example matches these filters.")
        return
    strategies = common.load(fret_mined_strategies, db, dataset_id=ds)
    mined = None
    if len(strategies):
        names = [f"{r.positive} / {r.negative}" for r in strategies.itertuples()]
        pick = st.selectbox("Mined strategy (positive / negative)", range(len(names)),
                            format_func=names.__getitem__, key="fret-strategy")
        s = strategies.iloc[pick]
        mined = common.load(fret_store.fret_examples_frame, db, dataset_id=ds,
                            positive=s["positive"], negative=s["negative"])
    else:
        st.caption("Not mined yet (`gecko-bench fret mine`): showing the top re-ranked "
                   "neighbour as the positive.")
    qid = st.selectbox("Example", table["query_id"].tolist(), key="fret-query",
                       format_func=lambda q: f"{q}: {table.set_index('query_id').loc[q, 'query']}"
                       [:120])
    row = table.set_index("query_id", drop=False).loc[qid]
    _detail(row, neighbours[neighbours["query_id"] == qid], mined)
    _rerank_checks(db)
