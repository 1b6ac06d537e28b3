"""Suites, task construction (deterministic on tiny slices), categories, bad names."""

import json
import os
import subprocess
import sys

import pytest

from gecko_bench.errors import InputError
from gecko_bench.tasks import (
    classification_train_sets, get_suite, get_task, list_suites, overlap_guard, task_category,
)
from gecko_bench.tasks.registry import CATEGORIES, FULL_TASKS, SELECTION_TASKS, TINY_TASKS

# One tiny task of every kind (the slow-to-parse SpamAssassin/WordNet ones are covered by the
# in-process size test): retrieval, MIRACL-style, reranking, STS, classification (split by label
# and by document), clustering, pair classification, both bitext tasks.
DETERMINISM_TASKS = [
    "DebianFAQRetrieval-tiny", "ManPageRetrieval-tiny", "DebianFAQMultilingualRetrieval-tiny",
    "DebianFAQParagraphRetrieval-tiny", "DebianFAQReranking-tiny", "LeeSTS-tiny", "FortunesClassification-tiny",
    "BrownGenreClassification-tiny", "BrownGenreClustering-tiny", "FortunesClustering-tiny",
    "BibleParaphrasePairClassification-tiny", "BibleBitextMining-tiny",
    "DebianFAQBitextMining-tiny", "ManPageMultilingualRetrieval-tiny",
]
FINGERPRINT = """
import hashlib, json, sys
from gecko_bench.tasks.registry import TASKS
def rows(x):
    if isinstance(x, dict):
        return {k: rows(v) for k, v in sorted(x.items()) if v is not None}
    return x.to_list() if hasattr(x, "to_list") else x
out = {}
for name in sys.argv[1:]:
    t = TASKS[name](); t.load_data()
    out[name] = hashlib.sha256(json.dumps(rows(dict(t.dataset)), sort_keys=True,
                                          ensure_ascii=False).encode()).hexdigest()
print(json.dumps(out))
"""


V1 = ["DebianFAQRetrieval", "ManPageRetrieval", "DebianFAQParagraphRetrieval",
      "DebianFAQMultilingualRetrieval", "DebianFAQReranking", "LeeSTS", "FortunesClassification",
      "SpamAssassinClassification", "PangLeePolarityClassification", "BrownGenreClassification",
      "BrownGenreClustering", "WordNetLexnameClustering", "FortunesClustering",
      "BibleParaphrasePairClassification", "BibleBitextMining", "DebianFAQBitextMining"]


def test_suites_cover_every_category_and_tiny_mirrors_full():
    suites = list_suites()
    assert {"gecko-offline-v1", "gecko-offline-tiny", "miracl-offline"} <= set(suites)
    assert suites["gecko-offline-v1"] == V1  # frozen: new tasks go into a new version
    assert suites["gecko-offline-v2"] == [*V1, "ManPageMultilingualRetrieval"]
    assert suites["gecko-offline-tiny"] == [n + "-tiny" for n in suites["gecko-offline-v1"]]
    assert suites["gecko-offline-v2-tiny"] == [n + "-tiny" for n in suites["gecko-offline-v2"]]
    cats = {task_category(t) for t in get_suite("gecko-offline-v1")}
    assert cats == set(CATEGORIES)


def test_every_task_has_instruction_symmetry_and_licence():
    for name, cls in {**FULL_TASKS, **TINY_TASKS, **SELECTION_TASKS}.items():
        task = cls()
        assert task.metadata.name == name
        assert task.gecko_instruction
        assert task.symmetric == (task_category(task) not in {"Retrieval", "Reranking"})
        assert task.licence and task.metadata.license


