"""Every dashboard page through Streamlit's AppTest, against a database built by the real eval code.

Plus the unhappy paths: no database file, a file without the later tables, an older schema, and
a database another process is writing to.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest
from dashboard_fixture import PERTURBED
from streamlit.testing.v1 import AppTest

from gecko_bench.store import SCHEMA_VERSION
from gecko_bench.store import scores as score_store
from gecko_bench.store.dashboard import Unavailable, reader, runs_frame

APP = str(Path(__file__).resolve().parent.parent / "dashboards" / "app.py")
PAGES = ["Leaderboard", "Label strategies", "Task diversity", "Embedding dimensions",
         "Regression", "FRet explorer", "Runs"]


def open_page(db: Path, page: str, monkeypatch) -> AppTest:
    monkeypatch.setenv("GECKO_BENCH_DB", str(db))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    if page != "Leaderboard":
        at.sidebar.radio[0].set_value(page).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == page
    return at


def messages(at: AppTest) -> str:
    return " ".join(m.value for kind in (at.info, at.warning, at.error, at.success) for m in kind)


def charts(at: AppTest) -> list:
    return at.get("vega_lite_chart")


def frame(at: AppTest, *columns: str):
    """The first dataframe shown that has all `columns`."""
    for df in at.dataframe:
        if set(columns) <= set(df.value.columns):
            return df.value
    raise AssertionError(f"no table with columns {columns}")


# ---------------------------------------------------------------- unhappy paths


@pytest.mark.parametrize("page", PAGES)
def test_missing_database_explains_what_to_run(page, tmp_path, monkeypatch):
    at = open_page(tmp_path / "nothing.duckdb", page, monkeypatch)
    text = messages(at)
    assert "no results database" in text and "make demo" in text


def test_file_without_later_tables_names_the_command(tmp_path, monkeypatch):
    db = tmp_path / "bare.duckdb"
    with duckdb.connect(str(db)) as con:  # a results file from before any stage wrote to it
        con.execute("CREATE TABLE schema_info (version INTEGER)")
        con.execute("INSERT INTO schema_info VALUES (?)", [SCHEMA_VERSION])
    for page, expected in [("Runs", "no `runs` table"), ("Leaderboard", "Nothing has been "
                                                                       "evaluated")]:
        at = open_page(db, page, monkeypatch)
        assert expected in messages(at)


def test_older_schema_is_explained(tmp_path, monkeypatch):
    db = tmp_path / "old.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("CREATE TABLE schema_info (version INTEGER)")
        con.execute("INSERT INTO schema_info VALUES (0)")
    at = open_page(db, "Runs", monkeypatch)
    assert "schema v0" in messages(at) and "Traceback" not in messages(at)


HOLD_LOCK = textwrap.dedent("""
    import sys, time
    from gecko_bench.store import transaction
    with transaction(sys.argv[1]) as con:
        print("locked", flush=True)
        time.sleep(float(sys.argv[2]))
