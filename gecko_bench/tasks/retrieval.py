"""Retrieval and reranking tasks: Debian FAQ (en, its answer paragraphs, and 10-language
MIRACL-style), man pages.

Corpora are small and searched in full; queries are the FAQ questions / man-page NAME lines.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from datasets import Dataset
from mteb.abstasks import AbsTaskRetrieval

from gecko_bench.corpora import debian_faq, manpages
from gecko_bench.corpora._common import stable_order, stable_sample
from gecko_bench.tasks.base import SPLIT_SEED, GeckoTask, make_metadata
from gecko_bench.tasks.bm25 import BM25

FAQ_REF = "https://www.debian.org/doc/manuals/debian-faq/"
TINY_QUERIES = 50


def retrieval_split(queries: list[dict], corpus: list[dict], qrels: dict[str, dict[str, int]],
                    top_ranked: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """mteb 2.x RetrievalSplitData from plain lists/dicts (BEIR-style)."""
    return {
        "queries": Dataset.from_list(queries),
        "corpus": Dataset.from_list(corpus),
        "relevant_docs": qrels,
        "top_ranked": top_ranked,
    }


def tiny_slice(keys: list[str], n_queries: int, n_corpus: int) -> tuple[set[str], set[str]]:
    """(query keys, corpus keys) of a tiny retrieval slice: the queried items' documents plus
    deterministic distractors up to `n_corpus` documents."""
    queried = set(stable_sample(keys, n_queries, SPLIT_SEED, key=str))
    others = [k for k in stable_order(keys, SPLIT_SEED + 1, key=str) if k not in queried]
    return queried, queried | set(others[: max(0, n_corpus - len(queried))])


def faq_retrieval_split(lang: str, tiny: bool) -> dict[str, Any]:
    """Questions -> answers of the FAQ in one language; the full answer corpus is searched
    (the tiny slice: 30 questions over 60 answers)."""
    entries = debian_faq.faq_entries(lang)
    sections = [e.section for e in entries]
    picked, in_corpus = (tiny_slice(sections, 30, 60) if tiny
                         else (set(sections), set(sections)))
    queries = [{"id": f"q{e.section}", "text": e.question} for e in entries if e.section in picked]
    corpus = [{"id": f"d{e.section}", "title": "", "text": e.answer} for e in entries
              if e.section in in_corpus]
    qrels = {f"q{s}": {f"d{s}": 1} for s in picked}
    return retrieval_split(queries, corpus, qrels)


class DebianFAQRetrieval(GeckoTask, AbsTaskRetrieval):
    """Debian FAQ (en): each question retrieves its answer among all 112 answers."""

    source = "debian-faq"
    gecko_instruction = "question answering"
    symmetric = False
    metadata = make_metadata(
        name="DebianFAQRetrieval", type="Retrieval", main_score="ndcg_at_10",
        source="debian-faq", eval_langs=["eng-Latn"], domains=["Web", "Written"],
        reference=FAQ_REF, subtypes=["Question answering"],
        description="Debian GNU/Linux FAQ 11.1 (English): the question of each of the 112 "
        "sections retrieves that section's answer from all answers.",
    )

    def build(self) -> dict[str, Any]:
        return {"default": {"test": faq_retrieval_split("en", self.tiny)}}


TINY_FAQ_LANGS = ("de", "fr", "ja")  # en is covered by DebianFAQRetrieval-tiny


class DebianFAQMultilingualRetrieval(GeckoTask, AbsTaskRetrieval):
    """MIRACL-style: monolingual FAQ retrieval in each of 10 languages, full corpus per language."""

    source = "debian-faq"
    gecko_instruction = "question answering"
    symmetric = False
    metadata = make_metadata(
        name="DebianFAQMultilingualRetrieval", type="Retrieval", main_score="ndcg_at_10",
        source="debian-faq",
        eval_langs={lg: [debian_faq.MTEB_LANGS[lg]] for lg in debian_faq.LANGS},
        domains=["Web", "Written"], reference=FAQ_REF, subtypes=["Question answering"],
        description="MIRACL-style monolingual retrieval over the Debian FAQ in 10 languages "
        "(en, de, fr, it, ja, ko, nl, pt, ru, zh): in each language every question searches the "
        "full set of answers in that language; one subset per language, nDCG@10.",
    )
    tiny_metadata = {"eval_langs": {lg: [debian_faq.MTEB_LANGS[lg]] for lg in TINY_FAQ_LANGS}}

    def build(self) -> dict[str, Any]:
        return {lg: {"test": faq_retrieval_split(lg, self.tiny)} for lg in self.hf_subsets}


def man_page_split(pages: Sequence[manpages.ManPage], picked: set[str],
                   in_corpus: set[str]) -> dict[str, Any]:
    """NAME line (``name - description``) -> page body, for the `picked` pages as queries over
    the `in_corpus` pages: the construction every man-page retrieval task shares."""
    queries = [{"id": f"q:{p.id}", "text": f"{p.name} - {p.description}"} for p in pages
               if p.id in picked]
    corpus = [{"id": p.id, "title": "", "text": p.body} for p in pages if p.id in in_corpus]
    qrels = {f"q:{p.id}": {p.id: 1} for p in pages if p.id in picked}
    return retrieval_split(queries, corpus, qrels)


class ManPageRetrieval(GeckoTask, AbsTaskRetrieval):
    """Linux man pages: the NAME line (``name - description``) retrieves the page's DESCRIPTION."""

    source = "manpages"
    gecko_instruction = "find the manual page for a command description"
    symmetric = False
    metadata = make_metadata(
        name="ManPageRetrieval", type="Retrieval", main_score="ndcg_at_10", source="manpages",
        eval_langs=["eng-Latn"], domains=["Programming", "Written"],
        reference="https://www.kernel.org/doc/man-pages/",
        description="Linux man-pages 6.03: each page's NAME line retrieves the page body "
        "(DESCRIPTION section, first 300 words) among all 204 distinct pages.",
    )

    def build(self) -> dict[str, Any]:
        pages = manpages.man_pages()
        ids = [p.id for p in pages]
        picked, in_corpus = (tiny_slice(ids, TINY_QUERIES, 100) if self.tiny
                             else (set(ids), set(ids)))
        return {"default": {"test": man_page_split(pages, picked, in_corpus)}}


