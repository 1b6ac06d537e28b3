"""Soft-label losses (train.loss = margin_mse | gecko+margin_mse): the teacher-score reader,
the label column, the loss values by hand, and the eq. 3 default left as it was."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from gecko_bench.config import TrainConfig
from gecko_bench.errors import InputError
from train_helpers import write_jsonl
from trainers.data import read_fret_jsonl, soft_labels, teacher_margin, to_dataset
from trainers.losses import (
    GeckoLoss,
    GeckoMarginMSELoss,
    build_loss,
    describe_loss,
    margin_mse_loss,
)
from trainers.stages import _cfg_key

TAU = 0.5  # scale 2: the hand-computed values below stay small numbers


def _row(rid: str, negative: str | None, neighbours: list[dict] | None) -> dict:
    return {"id": rid, "task": "Find the passage", "task_type": "t", "query": f"query {rid}",
            "positive": f"pos {rid}", "positive_title": "P",
            "negative": negative, "negative_title": None if negative is None else "N",
            "source": "fret", "positive_score": 1.5, "negative_score": 0.5,
            **({"neighbour_scores": neighbours} if neighbours is not None else {})}


def _nb(title: str, text: str, ql: float | None, rc_norm: float | None) -> dict:
    return {"id": f"id-{text}", "title": title, "text": text, "is_seed": False,
            "retriever_rank": 1, "rrf_rank": 1, "retriever": 0.5, "ql": ql, "rc": -0.1,
            "rc_norm": rc_norm, "rrf": 1.0}


@pytest.fixture(scope="module")
def fret_file(tmp_path_factory):
    """Four hand-written FRet rows: scored, a duplicate text, no negative, unscored positive."""
    rows = [
        _row("a", "neg a", [_nb("P", "pos a", -1.0, -0.2), _nb("N", "neg a", -3.5, -1.2),
                            _nb("N", "neg a", -9.0, -9.0)]),    # duplicate: first one counts
        _row("b", "neg b", [_nb("N", "neg b", -2.0, -0.5),
                            _nb("other", "pos b", -0.5, -0.1)]),  # positive's title differs
        _row("c", None, [_nb("P", "pos c", -1.0, -0.3)]),
        _row("d", "neg d", None),                                 # no neighbour_scores at all
    ]
    return write_jsonl(rows, tmp_path_factory.mktemp("soft") / "fret.jsonl")


@pytest.fixture(scope="module")
def examples(fret_file):
    return read_fret_jsonl(fret_file)


def test_reader_matches_the_positive_and_negative_among_the_neighbours(examples):
    a, b, c, d = examples
    assert a.positive_teacher == {"ql": -1.0, "rc_norm": -0.2}
    assert a.negative_teacher == {"ql": -3.5, "rc_norm": -1.2}
    assert teacher_margin(a, "ql") == pytest.approx(2.5)
    assert teacher_margin(a, "rc_norm") == pytest.approx(1.0)
    assert b.positive_teacher == {} and b.negative_teacher == {"ql": -2.0, "rc_norm": -0.5}
    assert teacher_margin(b, "ql") is None  # (title, text) must both match
    assert teacher_margin(c, "ql") is None and c.positive_teacher["ql"] == -1.0
    assert d.positive_teacher == {} and teacher_margin(d, "ql") is None
    assert (a.positive_score, a.negative_score) == (1.5, 0.5)  # the RRF scores, kept as before


def test_reader_refuses_a_malformed_neighbour(tmp_path):
    bad = write_jsonl([_row("x", "neg x", [_nb("P", "pos x", -1.0, -0.2)]),
                       _row("y", "neg y", [_nb("P", "pos y", "high", -0.2)])],
                      tmp_path / "bad.jsonl")
    with pytest.raises(InputError, match=r"bad.jsonl:2: neighbour_scores\[0\] 'ql' has type str"):
        read_fret_jsonl(bad)
    worse = write_jsonl([_row("z", "neg z", {"text": "pos z"})], tmp_path / "worse.jsonl")
    with pytest.raises(InputError, match=r"worse.jsonl:1: 'neighbour_scores' has type dict"):
        read_fret_jsonl(worse)


def test_soft_label_columns(examples):
    a, b, c, _ = examples
    ds = to_dataset([a, c, b], loss="gecko+margin_mse")
    assert ds.column_names == ["anchor", "positive", "negative", "label"]
    labels = ds["label"]
    assert labels[0] == pytest.approx([1.0, 2.5])
    assert labels[1][0] == 0.0 and math.isnan(labels[1][1])  # no negative: eq. 3 only
    assert labels[2][0] == 1.0 and math.isnan(labels[2][1])  # negative, unscored positive
    assert ds["negative"][1] == ""
    only_a = to_dataset([a, a], loss="margin_mse", soft_label_score="rc_norm")
    assert only_a["label"] == pytest.approx([1.0, 1.0])


def test_margin_mse_refuses_rows_without_a_margin_and_names_one(examples):
    a, b, c, d = examples
    with pytest.raises(InputError, match=r"2 of the 3 training rows have none \(first: 'c', "
                                         r"no hard negative\).*gecko\+margin_mse"):
        to_dataset([a, c, d], loss="margin_mse")
    with pytest.raises(InputError, match=r"first: 'b', no teacher 'ql' score for its positive"):
        soft_labels([b], "margin_mse", "ql")
    with pytest.raises(InputError, match=r"gecko\+margin_mse needs a teacher 'ql' margin, and 2 "
                                         r"of the 2"):
        to_dataset([b, d], loss="gecko+margin_mse")


def test_bad_settings_fail_with_a_clear_error(examples):
    with pytest.raises(InputError, match=r"unknown train.loss 'kl'; choose one of gecko, "
                                         r"margin_mse, gecko\+margin_mse"):
        to_dataset(examples, loss="kl")
    with pytest.raises(InputError, match=r"unknown train.soft_label_score 'rrf'; choose one of "
                                         r"ql, rc_norm"):
        to_dataset(examples, loss="gecko+margin_mse", soft_label_score="rrf")
    with pytest.raises(InputError, match="unknown train.loss 'mse'"):
        build_loss(None, loss="mse")
    with pytest.raises(InputError, match="has no GradCache form"):
        build_loss(None, loss="margin_mse", mini_batch_size=4)
    with pytest.raises(InputError, match="soft_label_weight must be > 0, got 0.0"):
        build_loss(None, loss="gecko+margin_mse", soft_label_weight=0.0)


# -- loss values, on fixed 2-d embeddings (compute_loss_from_embeddings takes them directly) --

Q = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
P = torch.tensor([[1.0, 0.0], [0.6, 0.8]])  # cos(q, p): 1.0, 0.6
N = torch.tensor([[0.0, 1.0], [0.8, 0.6]])  # cos(q, n): 0.0, 0.8
# student margins (cos(q,p) - cos(q,n)) / TAU: 2.0 and -0.4


@pytest.fixture(scope="module")
def model():
    from gecko_bench.assets.loaders import load_sentence_transformer

    m = load_sentence_transformer("minilm-l6")
    m.max_seq_length = 32
    m.eval()
    return m


@pytest.mark.assets
def test_margin_mse_value_by_hand(model):
    loss = margin_mse_loss(model, TAU)
    teacher = torch.tensor([0.5, 1.0])
    # ((2.0 - 0.5)^2 + (-0.4 - 1.0)^2) / 2 = (2.25 + 1.96) / 2
    assert loss.compute_loss_from_embeddings([Q, P, N], teacher).item() == pytest.approx(2.105)
    assert loss.get_config_dict() == {"similarity_fct": "scaled_pairwise_cos(scale=2.0)"}


@pytest.mark.assets
def test_gecko_plus_margin_mse_by_hand(model):
    gecko = GeckoLoss(model, TAU)
    both = GeckoMarginMSELoss(model, TAU, weight=0.5)
    eq3 = gecko.compute_loss_from_embeddings([Q, P, N], torch.ones(2)).item()
    # row 2 has no margin: only row 1's (2.0 - 0.5)^2 = 2.25 enters, weighted 0.5
    labels = torch.tensor([[1.0, 0.5], [1.0, math.nan]])
    assert both.compute_loss_from_embeddings([Q, P, N], labels).item() == \
        pytest.approx(eq3 + 0.5 * 2.25)
    # row 1 without a negative: eq. 3 masks it, the margin term is row 2's (-0.4 - 1.0)^2
    masked = gecko.compute_loss_from_embeddings([Q, P, N], torch.tensor([0.0, 1.0])).item()
    assert masked != pytest.approx(eq3)
    labels = torch.tensor([[0.0, math.nan], [1.0, 1.0]])
    assert both.compute_loss_from_embeddings([Q, P, N], labels).item() == \
        pytest.approx(masked + 0.5 * 1.96)
    no_margin = torch.tensor([[1.0, math.nan], [1.0, math.nan]])
    assert both.compute_loss_from_embeddings([Q, P, N], no_margin).item() == pytest.approx(eq3)


@pytest.mark.assets
def test_matryoshka_applies_to_margin_mse(model):
    """Through the library's forward: the MSE summed over truncated, re-normalised dims."""
    texts = [["who wrote Emma", "the capital of France"],
             ["Emma is a novel by Jane Austen.", "Paris is the capital of France."],
             ["Persuasion was published in 1817.", "Lyon is a city in France."]]
    teacher = np.array([2.5, 1.0])
    loss = build_loss(model, TAU, mrl_dims=[384, 64], loss="margin_mse")
    features = [model.tokenize(col) for col in texts]
    with torch.no_grad():
        got = loss(features, torch.tensor(teacher, dtype=torch.float32)).item()
        emb = [model.encode(col, convert_to_numpy=True) for col in texts]
    want = 0.0
    for dim in (384, 64):
        q, p, n = (e[:, :dim] / np.linalg.norm(e[:, :dim], axis=1, keepdims=True) for e in emb)
        margin = ((q * p).sum(1) - (q * n).sum(1)) / TAU
        want += float(((margin - teacher) ** 2).mean())
    assert got == pytest.approx(want, rel=1e-4)


