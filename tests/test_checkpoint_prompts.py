"""Checkpoints carry their prompts: written from the shared format, looked up as mteb does, scored
by gecko-bench exactly as plain mteb scores them; a student's style chosen on its dev split."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from gecko_bench.eval.prompts import checkpoint_prompts, resolve_style
from gecko_bench.text_format import format_document, format_query

TASKS = ["ManPageRetrieval-tiny", "LeeSTS-tiny"]


def test_prompts_are_the_shared_format_under_keys_mteb_accepts():
    from mteb.models.abs_encoder import AbsEncoder

    gecko = checkpoint_prompts("gecko")
    AbsEncoder.validate_task_to_prompt_name(gecko, raise_for_invalid_keys=True)  # raises if not
    assert gecko["Retrieval-query"] + "x" == format_query("x", "search result")
    assert gecko["Retrieval-document"] + "x" == format_document("x")
    assert gecko["STS"] + "x" == format_query("x", "semantic similarity")
    assert gecko["NQ-query"] + "x" == format_query("x", "question answering")
    assert "STS-query" not in gecko and "Retrieval" not in gecko  # symmetric vs asymmetric
    plain = checkpoint_prompts("plain")
    assert plain["Retrieval-query"] + "x" == format_query("x", "search result", unified=False)
    assert "Retrieval-document" not in plain  # plain documents are the bare text
    assert checkpoint_prompts("none") == {}


def test_auto_is_the_models_own_convention():
    assert resolve_style("auto", declares_prompts=True, own_prefix=False) == "model"
    assert resolve_style("auto", declares_prompts=False, own_prefix=True) == "e5"
    assert resolve_style("auto", declares_prompts=False, own_prefix=False) == "none"
    from gecko_bench.errors import InputError

    with pytest.raises(InputError, match="declares no"):
        resolve_style("model", declares_prompts=False, own_prefix=False)


@pytest.fixture(scope="module")
def prompted(tmp_path_factory):
    """MiniLM saved with gecko prompts written the way trainers write a student's."""
    from gecko_bench.assets.loaders import resolve_st_path
    from trainers.prompt_choice import write_prompts

    folder = tmp_path_factory.mktemp("ckpt") / "minilm-gecko-prompts"
    shutil.copytree(resolve_st_path("minilm-l6"), folder)
    write_prompts(folder, "gecko")
    return folder


@pytest.mark.assets
def test_gecko_bench_scores_a_prompted_checkpoint_as_plain_mteb_does(prompted, tmp_path):
    import mteb
    from sentence_transformers import SentenceTransformer

    from gecko_bench.provenance import checkpoint_id
    from gecko_bench.store.scores import scores_frame
    from gecko_bench.tasks.registry import get_task

    db = tmp_path / "p.duckdb"
    out = subprocess.run([sys.executable, "-m", "gecko_bench", "eval", "--model", str(prompted),
                          "--tasks", ",".join(TASKS), "--db", str(db), "--no-cache"],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    ours = scores_frame(db, main_only=True)
    assert set(ours["prompt_style"]) == {"model"}  # auto -> the checkpoint's own prompts
    assert set(ours["model_id"]) == {checkpoint_id(prompted)}
    model = SentenceTransformer(str(prompted))
    assert model.prompts["Retrieval-query"] == "task: search result | query: "
    for task in TASKS:
        plain = mteb.evaluate(model, [get_task(task)], cache=None, show_progress_bar=False)
        theirs = plain.task_results[0].get_score()
        assert ours.loc[ours.task == task, "value"].item() == pytest.approx(theirs, abs=1e-6)


@pytest.mark.assets
def test_the_prompt_style_is_chosen_on_the_dev_split(tmp_path):
    from sentence_transformers import SentenceTransformer

    from gecko_bench.assets.loaders import resolve_st_path
    from trainers.data import passage_rows, split_dev
    from trainers.prompt_choice import MIN_DEV_QUERIES, choose_prompt_style, dev_problem

    rows = passage_rows(n_books=6, n_wiki=6)
    every = tmp_path / "all.jsonl"
    every.write_text("".join(json.dumps(r) + "\n" for r in rows))
    n_train, n_dev = split_dev(every, 0.5, tmp_path / "train.jsonl", tmp_path / "dev.jsonl")
    assert (n_train, n_dev) == (len(rows) - round(len(rows) * 0.5), round(len(rows) * 0.5))
    train_ids = {json.loads(x)["id"] for x in (tmp_path / "train.jsonl").read_text().splitlines()}
    dev_ids = {json.loads(x)["id"] for x in (tmp_path / "dev.jsonl").read_text().splitlines()}
    assert not train_ids & dev_ids and len(train_ids | dev_ids) == len(rows)
    # the same data always splits the same way
    split_dev(every, 0.5, tmp_path / "t2.jsonl", tmp_path / "d2.jsonl")
    assert (tmp_path / "d2.jsonl").read_text() == (tmp_path / "dev.jsonl").read_text()

    queries, corpus, relevant = dev_problem(tmp_path / "dev.jsonl")
    assert set(queries) == dev_ids and all(relevant[q] <= set(corpus) for q in queries)
    model = SentenceTransformer(str(resolve_st_path("minilm-l6")))
    choice = choose_prompt_style(model, tmp_path / "dev.jsonl", "gecko")
    assert choice.chosen_on == "dev" and set(choice.scores) == {"gecko", "plain", "none"}
    assert choice.scores[choice.style] == max(choice.scores.values())
    assert choice.n_queries == n_dev
    # too few dev queries: the training format is kept, and says why
    one = tmp_path / "one.jsonl"
    one.write_text((tmp_path / "dev.jsonl").read_text().splitlines()[0] + "\n")
    few = choose_prompt_style(model, one, "plain")
    assert few.style == "plain" and str(MIN_DEV_QUERIES) in few.chosen_on and not few.scores
    assert choose_prompt_style(model, None, "gecko").chosen_on.startswith("training format")
