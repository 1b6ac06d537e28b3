"""Pair classification (KJV vs WEB verse paraphrases) and bitext mining (Bible en-es, FAQ questions)."""

from __future__ import annotations

from typing import Any

from datasets import Dataset
from mteb.abstasks import AbsTaskBitextMining, AbsTaskPairClassification

from gecko_bench.corpora import bible, debian_faq
from gecko_bench.corpora._common import stable_order, stable_sample
from gecko_bench.tasks.base import SPLIT_SEED, GeckoTask, make_metadata

BIBLE_REF = "https://ebible.org/"
MIN_VERSE_WORDS = 6


class BibleParaphrasePairClassification(GeckoTask, AbsTaskPairClassification):
    """Is a WEB verse the same verse as a KJV verse (paraphrase) or its neighbour (hard negative)?"""

    source = "bible"
    gecko_instruction = "find a paraphrase of the verse"
    symmetric = True
    n_pairs = 2000
    tiny_pairs = 200
    metadata = make_metadata(
        name="BibleParaphrasePairClassification", type="PairClassification",
        main_score="max_ap", source="bible", eval_langs=["eng-Latn"], domains=["Religious"],
        reference=BIBLE_REF,
        description="New Testament verses of the King James Version paired with the World English "
        "Bible: the same verse (label 1, a modern paraphrase) or the next verse of the same "
        "passage (label 0, a hard negative); half of the pairs each.",
    )

    def build(self) -> dict[str, Any]:
        aligned = bible.aligned("kjv", "web")
        index = {ref: i for i, (ref, _, _) in enumerate(aligned)}
        usable = [a for a in aligned[:-1] if len(a[1].split()) >= MIN_VERSE_WORDS]
        n = self.tiny_pairs if self.tiny else self.n_pairs
        picked = stable_sample(usable, n, SPLIT_SEED, key=lambda a: a[0])
        rows = []
        for k, (ref, kjv, web) in enumerate(sorted(picked, key=lambda a: index[a[0]])):
            if k % 2:
                rows.append({"sentence1": kjv, "sentence2": web, "labels": 1})
            else:
                rows.append({"sentence1": kjv, "sentence2": aligned[index[ref] + 1][2],
                             "labels": 0})
        return {"default": {"test": Dataset.from_list(rows)}}


class BibleBitextMining(GeckoTask, AbsTaskBitextMining):
    """Find the Reina-Valera 1909 (es) translation of a World English Bible (en) verse."""

    source = "bible"
    gecko_instruction = "retrieve parallel sentences"
    symmetric = True
    n_pairs = 1000
    tiny_pairs = 200
    metadata = make_metadata(
        name="BibleBitextMining", type="BitextMining", main_score="f1", source="bible",
        eval_langs={"en-es": ["eng-Latn", "spa-Latn"]}, domains=["Religious"],
        reference=BIBLE_REF,
        description="1,000 New Testament verses: World English Bible (en) and Reina-Valera 1909 "
        "(es), each English verse must find its Spanish counterpart.",
    )

    def build(self) -> dict[str, Any]:
        aligned = [a for a in bible.aligned("web", "sparv") if len(a[1].split()) >= MIN_VERSE_WORDS]
        n = self.tiny_pairs if self.tiny else self.n_pairs
        picked = stable_order(stable_sample(aligned, n, SPLIT_SEED, key=lambda a: a[0]),
                              SPLIT_SEED, key=lambda a: a[0])
        rows = [{"sentence1": en, "sentence2": es} for _, en, es in picked]
        return {"en-es": {"test": Dataset.from_list(rows)}}


TINY_BITEXT_LANGS = ("de", "fr", "ja")


class DebianFAQBitextMining(GeckoTask, AbsTaskBitextMining):
    """Find the translation of each English FAQ question among all questions in language X."""

    source = "debian-faq"
    gecko_instruction = "retrieve parallel sentences"
    symmetric = True
    metadata = make_metadata(
        name="DebianFAQBitextMining", type="BitextMining", main_score="f1", source="debian-faq",
        eval_langs={f"en-{lg}": ["eng-Latn", debian_faq.MTEB_LANGS[lg]]
                    for lg in debian_faq.LANGS if lg != "en"},
        domains=["Web", "Written"], reference="https://www.debian.org/doc/manuals/debian-faq/",
        description="The 112 Debian FAQ questions aligned by section number between English and "
        "each of 9 translations (de, fr, it, ja, ko, nl, pt, ru, zh); one subset per pair.",
    )
    tiny_metadata = {"eval_langs": {f"en-{lg}": ["eng-Latn", debian_faq.MTEB_LANGS[lg]]
                                    for lg in TINY_BITEXT_LANGS}}

    def build(self) -> dict[str, Any]:
        out = {}
        for subset in self.hf_subsets:
            lang = subset.split("-", 1)[1]
            sections = debian_faq.aligned_sections(("en", lang))
            en = {e.section: e.question for e in debian_faq.faq_entries("en")}
            other = {e.section: e.question for e in debian_faq.faq_entries(lang)}
            rows = [{"sentence1": en[s], "sentence2": other[s]} for s in sections]
            out[subset] = {"test": Dataset.from_list(rows)}
        return out