# -- the eq. 3 default is what it was --

def test_default_is_eq3_with_its_old_key_and_manifest_line():
    cfg = TrainConfig()
    assert cfg.loss == "gecko"
    # the manifest line eq. 3 runs have always written
    assert describe_loss(cfg) == "Gecko eq. 3, tau=0.05, other_hard_negatives=False"
    key = _cfg_key(cfg, "finetune")
    assert not {"loss", "soft_label_score", "soft_label_weight"} & set(key)
    assert _cfg_key(dataclasses.replace(cfg, soft_label_score="rc_norm"), "finetune") == key
    soft = dataclasses.replace(cfg, loss="gecko+margin_mse", soft_label_weight=0.5)
    soft_key = _cfg_key(soft, "finetune")
    assert {k: soft_key[k] for k in ("loss", "soft_label_score", "soft_label_weight")} == \
        {"loss": "gecko+margin_mse", "soft_label_score": "ql", "soft_label_weight": 0.5}
    assert _cfg_key(soft, "prefinetune") == _cfg_key(cfg, "prefinetune")  # pre-finetuning: eq. 3
    assert describe_loss(soft) == ("Gecko eq. 3, tau=0.05, other_hard_negatives=False + 0.5 x "
                                   "MarginMSE on the teacher's 'ql' margins, student margin "
                                   "(cos(q,p) - cos(q,n))/tau, tau=0.05")