MAN_LANGS = {"de": "deu-Latn", "fr": "fra-Latn"}


class ManPageMultilingualRetrieval(GeckoTask, AbsTaskRetrieval):
    """MIRACL-style man-page retrieval in German and French (manpages-l10n): in each language
    the translated NAME line retrieves its page among all pages in that language. Written by
    translators, not generated; MiniLM-L6 (English) is weak here (issue 16, item 7)."""

    source = manpages.L10N_SOURCE
    gecko_instruction = "find the manual page for a command description"
    symmetric = False
    metadata = make_metadata(
        name="ManPageMultilingualRetrieval", type="Retrieval", main_score="ndcg_at_10",
        source=manpages.L10N_SOURCE, eval_langs={lg: [code] for lg, code in MAN_LANGS.items()},
        domains=["Programming", "Written"],
        reference="https://manpages-l10n-team.pages.debian.net/manpages-l10n/",
        description="Linux man pages translated by manpages-l10n 4.18 (Debian manpages-de, "
        "manpages-fr): in each language every page's NAME line (name - description) retrieves "
        "its DESCRIPTION (first 300 words) among all distinct pages of that language "
        "(de 846, fr 374); one subset per language, nDCG@10.",
    )

    def build(self) -> dict[str, Any]:
        out = {}
        for lang in self.hf_subsets:
            pages = manpages.translated_pages(lang)
            ids = [p.id for p in pages]
            picked, in_corpus = (tiny_slice(ids, 30, 100) if self.tiny
                                 else (set(ids), set(ids)))
            out[lang] = {"test": man_page_split(pages, picked, in_corpus)}
        return out


class ManPageFunctionRetrieval(GeckoTask, AbsTaskRetrieval):
    """A selection task, in no reported suite: FRet settings (teacher, rankers) are chosen on it
    so that the tasks the suites report are never what a setting was tuned on.

    Built like :class:`ManPageRetrieval` from another package, ``manpages-dev`` (sections 2-3,
    system calls and library functions; no page shared with ``manpages``): 200 sampled NAME
    lines retrieve their page among all 848 distinct pages.
    """

    source = manpages.DEV_SOURCE
    gecko_instruction = "find the manual page for a command description"
    symmetric = False
    n_queries = 200
    tiny_overrides = {"n_queries": 20}
    metadata = make_metadata(
        name="ManPageFunctionRetrieval", type="Retrieval", main_score="ndcg_at_10",
        source=manpages.DEV_SOURCE, eval_langs=["eng-Latn"], domains=["Programming", "Written"],
        reference="https://www.kernel.org/doc/man-pages/",
        description="Linux man-pages 6.03 sections 2-3 (Debian manpages-dev): 200 sampled NAME "
        "lines each retrieve their page body (DESCRIPTION, first 300 words) among all 848 "
        "distinct pages. For choosing FRet settings; no suite reports it.",
    )

    def build(self) -> dict[str, Any]:
        pages = manpages.man_pages(manpages.DEV_SOURCE)
        ids = [p.id for p in pages]
        picked, in_corpus = tiny_slice(ids, self.n_queries, 100 if self.tiny else len(ids))
        return {"default": {"test": man_page_split(pages, picked, in_corpus)}}


