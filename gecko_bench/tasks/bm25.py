"""A small Okapi BM25 over a fixed corpus, used only to pick reranking candidates.

Written here (numpy, ~30 lines) because ``rank_bm25``/``bm25s`` are not dependencies and the
reranking task needs nothing but deterministic top-k lists over a few hundred English paragraphs.
"""

from __future__ import annotations

import re
from collections import Counter

import numpy as np

_TOKEN = re.compile(r"\w+")


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


class BM25:
    """Okapi BM25 (k1=1.5, b=0.75, idf = log(1 + (N - df + 0.5) / (df + 0.5)))."""

    def __init__(self, docs: list[str], k1: float = 1.5, b: float = 0.75) -> None:
        self.tfs = [Counter(tokenize(d)) for d in docs]
        lengths = np.array([sum(tf.values()) for tf in self.tfs], dtype=float)
        self.norm = k1 * (1 - b + b * lengths / max(lengths.mean(), 1.0))
        df = Counter(term for tf in self.tfs for term in tf)
        n = len(docs)
        self.idf = {t: float(np.log(1 + (n - c + 0.5) / (c + 0.5))) for t, c in df.items()}
        self.k1 = k1

    def scores(self, query: str) -> np.ndarray:
        out = np.zeros(len(self.tfs))
        for term in set(tokenize(query)):
            idf = self.idf.get(term)
            if idf is None:
                continue
            tf = np.array([d.get(term, 0) for d in self.tfs], dtype=float)
            out += idf * tf * (self.k1 + 1) / (tf + self.norm)
        return out

    def top_k(self, query: str, k: int) -> list[int]:
        """Indices of the k best documents, ties broken by index (stable)."""
        s = self.scores(query)
        return [int(i) for i in np.lexsort((np.arange(len(s)), -s))[:k]]
