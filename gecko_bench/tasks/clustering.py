"""Clustering tasks: Brown genres, WordNet lexicographer files, fortune categories.

mteb's (fast) clustering embeds every text once and runs MiniBatchKMeans on ``n_clusters``
bootstrap samples of ``max_documents_per_cluster`` texts; V-measure is the main score. Brown and
fortunes texts come from the TEST side of the classification splits only, so the classification
train splits (used for fine-tuning) never contain a clustering text.
"""

from __future__ import annotations

from typing import Any, ClassVar

from datasets import Dataset
from mteb.abstasks import AbsTaskClustering

from gecko_bench.corpora import wordnet
from gecko_bench.corpora._common import stratified_sample
from gecko_bench.tasks.base import SPLIT_SEED, GeckoTask, make_metadata
from gecko_bench.tasks.classification import brown_split, fortune_split


class _Clustering(GeckoTask, AbsTaskClustering):
    symmetric = True
    max_fraction_of_documents_to_embed = None  # our sets are already small: embed them all
    n_clusters = 10
    per_label: ClassVar[int]
    tiny_per_label: ClassVar[int]

    def rows(self) -> list[tuple[str, str, str]]:
        """(key, text, label) candidates; build() samples ``per_label`` of each label."""
        raise NotImplementedError

    def build(self) -> dict[str, Any]:
        per = self.tiny_per_label if self.tiny else self.per_label
        rows = stratified_sample(self.rows(), lambda r: r[2], per, SPLIT_SEED, key=lambda r: r[0])
        self.max_documents_per_cluster = len(rows)
        data = Dataset.from_list([{"sentences": t, "labels": lab} for _, t, lab in rows])
        return {"default": {"test": data}}


class BrownGenreClustering(_Clustering):
    """Cluster Brown passages by genre (test-side texts of the classification split)."""

    source = "brown"
    gecko_instruction = "identify the genre of a text"
    per_label = 40
    tiny_per_label = 14
    metadata = make_metadata(
        name="BrownGenreClustering", type="Clustering", main_score="v_measure", source="brown",
        eval_langs=["eng-Latn"], domains=["Written", "Fiction", "News"],
        subtypes=["Thematic clustering"], reference="http://icame.uib.no/brown/bcm.html",
        description="Brown corpus passages (first 2 of each test-side text) clustered by the "
        "text's genre, up to 40 per genre (15 genres).",
    )

    def rows(self) -> list[tuple[str, str, str]]:
        return brown_split(2)[1]


class WordNetLexnameClustering(_Clustering):
    """Cluster WordNet definitions by lexicographer file (noun.animal, verb.motion, ...)."""

    source = "wordnet"
    gecko_instruction = "identify the semantic category of a word definition"
    per_label = 40
    tiny_per_label = 6
    metadata = make_metadata(
        name="WordNetLexnameClustering", type="Clustering", main_score="v_measure",
        source="wordnet", eval_langs=["eng-Latn"], domains=["Written"],
        subtypes=["Thematic clustering"], reference="https://wordnet.princeton.edu/",
        description="WordNet 3.0 synset definitions clustered by their lexicographer file "
        "(45 files: noun.animal, verb.motion, adj.all, ...), 40 definitions per file.",
    )

    def rows(self) -> list[tuple[str, str, str]]:
        return [(g.synset, g.definition, g.lexname) for g in wordnet.glosses()]


class FortunesClustering(_Clustering):
    """Cluster fortune cookies by category (test pool of the classification split)."""

    source = "fortunes"
    gecko_instruction = "identify the category of a fortune cookie quote"
    per_label = 30
    tiny_per_label = 20
    metadata = make_metadata(
        name="FortunesClustering", type="Clustering", main_score="v_measure", source="fortunes",
        eval_langs=["eng-Latn"], domains=["Fiction", "Written"],
        subtypes=["Thematic clustering"], reference="https://github.com/shlomif/fortune-mod",
        description="fortune-mod cookies clustered by category file, 30 per category from the "
        "30 categories with at least 100 cookies (test side of the classification split).",
    )

    def rows(self) -> list[tuple[str, str, str]]:
        return fortune_split(self.tiny)[1]