def _fingerprints(hash_seed: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    out = subprocess.run([sys.executable, "-c", FINGERPRINT, *DETERMINISM_TASKS], env=env,
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.assets
def test_tiny_construction_is_deterministic_across_processes():
    """Same fetched files -> byte-identical tiny datasets, whatever Python's hash seed."""
    first, second = _fingerprints("1"), _fingerprints("2")
    assert first == second and set(first) == set(DETERMINISM_TASKS)


@pytest.mark.assets
def test_tiny_sizes_stay_small():
    for name, cls in TINY_TASKS.items():
        task = cls()
        task.load_data()
        for subset in task.dataset.values():
            split = subset["test"]
            if isinstance(split, dict):
                assert len(split["queries"]) <= 50 and len(split["corpus"]) <= 400, name
            else:
                assert len(split) <= 400, name
            if "train" in subset:
                assert len(subset["train"]) <= 200, name


@pytest.mark.assets
def test_faq_paragraph_retrieval_searches_every_paragraph_for_the_own_answer():
    """Each question's relevant documents are exactly its own answer's paragraphs (>= 8 words),
    the same as the reranking task's, but searched among all paragraphs (no candidate list)."""
    from gecko_bench.corpora import debian_faq

    entries = {e.section: e for e in debian_faq.faq_entries("en")}
    for name in ("DebianFAQParagraphRetrieval", "DebianFAQParagraphRetrieval-tiny"):
        task = get_task(name)
        task.load_data()
        split = task.dataset["default"]["test"]
        corpus = {d["id"]: d["text"] for d in split["corpus"]}
        assert split["top_ranked"] is None
        for q in split["queries"]:
            entry = entries[q["id"][1:]]
            own = {f"{entry.section}#{i}" for i, p in enumerate(entry.paragraphs)
                   if len(p.split()) >= 8}
            assert q["text"] == entry.question and set(split["relevant_docs"][q["id"]]) == own
            assert own <= set(corpus)
    full = get_task("DebianFAQParagraphRetrieval")
    full.load_data()
    paragraphs = [p for e in entries.values() for p in e.paragraphs if len(p.split()) >= 8]
    assert len(full.dataset["default"]["test"]["corpus"]) == len(paragraphs) == 647
    rerank = get_task("DebianFAQReranking")
    rerank.load_data()
    assert rerank.dataset["default"]["test"]["relevant_docs"] == \
        full.dataset["default"]["test"]["relevant_docs"]


def test_langs_restrict_multilingual_subsets():
    (miracl,) = get_suite("miracl-offline", langs=["de", "fr"])
    assert miracl.hf_subsets == ["de", "fr"]
    tasks = {t.metadata.name: t for t in get_suite("gecko-offline-v1", langs=["ja"])}
    assert tasks["DebianFAQBitextMining"].hf_subsets == ["en-ja"]
    assert tasks["DebianFAQRetrieval"].hf_subsets == ["default"]  # monolingual: untouched
    assert "BibleBitextMining" not in tasks  # en-es only: no Japanese subset


@pytest.mark.parametrize("call, listed", [
    (lambda: get_task("NoSuchTask"), "DebianFAQRetrieval"),
    (lambda: get_suite("no-such-suite"), "gecko-offline-tiny"),
    (lambda: get_suite("miracl-offline", langs=["xx"]), "zh"),
])
def test_unknown_names_list_valid_ones(call, listed):
    with pytest.raises(InputError, match=listed):
        call()


@pytest.mark.assets
def test_classification_train_sets_disjoint_from_test_and_pass_the_guard():
    train_sets = classification_train_sets()
    overlap_guard([t for rows in train_sets.values() for t, _ in rows], "train rows")
    assert set(train_sets) == {"FortunesClassification", "SpamAssassinClassification",
                               "PangLeePolarityClassification", "BrownGenreClassification"}
    for name, rows in train_sets.items():
        task = get_task(name)
        task.load_data()
        test_texts = set(task.dataset["default"]["test"]["text"])
        assert rows and not {t for t, _ in rows} & test_texts, name
        assert len({lab for _, lab in rows}) >= 2
    assert len(train_sets["SpamAssassinClassification"]) > 1000


@pytest.mark.assets
def test_selection_task_is_reported_by_no_suite_and_shares_no_page_with_man_page_retrieval():
    """FRet settings are chosen on ManPageFunctionRetrieval (manpages-dev), so it must stay out
    of every reported suite and share no page with the reported man-page task; its texts are
    evaluation texts for the overlap guard all the same."""
    suites = list_suites()
    reported = {t for name, tasks in suites.items() if name != "fret-selection" for t in tasks}
    assert suites["fret-selection"] == ["ManPageFunctionRetrieval"]
    assert not {"ManPageFunctionRetrieval", "ManPageFunctionRetrieval-tiny"} & reported
    selection, reported_pages = get_task("ManPageFunctionRetrieval"), get_task("ManPageRetrieval")
    selection.load_data()
    reported_pages.load_data()
    split = selection.dataset["default"]["test"]
    corpus = {d["id"]: d["text"] for d in split["corpus"]}
    assert len(split["queries"]) == 200 and len(corpus) == 848
    for q in split["queries"]:
        (page,) = split["relevant_docs"][q["id"]]
        assert q["id"] == f"q:{page}" and page in corpus
        assert q["text"].startswith(page.rpartition(".")[0] + " - ")
    assert {p.rpartition(".")[2][:1] for p in corpus} <= {"2", "3", "4"}
    other = reported_pages.dataset["default"]["test"]
    assert not set(corpus) & {d["id"] for d in other["corpus"]}
    assert not set(corpus.values()) & set(other["corpus"]["text"])
    with pytest.raises(InputError, match="training pairs"):
        overlap_guard([split["queries"][0]["text"]], "training pairs")


@pytest.mark.assets
def test_translated_man_page_retrieval_searches_every_page_of_its_language():
    from gecko_bench.corpora import manpages

    task = get_task("ManPageMultilingualRetrieval")
    task.load_data()
    assert task.hf_subsets == ["de", "fr"]
    for lang, data in task.dataset.items():
        pages = {p.id: p for p in manpages.translated_pages(lang)}
        split = data["test"]
        corpus = {d["id"]: d["text"] for d in split["corpus"]}
        assert corpus == {i: p.body for i, p in pages.items()}
        assert len(split["queries"]) == len(pages)
        for q in split["queries"]:
            page = pages[q["id"].removeprefix("q:")]
            assert q["text"] == f"{page.name} - {page.description}"
            assert split["relevant_docs"][q["id"]] == {page.id: 1}
