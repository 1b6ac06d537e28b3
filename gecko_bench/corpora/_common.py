"""Small helpers shared by the corpus parsers: deterministic sampling and text clean-up.

Sampling is hash-based (sha256 of seed + item key) rather than ``random.shuffle`` so that whether an
item is picked depends only on its own key, never on the order or number of the other items.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import TypeVar

T = TypeVar("T")

_WS = re.compile(r"\s+")


# Kana, CJK punctuation, ideographs, Hangul and full-width forms. The FAQ's text renderer wraps
# these anywhere, even inside a Korean word, so a line break between two of them is rejoined
# without a space (for Korean this drops the ~1 in 4 breaks that fell on a real space).
_CJK = "\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uff00-\uffef"
_CJK_WRAP = re.compile(f"(?<=[{_CJK}])[ \t]*\n\\s*(?=[{_CJK}])")


def clean_ws(text: str) -> str:
    """Collapse whitespace (incl. no-break spaces) to one space; rejoin CJK lines split by wrapping."""
    return _WS.sub(" ", _CJK_WRAP.sub("", text.replace("\u00a0", " "))).strip()


def truncate_words(text: str, max_words: int) -> str:
    """The first `max_words` whitespace-separated words of `text`."""
    words = text.split()
    return text if len(words) <= max_words else " ".join(words[:max_words])


def stable_key(seed: int | str, key: str) -> str:
    return hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()


def stable_order(items: Iterable[T], seed: int | str, key: Callable[[T], str]) -> list[T]:
    """Items in a pseudo-random order that depends only on `seed` and each item's key."""
    return sorted(items, key=lambda it: stable_key(seed, key(it)))


def stable_sample(items: Iterable[T], n: int | None, seed: int | str,
                  key: Callable[[T], str]) -> list[T]:
    """Up to `n` items (all when n is None), chosen deterministically by hash of seed and key."""
    ordered = stable_order(items, seed, key)
    return ordered if n is None else ordered[:n]


def stratified_sample(items: Sequence[T], label: Callable[[T], Hashable], per_label: int | None,
                      seed: int | str, key: Callable[[T], str]) -> list[T]:
    """Up to `per_label` items of every label, deterministic, returned in a stable mixed order."""
    groups: dict[Hashable, list[T]] = defaultdict(list)
    for it in items:
        groups[label(it)].append(it)
    picked = [it for g in groups.values() for it in stable_sample(g, per_label, seed, key)]
    return stable_order(picked, seed, key)


def stratified_split(items: Sequence[T], label: Callable[[T], Hashable], test_fraction: float,
                     seed: int | str, key: Callable[[T], str]) -> tuple[list[T], list[T]]:
    """(train, test): within each label, the first ``round(n * test_fraction)`` by hash go to test."""
    groups: dict[Hashable, list[T]] = defaultdict(list)
    for it in items:
        groups[label(it)].append(it)
    train: list[T] = []
    test: list[T] = []
    for g in groups.values():
        ordered = stable_order(g, seed, key)
        n_test = round(len(ordered) * test_fraction)
        test.extend(ordered[:n_test])
        train.extend(ordered[n_test:])
    return stable_order(train, seed, key), stable_order(test, seed, key)