def faq_paragraphs(min_words: int) -> list[tuple[str, str, str]]:
    """(paragraph id ``"7.12#0"``, section, text) of every English answer paragraph of at least
    `min_words` words: the corpus of the paragraph retrieval and reranking tasks."""
    return [(f"{e.section}#{i}", e.section, p) for e in debian_faq.faq_entries("en")
            for i, p in enumerate(e.paragraphs) if len(p.split()) >= min_words]


MIN_PARAGRAPH_WORDS = 8


class DebianFAQParagraphRetrieval(GeckoTask, AbsTaskRetrieval):
    """Debian FAQ (en): each question retrieves the paragraphs of its own answer among every
    answer paragraph of the FAQ (no candidate list): a retrieval task where small encoders are
    weak (issue 16, item 7)."""

    source = "debian-faq"
    gecko_instruction = "question answering"
    symmetric = False
    metadata = make_metadata(
        name="DebianFAQParagraphRetrieval", type="Retrieval", main_score="ndcg_at_10",
        source="debian-faq", eval_langs=["eng-Latn"], domains=["Web", "Written"],
        reference=FAQ_REF, subtypes=["Question answering"],
        description="Debian GNU/Linux FAQ 11.1 (English): the question of each section "
        "retrieves the paragraphs (>= 8 words) of its own answer from all answer paragraphs "
        "of the FAQ; every paragraph of the answer is relevant. nDCG@10.",
    )

    def build(self) -> dict[str, Any]:
        entries = debian_faq.faq_entries("en")
        paragraphs = faq_paragraphs(MIN_PARAGRAPH_WORDS)
        with_text = list(dict.fromkeys(sec for _, sec, _ in paragraphs))  # in FAQ order
        picked, in_corpus = (tiny_slice(with_text, 30, 60) if self.tiny
                             else (set(with_text), set(with_text)))
        queries = [{"id": f"q{e.section}", "text": e.question} for e in entries
                   if e.section in picked]
        corpus = [{"id": pid, "title": "", "text": text} for pid, sec, text in paragraphs
                  if sec in in_corpus]
        qrels = {f"q{s}": {pid: 1 for pid, sec, _ in paragraphs if sec == s} for s in picked}
        return {"default": {"test": retrieval_split(queries, corpus, qrels)}}


class DebianFAQReranking(GeckoTask, AbsTaskRetrieval):
    """Rerank BM25's top-k FAQ answer paragraphs for each question (paragraphs of the answer = relevant).

    mteb 2.x runs reranking as retrieval restricted to ``top_ranked`` candidates (its own reranking
    tasks subclass AbsTaskRetrieval with ``type="Reranking"``; AbsTaskReranking is deprecated).
    If BM25 misses every paragraph of the answer, the answer's first paragraph replaces the last
    candidate, so each query has at least one positive to rank.
    """

    source = "debian-faq"
    gecko_instruction = "question answering"
    symmetric = False
    top_k = 20
    min_paragraph_words = MIN_PARAGRAPH_WORDS
    tiny_overrides = {"top_k": 10}
    metadata = make_metadata(
        name="DebianFAQReranking", type="Reranking", main_score="map_at_1000",
        source="debian-faq", eval_langs=["eng-Latn"], domains=["Web", "Written"],
        reference=FAQ_REF, subtypes=["Question answering"],
        description="Debian FAQ (English) answer paragraphs (>= 8 words); for each question the "
        "top-20 BM25 paragraphs over all sections are reranked; paragraphs of the question's own "
        "answer are relevant. MAP main score.",
    )

    def build(self) -> dict[str, Any]:
        entries = debian_faq.faq_entries("en")
        paragraphs = faq_paragraphs(self.min_paragraph_words)
        bm25 = BM25([p for _, _, p in paragraphs])
        picked = entries
        if self.tiny:
            picked = stable_sample(entries, TINY_QUERIES, SPLIT_SEED, key=lambda e: e.section)
        queries, qrels, top_ranked = [], {}, {}
        for e in sorted(picked, key=lambda e: entries.index(e)):
            own = [pid for pid, sec, _ in paragraphs if sec == e.section]
            if not own:
                continue
            candidates = [paragraphs[i][0] for i in bm25.top_k(e.question, self.top_k)]
            if not set(own) & set(candidates):
                candidates[-1] = own[0]
            qid = f"q{e.section}"
            queries.append({"id": qid, "text": e.question})
            qrels[qid] = {pid: 1 for pid in own}
            top_ranked[qid] = candidates
        used = {pid for c in top_ranked.values() for pid in c}
        corpus = [{"id": pid, "title": "", "text": text} for pid, _, text in paragraphs
                  if pid in used]
        return {"default": {"test": retrieval_split(queries, corpus, qrels, top_ranked)}}