""")


def hold_write_lock(db: Path, seconds: float) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(db), str(seconds)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


@pytest.mark.assets
def test_busy_database_gives_a_plain_message(dashboard_db, tmp_path):
    db = tmp_path / "busy.duckdb"
    db.write_bytes(dashboard_db.read_bytes())
    proc = hold_write_lock(db, 20)
    try:
        with pytest.raises(Unavailable) as err:
            with reader(db, wait_s=0.5):
                pass
        assert err.value.busy and "writing" in str(err.value)
        assert "lock" not in str(err.value).lower()
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.assets
def test_page_waits_for_a_writer_and_shows_data(dashboard_db, tmp_path, monkeypatch):
    db = tmp_path / "writing.duckdb"
    db.write_bytes(dashboard_db.read_bytes())
    proc = hold_write_lock(db, 1.5)  # a run committing while the page loads
    try:
        at = open_page(db, "Runs", monkeypatch)
        assert len(frame(at, "run_id", "kind")) == len(runs_frame(dashboard_db))
    finally:
        proc.wait()


# ---------------------------------------------------------------- pages over real results


@pytest.mark.assets
def test_leaderboard_ranks_complete_models_and_drills_down(dashboard_db, monkeypatch):
    at = open_page(dashboard_db, "Leaderboard", monkeypatch)
    board = frame(at, "rank", "model", "mean")
    assert len(board) == 2 + len(PERTURBED)  # minilm-l6, its fine-tune, the perturbed copies
    assert list(board["rank"]) == list(range(1, len(board) + 1))
    assert {"Retrieval", "STS"} <= set(board.columns)
    damaged = board[board["model"] == "damaged"].iloc[0]
    assert damaged["rank"] == len(board)  # heavy noise: worst on both tasks
    assert charts(at), "category heatmap missing"
    assert at.get("download_button")
    # per-task drill-down for the selected model
    at.selectbox(key=[s.key for s in at.selectbox if s.key.startswith("lb-pick")][0]) \
        .set_value(int(board.index[board["model"] == "minilm-l6"][0])).run()
    tasks = frame(at, "task", "score")
    assert set(tasks["task"]) == {"DashFAQRetrieval", "DashLeeSTS"}
    stored = score_store.scores_frame(dashboard_db, main_only=True, dim=384)
    stored = stored[(stored["model_name"] == "minilm-l6")].set_index("task")["value"]
    for row in tasks.itertuples():
        assert row.score == pytest.approx(100 * stored[row.task], abs=0.01)


@pytest.mark.assets
def test_leaderboard_filters(dashboard_db, monkeypatch):
    at = open_page(dashboard_db, "Leaderboard", monkeypatch)
    at.multiselect(key="lb-models").set_value(["minilm-l6", "damaged"]).run()
    assert set(frame(at, "rank", "model")["model"]) == {"minilm-l6", "damaged"}
    at.multiselect(key="lb-models").set_value([]).run()
    at.selectbox(key="lb-dim").set_value(64).run()
    # only minilm-l6 and the two `dims` checkpoints were scored at 64-d
    assert set(frame(at, "rank", "model")["model"]) == {"minilm-l6", "dims-mrl", "dims-no-mrl"}
    assert (frame(at, "rank", "model")["dim"] == 64).all()


@pytest.mark.assets
def test_label_strategies_heatmap(dashboard_db, monkeypatch):
    at = open_page(dashboard_db, "Label strategies", monkeypatch)
    assert len(charts(at)) >= 2  # Retrieval and STS heatmaps
    cells = frame(at, "positive", "negative", "score", "ci_low", "ci_high")
    assert set(cells["positive"]) == {"seed", "p1"}
    assert set(cells["negative"]) == {"none", "lowest"}
    assert set(cells["category"]) == {"Retrieval", "STS"}
    assert ((cells["ci_low"] <= cells["score"] + 0.01)
            & (cells["score"] <= cells["ci_high"] + 0.01)).all()


@pytest.mark.assets
def test_task_diversity_bars(dashboard_db, monkeypatch):
    at = open_page(dashboard_db, "Task diversity", monkeypatch)
    assert charts(at)
    cells = frame(at, "variant", "category", "score", "ci_low")
    # "all-original" reaches the page through its training run (its eval run is untagged)
    assert set(cells["variant"]) == {"task=question answering", "all-original"}


@pytest.mark.assets
def test_dimension_curves(dashboard_db, monkeypatch):
    at = open_page(dashboard_db, "Embedding dimensions", monkeypatch)
    assert charts(at)
    wide = frame(at, "checkpoint", "category", "64", "384")
    labels = {c.split(" · ")[0] for c in wide["checkpoint"]}
    assert labels == {"mrl (dims-mrl)", "no-mrl (dims-no-mrl)"}
    assert all(" · gecko, " in c for c in wide["checkpoint"])  # how each was measured
    assert wide[["64", "128", "256", "384"]].notna().all().all()


@pytest.mark.assets
def test_regression_matches_regress_verdict(dashboard_db, monkeypatch):
    from dashboards.views.regression import measured_models
    from gecko_bench.regress import compare

    at = open_page(dashboard_db, "Regression", monkeypatch)
    measured = measured_models(dashboard_db)
    base = int(measured.index[measured["model_name"] == "minilm-l6"][0])
    damaged = int(measured.index[measured["model_name"] == "damaged"][0])
    at.selectbox(key="rg-base").set_value(base)
    at.selectbox(key="rg-cand").set_value(damaged).run()
    report = compare(dashboard_db, measured.loc[base, "model_id"],
                     measured.loc[damaged, "model_id"])
    assert not report.passed
    assert [e.value for e in at.error] == [report.message]
    table = frame(at, "task", "delta", "regressed")
    assert table["regressed"].any()
    assert charts(at)
    at.selectbox(key="rg-cand").set_value(base).run()  # a model against itself passes
    assert at.success and at.success[0].value.startswith("PASS")


@pytest.mark.assets
def test_runs_page_shows_provenance_and_lineage(dashboard_db, monkeypatch):
    at = open_page(dashboard_db, "Runs", monkeypatch)
    runs = frame(at, "run_id", "kind", "git_sha", "device")
    assert set(runs["kind"]) == {"eval", "perturb", "finetune"}
    assert runs["git_sha"].notna().all()
    eval_run = runs[runs["kind"] == "eval"]["run_id"].iloc[0]
    at.selectbox(key="run-detail").set_value(eval_run).run()
    assert at.get("json"), "run config not shown"
    versions = frame(at, "package", "version")
    assert {"torch", "mteb", "sentence-transformers"} <= set(versions["package"])
    dot = at.get("graphviz_chart")[0].proto.spec
    assert "damaged" in dot and "init" in dot and "scores:" in dot and "finetune" in dot
    attempts = frame(at, "stage", "steps_done", "final_loss")
    assert list(attempts["stage"]) == ["finetune"] and attempts["steps_done"].iloc[0] == 1
    assert any("training loss" in c.proto.spec for c in charts(at)), "loss curve missing"


@pytest.mark.assets
def test_students_of_two_fret_builds_are_not_pooled(dashboard_db, tmp_path, monkeypatch):
    """An experiment rerun on another FRet build: the page shows one build at a time."""
    import shutil

    from gecko_bench.store import upsert_model
    from gecko_bench.store.dashboard import experiment_scores

    db = tmp_path / "two-builds.duckdb"
    shutil.copy(dashboard_db, db)
    members = experiment_scores(db, "task-diversity")[["model_id", "model_name", "variant"]]
    for row in members.drop_duplicates("model_id").itertuples():
        build = "fret-aaaa" if row.variant == "all-original" else "fret-bbbb"
        upsert_model(row.model_id, row.model_name, fret_dataset_id=build, db_path=db)
    at = open_page(db, "Task diversity", monkeypatch)
    picker = at.selectbox(key="task-diversity-fret")
    assert len(picker.options) == 2 and picker.value in ("fret-aaaa", "fret-bbbb")
    shown = set(frame(at, "variant", "category", "score")["variant"])
    assert len(shown) == 1
    other = "fret-aaaa" if picker.value == "fret-bbbb" else "fret-bbbb"
    at.selectbox(key="task-diversity-fret").set_value(other).run()
    again = set(frame(at, "variant", "category", "score")["variant"])
    assert len(again) == 1 and again | shown == {"task=question answering", "all-original"}
