"""Classification tasks: fortunes categories, SpamAssassin ham/spam, Pang-Lee polarity, Brown genres.

Each task has a deterministic train/test split (stratified by label, or by document for Brown so
passages of one text never sit on both sides). mteb trains a logistic regression on
``samples_per_label`` training embeddings per label, ``n_experiments`` times, and scores accuracy
on the test split. The train splits double as fine-tuning data (:func:`train_rows`).
"""

from __future__ import annotations

from collections import Counter
from typing import Any, ClassVar

from datasets import Dataset, DatasetDict
from mteb.abstasks import AbsTaskClassification

from gecko_bench.corpora import brown, fortunes, gensim_data, spamassassin
from gecko_bench.corpora._common import stratified_sample, stratified_split
from gecko_bench.tasks.base import SPLIT_SEED, GeckoTask, make_metadata

Row = tuple[str, str, str]  # (key, text, label)

FORTUNE_MIN_PER_CATEGORY = 100
TINY_FORTUNE_CATEGORIES = 10


def fortune_split(tiny: bool = False) -> tuple[list[Row], list[Row]]:
    """(train pool, test pool) of fortunes in categories with >= 100 cookies, 50/50 per category.

    The tiny variant keeps the 10 largest categories. Clustering draws from the test pool only.
    """
    items = fortunes.fortunes()
    counts = Counter(f.category for f in items)
    keep = {c for c, n in counts.items() if n >= FORTUNE_MIN_PER_CATEGORY}
    if tiny:
        keep = {c for c, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
                [:TINY_FORTUNE_CATEGORIES]}
    rows = [(f.id, f.text, f.category) for f in items if f.category in keep]
    return stratified_split(rows, lambda r: r[2], 0.5, SPLIT_SEED, key=lambda r: r[0])


def brown_split(passages_per_text: int) -> tuple[list[Row], list[Row]]:
    """(train, test) Brown passages; texts (not passages) are split 50/50 within each genre."""
    texts = brown.brown_texts()
    train_t, test_t = stratified_split(texts, lambda t: t.genre, 0.5, SPLIT_SEED,
                                       key=lambda t: t.id)

    def rows(ts: list[brown.BrownText]) -> list[Row]:
        return [(f"{t.id}:{i}", p, t.genre) for t in ts
                for i, p in enumerate(t.passages[:passages_per_text])]
    return rows(train_t), rows(test_t)


def spam_split() -> tuple[list[Row], list[Row]]:
    rows = [(e.id, e.text, e.label) for e in spamassassin.emails()]
    return stratified_split(rows, lambda r: r[2], 0.5, SPLIT_SEED, key=lambda r: r[0])


def polarity_split() -> tuple[list[Row], list[Row]]:
    rows = [(str(i), t, lab) for i, (t, lab) in enumerate(gensim_data.pang_lee_polarity())]
    return stratified_split(rows, lambda r: r[2], 0.5, SPLIT_SEED, key=lambda r: r[0])


def _cap(rows: list[Row], n: int | None) -> list[Row]:
    """Stratified, deterministic subsample of about `n` rows (label proportions kept)."""
    if n is None or len(rows) <= n:
        return rows
    counts = Counter(r[2] for r in rows)
    picked: list[Row] = []
    for label, c in sorted(counts.items()):
        per = max(1, round(n * c / len(rows)))
        picked += stratified_sample([r for r in rows if r[2] == label], lambda r: r[2], per,
                                    SPLIT_SEED, key=lambda r: r[0])
    return picked


class ClassificationTask(GeckoTask, AbsTaskClassification):
    """Shared build: the subclass provides ``split()`` and the size caps."""

    symmetric = True
    n_experiments = 10
    samples_per_label = 16
    max_train: ClassVar[int | None] = None
    max_test: ClassVar[int | None] = None
    tiny_train: ClassVar[int] = 200
    tiny_test: ClassVar[int] = 200
    tiny_overrides = {"n_experiments": 3}

    def split(self) -> tuple[list[Row], list[Row]]:
        raise NotImplementedError

    def train_rows(self) -> list[tuple[str, str]]:
        """(text, label) of the full training split (never any test item)."""
        train, _ = self.split()
        return [(text, label) for _, text, label in train]

    def build(self) -> dict[str, Any]:
        train, test = self.split()
        train = _cap(train, self.tiny_train if self.tiny else self.max_train)
        test = _cap(test, self.tiny_test if self.tiny else self.max_test)
        # Integer ids in sorted label order (mteb's binary metrics need 0/1; "spam" and "pos"
        # sort last, so they are the positive class).
        ids = {lab: i for i, lab in enumerate(sorted({r[2] for r in train + test}))}

        def ds(rows: list[Row]) -> Dataset:
            return Dataset.from_list([{"text": t, "label": ids[lab]} for _, t, lab in rows])
        return {"default": DatasetDict({"train": ds(train), "test": ds(test)})}