@pytest.mark.assets
def test_default_dataset_and_loss_unchanged(examples, model):
    a, _, c, _ = examples
    assert to_dataset([a, a]).column_names == ["anchor", "positive", "negative"]
    assert to_dataset([a, c])["label"] == [1, 0]  # the negative mask, as before
    loss = build_loss(model, mrl_dims=[384, 64])
    assert type(loss.loss) is GeckoLoss


@pytest.mark.assets
@pytest.mark.slow
def test_finetune_trains_on_the_soft_labels(tmp_path):
    """A real 2-step fine-tune: the trainer hands the (B, 2) label column to the loss, and the
    manifest and key name the loss."""
    import json

    import trainers
    from train_helpers import fret_rows, tiny_cfg

    rows = [{**r, "neighbour_scores": [_nb(r["positive_title"], r["positive"], -1.0 - i / 10, -0.2),
                                       _nb(r["negative_title"], r["negative"], -3.0, -1.5)]}
            for i, r in enumerate(fret_rows(n_books=6, n_wiki=6))]
    rows[0] = {**rows[0], "negative": None, "negative_title": None}  # eq. 3 only for this one
    fret = write_jsonl(rows, tmp_path / "soft.jsonl")
    out = trainers.finetune(tiny_cfg(finetune_steps=2, loss="gecko+margin_mse"), fret,
                            "minilm-l6", tmp_path / "ft", db_path=tmp_path / "t.duckdb")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["loss"].endswith("1.0 x MarginMSE on the teacher's 'ql' margins, student "
                                     "margin (cos(q,p) - cos(q,n))/tau, tau=0.05")
    assert manifest["key_material"]["config"]["loss"] == "gecko+margin_mse"
    assert math.isfinite(manifest["final_loss"])
