"""gecko-bench results dashboard (Streamlit), read-only over the DuckDB store.

Start it with ``gecko-bench dashboard [--db PATH] [--port N]`` or
``streamlit run dashboards/app.py -- --db PATH``. Each page lives in ``dashboards/views/``; the
page shown follows the ``?page=`` URL parameter so every page has its own address.
"""

from __future__ import annotations

import streamlit as st

from dashboards import common
from dashboards.views import (
    dims,
    fret,
    label_strategies,
    leaderboard,
    regression,
    runs,
    task_diversity,
)
from gecko_bench.store.dashboard import Unavailable, table_counts

PAGES = {
    "Leaderboard": ("leaderboard", leaderboard.render),
    "Label strategies": ("label-strategies", label_strategies.render),
    "Task diversity": ("task-diversity", task_diversity.render),
    "Embedding dimensions": ("dims", dims.render),
    "Regression": ("regression", regression.render),
    "FRet explorer": ("fret", fret.render),
    "Runs": ("runs", runs.render),
}
SLUGS = {slug: title for title, (slug, _) in PAGES.items()}


def _sidebar(db) -> str:
    st.sidebar.title("gecko-bench")
    wanted = SLUGS.get(st.query_params.get("page", ""), "Leaderboard")
    titles = list(PAGES)
    page = st.sidebar.radio("Page", titles, index=titles.index(wanted), key="page")
    st.query_params["page"] = PAGES[page][0]
    st.sidebar.caption(f"Database: `{db}` (read-only)")
    if st.sidebar.button("Refresh", help="Re-read the database now"):
        st.cache_data.clear()
    try:
        counts = common.load(table_counts, db)
        rows = {k: v for k, v in counts.items() if k != "schema_info" and v}
        st.sidebar.caption(" · ".join(f"{k}: {v}" for k, v in rows.items()) or "empty database")
    except Unavailable:
        pass  # the page itself explains
    return page


def main() -> None:
    st.set_page_config(page_title="gecko-bench results", layout="wide")
    db = common.db_path()
    page = _sidebar(db)
    st.title(page)
    try:
        PAGES[page][1](db)
    except Unavailable as exc:
        common.explain(exc)


main()
