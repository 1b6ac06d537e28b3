"""Evaluation-overlap guard: keep evaluation texts out of FRet seeds and training pairs.

:func:`eval_texts` is the set of normalized texts of every evaluation item of the FULL tasks
(queries, documents, sentences, labelled test/clustering texts; classification TRAIN splits are
not evaluation items and are excluded). :func:`overlap_guard` rejects texts equal to one of them
after normalization, or sharing any 13-word window with one (the n-gram contamination check used
for LLM benchmarks). The index is cached under ``$GECKO_BENCH_HOME/cache/`` keyed by the source
package checksums and the task/corpus code, so only the first call builds the tasks.
"""

from __future__ import annotations

import hashlib
import json
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
_SOURCES = ("debian-faq", "manpages", "wordnet", "fortunes", "bible", "gensim-test-data",
            "brown", "spamassassin")


def normalize_text(s: str) -> str:
    """NFKC, case-folded, punctuation/underscores to spaces, whitespace collapsed."""
    return " ".join(_NON_WORD.sub(" ", unicodedata.normalize("NFKC", s).casefold()).split())


def _window_hashes(normalized: str) -> np.ndarray:
    """uint64 hashes of every 13-word window of an already normalized text."""
    words = normalized.split()
    grams = (" ".join(words[i:i + WINDOW]) for i in range(len(words) - WINDOW + 1))
    return np.fromiter((int.from_bytes(hashlib.blake2b(g.encode(), digest_size=8).digest(),
                                       "little") for g in grams), dtype=np.uint64)


def _cache_key() -> str:
    from gecko_bench.tasks.base import source_revision

    h = hashlib.sha256()
    for source in _SOURCES:
        h.update(f"{source}={source_revision(source)}\n".encode())
    pkg = Path(__file__).resolve().parent.parent
    for folder in _CODE_DIRS:
        for path in sorted((pkg / folder).glob("*.py")):
            if path.name != "seeds.py":
                h.update(path.name.encode() + path.read_bytes())
    return h.hexdigest()[:16]


def _task_texts() -> list[str]:
    """Raw texts of every evaluation item of the full tasks (builds them: slow, uncached)."""
    from gecko_bench.tasks.registry import FULL_TASKS

    out: list[str] = []
    for cls in FULL_TASKS.values():
        task = cls()
        task.load_data()
        for subset in task.dataset.values():
            split = subset["test"]
            if isinstance(split, dict):  # retrieval: queries + corpus
                out += list(split["queries"]["text"]) + list(split["corpus"]["text"])
                continue
            for col in ("text", "sentence1", "sentence2", "sentences"):
                if col in split.column_names:
                    out += list(split[col])
    return out


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
    tmp_t, tmp_w = texts_file.with_suffix(".tmp"), windows_file.with_suffix(".tmp.npy")
    tmp_t.write_text(json.dumps(normalized, ensure_ascii=False), encoding="utf-8")
    np.save(tmp_w, windows)
    tmp_t.replace(texts_file)
    tmp_w.replace(windows_file)
    return frozenset(normalized), windows


def eval_texts() -> set[str]:
    """Normalized texts of every evaluation item of the full tasks (cached on disk)."""
    return set(_index()[0])


def overlapping(texts: Iterable[str]) -> list[str]:
    """The texts that equal an evaluation text or share a 13-word window with one."""
    exact, windows = _index()
    bad = []
    for text in texts:
        norm = normalize_text(text)
        if not norm:
            continue
        if norm in exact:
            bad.append(text)
            continue
        hashes = _window_hashes(norm)
        if hashes.size and windows.size:
            pos = np.searchsorted(windows, hashes).clip(max=windows.size - 1)
            if (windows[pos] == hashes).any():
                bad.append(text)
    return bad


def overlap_guard(texts: Iterable[str], what: str) -> None:
    """Raise InputError naming how many `what` overlap evaluation data, with two examples."""
    texts = list(texts)
    bad = overlapping(texts)
    if bad:
        examples = "; ".join(repr(t[:80] + ("..." if len(t) > 80 else "")) for t in bad[:2])
        raise InputError(f"{len(bad)} of {len(texts)} {what} overlap the evaluation data "
                         f"(identical text or a shared {WINDOW}-word window), e.g. {examples}")
