"""Where tasks come from: mteb's own tasks pointed at a local HF-layout folder, BEIR folders,
and every bad input failing with one clear error before a row is written."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import eval_tasks as data

from gecko_bench.assets import AssetError, model_path
from gecko_bench.errors import InputError
from gecko_bench.api import evaluate
from gecko_bench.config import EvalConfig
from gecko_bench.eval.prompts import TaskPrompt, render
from gecko_bench.store.scores import item_scores_frame, scores_frame


@pytest.mark.assets
def test_real_mteb_task_from_local_hf_folder(tmp_path, eval_cache):
    """mteb's SciFact task, offline, reading a folder in the HF layout of mteb/scifact."""
    data.write_hf_scifact(tmp_path / "data" / "SciFact", n=20)
    db = tmp_path / "r.duckdb"
    evaluate("minilm-l6", ["SciFact"], config=EvalConfig(prompt_style="none", dims=[]), db=db,
             data_dir=tmp_path / "data", cache_dir=eval_cache, progress=False)
    s = scores_frame(db, main_only=True)
    assert list(s.task) == ["SciFact"] and list(s.metric) == ["ndcg_at_10"]
    assert s.category.iloc[0] == "Retrieval" and 0.3 < s.value.iloc[0] <= 1.0
    items = item_scores_frame(db, s.model_id.iloc[0], task="SciFact")
    assert items[items.metric == "ndcg_at_10"].value.mean() == pytest.approx(s.value.iloc[0],
                                                                             abs=1e-4)
    import mteb  # the class-level metadata must still point at the hub

    assert mteb.get_task("SciFact").metadata.dataset["path"] == "mteb/scifact"


@pytest.mark.assets
def test_missing_hub_dataset_names_it_and_data_dir(tmp_path):
    db = tmp_path / "r.duckdb"
    with pytest.raises(InputError, match=r"mteb/scifact.*--data-dir"):
        evaluate("minilm-l6", ["SciFact"], db=db, progress=False)
    assert not db.exists()


@pytest.mark.assets
def test_beir_folder_is_a_retrieval_task(tmp_path, eval_cache):
    folder = data.write_beir(tmp_path / "myfaq", n=20)
    db = tmp_path / "r.duckdb"
    evaluate("minilm-l6", config=EvalConfig(prompt_style="none", dims=[]), db=db, beir_dir=folder,
             cache_dir=eval_cache, progress=False)
    s = scores_frame(db, main_only=True)
    assert list(s.task) == ["beir-myfaq"] and list(s.suite) == ["beir:myfaq"]
    assert 0.3 < s.value.iloc[0] <= 1.0
    # an edited folder is a new revision: its old score is history, not the current score
    from gecko_bench.store.scores import current_scores

    first = current_scores(db, main_only=True)
    qrels = folder / "qrels" / "test.tsv"
    lines = qrels.read_text().splitlines()
    qrels.write_text("\n".join(lines[:-1]) + "\n")  # one judgement fewer
    evaluate("minilm-l6", config=EvalConfig(prompt_style="none", dims=[]), db=db, beir_dir=folder,
             cache_dir=eval_cache, progress=False)
    now = current_scores(db, main_only=True)
    assert len(scores_frame(db, main_only=True)) == 2 and len(now) == 1
    assert now.task_revision.iloc[0] != first.task_revision.iloc[0]


@pytest.mark.parametrize("kwargs, match", [
    (dict(tasks=["NoSuchTask"]), r"unknown task 'NoSuchTask'"),
    (dict(suite="no-such-suite"), r"unknown suite|no-such-suite"),
    (dict(suite="mteb:No Such Benchmark"), r"unknown mteb benchmark"),
    (dict(tasks_file=Path(data.__file__), config=EvalConfig(dims=[512])), r"dims 512 .* 1\.\.384"),
    (dict(tasks_file=Path(data.__file__), config=EvalConfig(prompt_style="fancy")),
     r"unknown prompt style"),
])
@pytest.mark.assets
def test_bad_input_is_one_error_and_no_rows(tmp_path, kwargs, match):
    db = tmp_path / "r.duckdb"
    with pytest.raises(InputError, match=match):
        evaluate("minilm-l6", db=db, progress=False, **kwargs)
    assert not db.exists()


@pytest.mark.assets
def test_missing_model_and_corrupt_weights(tmp_path):
    db = tmp_path / "r.duckdb"
    with pytest.raises(AssetError, match="no model"):
        evaluate(str(tmp_path / "nope"), db=db, tasks_file=Path(data.__file__))
    broken = tmp_path / "broken"
    shutil.copytree(model_path("minilm-l6"), broken)
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: 4096])
    with pytest.raises(AssetError, match="could not load checkpoint"):
        evaluate(str(broken), db=db, tasks_file=Path(data.__file__))
    assert not db.exists()


@pytest.mark.assets
def test_empty_corpus(tmp_path):
    folder = data.write_beir(tmp_path / "empty", n=5)
    (folder / "corpus.jsonl").write_text("")
    db = tmp_path / "r.duckdb"
    with pytest.raises(InputError, match="empty corpus"):
        evaluate("minilm-l6", db=db, beir_dir=folder, progress=False)
    assert not db.exists()


def test_prompt_styles_render_each_side():
    asym, sym = TaskPrompt("search result", False), TaskPrompt("semantic similarity", True)
    assert render(["q"], "gecko", asym, False) == ["task: search result | query: q"]
    assert render(["T b"], "gecko", asym, True, bodies=["b"], titles=["T"]) == [
        "title: T | text: b"]
    assert render(["a"], "gecko", sym, True) == ["task: semantic similarity | query: a"]
    assert render(["q"], "e5", asym, False) == ["query: q"]
    assert render(["d"], "e5", asym, True) == ["passage: d"]
    assert render(["d"], "e5", sym, True) == ["query: d"]
    assert render(["d"], "e5", asym, True, own_prefix=True) == ["d"]
    assert render(["T b"], "none", asym, True, bodies=["b"], titles=["T"]) == ["T b"]
    # the "- unified format" ablation: plain task prefix, bare documents
    assert render(["q"], "plain", asym, False) == ["search result q"]
    assert render(["T b"], "plain", asym, True, bodies=["b"], titles=["T"]) == ["T b"]
    assert render(["a"], "plain", sym, True) == ["semantic similarity a"]
