"""Evaluation-overlap guard: keep evaluation texts out of FRet seeds and training pairs.

:func:`eval_texts` is the set of normalized texts of every evaluation item of the FULL tasks and
the selection tasks (queries, documents, sentences, labelled test/clustering texts;
classification TRAIN splits are not evaluation items and are excluded). :func:`overlap_guard` rejects texts equal to one of them
after normalization, or sharing any 13-word window with one (the n-gram contamination check used
for LLM benchmarks). The index is cached under ``$GECKO_BENCH_HOME/cache/`` keyed by the source
package checksums and the task/corpus code, so only the first call builds the tasks.

A domain job (docs/domain.md) adapts to a target corpus: :class:`TargetTexts` holds it. Its
documents are ALLOWED in training text (they are the FRet seeds: that is the method), so an
overlap explained by them alone passes the guard; its queries are NEVER allowed
(:meth:`TargetTexts.refuse_queries`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import numpy as np

from gecko_bench.assets import gecko_home
from gecko_bench.errors import InputError

WINDOW = 13
_NON_WORD = re.compile(r"[\W_]+")
_CODE_DIRS = ("tasks", "corpora")


def normalize_text(s: str) -> str:
    """NFKC, case-folded, punctuation/underscores to spaces, whitespace collapsed."""
    return " ".join(_NON_WORD.sub(" ", unicodedata.normalize("NFKC", s).casefold()).split())


def _window_hashes(normalized: str) -> np.ndarray:
    """uint64 hashes of every 13-word window of an already normalized text."""
    words = normalized.split()
    grams = (" ".join(words[i:i + WINDOW]) for i in range(len(words) - WINDOW + 1))
    return np.fromiter((int.from_bytes(hashlib.blake2b(g.encode(), digest_size=8).digest(),
                                       "little") for g in grams), dtype=np.uint64)


def _guarded_tasks() -> list[type]:
    """The task classes whose evaluation items the guard keeps out of training: every full
    task and the non-tiny selection tasks."""
    from gecko_bench.tasks.registry import FULL_TASKS, SELECTION_TASKS

    return [*FULL_TASKS.values(), *(c for c in SELECTION_TASKS.values() if not c.tiny)]


def _cache_key() -> str:
    """The index's key: the pinned packages of every guarded task's source, and the code that
    builds tasks from them (a change to a split changes the texts, with the same packages)."""
    from gecko_bench.tasks.base import source_revision

    h = hashlib.sha256()
    for source in sorted({cls.source for cls in _guarded_tasks()}):
        h.update(f"{source}={source_revision(source)}\n".encode())
    pkg = Path(__file__).resolve().parent.parent
    for folder in _CODE_DIRS:
        for path in sorted((pkg / folder).glob("*.py")):
            if path.name != "seeds.py":
                h.update(path.name.encode() + path.read_bytes())
    return h.hexdigest()[:16]


def task_texts(task) -> list[str]:
    """Raw texts of every evaluation item of one loaded-or-loadable gecko_bench task."""
    task.load_data()
    out: list[str] = []
    for subset in task.dataset.values():
        split = subset["test"]
        if isinstance(split, dict):  # retrieval: queries + corpus
            out += list(split["queries"]["text"]) + list(split["corpus"]["text"])
            continue
        for col in ("text", "sentence1", "sentence2", "sentences"):
            if col in split.column_names:
                out += list(split[col])
    return out


def _task_texts() -> list[str]:
    """Raw texts of every evaluation item of the full and selection tasks (builds them: slow,
    uncached)."""
    return [t for cls in _guarded_tasks() for t in task_texts(cls())]


@lru_cache(maxsize=1)
def _index() -> tuple[frozenset[str], np.ndarray]:
    folder = gecko_home() / "cache"
    key = _cache_key()
    texts_file = folder / f"eval_texts-{key}.json"
    windows_file = folder / f"eval_windows-{key}.npy"
    if texts_file.exists() and windows_file.exists():
        texts = json.loads(texts_file.read_text(encoding="utf-8"))
        return frozenset(texts), np.load(windows_file)
    normalized = sorted({n for t in _task_texts() if (n := normalize_text(t))})
    windows = np.unique(np.concatenate([_window_hashes(n) for n in normalized]
                                       + [np.zeros(0, np.uint64)]))
    folder.mkdir(parents=True, exist_ok=True)
    # per-process temporary names: two jobs building the index at once each rename whole files
    tmp_t = texts_file.with_suffix(f".{os.getpid()}.tmp")
    tmp_w = windows_file.with_suffix(f".{os.getpid()}.tmp.npy")
    tmp_t.write_text(json.dumps(normalized, ensure_ascii=False), encoding="utf-8")
    np.save(tmp_w, windows)
    tmp_t.replace(texts_file)
    tmp_w.replace(windows_file)
    return frozenset(normalized), windows


def eval_texts() -> set[str]:
    """Normalized texts of every evaluation item of the full and selection tasks (cached on
    disk)."""
    return set(_index()[0])


def _hits(windows: np.ndarray, hashes: np.ndarray) -> np.ndarray:
    """The `hashes` that are in the sorted array `windows`."""
    if not hashes.size or not windows.size:
        return hashes[:0]
    pos = np.searchsorted(windows, hashes).clip(max=windows.size - 1)
    return hashes[windows[pos] == hashes]


class TargetTexts:
    """The corpus a domain job adapts to (docs/domain.md "The overlap rule").

    `documents` may be trained on: a text equal to one of them (normalized), or whose every
    13-word window shared with evaluation data is one of theirs, passes the guard. `queries`
    (id -> text: every query of the folder, whatever its qrels split) never may:
    :meth:`query_of` finds a text equal to one (normalized) or sharing a 13-word window with
    one. Document windows are hashed on first need (a large corpus is mostly exact matches).
    """

    def __init__(self, name: str, documents: Iterable[str], queries: dict[str, str]) -> None:
        self.name = name
        self._raw = list(documents)
        self.documents = frozenset(n for d in self._raw if (n := normalize_text(d)))
        self.queries = {n: qid for qid, t in queries.items() if (n := normalize_text(t))}
        self._query_windows = {int(h): qid for n, qid in self.queries.items()
                               for h in _window_hashes(n)}
        self._doc_windows: np.ndarray | None = None

    @property
    def document_windows(self) -> np.ndarray:
        if self._doc_windows is None:
            self._doc_windows = np.unique(np.concatenate(
                [_window_hashes(n) for n in self.documents] + [np.zeros(0, np.uint64)]))
        return self._doc_windows

    def explains(self, norm: str, hits: np.ndarray) -> bool:
        """Whether a text's overlap with evaluation data (`hits`: its shared windows) comes
        from the target documents alone."""
        if norm in self.documents:
            return True
        return bool(hits.size) and _hits(self.document_windows, hits).size == hits.size

    def query_of(self, text: str) -> str | None:
        """The id of the target query `text` equals or shares a 13-word window with."""
        norm = normalize_text(text)
        if norm in self.queries:
            return self.queries[norm]
        for h in _window_hashes(norm):
            if int(h) in self._query_windows:
                return self._query_windows[int(h)]
        return None

    def touches(self, texts: Iterable[str]) -> bool:
        """Whether any of `texts` equals or shares a 13-word window with a target document or
        query (an evaluation task "touched" by the adaptation)."""
        for text in texts:
            norm = normalize_text(text)
            if not norm:
                continue
            if norm in self.documents or norm in self.queries:
                return True
            hashes = _window_hashes(norm)
            if _hits(self.document_windows, hashes).size or any(
                    int(h) in self._query_windows for h in hashes):
                return True
        return False

    def refuse_queries(self, labelled: Iterable[tuple[str, str]], what: str) -> None:
        """InputError naming the first (label, text) that holds a target query. A target
        document itself passes even where it quotes a query's words (the FAQ's paragraphs
        cite other questions): the corpus is what the job adapts to; the query -> relevant
        document link is what it must never see."""
        for label, text in labelled:
            if not text or normalize_text(text) in self.documents:
                continue
            if (qid := self.query_of(text)) is not None:
                raise InputError(
                    f"{what}: {label} contains query {qid!r} of the target corpus {self.name} "
                    f"({text[:80]!r}); a domain job never trains on the target's queries or "
                    "qrels (docs/domain.md)")


def overlapping(texts: Iterable[str], allow: TargetTexts | None = None) -> list[str]:
    """The texts that equal an evaluation text or share a 13-word window with one (an overlap
    that `allow`'s documents explain, see :class:`TargetTexts`, does not count)."""
    exact, windows = _index()
    bad = []
    for text in texts:
        norm = normalize_text(text)
        if not norm or (allow is not None and norm in allow.documents):
            continue
        if norm in exact:
            bad.append(text)
            continue
        hits = _hits(windows, _window_hashes(norm))
        if hits.size and not (allow is not None and allow.explains(norm, hits)):
            bad.append(text)
    return bad


def overlap_guard(texts: Iterable[str], what: str, allow: TargetTexts | None = None) -> None:
    """Raise InputError naming how many `what` overlap evaluation data, with two examples.

    With `allow` (a domain job's target corpus): its queries are refused by name, its
    documents are allowed."""
    texts = list(texts)
    if allow is not None:
        allow.refuse_queries(((f"text {i + 1}", t) for i, t in enumerate(texts)), what)
    bad = overlapping(texts, allow)
    if bad:
        examples = "; ".join(repr(t[:80] + ("..." if len(t) > 80 else "")) for t in bad[:2])
        raise InputError(f"{len(bad)} of {len(texts)} {what} overlap the evaluation data "
                         f"(identical text or a shared {WINDOW}-word window), e.g. {examples}")


def classification_train_sets() -> dict[str, list[tuple[str, str]]]:
    """Task name -> (text, label) TRAIN split of every full classification task, contamination-free.

    The splits are disjoint by item; on top of that, training rows that equal an evaluation text
    or share a 13-word window with one (this module) are dropped: SpamAssassin replies quote
    test emails (~40% of its train side), and a few fortunes recur in several files. What is
    returned therefore passes :func:`overlap_guard`.
    """
    from gecko_bench.tasks.classification import ClassificationTask
    from gecko_bench.tasks.registry import FULL_TASKS

    out = {}
    for name, cls in FULL_TASKS.items():
        if issubclass(cls, ClassificationTask):
            rows = cls().train_rows()
            bad = set(overlapping([t for t, _ in rows]))
            out[name] = [(t, lab) for t, lab in rows if t not in bad]
    return out