class FortunesClassification(ClassificationTask):
    """Which fortune-mod file (category) a cookie comes from; 30 categories with >= 100 cookies."""

    source = "fortunes"
    gecko_instruction = "classify the category of a fortune cookie quote"
    max_test = 1500
    metadata = make_metadata(
        name="FortunesClassification", type="Classification", main_score="accuracy",
        source="fortunes", eval_langs=["eng-Latn"], domains=["Fiction", "Written"],
        subtypes=["Topic classification"], reference="https://github.com/shlomif/fortune-mod",
        description="fortune-mod cookies labelled by their category file (categories with at "
        "least 100 cookies; ethnic, men-women, -off and ascii-art dropped), split 50/50 per "
        "category; test capped at 1,500 (stratified).",
    )

    def split(self) -> tuple[list[Row], list[Row]]:
        return fortune_split(self.tiny)


class SpamAssassinClassification(ClassificationTask):
    """Ham vs spam for SpamAssassin emails (subject + first text part)."""

    source = "spamassassin"
    gecko_instruction = "classify an email as spam or not spam"
    samples_per_label = 32
    max_test = 1000
    tiny_train = tiny_test = 150  # emails are long: keep the tiny suite's encode time down
    metadata = make_metadata(
        name="SpamAssassinClassification", type="Classification", main_score="accuracy",
        source="spamassassin", eval_langs=["eng-Latn"], domains=["Written", "Social"],
        reference="https://spamassassin.apache.org/old/publiccorpus/",
        description="SpamAssassin public corpus (5,888 distinct messages, subject + first text "
        "part, 150 words): ham vs spam, split 50/50 per label; test capped at 1,000 (stratified).",
    )

    def split(self) -> tuple[list[Row], list[Row]]:
        return spam_split()


class PangLeePolarityClassification(ClassificationTask):
    """Sentiment of movie-review snippets (Pang & Lee), the 200-snippet sample in gensim."""

    source = "gensim-test-data"
    gecko_instruction = "classify the sentiment of a movie review"
    samples_per_label = 32
    metadata = make_metadata(
        name="PangLeePolarityClassification", type="Classification", main_score="accuracy",
        source="gensim-test-data", eval_langs=["eng-Latn"], domains=["Reviews", "Written"],
        subtypes=["Sentiment/Hate speech"], annotations="derived",
        reference="https://www.cs.cornell.edu/people/pabo/movie-review-data/",
        description="Pang & Lee sentence polarity snippets (200 in gensim's test data), "
        "positive vs negative, split 100/100.",
    )

    def split(self) -> tuple[list[Row], list[Row]]:
        return polarity_split()


class BrownGenreClassification(ClassificationTask):
    """Genre (15 classes) of 120-160-word Brown corpus passages; texts split 50/50 per genre."""

    source = "brown"
    gecko_instruction = "classify the genre of a text"
    passages_per_text = 4
    tiny_train = tiny_test = 150
    metadata = make_metadata(
        name="BrownGenreClassification", type="Classification", main_score="accuracy",
        source="brown", eval_langs=["eng-Latn"], domains=["Written", "Fiction", "News"],
        subtypes=["Topic classification"], reference="http://icame.uib.no/brown/bcm.html",
        description="Brown corpus passages (first 4 passages of 120-160 words per text) labelled "
        "with the text's genre (15 genres); the 500 texts are split 50/50 within each genre, so "
        "no text contributes to both train and test.",
    )

    def split(self) -> tuple[list[Row], list[Row]]:
        return brown_split(self.passages_per_text)
