"""FRet's neighbour search: the retriever's vectors of the whole corpus in a faiss index.

The corpus is encoded :data:`ENCODE_CHUNK` passages at a time, each chunk stored in the
embedding cache (:class:`gecko_bench.eval.cache.EmbeddingCache`, namespace ``fret-<weights
hash>-L<max length>``, keyed by text) as soon as it is done, so a killed encoding of a large
corpus resumes after its last finished chunk and a rerun encodes nothing. Search is faiss's
exact inner-product index (``IndexFlatIP``) over the normalized vectors, i.e. cosine
similarity, in faiss's blocked BLAS kernels: memory is the corpus's vectors (N x 384 float32:
146 MiB at 100k passages) plus a bounded block of scores. Exact, because at the sizes measured
(``gecko-bench perf neighbours``, docs/scale.md) a search of 256 queries over 100k passages takes
0.66 s next to 8 min of encoding; faiss is no faster than sentence-transformers'
``semantic_search`` there, but it is where a user swaps in an IVF / HNSW / GPU index past
millions of passages. Ties are broken by passage index, so results do not depend on faiss's
heap order.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gecko_bench.corpora.seeds import Passage

ENCODE_CHUNK = 4096  # passages encoded, then cached, at a time (the resume granularity)


def cache_namespace(model, path: str | Path) -> str:
    """The cache folder of a retriever: its weights hash and input length."""
    from gecko_bench.provenance import checkpoint_id

    return f"fret-{checkpoint_id(path)[:32]}-L{model.max_seq_length}"


def encode_corpus(model, texts: list[str], cache, chunk: int = ENCODE_CHUNK,
                  batch_size: int = 64) -> np.ndarray:
    """Normalized float32 vectors of `texts` (rows in order), encoding only what `cache`
    lacks, `chunk` texts at a time, each chunk cached before the next starts."""
    from gecko_bench.eval.cache import text_key

    keys = [text_key(t) for t in texts]
    out = np.zeros((len(texts), model.get_embedding_dimension()), dtype=np.float32)
    hits, vectors = cache.get(keys)
    if hits:
        out[hits] = vectors
    missing = sorted(set(range(len(texts))) - set(hits))
    for start in range(0, len(missing), chunk):
        rows = missing[start:start + chunk]
        emb = model.encode([texts[i] for i in rows], batch_size=batch_size,
                           normalize_embeddings=True, convert_to_numpy=True).astype(np.float32)
        unique = dict(zip((keys[i] for i in rows), emb))  # a text twice in the corpus: once
        cache.add(list(unique), np.stack(list(unique.values())))
        out[rows] = emb
    return out


def exact_index(vectors: np.ndarray):
    """A faiss exact inner-product index over `vectors` (normalized: cosine)."""
    import faiss

    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def search(index, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(indices, scores) of the `k` best rows per query, best first, ties to the lower index."""
    k = min(k, index.ntotal)
    scores, idx = index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
    order = np.lexsort((idx, -scores), axis=1)
    return np.take_along_axis(idx, order, axis=1), np.take_along_axis(scores, order, axis=1)


class Retriever:
    """Dense top-N search of a whole corpus with a sentence-transformers model."""

    def __init__(self, name: str, corpus: list[Passage], device: str = "cpu",
                 cache_root: str | Path | None = None, chunk: int = ENCODE_CHUNK) -> None:
        from gecko_bench.assets.loaders import load_sentence_transformer, resolve_st_path
        from gecko_bench.eval.cache import EmbeddingCache

        self.name = name
        self.model = load_sentence_transformer(name, device)
        cache = EmbeddingCache(cache_namespace(self.model, resolve_st_path(name)), cache_root)
        self.emb = encode_corpus(self.model, [p.text for p in corpus], cache, chunk)
        self.index = exact_index(self.emb)

    def search(self, queries: list[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        """(indices, scores), each of shape (len(queries), k), best first."""
        q = self.model.encode(queries, normalize_embeddings=True, convert_to_numpy=True)
        return search(self.index, q, k)
