"""The FRet explorer page over a real (very small) FRet build with smollm2-135m."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from gecko_bench.store import fret as fret_store

APP = str(Path(__file__).resolve().parent.parent / "dashboards" / "app.py")

pytestmark = [pytest.mark.assets, pytest.mark.slow]  # the LLM generates and scores: 1-3 min


@pytest.fixture
def page(fret_db, monkeypatch):
    monkeypatch.setenv("GECKO_BENCH_DB", str(fret_db))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.sidebar.radio[0].set_value("FRet explorer").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def table_with(at, *columns):
    for df in at.dataframe:
        if set(columns) <= set(df.value.columns):
            return df.value
    raise AssertionError(f"no table with {columns}")


def test_fret_explorer_shows_examples_ranks_and_rejects(page, fret_db):
    dataset = fret_store.fret_datasets_frame(fret_db).iloc[0]
    queries = fret_store.fret_queries_frame(fret_db, dataset.dataset_id)
    rejects = fret_store.fret_rejects_frame(fret_db, dataset.dataset_id)
    stages = table_with(page, "stage", "reason", "count")
    assert stages.set_index("reason").loc["accepted", "count"] == len(queries)
    assert stages[stages["reason"] != "accepted"]["count"].sum() == len(rejects)
    examples = table_with(page, "query_id", "task_type", "relabelled")
    assert sorted(examples["query_id"]) == sorted(queries["query_id"])
    # every neighbour of the chosen example, with all four rankings
    neighbours = table_with(page, "passage_id", "ql_rank", "rc_rank", "rrf_rank")
    assert len(neighbours) == dataset.n_neighbours
    for col in ("retriever_rank", "ql_rank", "rc_rank", "rrf_rank"):
        assert sorted(neighbours[col]) == list(range(1, dataset.n_neighbours + 1))
    text = " ".join(m.value for m in page.markdown)
    assert "**Query:**" in text and "**Seed passage**" in text and "**Positive**" in text
    assert page.get("vega_lite_chart"), "rank / reject charts missing"


def test_fret_filters(page, fret_db):
    dataset = fret_store.fret_datasets_frame(fret_db).iloc[0]
    neighbours = fret_store.fret_neighbours_frame(fret_db, dataset.dataset_id)
    queries = fret_store.fret_queries_frame(fret_db, dataset.dataset_id)
    top = neighbours[neighbours["rrf_rank"] == 1].set_index("query_id")["passage_id"]
    relabelled = {q for q, s in zip(queries["query_id"], queries["seed_id"]) if top[q] != s}
    page.radio(key="fret-relabel").set_value("relabelled (p1 is not the seed)").run()
    if relabelled:
        shown = table_with(page, "query_id", "relabelled")
        assert set(shown["query_id"]) == relabelled and shown["relabelled"].all()
    else:
        assert "No example matches" in " ".join(i.value for i in page.info)
    page.radio(key="fret-relabel").set_value("all").run()
    first_type = sorted(queries["task_type"].unique())[0]
    page.multiselect(key="fret-types").set_value([first_type]).run()
    shown = table_with(page, "query_id", "task_type")
    assert set(shown["task_type"]) == {first_type}
    assert len(shown) == int((queries["task_type"] == first_type).sum())
