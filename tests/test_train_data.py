"""Training data: strict FRet reader, classification triples, mixture sampling, format switch."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from gecko_bench.errors import InputError
from train_helpers import fret_rows, write_jsonl
from trainers.data import (
    Example,
    build_mixture,
    classification_triples,
    example_texts,
    prefinetune_pairs,
    read_fret_jsonl,
    to_dataset,
)


@pytest.fixture(scope="module")
def rows():
    return fret_rows(n_books=30, n_wiki=6)


@pytest.fixture(scope="module")
def groups(rows):
    out: dict[str, list[Example]] = {}
    for r in rows:
        out.setdefault(r["task_type"], []).append(Example(**r))
    return out


@pytest.mark.assets
def test_reader_round_trips_real_rows(rows, tmp_path):
    exs = read_fret_jsonl(write_jsonl(rows, tmp_path / "fret.jsonl"))
    assert len(exs) == len(rows)
    assert exs[0].query == rows[0]["query"] and exs[0].negative == rows[0]["negative"]


@pytest.mark.parametrize("bad, message", [
    ('{"id": "x"', r"fret.jsonl:2: not valid JSON"),
    ('["a list"]', r"fret.jsonl:2: expected a JSON object"),
    ("DROP:positive", r"fret.jsonl:2: missing key\(s\) positive"),
    ("EMPTY:query", r"fret.jsonl:2: 'query' is empty"),
    ("TYPE:negative", r"fret.jsonl:2: 'negative' has type int"),
])
@pytest.mark.assets
def test_reader_names_the_bad_line(rows, tmp_path, bad, message):
    second = dict(rows[1])
    if bad.startswith("DROP:"):
        del second[bad[5:]]
        bad = json.dumps(second)
    elif bad.startswith("EMPTY:"):
        bad = json.dumps({**second, bad[6:]: "  "})
    elif bad.startswith("TYPE:"):
        bad = json.dumps({**second, bad[5:]: 3})
    path = tmp_path / "fret.jsonl"
    path.write_text(json.dumps(rows[0]) + "\n" + bad + "\n")
    with pytest.raises(InputError, match=message):
        read_fret_jsonl(path)


def test_reader_refuses_empty_and_missing_files(tmp_path):
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(InputError, match="is empty"):
        read_fret_jsonl(tmp_path / "empty.jsonl")
    with pytest.raises(InputError, match="does not exist"):
        read_fret_jsonl(tmp_path / "nope.jsonl")


@pytest.mark.assets
def test_mixture_original_is_proportional_and_uniform_is_even(groups):
    sizes = {k: len(v) for k, v in groups.items()}  # continuation 30, heading 6
    assert sizes["continuation"] == 5 * sizes["heading"]
    orig = build_mixture(groups, 600, 6, "original", seed=1).composition["drawn"]
    unif = build_mixture(groups, 600, 6, "uniform", seed=1).composition["drawn"]
    assert 0.75 < orig["continuation"] / 600 < 0.92      # expected 5/6
    assert 0.40 < unif["continuation"] / 600 < 0.60      # expected 1/2
    again = build_mixture(groups, 600, 6, "uniform", seed=1).composition["drawn"]
    assert again == unif  # deterministic per seed


@pytest.mark.assets
def test_mixture_batches_never_repeat_an_example(groups):
    mix = build_mixture(groups, 120, 8, "uniform", seed=0)  # heading (6) < batch (8)
    for b in range(0, 120, 8):
        ids = [ex.id for ex in mix.examples[b:b + 8]]
        assert len(ids) == len(set(ids))
    assert mix.composition["n_examples"] == 120


@pytest.mark.assets
def test_mixture_task_type_subset_and_errors(groups):
    only = build_mixture(groups, 24, 6, "original", task_types=["heading"])
    assert {ex.task_type for ex in only.examples} == {"heading"}
    assert only.composition["task_types"] == ["heading"]
    with pytest.raises(InputError, match="unknown task type"):
        build_mixture(groups, 24, 6, task_types=["summarization"])
    with pytest.raises(InputError, match="unknown task sampling"):
        build_mixture(groups, 24, 6, sampling="zipf")
    with pytest.raises(InputError, match="only 6 training examples for a batch of 8"):
        build_mixture(groups, 24, 8, task_types=["heading"])


@pytest.mark.assets
def test_classification_triples_from_real_labelled_text():
    """Austen paragraphs labelled by novel: x, x+ same novel, x- another, id on all three."""
    from gecko_bench.corpora import seeds

    paras = seeds.book_paragraphs()
    labelled = [(text, book) for book, _, text in paras[::40]]
    by_text = dict(labelled)
    triples = classification_triples({"austen-novel": labelled}, per_task=20, seed=3)
    assert len(triples) == 20 and len({t.id for t in triples}) == 20
    for t in triples:
        tag = f" [{t.id}]"
        assert t.query.endswith(tag) and t.positive.endswith(tag) and t.negative.endswith(tag)
        x, pos, neg = (s[: -len(tag)] for s in (t.query, t.positive, t.negative))
        assert by_text[x] == by_text[pos] != by_text[neg] and x != pos
        assert t.symmetric and t.task_type == "classification"


@pytest.mark.assets
def test_text_styles_and_symmetric_rendering(rows):
    ex = Example(**rows[0])
    uni, plain, bare = (example_texts(ex, s) for s in ("gecko", "plain", "none"))
    assert uni["anchor"] == f"task: {ex.task} | query: {ex.query}"
    assert uni["positive"] == f"title: {ex.positive_title} | text: {ex.positive}"
    assert plain["anchor"] == f"{ex.task} {ex.query}"
    assert plain["positive"] == f"{ex.positive_title} {ex.positive}"
    assert bare["anchor"] == ex.query  # the text the `none` prompt style scores the base on
    assert bare["positive"] == plain["positive"] and bare["negative"] == plain["negative"]
    sym = Example(id="s", task="Classify", task_type="classification", query="a", positive="b",
                  negative="c", source="x", symmetric=True)
    assert example_texts(sym)["positive"] == "task: Classify | query: b"
    assert example_texts(sym, "none") == {"anchor": "a", "positive": "b", "negative": "c"}
    assert to_dataset([ex], "plain")[0]["anchor"] == plain["anchor"]
    with pytest.raises(InputError, match="train.text_style 'unified'"):
        example_texts(ex, "unified")


def test_text_style_keeps_earlier_ids_and_gives_none_its_own():
    """train.text_style replaced the unified_format flag: gecko / plain hash as that flag did,
    so earlier pipelines and checkpoints keep their ids."""
    import dataclasses

    from gecko_bench import config
    from gecko_bench.pipeline import pipeline_id
    from trainers.stages import _cfg_key

    tiny = config.resolve("tiny")
    ident = config.train_identity(config.as_dict(tiny.train))
    assert ident["unified_format"] is True and "text_style" not in ident
    plain = config.train_identity(
        config.as_dict(dataclasses.replace(tiny.train, text_style="plain")))
    assert plain["unified_format"] is False and "text_style" not in plain
    ids = set()
    for style in ("gecko", "plain", "none"):
        prof = config.resolve("tiny")
        prof.train.text_style = style
        ids.add(pipeline_id(prof))
        assert _cfg_key(prof.train, "finetune")["unified_format"] is (style == "gecko")
    assert len(ids) == 3


@pytest.mark.assets
def test_prefinetune_pairs_from_wikipedia_and_books():
    from gecko_bench.corpora import seeds

    pairs = prefinetune_pairs(seeds.wikipedia_sections()[:50], seeds.book_paragraphs()[:50])
    kinds = Counter(p.task_type for p in pairs)
    assert kinds["pretrain-wiki"] == 50 and kinds["pretrain-book"] >= 45
    book = next(p for p in pairs if p.task_type == "pretrain-book")
    paras = seeds.book_paragraphs()[:50]
    i = [t for _, _, t in paras].index(book.query)
    assert book.positive == paras[i + 1][2]  # the next paragraph
    assert all(p.negative is None for p in pairs)
    ds = to_dataset(pairs[:4], with_negative=False)
    assert ds.column_names == ["anchor", "positive"]


@pytest.mark.assets
def test_mixture_pool_gives_equal_size_sets_repeated_over_steps(groups):
    mix = build_mixture(groups, 60, 4, "uniform", seed=3, pool_size=4)
    ids = Counter(ex.id for ex in mix.examples)
    assert len(ids) == 4 and mix.composition["unique_examples"] == 4  # exactly the pool
    assert set(ids.values()) == {15}  # 60 slots / 4 examples, one of each per batch
    assert mix.composition["pool_size"] == 4
    same = build_mixture(groups, 60, 4, "uniform", seed=3, pool_size=4)
    assert [ex.id for ex in same.examples] == [ex.id for ex in mix.examples]
    single = build_mixture(groups, 12, 3, task_types=["heading"], pool_size=3)
    assert {ex.task_type for ex in single.examples} == {"heading"}
    assert single.composition["unique_examples"] == 3
    with pytest.raises(InputError, match="a pool of 7 examples needs at least that many; 6"):
        build_mixture(groups, 12, 3, task_types=["heading"], pool_size=7)


@pytest.mark.assets
def test_examples_without_negative_get_none_invented(rows):
    """neg=none means none: no other example's positive is borrowed (issue 15.5)."""
    exs = [Example(**r) for r in rows[:6]]
    mixed = [ex if i % 2 else Example(**{**rows[i], "negative": None, "negative_title": None})
             for i, ex in enumerate(exs)]
    ds = to_dataset(mixed)
    assert ds.column_names == ["anchor", "positive", "negative", "label"]
    assert ds["label"] == [0, 1, 0, 1, 0, 1]
    positives = set(ds["positive"])
    for row, ex in zip(ds, mixed):
        if ex.negative is None:
            assert row["negative"] == "" and row["negative"] not in positives
        else:
            assert row["negative"] == example_texts(ex)["negative"]
    nothing = [Example(**{**r, "negative": None, "negative_title": None}) for r in rows[:4]]
    assert to_dataset(nothing).column_names == ["anchor", "positive"]  # in-batch only
    assert to_dataset(exs).column_names == ["anchor", "positive", "negative"]  # as before


@pytest.mark.assets
def test_reader_keeps_teacher_scores_and_refuses_bad_ones(rows, tmp_path):
    scored = [{**rows[0], "positive_score": 1.5, "negative_score": 0.25,
               "neighbour_scores": [{"id": "x", "ql": -1.0}]}, rows[1]]
    exs = read_fret_jsonl(write_jsonl(scored, tmp_path / "scored.jsonl"))
    assert (exs[0].positive_score, exs[0].negative_score) == (1.5, 0.25)
    assert (exs[1].positive_score, exs[1].negative_score) == (None, None)
    bad = write_jsonl([{**rows[0], "positive_score": "high"}], tmp_path / "bad.jsonl")
    with pytest.raises(InputError, match=r"bad.jsonl:1: 'positive_score' has type str"):
        read_fret_jsonl(bad)
