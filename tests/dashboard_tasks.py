"""Two very small real-data tasks for the dashboard's fixture database (``--tasks-file``).

Slices of the project's own offline tasks, small enough that seven checkpoints are scored in
seconds: 20 Debian FAQ questions searching 40 answers (truncated to 400 characters) (nDCG@10 per query), and the Lee news
similarity ratings among 8 documents (28 pairs, Spearman with the human mean).
"""

from __future__ import annotations

from typing import Any

from datasets import Dataset

from gecko_bench.corpora import debian_faq, gensim_data
from gecko_bench.tasks.retrieval import DebianFAQRetrieval, retrieval_split
from gecko_bench.tasks.sts import LeeSTS


class DashFAQRetrieval(DebianFAQRetrieval):
    """The first 20 English FAQ questions; corpus: the first 40 answers (first 400 chars)."""

    metadata = DebianFAQRetrieval.metadata.model_copy(update={"name": "DashFAQRetrieval"})

    def build(self) -> dict[str, Any]:
        entries = debian_faq.faq_entries("en")[:40]
        queries = [{"id": f"q{e.section}", "text": e.question} for e in entries[:20]]
        corpus = [{"id": f"d{e.section}", "title": "", "text": e.answer[:400]} for e in entries]
        qrels = {f"q{e.section}": {f"d{e.section}": 1} for e in entries[:20]}
        return {"default": {"test": retrieval_split(queries, corpus, qrels)}}


class DashLeeSTS(LeeSTS):
    """Lee document-similarity ratings among documents 0-7 (28 pairs)."""

    metadata = LeeSTS.metadata.model_copy(update={"name": "DashLeeSTS"})

    def build(self) -> dict[str, Any]:
        pairs = [p for p in gensim_data.lee_similarity_pairs() if p.i < 8 and p.j < 8]
        rows = [{"sentence1": p.text1, "sentence2": p.text2, "score": p.score} for p in pairs]
        return {"default": {"test": Dataset.from_list(rows)}}
