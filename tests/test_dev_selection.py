"""Checkpoint selection and early stopping on the dev split, on real text and real MiniLM steps:
evaluations at the configured steps, the best step's weights kept, early stopping that
survives a kill, and the default (off) path unchanged."""

from __future__ import annotations

import json

import pytest

import trainers
from train_helpers import fret_rows, tiny_cfg, write_jsonl
from trainers.dev_selection import DevSelector

pytestmark = pytest.mark.assets  # needs fetched models or data


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    """FRet-format rows split by id hash into training rows and a dev split never trained on."""
    from trainers.data import split_dev

    root = tmp_path_factory.mktemp("devsel")
    every = write_jsonl(fret_rows(n_books=8, n_wiki=8), root / "all.jsonl")
    n_train, n_dev = split_dev(every, 0.3, root / "train.jsonl", root / "dev.jsonl")
    assert n_train >= 8 and n_dev >= 4
    return root, root / "train.jsonl", root / "dev.jsonl", root / "t.duckdb"


def _swapped(dev, path):
    """The dev rows with positive and hard negative exchanged: a dev split on which what
    training teaches (query -> its true passage) scores worse at every step."""
    rows = [json.loads(line) for line in dev.read_text().splitlines()]
    for r in rows:
        r["positive"], r["negative"] = r["negative"], r["positive"]
        r["positive_title"], r["negative_title"] = r["negative_title"], r["positive_title"]
    return write_jsonl(rows, path)


def _manifest(path) -> dict:
    return json.loads((path / "manifest.json").read_text())


@pytest.mark.slow
def test_best_dev_step_is_kept_not_the_last(split):
    """Evaluated every 2 of 3 steps and at the last; on a dev split that training makes worse
    the first evaluation is the best, and the saved weights are that step's."""
    root, train, dev, db = split
    cfg = tiny_cfg(finetune_steps=3, finetune_batch_size=4, learning_rate=1e-3,
                   warmup_ratio=0.0, dev_eval_steps=2)
    out = trainers.finetune(cfg, train, "minilm-l6", root / "best", db_path=db,
                            dev_jsonl=_swapped(dev, root / "swapped.jsonl"), mrl=False)
    m = _manifest(out)
    sel = m["dev_selection"]
    assert sel["chosen_on"] == "dev" and sel["metric"] == "cosine_ndcg@10"
    assert [s for s, _ in sel["curve"]] == [2, 3]  # every eval_steps, plus the last step
    scores = dict(sel["curve"])
    assert sel["best_step"] == 2 and sel["best_score"] == scores[2] > scores[3]
    assert not sel["stopped_early"] and sel["steps_trained"] == 3 == m["steps"]
    # the saved checkpoint, rescored after training (prompt choice, same prefixes and length),
    # scores the best step's figure, not the last step's
    kept = m["prompt_choice"]["scores"]["gecko"]
    assert kept == pytest.approx(sel["best_score"], abs=1e-6)
    assert m["key_material"]["dev_selection"] == {"eval_steps": 2, "early_stopping_patience": 0}
    card = (out / "README.md").read_text()
    assert f"weights of step {sel['best_step']}" in card


@pytest.mark.slow
def test_early_stopping_stops_and_survives_a_kill(split):
    """Learning rate 0: the dev score never improves, so patience 2 stops at step 3 of 6. A
    crash at step 3 (after checkpoint 2) and a rerun resume with the patience counter."""
    root, train, dev, db = split
    cfg = tiny_cfg(finetune_steps=6, finetune_batch_size=4, learning_rate=0.0,
                   dev_eval_steps=1, early_stopping_patience=2)

    class Killed(Exception):
        pass

    def kill_at_3(step, total, loss):
        if step == 3:
            raise Killed

    out = root / "early"
    with pytest.raises(Killed):
        trainers.finetune(cfg, train, "minilm-l6", out, db_path=db, dev_jsonl=dev, mrl=False,
                          progress=kill_at_3)
    assert not (out / "manifest.json").exists()
    trainers.finetune(cfg, train, "minilm-l6", out, db_path=db, dev_jsonl=dev, mrl=False)
    m = _manifest(out)
    sel = m["dev_selection"]
    assert m["resumed_from_step"] == 2
    # without the restored counter the rerun would stop one evaluation later (step 4)
    assert sel["stopped_early"] and sel["steps_trained"] == 3 == m["steps"]
    assert [s for s, _ in sel["curve"]] == [1, 2, 3] and len(set(dict(sel["curve"]).values())) == 1
    assert sel["best_step"] == 1  # no later evaluation improved on the first
    assert not (out / "_trainer").exists()


def test_off_by_default_and_too_small_dev_split(split, tmp_path):
    from trainers.stages import _cfg_key

    root, train, dev, db = split
    cfg = tiny_cfg(finetune_steps=1, finetune_batch_size=4)
    assert cfg.dev_eval_steps == 0 and cfg.early_stopping_patience == 0
    assert not {"dev_eval_steps", "early_stopping_patience"} & set(_cfg_key(cfg, "finetune"))
    out = trainers.finetune(cfg, train, "minilm-l6", root / "off", db_path=db, dev_jsonl=dev,
                            mrl=False)
    m = _manifest(out)
    assert m["dev_selection"] is None and "dev_selection" not in m["key_material"]
    assert m["steps"] == 1 and m["prompt_choice"]["chosen_on"] == "dev"
    one = write_jsonl([json.loads(dev.read_text().splitlines()[0])], tmp_path / "one.jsonl")
    small = DevSelector(tiny_cfg(dev_eval_steps=1, early_stopping_patience=1), one, "gecko", 256)
    assert not small.usable and small.evaluator is None
    assert small.training_args() == {} and small.callbacks() == []
    assert small.selection.chosen_on.startswith("not selected: dev split of 1 queries")
