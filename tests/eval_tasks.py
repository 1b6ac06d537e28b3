"""Small real-data mteb tasks for the eval tests (``import eval_tasks``; the tasks files some
tests write import it by name too).

They read the fetched open data directly (Debian FAQ, gensim's Lee documents and Pang-Lee
polarity snippets) so the eval tests do not depend on the suite registry's task sizes.
"""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

from datasets import Dataset, DatasetDict
from mteb.abstasks import AbsTaskClassification, AbsTaskRetrieval, AbsTaskSTS
from mteb.abstasks.task_metadata import TaskMetadata

from gecko_bench.assets import data_dir



_HEADING = re.compile(r"^(\d+)\.(\d+)\.?\s+(.*\S)")


def faq_pairs(n: int = 40) -> list[tuple[str, str]]:
    """(question, answer) from the English Debian FAQ, first `n` numbered sections."""
    path = (data_dir("debian-faq") / "debian-faq/usr/share/doc/debian/FAQ/debian-faq.en.txt.gz")
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        lines = fh.read().replace("\u00a0", " ").splitlines()
    pairs, question, body = [], None, []
    for line in lines:
        m = _HEADING.match(line)
        if m or (line[:1].strip() and question):
            if question and body:
                pairs.append((question, " ".join(" ".join(body).split()[:60])))
            question, body = (m.group(3) if m else None), []
        elif question and line.strip():
            body.append(line.strip())
    return pairs[:n]


def _gensim() -> Path:
    return data_dir("gensim-test-data") / "gensim/gensim/test/test_data"


def lee_pairs(n_docs: int = 12) -> list[tuple[str, str, float]]:
    """Lee document pairs among the first `n_docs` documents with their human similarity."""
    docs = [" ".join(x.split()[:80]) for x in (_gensim() / "lee.cor").read_text(
        encoding="cp1252", errors="replace").splitlines() if x.strip()]
    matrix = [[float(v) for v in row.split()] for row in
              (_gensim() / "similarities0-1.txt").read_text().splitlines() if row.strip()]
    return [(docs[i], docs[j], matrix[i][j]) for i in range(n_docs) for j in range(i + 1, n_docs)]


def polarity() -> list[tuple[str, str]]:
    """(text, pos|neg) Pang-Lee snippets."""
    out = []
    for line in (_gensim() / "pang_lee_polarity.cor").read_text(
            encoding="cp1252", errors="replace").splitlines():
        label, _, text = line.partition(" ")
        if text.strip():
            out.append((" ".join(text.split()[:60]), label.removeprefix("__label__")))
    return out


def _meta(name: str, type_: str, main: str, category: str = "t2t") -> TaskMetadata:
    return TaskMetadata(
        name=name, description=f"gecko_bench eval test task {name}", type=type_,
        main_score=main, dataset={"path": "local/test", "revision": "1"}, category=category,
        modalities=["text"], eval_splits=["test"], eval_langs=["eng-Latn"], reference=None,
        date=None, domains=None, task_subtypes=None, license=None, annotations_creators=None,
        dialect=None, sample_creation=None, bibtex_citation="")


class FaqRetrieval(AbsTaskRetrieval):
    """Debian FAQ question -> answer, the first `n_pairs` sections."""

    n_pairs = 24
    metadata = _meta("EvalTestFaqRetrieval", "Retrieval", "ndcg_at_10")
    gecko_instruction = "question answering"
    symmetric = False

    def load_data(self, num_proc=None, **kwargs) -> None:
        if self.data_loaded:
            return
        pairs = faq_pairs(self.n_pairs)
        self.dataset = {"default": {"test": {
            "corpus": Dataset.from_list([{"id": f"d{i}", "title": "", "text": a}
                                         for i, (_, a) in enumerate(pairs)]),
            "queries": Dataset.from_list([{"id": f"q{i}", "text": q}
                                          for i, (q, _) in enumerate(pairs)]),
            "relevant_docs": {f"q{i}": {f"d{i}": 1} for i in range(len(pairs))},
            "top_ranked": None}}}
        self.data_loaded = True


