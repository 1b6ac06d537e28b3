"""On-disk embedding cache: numpy shards plus a key index, one folder per model identity.

Layout: ``$GECKO_BENCH_HOME/embeddings/<namespace>/<shard>.npy`` (float32 vectors) and
``<shard>.keys.npy`` (16-byte blake2b digests of the exact text the model read, one uint8 row each).
The namespace is the checkpoint weights hash + config hash + max sequence length, so a key is
(weights, prompt-rendered text, max length). Shards are append-only and written atomically
(vectors first, keys last, both via rename), so concurrent processes can add shards without
locks and a killed writer leaves no half shard. No SQL here: the store is for scores.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

import numpy as np

from gecko_bench.assets import gecko_home


def default_cache_root() -> Path:
    """``$GECKO_BENCH_HOME/embeddings``."""
    return gecko_home() / "embeddings"


def text_key(text: str) -> bytes:
    """16-byte digest identifying a rendered text."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


class EmbeddingCache:
    """Vectors of one model identity, looked up by text digest."""

    def __init__(self, namespace: str, root: str | Path | None = None) -> None:
        self.folder = Path(root or default_cache_root()) / namespace
        self._index: dict[bytes, tuple[int, int]] = {}
        self._shards: list[np.ndarray] = []
        self._seen: set[str] = set()
        self.refresh()

    def refresh(self) -> None:
        """Pick up shards written since the last look (by this or another process)."""
        if not self.folder.exists():
            return
        for keys_file in sorted(self.folder.glob("*.keys.npy")):
            name = keys_file.name[: -len(".keys.npy")]
            if name in self._seen:
                continue
            keys = np.load(keys_file)
            vectors = np.load(self.folder / f"{name}.npy", mmap_mode="r")
            self._seen.add(name)
            shard = len(self._shards)
            self._shards.append(vectors)
            for row, key in enumerate(keys):
                self._index.setdefault(key.tobytes(), (shard, row))

    def __len__(self) -> int:
        return len(self._index)

    def get(self, keys: list[bytes]) -> tuple[list[int], np.ndarray | None]:
        """Positions in `keys` that are cached and their vectors (rows in the same order)."""
        hits = [i for i, k in enumerate(keys) if k in self._index]
        if not hits:
            return [], None
        rows = [self._shards[s][r] for s, r in (self._index[keys[i]] for i in hits)]
        return hits, np.asarray(rows, dtype=np.float32)

    def add(self, keys: list[bytes], vectors: np.ndarray) -> None:
        """Persist new vectors as one shard and index them."""
        if not keys:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.folder.mkdir(parents=True, exist_ok=True)
        name = uuid.uuid4().hex
        _atomic_save(self.folder / f"{name}.npy", vectors)
        _atomic_save(self.folder / f"{name}.keys.npy",
                     np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(-1, 16))
        self._seen.add(name)
        shard = len(self._shards)
        self._shards.append(vectors)
        for row, key in enumerate(keys):
            self._index.setdefault(key, (shard, row))


def _atomic_save(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        np.save(fh, array)
    os.replace(tmp, path)
