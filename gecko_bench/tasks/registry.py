"""The suite registry: one entry per task, a suite is a named list of task names.

Adding a task: write its class and add it to :data:`FULL_TASKS` (its tiny variant follows).
Adding a suite: one line in :data:`SUITES`. :data:`SELECTION_TASKS` are registered but in no
reported suite: settings are chosen on them (``fret-selection``), never on what is reported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gecko_bench.corpora import debian_faq
from gecko_bench.errors import InputError
from gecko_bench.tasks.base import GeckoTask, tiny_variant
from gecko_bench.tasks.classification import (
    BrownGenreClassification, FortunesClassification, PangLeePolarityClassification,
    SpamAssassinClassification,
)
from gecko_bench.tasks.clustering import (
    BrownGenreClustering, FortunesClustering, WordNetLexnameClustering,
)
from gecko_bench.tasks.pairs import (
    BibleBitextMining, BibleParaphrasePairClassification, DebianFAQBitextMining,
)
from gecko_bench.tasks.retrieval import (
    DebianFAQMultilingualRetrieval, DebianFAQParagraphRetrieval, DebianFAQReranking,
    DebianFAQRetrieval, ManPageFunctionRetrieval, ManPageMultilingualRetrieval, ManPageRetrieval,
)
from gecko_bench.tasks.sts import LeeSTS

if TYPE_CHECKING:
    from mteb.abstasks import AbsTask

# gecko-offline-v1 is frozen: a task added later goes into a new suite version, so stored
# scores of a suite never turn incomplete (or its mean change) by a registry edit.
_V1_CLASSES: list[type[GeckoTask]] = [
    DebianFAQRetrieval, ManPageRetrieval, DebianFAQParagraphRetrieval,
    DebianFAQMultilingualRetrieval, DebianFAQReranking, LeeSTS,
    FortunesClassification, SpamAssassinClassification, PangLeePolarityClassification,
    BrownGenreClassification,
    BrownGenreClustering, WordNetLexnameClustering, FortunesClustering,
    BibleParaphrasePairClassification,
    BibleBitextMining, DebianFAQBitextMining,
]
_FULL_CLASSES: list[type[GeckoTask]] = [*_V1_CLASSES, ManPageMultilingualRetrieval]
FULL_TASKS: dict[str, type[GeckoTask]] = {c.metadata.name: c for c in _FULL_CLASSES}
TINY_TASKS: dict[str, type[GeckoTask]] = {
    c.metadata.name + "-tiny": tiny_variant(c) for c in _FULL_CLASSES}
_SELECTION_CLASSES: list[type[GeckoTask]] = [ManPageFunctionRetrieval]
SELECTION_TASKS: dict[str, type[GeckoTask]] = {
    **{c.metadata.name: c for c in _SELECTION_CLASSES},
    **{c.metadata.name + "-tiny": tiny_variant(c) for c in _SELECTION_CLASSES}}
TASKS: dict[str, type[GeckoTask]] = {**FULL_TASKS, **TINY_TASKS, **SELECTION_TASKS}

SUITES: dict[str, list[str]] = {
    "gecko-offline-v1": [c.metadata.name for c in _V1_CLASSES],
    "gecko-offline-tiny": [c.metadata.name + "-tiny" for c in _V1_CLASSES],
    "gecko-offline-v2": list(FULL_TASKS),
    "gecko-offline-v2-tiny": list(TINY_TASKS),
    "miracl-offline": ["DebianFAQMultilingualRetrieval"],
    "miracl-offline-tiny": ["DebianFAQMultilingualRetrieval-tiny"],
    "fret-selection": [c.metadata.name for c in _SELECTION_CLASSES],
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


def _subsets_for(task: AbsTask, langs: list[str]) -> list[str]:
    """Subsets of a multilingual task whose languages are all in `langs` (+ en for pairs)."""
    keep = []
    for subset in task.hf_subsets:
        parts = subset.split("-")
        allowed = set(langs) | ({"en"} if len(parts) > 1 else set())
        if all(p in allowed for p in parts):
            keep.append(subset)
    return keep


def get_suite(name: str, langs: list[str] | None = None) -> list[AbsTask]:
    """Instantiated tasks of suite `name`.

    `langs` (e.g. ``["de", "fr"]``) restricts multilingual tasks to those languages (pair subsets
    such as ``en-de`` count as ``de``); a multilingual task with none of them is left out, and
    monolingual tasks are kept as they are. InputError for an unknown suite or language, or when
    no multilingual task of the suite covers any of `langs`.
    """
    if name not in SUITES:
        raise InputError(f"unknown suite {name!r}; valid suites: {', '.join(SUITES)}")
    if langs is not None:
        bad = [lg for lg in langs if lg not in LANGS]
        if bad:
            raise InputError(f"unknown language(s) {', '.join(bad)}; valid languages: "
                             f"{', '.join(LANGS)}")
    tasks = [get_task(t) for t in SUITES[name]]
    if not langs:
        return tasks
    kept, matched = [], False
    for task in tasks:
        if not task.metadata.is_multilingual:
            kept.append(task)
            continue
        subsets = _subsets_for(task, langs)
        if subsets:
            task.hf_subsets = subsets
            kept.append(task)
            matched = True
    if not matched:
        raise InputError(f"no multilingual task of suite {name!r} covers {', '.join(langs)}; "
                         f"valid languages: {', '.join(LANGS)}")
    return kept


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


def task_size(task: AbsTask) -> str:
    """Human-readable size of a (loaded or loadable) task, summed over its selected subsets."""
    task.load_data()
    queries = docs = items = train = 0
    for subset in task.hf_subsets:
        data = task.dataset[subset]
        split = data["test"]
        if isinstance(split, dict):
            queries += len(split["queries"])
            docs += len(split["corpus"])
        else:
            items += len(split)
        if "train" in data:
            train += len(data["train"])
    n = len(task.hf_subsets)
    per = f" in {n} subsets" if n > 1 else ""
    if queries:
        return f"{queries} queries / {docs} docs{per}"
    if train:
        return f"{train} train / {items} test"
    return f"{items} {'pairs' if task_category(task) in {'STS', 'PairClassification', 'BitextMining'} else 'texts'}{per}"


def describe(name: str) -> dict[str, str]:
    """One row about a full task and its tiny variant (for docs and ``gecko-bench tasks list``)."""
    task, tiny = get_task(name), get_task(name + "-tiny")
    return {"task": name, "category": task_category(task), "source": task.source,
            "licence": task.licence, "size": task_size(task), "tiny size": task_size(tiny),
            "main metric": task.metadata.main_score, "instruction": task.gecko_instruction}
