"""FRet build on real seed passages with smollm2-135m: resume after kill, mining, export, errors."""

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time

import duckdb
import pytest

from gecko_bench import config as C
from gecko_bench import fret
from gecko_bench.corpora.seeds import seed_passages
from gecko_bench.errors import InputError
from gecko_bench.fret.pipeline import score_pairs
from gecko_bench.fret.rank import mine, ranks, rrf
from gecko_bench.llm import load_llm
from gecko_bench.store import fret as S

CFG = C.FretConfig(n_seeds=6, n_neighbours=4, corpus_size=60, batch_size=2, max_new_tokens=48)
CLI = [sys.executable, "-m", "gecko_bench", "fret", "build", "--n-seeds", "6", "-n", "4",
       "--corpus-size", "60", "--batch-size", "2", "--max-new-tokens", "48"]


@pytest.fixture(scope="module")
def llm():
    return load_llm("smollm2-135m", batch_size=8)


def _batches(db) -> int:
    if not db.exists():
        return 0
    try:
        con = duckdb.connect(str(db), read_only=True)
    except duckdb.Error:
        return 0
    try:
        return con.execute("SELECT count(*) FROM fret_batches").fetchone()[0]
    except duckdb.Error:
        return 0
    finally:
        con.close()


@pytest.fixture(scope="module")
def built(tmp_path_factory, llm):
    """A real `fret build` killed after its first stored batch, then resumed to completion."""
    db = tmp_path_factory.mktemp("fret") / "fret.duckdb"
    proc = subprocess.Popen(CLI + ["--db", str(db)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    deadline = time.monotonic() + 900
    while _batches(db) < 1 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.5)
    assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = _batches(db)
    assert 1 <= killed_at < 3
    ds = fret.build(CFG, db_path=db, llm=llm, show_progress=False)
    return db, ds, killed_at


@pytest.mark.slow
def test_resume_after_kill_loses_and_duplicates_nothing(built, llm):
    db, ds, killed_at = built
    assert ds == fret.dataset_id(CFG)
    con = duckdb.connect(str(db), read_only=True)
    try:
        batches = con.execute("SELECT batch_index FROM fret_batches WHERE dataset_id = ? "
                              "ORDER BY 1", [ds]).fetchall()
        seeds_with_query = con.execute("SELECT seed_id FROM fret_queries WHERE dataset_id = ?",
                                       [ds]).fetchall()
        rejected_only = con.execute(
            "SELECT count(DISTINCT seed_id) FROM fret_rejects WHERE dataset_id = ? AND seed_id "
            "NOT IN (SELECT seed_id FROM fret_queries WHERE dataset_id = ?)", [ds, ds]).fetchone()[0]
        per_query = con.execute("SELECT count(*) FROM fret_neighbours WHERE dataset_id = ? "
                                "GROUP BY query_id", [ds]).fetchall()
    finally:
        con.close()
    assert [b for (b,) in batches] == [0, 1, 2]
    assert len(seeds_with_query) == len(set(seeds_with_query))
    assert len(seeds_with_query) + rejected_only == CFG.n_seeds
    assert seeds_with_query and all(n == CFG.n_neighbours for (n,) in per_query)
    row = S.fret_datasets_frame(db).set_index("dataset_id").loc[ds]
    assert row.status == "complete" and row.seeds_done == CFG.n_seeds
    # complete -> idempotent, nothing recomputed
    assert fret.build(CFG, db_path=db, llm=llm, show_progress=False) == ds



def test_list_shows_whole_ids_and_progress_in_80_columns(built):
    from typer.testing import CliRunner

    from gecko_bench.cli import app

    db, ds, _ = built
    out = CliRunner().invoke(app, ["fret", "list", "--db", str(db)]).output
    row = next(line for line in out.splitlines() if line.startswith(ds))
    assert row.split()[1:4] == ["smollm2-135m", "minilm-l6", "6/6"]
    assert max(len(line) for line in out.splitlines()) <= 80

def test_every_neighbour_keeps_all_scores_and_consistent_ranks(built):
    db, ds, _ = built
    nb = S.fret_neighbours_frame(db, ds)
    for _, g in nb.groupby("query_id"):
        for col in ("retriever_rank", "ql_rank", "rc_rank", "rrf_rank"):
            assert sorted(g[col]) == list(range(1, CFG.n_neighbours + 1))
        best_ql = g.sort_values("ql_rank")["ql_score"].tolist()
        assert best_ql == sorted(best_ql, reverse=True)
        fused = (1 / g["ql_rank"] + 1 / g["rc_rank"]).tolist()
        assert g["rrf_score"].tolist() == pytest.approx(fused)


def test_remining_every_strategy_without_the_llm(built, tmp_path):
    db, ds, _ = built
    nb = S.fret_neighbours_frame(db, ds)
    rank_of = {(r.query_id, r.passage_id): r.rrf_rank for r in nb.itertuples()}
    for positive in ("seed", "p1"):
        for negative in ("none", "random", "lowest", "range:2-3"):
            ex = fret.mine(ds, positive, negative, db_path=db)
            assert len(ex) == nb["query_id"].nunique()
            for r in ex.itertuples():
                if positive == "seed":
                    assert r.positive_id == r.seed_id
                else:
                    assert rank_of[(r.query_id, r.positive_id)] == 1
                neg = r.negative_id if isinstance(r.negative_id, str) else None
                assert neg != r.positive_id
                if negative == "none":
                    assert neg is None
                elif negative == "lowest":
                    others = [k for (q, p), k in rank_of.items()
                              if q == r.query_id and p != r.positive_id]
                    assert rank_of[(r.query_id, neg)] == max(others)
                elif negative == "range:2-3" and neg is not None:
                    assert 2 <= rank_of[(r.query_id, neg)] <= 3
    again = fret.mine(ds, "p1", "random", db_path=db)
    assert again["negative_id"].tolist() == fret.mine(ds, "p1", "random", db_path=db)[
        "negative_id"].tolist()
    out = tmp_path / "train.jsonl"
    n = fret.export_training_jsonl(ds, out, positive="p1", negative="lowest", db_path=db)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert n == len(rows) > 0
    assert set(rows[0]) == {"id", "task", "task_type", "query", "positive", "positive_title",
                            "negative", "negative_title", "source"}
    assert all(r["source"] == "fret" and r["query"] and r["positive"] for r in rows)
    with pytest.raises(InputError, match="negative strategy"):
        fret.mine(ds, "p1", "range:5-2", db_path=db)


def test_rrf_and_ranks_on_hand_computed_example():
    assert ranks([0.2, 0.9, 0.5]) == [3, 1, 2]
    assert ranks([0.5, 0.5, 0.1], tiebreak=[2, 1, 3]) == [2, 1, 3]
    ql, rc = [1, 2, 3], [3, 1, 2]
    assert rrf([ql, rc]) == pytest.approx([1 + 1 / 3, 1 / 2 + 1, 1 / 3 + 1 / 2])
    assert rrf([ql, rc], k=60) == pytest.approx([1 / 61 + 1 / 63, 1 / 62 + 1 / 61,
                                                 1 / 63 + 1 / 62])
    assert ranks(rrf([ql, rc])) == [2, 1, 3]
    rng = __import__("random").Random(0)
    nbrs = [("a", 2), ("s", 1), ("c", 3), ("d", 4)]
    assert mine("s", nbrs, "p1", "lowest", rng) == ("s", "d")
    assert mine("x", nbrs, "seed", "lowest", rng) == ("x", "d")
    assert mine("s", nbrs, "p1", "range:4-9", rng) == ("s", "d")
    assert mine("s", nbrs, "p1", "none", rng) == ("s", None)


@pytest.mark.slow
def test_query_likelihood_ranks_the_true_passage_first(llm):
    corpus = {p.id: p for p in seed_passages(limit=300, seed=0)}
    apollo = next(p for p in corpus.values() if p.title.startswith("Apollo 11: Splashdown"))
    others = [p for p in corpus.values() if p.source != "wikipedia"][:3]
    query = "where did the Apollo 11 astronauts land when they came back to Earth"
    ql, _ = score_pairs(llm, [(p.text, query) for p in [apollo] + others])
    assert ranks(ql)[0] == 1


def test_bad_inputs_fail_clearly_and_store_nothing(tmp_path, llm):
    db = tmp_path / "bad.duckdb"
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    cases = [
        (dataclasses.replace(CFG, sources=[f"jsonl:{empty}"]), "empty"),
        (dataclasses.replace(CFG, n_seeds=61), "larger than the seed corpus"),
        (dataclasses.replace(CFG, n_neighbours=500), "larger than the corpus"),
        (dataclasses.replace(CFG, max_new_tokens=1, gen_attempts=1), "no parseable"),
        # an LLM computing in another dtype than the config says would mislabel its scores
        (dataclasses.replace(CFG, llm_dtype="float32" if llm.dtype == "bfloat16"
                             else "bfloat16"), "wrong dataset id"),
    ]
    for cfg, message in cases:
        with pytest.raises(InputError, match=message):
            fret.build(cfg, db_path=db, llm=llm, show_progress=False)
    assert not db.exists() or S.fret_datasets_frame(db).empty


def test_dataset_id_names_the_compute_dtype():
    ids = {d: fret.dataset_id(dataclasses.replace(CFG, llm_dtype=d)) for d in
           ("float32", "bfloat16")}
    assert ids["float32"] != ids["bfloat16"]
    assert fret.dataset_id(CFG, device="cuda") == ids["bfloat16"]  # auto is bfloat16 on CUDA
    with pytest.raises(InputError, match="unknown LLM dtype"):
        fret.dataset_id(dataclasses.replace(CFG, llm_dtype="float16"))


def test_overlap_guard_fails_a_run_seeded_with_eval_text(tmp_path, llm):
    from gecko_bench.corpora.debian_faq import faq_entries

    answer = next(e.answer for e in faq_entries("en") if len(e.answer.split()) >= 60)
    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text(json.dumps({"id": "faq", "text": " ".join(answer.split()[:200])}) + "\n")
    cfg = dataclasses.replace(CFG, sources=["wikipedia", f"jsonl:{seeds}"], n_seeds=2,
                              corpus_size=None)
    with pytest.raises(InputError, match="overlap the evaluation data"):
        fret.build(cfg, db_path=tmp_path / "g.duckdb", llm=llm, show_progress=False)
    assert not (tmp_path / "g.duckdb").exists()


def test_seed_is_never_the_hard_negative_when_p1_is_not_the_seed():
    """The seed is relevant to its own query by construction: never a negative (issue 15.5)."""
    nbrs = [("a", 1), ("b", 2), ("c", 3), ("s", 4)]  # the seed ranked last by RRF
    rng = __import__("random").Random(0)
    assert mine("s", nbrs, "p1", "lowest", rng) == ("a", "c")
    assert {mine("s", nbrs, "p1", "random", rng)[1] for _ in range(50)} == {"b", "c"}
    assert {mine("s", nbrs, "p1", "range:3-4", rng)[1] for _ in range(20)} == {"c"}
    assert mine("s", nbrs, "p1", "range:4-4", rng) == ("a", None)
    assert mine("s", [("a", 1), ("s", 2)], "p1", "lowest", rng) == ("a", None)
    assert mine("s", nbrs, "p1", "none", rng) == ("a", None)
    # positive = seed: the seed is the positive, so it is excluded as before
    assert mine("s", nbrs, "seed", "lowest", rng) == ("s", "c")
