"""The suite registry: one entry per task, a suite is a named list of task names.

Adding a task: write its class and add it to :data:`FULL_TASKS` (its tiny variant follows).
Adding a suite: one line in :data:`SUITES`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gecko_bench.corpora import debian_faq
from gecko_bench.errors import InputError
from gecko_bench.tasks.base import GeckoTask, tiny_variant
from gecko_bench.tasks.classification import (
    BrownGenreClassification, FortunesClassification, PangLeePolarityClassification,
    SpamAssassinClassification, _Classification,
)
from gecko_bench.tasks.clustering import (
    BrownGenreClustering, FortunesClustering, WordNetLexnameClustering,
)
from gecko_bench.tasks.pairs import (
    BibleBitextMining, BibleParaphrasePairClassification, DebianFAQBitextMining,
)
from gecko_bench.tasks.retrieval import (
    DebianFAQMultilingualRetrieval, DebianFAQReranking, DebianFAQRetrieval, ManPageRetrieval,
)
from gecko_bench.tasks.sts import LeeSTS

if TYPE_CHECKING:
    from mteb.abstasks import AbsTask

_FULL_CLASSES: list[type[GeckoTask]] = [
    DebianFAQRetrieval, ManPageRetrieval, DebianFAQMultilingualRetrieval, DebianFAQReranking,
    LeeSTS,
    FortunesClassification, SpamAssassinClassification, PangLeePolarityClassification,
    BrownGenreClassification,
    BrownGenreClustering, WordNetLexnameClustering, FortunesClustering,
    BibleParaphrasePairClassification,
    BibleBitextMining, DebianFAQBitextMining,
]
FULL_TASKS: dict[str, type[GeckoTask]] = {c.metadata.name: c for c in _FULL_CLASSES}
TINY_TASKS: dict[str, type[GeckoTask]] = {
    c.metadata.name + "-tiny": tiny_variant(c) for c in _FULL_CLASSES}
TASKS: dict[str, type[GeckoTask]] = {**FULL_TASKS, **TINY_TASKS}

SUITES: dict[str, list[str]] = {
    "gecko-offline-v1": list(FULL_TASKS),
    "gecko-offline-tiny": list(TINY_TASKS),
    "miracl-offline": ["DebianFAQMultilingualRetrieval"],
    "miracl-offline-tiny": ["DebianFAQMultilingualRetrieval-tiny"],
}

CATEGORIES = ("Classification", "Clustering", "PairClassification", "Reranking", "Retrieval",
              "STS", "BitextMining")
LANGS = tuple(debian_faq.LANGS)


def list_suites() -> dict[str, list[str]]:
    """Suite name -> task names (copies; mutate freely)."""
    return {name: list(tasks) for name, tasks in SUITES.items()}


def get_task(name: str) -> AbsTask:
    """A fresh instance of the registered task `name`; InputError listing valid names otherwise."""
    if name not in TASKS:
        raise InputError(f"unknown task {name!r}; valid tasks: {', '.join(TASKS)}")
    return TASKS[name]()


def _restrict_langs(task: AbsTask, langs: list[str]) -> None:
    """Keep the subsets of a multilingual task whose languages are all in `langs` (+ en for pairs)."""
    if not task.metadata.is_multilingual:
        return
    keep = []
    for subset in task.hf_subsets:
        parts = subset.split("-")
        allowed = set(langs) | ({"en"} if len(parts) > 1 else set())
        if all(p in allowed for p in parts):
            keep.append(subset)
    if not keep:
        raise InputError(f"task {task.metadata.name} has no subset for languages "
                         f"{','.join(langs)}; its subsets are {', '.join(task.hf_subsets)}")
    task.hf_subsets = keep


def get_suite(name: str, langs: list[str] | None = None) -> list[AbsTask]:
    """Instantiated tasks of suite `name`; `langs` (e.g. ``["de", "fr"]``) restricts the subsets
    of multilingual tasks. InputError for an unknown suite or language."""
    if name not in SUITES:
        raise InputError(f"unknown suite {name!r}; valid suites: {', '.join(SUITES)}")
    if langs is not None:
        bad = [lg for lg in langs if lg not in LANGS]
        if bad:
            raise InputError(f"unknown language(s) {', '.join(bad)}; valid languages: "
                             f"{', '.join(LANGS)}")
    tasks = [get_task(t) for t in SUITES[name]]
    if langs:
        for task in tasks:
            _restrict_langs(task, langs)
    return tasks


def task_category(task: AbsTask) -> str:
    """The leaderboard category of an mteb task, from ``metadata.type``.

    Our seven categories map to themselves; mteb's variants fold into them (InstructionRetrieval
    -> Retrieval, MultilabelClassification -> Classification, ...). Other types (e.g.
    Summarization) are returned unchanged.
    """
    kind = task.metadata.type
    if kind in CATEGORIES:
        return kind
    for category in ("Reranking", "Retrieval", "PairClassification", "Classification",
                     "Clustering", "BitextMining", "STS"):
        if category in kind:
            return category
    return kind


def classification_train_sets() -> dict[str, list[tuple[str, str]]]:
    """Task name -> (text, label) TRAIN split of every full classification task.

    These are disjoint from the classification test splits and from the clustering texts drawn
    from the same sources, so the trainer may fine-tune on them.
    """
    return {name: cls().train_rows() for name, cls in FULL_TASKS.items()
            if issubclass(cls, _Classification)}
