"""``gecko-bench perf neighbours``: FRet's neighbour search at growing corpus sizes.

Each size runs in a fresh process (so its peak RSS is its own): MiniLM encodes that many
nlp-corpus sentences (cold cache), faiss builds the exact index, and the same query vectors
are searched by faiss and by the obvious alternative, sentence-transformers'
``util.semantic_search`` (chunked torch brute force), with the agreement of their top-k.
Figures go to ``results/perf/neighbours.{json,md}``.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def measure(size: int, n_queries: int, k: int, retriever: str = "minilm-l6") -> dict:
    """One corpus size, in this process: seconds per stage, peak RSS, faiss vs semantic_search."""
    import torch
    from sentence_transformers import util

    from gecko_bench.corpora.seeds import nlp_sentences
    from gecko_bench.fret.neighbours import Retriever, search

    corpus = nlp_sentences(size)
    if len(corpus) < size:
        raise ValueError(f"nlp-corpus has {len(corpus)} sentences, not {size}")
    rng = np.random.default_rng(0)
    queries = [corpus[i].text for i in rng.choice(size, n_queries, replace=False)]
    rss_start = _rss_mb()
    with tempfile.TemporaryDirectory() as cache:
        t0 = time.perf_counter()
        dense = Retriever(retriever, corpus, cache_root=cache)  # encode (cold) + index
        t_build = time.perf_counter() - t0
        q = dense.model.encode(queries, normalize_embeddings=True, convert_to_numpy=True)
        search(dense.index, q[:4], k)  # warm-up
        t0 = time.perf_counter()
        idx, _ = search(dense.index, q, k)
        t_faiss = time.perf_counter() - t0
        emb_t, q_t = torch.from_numpy(dense.emb), torch.from_numpy(q)
        t0 = time.perf_counter()
        hits = util.semantic_search(q_t, emb_t, top_k=k)
        t_st = time.perf_counter() - t0
    same = np.mean([set(row) == {h["corpus_id"] for h in hit} for row, hit in zip(idx, hits)])
    return {"passages": size, "queries": n_queries, "k": k, "encode_and_index_s": t_build,
            "passages_per_s": size / t_build, "faiss_search_s": t_faiss,
            "semantic_search_s": t_st, "faiss_speedup": t_st / t_faiss,
            "same_top_k": float(same), "vectors_mb": dense.emb.nbytes / 2**20,
            "rss_start_mb": rss_start, "peak_rss_mb": _rss_mb(),
            "threads": torch.get_num_threads()}


def run(sizes: list[int], n_queries: int = 256, k: int = 20,
        out: Path = Path("results/perf")) -> dict:
    """Measure every size in its own process; write neighbours.json / neighbours.md."""
    rows = []
    for size in sizes:
        code = ("import json; from gecko_bench.fret.neighbours_perf import measure; "
                f"print(json.dumps(measure({size}, {n_queries}, {k})))")
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              check=True)
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    md = ("# FRet neighbour search: faiss exact index vs sentence-transformers' semantic_search\n\n"
          f"MiniLM-L6 over nlp-corpus sentences, cold embedding cache; {n_queries} queries, "
          f"top-{k}; one fresh process per size ({rows[0]['threads']} threads; RSS at start: torch "
          "and the texts loaded, before the model).\n\n"
          "| passages | encode + index s | passages/s | faiss search s | semantic_search s "
          "| faiss speed-up | same top-k | vectors MB | RSS at start MB | peak RSS MB |\n"
          "|---|---|---|---|---|---|---|---|---|---|\n")
    for r in rows:
        md += (f"| {r['passages']:,} | {r['encode_and_index_s']:.1f} | {r['passages_per_s']:.0f} "
               f"| {r['faiss_search_s']:.3f} | {r['semantic_search_s']:.3f} | "
               f"{r['faiss_speedup']:.1f}x | {r['same_top_k']:.1%} | {r['vectors_mb']:.0f} | "
               f"{r['rss_start_mb']:.0f} | {r['peak_rss_mb']:.0f} |\n")
    md += ("\nCommand: `gecko-bench perf neighbours --sizes "
           + ",".join(str(s) for s in sizes) + "`\n")
    out.mkdir(parents=True, exist_ok=True)
    (out / "neighbours.json").write_text(json.dumps(rows, indent=2))
    (out / "neighbours.md").write_text(md)
    return {"rows": rows, "markdown": md}
