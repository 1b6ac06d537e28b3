"""The training loss is Gecko eq. 3 (checked by hand in numpy), with Matryoshka dims, GradCache,
and a column order that cannot be silently swapped."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gecko_bench.errors import InputError
from train_helpers import fret_rows
from trainers.data import Example, check_columns, example_texts, to_dataset
from trainers.losses import CachedGeckoLoss, GeckoLoss, build_loss

pytestmark = pytest.mark.assets  # needs fetched models or data

TAU = 0.05


@pytest.fixture(scope="module")
def model():
    from gecko_bench.assets.loaders import load_sentence_transformer

    m = load_sentence_transformer("minilm-l6")
    m.max_seq_length = 64
    m.eval()  # no dropout: library forward and numpy must see the same embeddings
    return m


@pytest.fixture(scope="module")
def rows():
    return fret_rows(n_books=3, n_wiki=2)


@pytest.fixture(scope="module")
def batch(rows):
    """Five real (query, positive, negative) triples, rendered in the unified format."""
    exs = [Example(**{k: r[k] for k in ("id", "task", "task_type", "query", "positive",
                                        "positive_title", "negative", "negative_title",
                                        "source")}) for r in rows]
    rendered = [example_texts(ex) for ex in exs]
    return [[r[c] for r in rendered] for c in ("anchor", "positive", "negative")]


@pytest.fixture(scope="module")
def plain_batch(rows):
    """The same triples as bare text: queries differ more, so every term of eq. 3 counts."""
    return [[r[c] for r in rows] for c in ("query", "positive", "negative")]


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def eq3_numpy(q, p, n, tau=TAU, other_hard_negatives=False, has=None) -> float:
    """Gecko eq. 3 written out term by term (optionally with the other queries' negatives).

    ``has[i]`` False: example i has no hard negative, so n[i] appears in no denominator.
    """
    q, p, n = _unit(q), _unit(p), _unit(n)
    has = [True] * len(q) if has is None else has
    total = 0.0
    for i in range(len(q)):
        terms = [np.exp(q[i] @ p[j] / tau) for j in range(len(q))]          # in-batch positives
        if has[i]:
            terms.append(np.exp(q[i] @ n[i] / tau))                          # own hard negative
        if other_hard_negatives:
            terms += [np.exp(q[i] @ n[j] / tau) for j in range(len(q)) if j != i and has[j]]
        terms += [np.exp(q[i] @ q[j] / tau) for j in range(len(q)) if j != i]  # same tower
        total += -np.log(np.exp(q[i] @ p[i] / tau) / np.sum(terms))
    return total / len(q)


def _embed(model, texts):
    return model.encode(texts, convert_to_numpy=True, normalize_embeddings=False).astype(np.float64)


def _features(model, columns):
    return [model.preprocess(col) for col in columns]


def test_gecko_loss_matches_hand_computed_eq3(model, batch):
    q, p, n = (_embed(model, col) for col in batch)
    expected = eq3_numpy(q, p, n)
    with torch.no_grad():
        got = GeckoLoss(model, temperature=TAU)(_features(model, batch), None).item()
    assert got == pytest.approx(expected, rel=1e-4)


def test_library_mnrl_adds_other_queries_hard_negatives(model, plain_batch):
    """ST's MNRL(query_to_doc, query_to_query) = eq. 3 + other queries' negatives, not eq. 3."""
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    q, p, n = (_embed(model, col) for col in plain_batch)
    lib = MultipleNegativesRankingLoss(model, scale=1 / TAU,
                                       directions=("query_to_doc", "query_to_query"))
    with torch.no_grad():
        got = lib(_features(model, plain_batch), None).item()
    assert got == pytest.approx(eq3_numpy(q, p, n, other_hard_negatives=True), rel=1e-4)
    assert abs(got - eq3_numpy(q, p, n)) > 1e-2  # float32 noise is ~1e-5
    with torch.no_grad():
        ours = GeckoLoss(model, TAU, other_hard_negatives=True)(
            _features(model, plain_batch), None)
    assert ours.item() == pytest.approx(got, rel=1e-6)


def test_matryoshka_sums_eq3_over_truncated_dims(model, batch):
    q, p, n = (_embed(model, col) for col in batch)
    dims = [384, 128, 64]
    expected = sum(eq3_numpy(q[:, :d], p[:, :d], n[:, :d]) for d in dims)
    with torch.no_grad():
        got = build_loss(model, TAU, mrl_dims=dims)(_features(model, batch), None).item()
    assert got == pytest.approx(expected, rel=1e-4)


def test_gradcache_loss_equals_plain_loss_and_gradients(model, batch):
    feats = _features(model, batch)
    param = model[0].auto_model.encoder.layer[0].attention.self.query.weight
    results = []
    for loss in (GeckoLoss(model, TAU), CachedGeckoLoss(model, TAU, mini_batch_size=2)):
        model.zero_grad()
        value = loss(feats, None)
        value.backward()
        results.append((value.item(), param.grad.detach().clone()))
    model.zero_grad()
    assert results[1][0] == pytest.approx(results[0][0], rel=1e-4)
    assert torch.allclose(results[0][1], results[1][1], atol=1e-5, rtol=1e-3)


def test_column_order_matters_and_is_guarded(model, batch):
    """Swapping positive and negative changes the loss; the dataset builder refuses the swap."""
    anchor, pos, neg = batch
    with torch.no_grad():
        right = GeckoLoss(model, TAU)(_features(model, [anchor, pos, neg]), None).item()
        swapped = GeckoLoss(model, TAU)(_features(model, [anchor, neg, pos]), None).item()
    assert swapped > right + 0.5  # training on the swap would pull queries to the negatives

    ds = to_dataset([Example(id="a", task="t", task_type="x", query="q1", positive="p1",
                             negative="n1", source="s")])
    assert ds.column_names == ["anchor", "positive", "negative"]
    assert ds[0]["positive"].endswith("p1") and ds[0]["negative"].endswith("n1")
    with pytest.raises(InputError, match="in that order"):
        check_columns(ds.select_columns(["anchor", "negative", "positive"]))


@pytest.mark.parametrize("other_hard_negatives", [False, True])
def test_batch_mixing_rows_with_and_without_negative(model, rows, plain_batch,
                                                     other_hard_negatives):
    """Rows without a hard negative (neg=none next to classification triples) keep in-batch and
    same-tower terms only; their placeholder is scored by nobody. Checked through the real
    trainer's collator, plain, Matryoshka and GradCache (issue 15.5)."""
    from sentence_transformers import SentenceTransformerTrainer

    from gecko_bench.config import TrainConfig
    from trainers.core import training_args

    has = [True, False, True, False, True]
    exs = [Example(**{**{k: r[k] for k in ("id", "task", "task_type", "query", "positive",
                                          "positive_title", "negative", "negative_title",
                                          "source")},
                      **({} if h else {"negative": None, "negative_title": None})})
           for r, h in zip(rows, has)]
    ds = to_dataset(exs)
    q, p = (_embed(model, ds[c]) for c in ("anchor", "positive"))
    n = _embed(model, [example_texts(Example(**{**vars(ex), "negative": r["negative"]}))["negative"]
                       for ex, r in zip(exs, rows)])  # real texts where a row has none: unused
    expected = eq3_numpy(q, p, n, other_hard_negatives=other_hard_negatives, has=has)
    loss = GeckoLoss(model, TAU, other_hard_negatives=other_hard_negatives)
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        model.model_card_data.generate_widget_examples = False
        trainer = SentenceTransformerTrainer(
            model=model, args=training_args(tmp, TrainConfig(), 1, len(ds), "cpu"),
            train_dataset=ds, loss=loss)
        features, labels = trainer.collect_features(trainer.data_collator(list(ds)))
    assert labels.tolist() == [1, 0, 1, 0, 1]
    with torch.no_grad():
        got = loss(features, labels).item()
        cached = CachedGeckoLoss(model, TAU, other_hard_negatives=other_hard_negatives,
                                 mini_batch_size=2)(features, labels).item()
        mrl = build_loss(model, TAU, mrl_dims=[384, 64],
                         other_hard_negatives=other_hard_negatives)(features, labels).item()
    assert got == pytest.approx(expected, rel=1e-4)
    assert cached == pytest.approx(expected, rel=1e-4)
    assert mrl == pytest.approx(expected + eq3_numpy(q[:, :64], p[:, :64], n[:, :64],
                                                     other_hard_negatives=other_hard_negatives,
                                                     has=has), rel=1e-4)
    # The placeholder is scored by nobody: a masked row whose "negative" is its own positive
    # (the worst text to leave in a denominator) gives the same loss; unmasked it would not.
    # Bare texts, so the positive terms are not drowned by same-task query similarities.
    from datasets import Dataset

    anchor, pos, _ = plain_batch
    worst = Dataset.from_dict({"anchor": anchor, "positive": pos, "negative": [
        neg if h else p_ for neg, p_, h in zip(plain_batch[2], pos, has)],
        "label": [int(h) for h in has]})
    with tempfile.TemporaryDirectory() as tmp:
        trainer = SentenceTransformerTrainer(
            model=model, args=training_args(tmp, TrainConfig(), 1, len(ds), "cpu"),
            train_dataset=worst, loss=loss)
        features, labels = trainer.collect_features(trainer.data_collator(list(worst)))
    with torch.no_grad():
        masked = loss(features, labels).item()
        assert loss(features, torch.ones_like(labels)).item() > masked + 0.1
        blank = [{**r, "negative": r["negative"] if r["label"] else ""} for r in worst]
        features, labels = trainer.collect_features(trainer.data_collator(blank))
        assert loss(features, labels).item() == pytest.approx(masked, rel=1e-5)
