"""FRet's neighbour search: the corpus encoding resumes after a real kill, and the faiss
index returns the retriever's exact top-k."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from gecko_bench.corpora.seeds import nlp_sentences

pytestmark = pytest.mark.assets  # needs fetched models or data

ROOT = Path(__file__).resolve().parents[1]
N, CHUNK = 6000, 300


def build(cache_root: str) -> None:
    """What the killed process runs: a Retriever over the sentences, cached under cache_root."""
    from gecko_bench.fret.neighbours import Retriever

    Retriever("minilm-l6", nlp_sentences(N), cache_root=cache_root, chunk=CHUNK)


def _shards(cache_root: Path) -> int:
    return len(list(cache_root.glob("fret-*/*.keys.npy")))


@pytest.mark.slow
def test_a_killed_corpus_encoding_resumes_after_its_last_chunk(tmp_path):
    from gecko_bench.fret.neighbours import Retriever

    cache = tmp_path / "emb"
    proc = subprocess.Popen(
        [sys.executable, "-c", f"from tests.test_fret_neighbours import build; build({str(cache)!r})"],
        cwd=ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1"}, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while _shards(cache) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = _shards(cache)
    assert 2 <= done < N // CHUNK

    corpus = nlp_sentences(N)
    retriever = Retriever("minilm-l6", corpus, cache_root=cache, chunk=CHUNK)
    assert _shards(cache) == N // CHUNK  # only the rest was encoded, a chunk at a time
    rows = [0, CHUNK - 1, CHUNK, done * CHUNK, 4321, N - 1]  # cached, resumed, last
    fresh = retriever.model.encode([corpus[i].text for i in rows], normalize_embeddings=True)
    assert np.allclose(retriever.emb[rows], fresh, atol=1e-5)  # rows in corpus order

    queries = ["The stock market fell sharply today.", corpus[4321].text]
    idx, sims = retriever.search(queries, 5)
    full = retriever.model.encode(queries, normalize_embeddings=True) @ retriever.emb.T
    want = np.argsort(-full, axis=1, kind="stable")[:, :5]
    assert (idx == want).all() and idx[1, 0] == 4321
    assert np.allclose(sims, np.take_along_axis(full, want, axis=1), atol=1e-5)
    again = Retriever("minilm-l6", corpus, cache_root=cache, chunk=CHUNK)
    assert _shards(cache) == N // CHUNK and np.array_equal(again.emb, retriever.emb)
