"""sentence-transformers checkpoints (registered names or folders), encoded in torch under
autocast in the resolved dtype, optionally through sentence-transformers' worker pool."""

from __future__ import annotations

import os
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gecko_bench.assets.registry import MODELS
from gecko_bench.errors import AssetError
from gecko_bench.eval.backends.base import Backend, weights_id
from gecko_bench.hardware import resolve_dtype, torch_dtype


@dataclass
class SentenceTransformerBackend(Backend):
    """A SentenceTransformer; weights stay float32, encoding runs under ``torch.autocast``."""

    pool: Any = field(default=None, repr=False)  # sentence-transformers' multi-process pool

    @property
    def torch_module(self) -> Any:
        return self.model

    def encode_batch(self, texts: list[str], is_query: bool) -> np.ndarray:
        """Full-dim float32 vectors for one batch of already-rendered texts."""
        import torch

        ctx = nullcontext()
        if self.dtype in ("bfloat16", "float16"):
            ctx = torch.autocast(self.model.device.type, dtype=torch_dtype(self.dtype))
        with ctx, torch.inference_mode():
            out = self.model.encode(texts, batch_size=len(texts), convert_to_tensor=True,
                                    show_progress_bar=False)
        return out.float().cpu().numpy()

    def start_pool(self, processes: int, device: str = "cpu") -> None:
        """Encode with `processes` worker processes from now on (sentence-transformers'
        multi-process pool: one per GPU on CUDA; on CPU each gets its share of the cores).

        The workers compute in float32 (autocast does not reach them) and embed the same texts
        as one process would, so scores are unchanged (tests/test_eval_workers.py).
        """
        self.check_pool(processes)
        if processes == 1:
            return
        if device.startswith("cuda"):
            devices = [f"cuda:{i}" for i in range(processes)]
        else:
            devices = ["cpu"] * processes
        threads = str(max(1, (os.cpu_count() or 1) // processes))
        before = os.environ.get("OMP_NUM_THREADS")
        os.environ["OMP_NUM_THREADS"] = threads  # read by torch in each spawned worker
        try:
            self.pool = self.model.start_multi_process_pool(devices)
        finally:
            if before is None:
                os.environ.pop("OMP_NUM_THREADS")
            else:
                os.environ["OMP_NUM_THREADS"] = before

    def check_pool(self, processes: int) -> None:
        """InputError unless `processes` workers can encode: the workers compute in float32."""
        if self.dtype == "float32" and processes > 1:
            return
        super().check_pool(processes)

    def stop_pool(self) -> None:
        """Stop the worker processes, if any."""
        if self.pool is not None:
            self.model.stop_multi_process_pool(self.pool)
            self.pool = None

    def encode_pooled(self, texts: list[str], batch_size: int) -> np.ndarray:
        """Full-dim float32 vectors of `texts` through the pool (in order)."""
        out = self.model.encode(texts, pool=self.pool, batch_size=batch_size,
                                convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(out, dtype=np.float32)

    @property
    def pooled(self) -> bool:
        return self.pool is not None


def load(name_or_path: str, device: str, max_seq_length: int | None,
         dtype: str) -> SentenceTransformerBackend:
    """A registered sentence-transformers model or a checkpoint folder, offline."""
    from gecko_bench.assets.loaders import (
        embedding_dimension, load_sentence_transformer, resolve_st_path,
    )

    path = resolve_st_path(name_or_path)
    try:
        model_id = weights_id(path)
    except FileNotFoundError as exc:
        raise AssetError(f"{path} has no weight files: {exc}") from exc
    model = load_sentence_transformer(name_or_path, device=device)
    if max_seq_length and max_seq_length < (model.max_seq_length or 512):
        model.max_seq_length = max_seq_length
    prompts, fallback = declared_prompts(model)
    return SentenceTransformerBackend(
        name=name_or_path if name_or_path in MODELS else path.name, path=str(path),
        kind="sentence-transformers", model_id=model_id, dim=int(embedding_dimension(model)),
        max_seq_length=int(model.max_seq_length or 512),
        n_params=sum(p.numel() for p in model.parameters()), config_digest=_config_digest(path),
        dtype=resolve_dtype(dtype, device, what="eval dtype", half_fallback=True),
        model=model, prompts=prompts, fallback_prompts=fallback)


def _config_digest(folder: Path) -> str:
    """Short hash of a checkpoint's module configs (pooling, normalisation), for the cache key."""
    import hashlib

    digest = hashlib.sha256()
    for f in sorted(folder.glob("*.json")) + sorted(folder.glob("*/config.json")):
        if not f.name.startswith(("tokenizer", "special_tokens")):
            digest.update(f.name.encode())
            digest.update(f.read_bytes())
    return digest.hexdigest()[:8]


def declared_prompts(model) -> tuple[dict[str, str], dict[str, str]]:
    """A SentenceTransformer's prompts as mteb's wrapper sees them, and the model's fallbacks.

    First: the prompts whose keys mteb's ``validate_task_to_prompt_name`` keeps (mteb drops the
    rest with a warning). Second: what ``encode_query`` / ``encode_document`` / ``encode`` use
    when mteb passes no prompt: ``query``; the first of ``document``, ``passage``, ``corpus``;
    ``prompts[default_prompt_name]``.
    """
    import warnings

    from mteb.models.abs_encoder import AbsEncoder

    raw = {k: v for k, v in (getattr(model, "prompts", None) or {}).items() if v is not None}
    fallback = {"query": raw.get("query"),
                "document": next((raw[k] for k in ("document", "passage", "corpus")
                                  if k in raw), None),
                "default": raw.get(getattr(model, "default_prompt_name", None) or "")}
    fallback = {k: v for k, v in fallback.items() if v is not None}
    if not raw:
        return {}, fallback
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the keys mteb drops are dropped here too
        valid, _ = AbsEncoder.validate_task_to_prompt_name(raw, raise_for_invalid_keys=False)
    return dict(valid or {}), fallback
