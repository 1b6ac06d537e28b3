"""gensim's test data (PyPI ``gensim`` wheel, ``gensim/test/test_data``): Lee corpus and Pang-Lee.

- Lee et al. (2005): 50 short news documents (``lee.cor``) and the averaged human similarity
  judgements for every pair (``similarities0-1.txt``, a 50x50 matrix, upper triangle used,
  scores in [0, 1]) -> 1,225 STS pairs.
- Pang & Lee sentence polarity sample (``pang_lee_polarity.cor``): 200 movie-review snippets
  labelled ``__label__pos`` / ``__label__neg``.
Licence: LGPL-2.1 (gensim); the Lee corpus and review snippets under their authors' research terms.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from gecko_bench.assets import data_dir
from gecko_bench.corpora._common import clean_ws

SOURCE = "gensim-test-data"
LICENCE = "LGPL-2.1 (gensim); Lee corpus and Pang-Lee snippets under their authors' research terms"


@dataclass(frozen=True)
class SimilarityPair:
    """Two Lee documents (by index) and their mean human similarity in [0, 1]."""

    i: int
    j: int
    text1: str
    text2: str
    score: float


def _test_data() -> Path:
    return data_dir(SOURCE) / "gensim" / "gensim" / "test" / "test_data"


@lru_cache(maxsize=1)
def lee_documents() -> tuple[str, ...]:
    """The 50 Lee documents, in file order."""
    lines = (_test_data() / "lee.cor").read_text(encoding="cp1252", errors="replace").splitlines()
    return tuple(clean_ws(line) for line in lines if line.strip())


@lru_cache(maxsize=1)
def lee_similarity_pairs() -> tuple[SimilarityPair, ...]:
    """All 1,225 unordered document pairs with their human similarity (upper triangle)."""
    docs = lee_documents()
    rows = (_test_data() / "similarities0-1.txt").read_text().splitlines()
    matrix = [[float(x) for x in row.split()] for row in rows if row.strip()]
    if len(matrix) != len(docs):
        raise ValueError(f"Lee similarity matrix has {len(matrix)} rows for {len(docs)} documents")
    return tuple(SimilarityPair(i, j, docs[i], docs[j], matrix[i][j])
                 for i in range(len(docs)) for j in range(i + 1, len(docs)))


@lru_cache(maxsize=1)
def pang_lee_polarity() -> tuple[tuple[str, str], ...]:
    """(text, "pos"|"neg") for the 200 Pang-Lee polarity snippets, in file order."""
    out = []
    for line in (_test_data() / "pang_lee_polarity.cor").read_text(encoding="cp1252",
                                                                        errors="replace").splitlines():
        label, _, text = line.partition(" ")
        if text.strip():
            out.append((clean_ws(text), label.removeprefix("__label__")))
    return tuple(out)