class LeeSTS(AbsTaskSTS):
    """45 Lee document pairs (10 documents) with human similarity in [0, 1]."""

    metadata = _meta("EvalTestLeeSTS", "STS", "cosine_spearman")
    min_score, max_score = 0, 1
    gecko_instruction = "semantic similarity"
    symmetric = True

    def load_data(self, num_proc=None, **kwargs) -> None:
        if self.data_loaded:
            return
        rows = lee_pairs(10)
        self.dataset = {"default": {"test": Dataset.from_dict({
            "sentence1": [a for a, _, _ in rows], "sentence2": [b for _, b, _ in rows],
            "score": [s for _, _, s in rows]})}}
        self.data_loaded = True


class PolarityClassification(AbsTaskClassification):
    """Pang-Lee polarity: 72 train / 48 test snippets (first 120 of 200)."""

    metadata = _meta("EvalTestPolarity", "Classification", "accuracy", "t2c")
    n_experiments = 2
    samples_per_label = 24
    gecko_instruction = "classify the sentiment of a movie review"
    symmetric = True

    def load_data(self, num_proc=None, **kwargs) -> None:
        if self.data_loaded:
            return
        rows = polarity()[:120]
        label = {"pos": 1, "neg": 0}

        def split(part):
            return Dataset.from_dict({"text": [t for t, _ in part],
                                      "label": [label[x] for _, x in part]})
        self.dataset = {"default": DatasetDict(train=split(rows[0::5] + rows[1::5] + rows[2::5]),
                                               test=split(rows[3::5] + rows[4::5]))}
        self.data_loaded = True


def write_beir(folder: Path, n: int = 30) -> Path:
    """A BEIR folder (corpus.jsonl, queries.jsonl, qrels/test.tsv) from FAQ sections."""
    pairs = faq_pairs(n)
    (folder / "qrels").mkdir(parents=True, exist_ok=True)
    with open(folder / "corpus.jsonl", "w") as fh:
        for i, (_, a) in enumerate(pairs):
            fh.write(json.dumps({"_id": f"d{i}", "title": "", "text": a}) + "\n")
    with open(folder / "queries.jsonl", "w") as fh:
        for i, (q, _) in enumerate(pairs):
            fh.write(json.dumps({"_id": f"q{i}", "text": q}) + "\n")
    (folder / "qrels/test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"q{i}\td{i}\t1\n" for i in range(len(pairs))))
    return folder


def write_hf_scifact(folder: Path, n: int = 30) -> Path:
    """FAQ sections in the Hugging Face layout of mteb/scifact (corpus, queries, default)."""
    pairs = faq_pairs(n)
    for sub in ("corpus", "queries", "qrels"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    (folder / "corpus/corpus.jsonl").write_text("".join(
        json.dumps({"_id": f"d{i}", "title": "", "text": a}) + "\n" for i, (_, a) in
        enumerate(pairs)))
    (folder / "queries/queries.jsonl").write_text("".join(
        json.dumps({"_id": f"q{i}", "text": q}) + "\n" for i, (q, _) in enumerate(pairs)))
    (folder / "qrels/test.jsonl").write_text("".join(
        json.dumps({"query-id": f"q{i}", "corpus-id": f"d{i}", "score": 1}) + "\n"
        for i in range(len(pairs))))
    (folder / "README.md").write_text(
        "---\nconfigs:\n"
        "- config_name: corpus\n  data_files:\n  - split: corpus\n    path: corpus/corpus.jsonl\n"
        "- config_name: queries\n  data_files:\n  - split: queries\n"
        "    path: queries/queries.jsonl\n"
        "- config_name: default\n  data_files:\n  - split: test\n    path: qrels/test.jsonl\n"
        "---\n")
    return folder
