"""The mteb encoder our runner hands to ``mteb.evaluate``: prompts, cache, MRL, batching.

:class:`GeckoEncoder` implements mteb's ``EncoderProtocol`` over a
:class:`~gecko_bench.eval.backends.Backend` (one module per model kind under
:mod:`gecko_bench.eval.backends`). Per ``encode`` call it renders the
texts in the chosen prompt style, drops duplicates, looks each rendered text up in the
:class:`~gecko_bench.eval.cache.EmbeddingCache`, encodes only the misses (longest first, so
batches carry little padding; under ``torch.autocast`` in the backend's resolved dtype when
that is bfloat16/float16, on CPU or CUDA) and returns full-dim float32 vectors
truncated to ``encoder.dim`` and re-normalised (Matryoshka scoring). Setting ``dim`` and
evaluating again therefore re-scores without re-encoding.

mteb's own ``CachedEmbeddingWrapper`` keys its cache per task and item, so it cannot share
vectors across tasks or notice a changed checkpoint; hence this wrapper.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from gecko_bench.eval.backends import Backend
from gecko_bench.eval.cache import EmbeddingCache, text_key
from gecko_bench.eval.prompts import TaskPrompt, render, task_prompt

@dataclass
class EncodeStats:
    """What the encoder did: texts asked for, unique texts, texts actually run through the model."""

    texts: int = 0
    unique: int = 0
    encoded: int = 0
    cache_hits: int = 0
    encode_s: float = 0.0


class GeckoEncoder:
    """mteb EncoderProtocol over a :class:`Backend` with prompt styles, cache and MRL dims."""

    def __init__(self, backend: Backend, prompt_style: str = "gecko",
                 cache: EmbeddingCache | None = None, batch_size: int = 32,
                 progress=None) -> None:
        from mteb.models.model_meta import ModelMeta

        self.backend = backend
        self.prompt_style = prompt_style
        self.cache = cache
        self.batch_size = batch_size
        self.progress = progress          # a rich Progress, or None for no bars
        self.dim: int | None = None       # output dim; None = full
        self.stats = EncodeStats()
        self._prompts: dict[str, TaskPrompt] = {}
        self._meta = ModelMeta.create_empty(overwrites=dict(
            name=f"gecko-bench/{backend.name}", revision=backend.model_id[:12],
            embed_dim=backend.dim, similarity_fn_name="cosine", n_parameters=backend.n_params,
            max_tokens=backend.max_seq_length, framework=["Sentence Transformers"]))

    @property
    def mteb_model_meta(self):
        """mteb's metadata object for this model."""
        return self._meta

    def set_task(self, task) -> None:
        """Register a task's instruction and symmetry before it is evaluated."""
        self._prompts[task.metadata.name] = task_prompt(task)

    def encode(self, inputs, *, task_metadata, hf_split: str, hf_subset: str,
               prompt_type=None, **kwargs: Any) -> np.ndarray:
        """Embed an mteb DataLoader's texts (cached, deduplicated, truncated to ``dim``)."""
        from mteb.types import PromptType

        texts, bodies, titles = _loader_texts(inputs)
        prompt = self._prompts.get(task_metadata.name)
        if prompt is None:
            prompt = task_prompt(_MetaOnly(task_metadata))
        document = prompt_type == PromptType.document
        if self.prompt_style == "model":
            rendered = self._with_model_prompt(texts, task_metadata, prompt_type)
        else:
            rendered = render(texts, self.prompt_style, prompt, document, bodies, titles,
                              own_prefix=self.backend.own_prefix)
        is_query = not (document and not prompt.symmetric)
        vectors = self.embed(rendered, is_query, label=task_metadata.name)
        return self.project(vectors)

    def _with_model_prompt(self, texts: list[str], task_metadata, prompt_type) -> list[str]:
        """mteb's texts with the prompt mteb's sentence-transformers wrapper would pass.

        The lookup is mteb's own ``get_prompt_name``; with no match sentence-transformers
        itself falls back to ``prompts["query"]`` for queries (``encode_query``) or to the
        default prompt (``encode``), and so does this. A prompt is a plain prefix of the text,
        as ``SentenceTransformer.encode(prompt=...)`` makes it.
        """
        from mteb.models.abs_encoder import get_prompt_name
        from mteb.types import PromptType

        name = get_prompt_name(self.backend.prompts, task_metadata, prompt_type)
        prefix = self.backend.prompts.get(name) if name else None
        if prefix is None:
            side = {PromptType.query: "query", PromptType.document: "document"}
            prefix = self.backend.fallback_prompts.get(side.get(prompt_type, "default"))
        return [(prefix or "") + t for t in texts]

    def embed(self, rendered: list[str], is_query: bool = True, label: str = "") -> np.ndarray:
        """Full-dim vectors of rendered texts, from the cache where possible."""
        self.stats.texts += len(rendered)
        keyed = rendered
        if self.backend.own_prefix:  # the model reads the prefix too: make it part of the key
            keyed = [("query: " if is_query else "passage: ") + t for t in rendered]
        unique = list(dict.fromkeys(keyed))
        self.stats.unique += len(unique)
        position = {t: i for i, t in enumerate(unique)}
        keys = [text_key(t) for t in unique]
        out = np.empty((len(unique), self.backend.dim), dtype=np.float32)
        hit_idx: list[int] = []
        if self.cache is not None:
            hit_idx, hit_vecs = self.cache.get(keys)
            if hit_idx:
                out[hit_idx] = hit_vecs
        self.stats.cache_hits += len(hit_idx)
        hit_set = set(hit_idx)
        missing = [i for i in range(len(unique)) if i not in hit_set]
        if missing:
            source = dict(zip(keyed, rendered))
            new = self._encode_missing([source[unique[i]] for i in missing], is_query, label)
            out[missing] = new
            if self.cache is not None:
                self.cache.add([keys[i] for i in missing], new)
        return out[[position[t] for t in keyed]]

    def _encode_missing(self, texts: list[str], is_query: bool, label: str) -> np.ndarray:
        start = time.perf_counter()
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = np.empty((len(texts), self.backend.dim), dtype=np.float32)
        bar = None
        if self.progress is not None:
            bar = self.progress.add_task(f"  encoding {label}", total=len(texts))
        if self.backend.pooled:  # the workers take chunks of the longest-first order
            out[order] = self.backend.encode_pooled([texts[i] for i in order], self.batch_size)
        else:
            for lo in range(0, len(order), self.batch_size):
                idx = order[lo: lo + self.batch_size]
                out[idx] = self.backend.encode_batch([texts[i] for i in idx], is_query)
                if bar is not None:
                    self.progress.advance(bar, len(idx))
        if bar is not None:
            self.progress.remove_task(bar)
        self.stats.encoded += len(texts)
        self.stats.encode_s += time.perf_counter() - start
        return out

    def project(self, vectors: np.ndarray) -> np.ndarray:
        """Truncate to ``dim`` and L2-renormalise; full dim passes through unchanged."""
        if self.dim is None or self.dim >= vectors.shape[1]:
            return vectors
        cut = vectors[:, : self.dim]
        norms = np.linalg.norm(cut, axis=1, keepdims=True)
        return cut / np.maximum(norms, 1e-12)

    def similarity(self, embeddings1, embeddings2):
        """Cosine similarity matrix (mteb's implementation)."""
        from mteb.similarity_functions import cos_sim

        return cos_sim(embeddings1, embeddings2)

    def similarity_pairwise(self, embeddings1, embeddings2):
        """Row-wise cosine similarity (mteb's implementation)."""
        from mteb.similarity_functions import pairwise_cos_sim

        return pairwise_cos_sim(embeddings1, embeddings2)


@dataclass
class _MetaOnly:
    """Stand-in task for prompt lookup when only the metadata is known."""

    metadata: Any


def _loader_texts(inputs) -> tuple[list[str], list[str] | None, list[str | None] | None]:
    """mteb's texts of a DataLoader, plus document bodies and titles when present."""
    dataset = getattr(inputs, "dataset", None)
    columns = getattr(dataset, "column_names", None)
    if columns is None or "text" not in columns:
        return [t for batch in inputs for t in batch["text"]], None, None
    texts = list(dataset["text"])
    bodies = list(dataset["body"]) if "body" in columns else None
    titles = list(dataset["title"]) if "title" in columns else None
    return texts, bodies, titles
