"""The BM25 baseline (gecko_bench/eval/lexical.py): mteb's bm25s model as a model in the store.

Real tiny offline tasks throughout: the stored main score is plain mteb's, the rows carry the
stated identity, BM25 sits on the leaderboard beside an embedding model (incomplete: it has no
STS), regress pairs their per-query items, and a task list without retrieval is an input error.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import subprocess
import sys

import pandas as pd
import pytest

from gecko_bench.errors import InputError
from gecko_bench.api import evaluate
from gecko_bench.config import EvalConfig
from gecko_bench.eval import lexical
from gecko_bench.eval.runner import SCORING_VERSION
from gecko_bench.store import connect, get_run
from gecko_bench.store.scores import NO_DIM, Protocol, current_items, current_scores
from gecko_bench.tasks.registry import get_task

RETRIEVAL, RERANKING, STS = "ManPageRetrieval-tiny", "DebianFAQReranking-tiny", "LeeSTS-tiny"


def _quiet_eval(*args, **kwargs) -> tuple[str, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        run_id = evaluate(*args, progress=False, **kwargs).run_id
    return run_id, out.getvalue()


@pytest.fixture(scope="module")
def bm25_db(tmp_path_factory):
    """bm25 on one retrieval, one reranking and one STS task (which it must skip)."""
    db = tmp_path_factory.mktemp("bm25") / "r.duckdb"
    run_id, printed = _quiet_eval("bm25", [RETRIEVAL, RERANKING, STS], db=db)
    return db, run_id, printed


def _plain_mteb_main(task_name: str) -> float:
    import mteb

    task = get_task(task_name)
    result = mteb.evaluate(mteb.get_model("mteb/baseline-bm25s"), task, cache=None,
                           show_progress_bar=False, co2_tracker=False)
    assert not result.exceptions
    (entry,) = result.task_results[0].scores["test"]
    return float(entry["main_score"])


@pytest.mark.assets
@pytest.mark.parametrize("task_name", [RETRIEVAL, RERANKING])
def test_stored_main_score_is_plain_mteb_bm25s(bm25_db, task_name):
    db, _, _ = bm25_db
    stored = current_scores(db, tasks=[task_name], main_only=True)
    assert len(stored) == 1
    assert stored["value"].iloc[0] == pytest.approx(_plain_mteb_main(task_name), abs=1e-9)


@pytest.mark.assets
def test_rows_carry_the_bm25_identity_and_per_query_items(bm25_db):
    db, run_id, printed = bm25_db
    search = lexical.load("bm25").search
    identity = lexical.bm25_identity(search, "mteb/baseline-bm25s")
    assert identity["engine"] == "bm25s" and identity["k1"] == 1.5 and identity["b"] == 0.75
    assert identity["method"] == "lucene" and identity["bm25s"]
    expected_id = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()

    scores = current_scores(db, main_only=True)
    assert set(scores["task"]) == {RETRIEVAL, RERANKING}  # STS skipped: no embeddings
    assert set(scores["model_id"]) == {expected_id}
    assert set(scores["run_id"]) == {run_id}
    assert set(scores["model_name"]) == {"bm25"}
    assert set(scores["prompt_style"]) == {"none"}
    assert set(scores["max_seq_length"]) == {0} and set(scores["dtype"]) == {"float32"}
    assert set(scores["code_version"]) == {SCORING_VERSION} and set(scores["dim"]) == {NO_DIM}
    revisions = dict(zip(scores["task"], scores["task_revision"]))
    assert revisions[RETRIEVAL] == get_task(RETRIEVAL).metadata.dataset["revision"]
    with connect(db, read_only=True) as con:
        kind, n_params = con.execute("SELECT kind, n_params FROM models WHERE model_id = ?",
                                     [expected_id]).fetchone()
    assert (kind, n_params) == ("bm25s", 0)

    protocol = Protocol.of(scores.iloc[0].to_dict())
    items = current_items(db, expected_id, protocol, tasks=[RETRIEVAL])
    ndcg = items[items["metric"] == "ndcg_at_10"]
    assert ndcg["item_id"].nunique() == 50 and set(ndcg["dim"]) == {NO_DIM}
    # the per-query nDCG@10 average back to mteb's task score
    assert ndcg["value"].mean() == pytest.approx(
        scores.set_index("task").loc[RETRIEVAL, "value"], abs=1e-4)

    lines = [line for line in printed.splitlines() if line.strip()]
    assert len(lines) == 1 and "skipping 1 task" in lines[0] and STS in lines[0], printed
    run_config = json.loads(get_run(run_id, db)["config"])
    assert run_config["task_names"] == [RETRIEVAL, RERANKING]
    assert run_config["not_applicable"] == [STS]

    again, printed = _quiet_eval("bm25", [RETRIEVAL, RERANKING, STS], db=db)
    assert again != run_id  # resumed: nothing new scored
    assert set(current_scores(db, main_only=True)["run_id"]) == {run_id}


@pytest.fixture(scope="module")
def board_db(tmp_path_factory, eval_cache):
    """minilm-l6 and bm25 on one retrieval task and one STS task."""
    db = tmp_path_factory.mktemp("board") / "r.duckdb"
    _quiet_eval("minilm-l6", [RETRIEVAL, STS], db=db,
                config=EvalConfig(dims=[], prompt_style="none"), cache_dir=eval_cache)
    _quiet_eval("bm25", [RETRIEVAL, STS], db=db)
    return db


@pytest.mark.assets
def test_bm25_is_on_the_leaderboard_without_breaking_the_complete_rows(board_db):
    from gecko_bench.compare import leaderboard
    from gecko_bench.report import incomplete_view

    stored = current_scores(board_db, main_only=True)
    bm25_score = 100 * stored[(stored.model_name == "bm25")]["value"].iloc[0]
    for dim in (None, 384):  # at the embedding model's dim too: BM25 has none (NO_DIM)
        complete, incomplete = leaderboard(board_db, dim=dim)
        assert list(complete["model"]) == ["minilm-l6"] and list(complete["rank"]) == [1]
        assert complete["dim"].iloc[0] == 384 and pd.notna(complete["STS"].iloc[0])
        (row,) = incomplete.to_dict("records")
        assert row["model"] == "bm25" and row["missing"] == STS and row["n_tasks"] == 1
        assert row["Retrieval"] == pytest.approx(bm25_score) and pd.isna(row["STS"])
        assert row["dim"] == NO_DIM and row["prompt_style"] == "none"
    view = incomplete_view(incomplete).iloc[0]
    assert view["Retr"] == f"{bm25_score:.1f}" and view["missing"] == STS
    assert "STS" not in view  # a category no incomplete row has is left out (fits 80 columns)
    assert "mean" not in incomplete_view(incomplete).columns  # no average over what it lacks


@pytest.mark.assets
def test_regress_pairs_bm25_with_an_embedding_model(board_db):
    from gecko_bench.regress import compare

    report = compare(board_db, "minilm-l6", "bm25", allow_missing=True, n_resamples=200)
    assert report.dim == 384
    row = report.table.set_index("task").loc[RETRIEVAL]
    assert row["n_items"] == 50 and pd.notna(row["delta"]) and pd.notna(row["p_value"])
    assert report.missing["baseline"] == [] and report.missing["candidate"] == [STS]


def test_no_retrieval_task_is_an_input_error(tmp_path):
    db = tmp_path / "r.duckdb"
    with pytest.raises(InputError, match="Retrieval and Reranking tasks only"):
        evaluate("bm25", [STS], db=db, progress=False)
    assert not db.exists() or current_scores(db).empty
    proc = subprocess.run([sys.executable, "-m", "gecko_bench", "eval", "--model", "bm25",
                           "--tasks", f"{STS},BrownGenreClustering-tiny", "--db", str(db)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: bm25 scores Retrieval"), proc.stderr
