"""The lexical baseline: BM25 as a model like any other in the store.

``bm25`` is mteb's own BM25 search model (``mteb/baseline-bm25s``, class
``mteb.models.model_implementations.bm25.BM25Search``, over the ``bm25s`` package), run through
``mteb.evaluate`` exactly as plain mteb runs it, so its stored main score is the one plain mteb
gives. It indexes each task's corpus (title + text) and scores queries with BM25 (lucene
variant, k1 1.5, b 0.75); stopwords, Snowball stemmer (PyStemmer) and tokenizer follow the task
subset's language (mteb's table; e.g. English stopwords + English stemmer for an ``eng`` task,
character unigrams for Japanese). Reranking tasks (mteb 2.x: retrieval over ``top_ranked``
candidates) are served by the same model: it scores the whole corpus and keeps each query's
candidates, so every candidate is ranked as long as it is among the corpus's best
``max(k_values)`` (1000) documents, which holds for every corpus of ours (a few hundred
documents).

A lexical model has no embeddings, so it scores only the Retrieval and Reranking tasks of a
suite (every ``AbsTaskRetrieval``); the others are skipped with one printed line, and a task
list without any retrieval task is an :class:`~gecko_bench.errors.InputError`.

Identity (see :mod:`gecko_bench.store.scores`):

* ``model_id``: sha256 of :func:`bm25_identity` (engine ``bm25s`` and its version, PyStemmer's
  version, mteb's model name and revision, k1, b, delta, method, stopword / stemmer / tokenizer
  rule, frequency-stopword threshold), so another bm25s release or setting is another model.
* protocol: prompt style ``none`` (BM25 reads the raw text), ``max_seq_length`` 0 (no token cap:
  whole texts; ``--max-seq-length`` does not apply), dtype ``float32`` (bm25s scores in float32;
  ``--dtype`` does not apply), scoring version :data:`~gecko_bench.eval.runner.SCORING_VERSION`.
* ``dim`` :data:`~gecko_bench.store.scores.NO_DIM` (0): no embedding dimension; such rows match
  every dim filter of the store, so BM25 sits on a leaderboard at any dim and pairs with any
  model in ``regress``.

Item scores (per-query nDCG@10 / recall@10) come from mteb's predictions the same way as for
embedding models (:func:`gecko_bench.eval.items.item_rows`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

from gecko_bench.errors import InputError, NothingToScore
from gecko_bench.store.scores import NO_DIM, Protocol

# Model names `gecko-bench eval --model` accepts for lexical models -> mteb's model name.
LEXICAL_MODELS: dict[str, str] = {"bm25": "mteb/baseline-bm25s"}
KIND = "bm25s"                # the models table's kind
PROMPT_STYLE = "none"         # BM25 reads the raw text
NO_TOKEN_CAP = 0              # max_seq_length of a model that reads whole texts
DTYPE = "float32"             # bm25s computes its scores in float32
LICENCE = "MIT (bm25s); MIT, BSD-3-Clause (PyStemmer / Snowball)"


def is_lexical(model: str) -> bool:
    """Whether `model` names a lexical baseline (``bm25``) rather than an embedding model."""
    return model in LEXICAL_MODELS


@dataclass
class LexicalModel:
    """A loaded lexical model, scored by the runner as an :class:`~.runner.EvalModel`."""

    name: str
    search: Any            # mteb SearchProtocol (index + search)
    identity: dict[str, Any]
    dims: list[int] = field(default_factory=lambda: [NO_DIM])

    @property
    def model_id(self) -> str:
        return hashlib.sha256(json.dumps(self.identity, sort_keys=True).encode()).hexdigest()

    @property
    def namespace(self) -> str:
        """Stands where an embedding model's cache namespace stands in the eval key."""
        return f"{KIND}-{self.model_id[:32]}"

    @property
    def protocol(self) -> Protocol:
        from gecko_bench.eval.runner import SCORING_VERSION

        return Protocol(PROMPT_STYLE, NO_TOKEN_CAP, DTYPE, SCORING_VERSION)

    def model_row(self) -> dict[str, Any]:
        return dict(model_id=self.model_id, name=self.name, path=None, kind=KIND, n_params=0)

    def run_config(self) -> dict[str, Any]:
        return {"model_path": None, "dims": self.dims, "lexical": self.identity}

    def scorable(self, specs: list) -> list:
        """The retrieval and reranking tasks among `specs` (the others skipped with one printed
        line); NothingToScore if there are none."""
        kept = [s for s in specs if is_retrieval(s.task)]
        others = [s for s in specs if not is_retrieval(s.task)]
        if not kept:
            cats = sorted({s.category for s in specs})
            raise NothingToScore(f"{self.name} scores Retrieval and Reranking tasks only, and none "
                                 f"of the {len(specs)} requested task(s) is one "
                                 f"({', '.join(cats)})")
        if others:
            print(f"{self.name}: skipping {len(others)} task(s) that are not retrieval/reranking "
                  f"(a lexical model has no embeddings): {', '.join(s.name for s in others)}",
                  flush=True)
        return kept

    @contextmanager
    def session(self, pending: bool, bars: Any) -> Iterator[None]:
        logging.getLogger("bm25s").setLevel(logging.WARNING)
        yield

    def score_task(self, spec, dims: list[int]) -> tuple[list, list[tuple]]:
        """mteb's result and item rows for one task (at :data:`NO_DIM`)."""
        from gecko_bench.eval.runner import mteb_evaluate

        result, items = mteb_evaluate(self.search, spec)
        return [(NO_DIM, result)], [(NO_DIM, *row) for row in items]

    def stats(self) -> dict[str, Any]:
        return {}


def bm25_identity(search: Any, mteb_name: str) -> dict[str, Any]:
    """What produced a BM25 score: engine, versions and settings (read off the model object)."""
    import mteb

    meta = mteb.get_model_meta(mteb_name)
    tok = getattr(search, "_tokenizer_cfg", None)
    return {"engine": "bm25s", "bm25s": metadata.version("bm25s"),
            "PyStemmer": metadata.version("PyStemmer"),
            "mteb_model": meta.name, "mteb_model_revision": meta.revision,
            "k1": search.k1, "b": search.b, "delta": getattr(search, "delta", None),
            "method": getattr(search, "method", None),
            "stopwords": getattr(search, "_stopwords_cfg", None)
            or "by task language (bm25s lists)",
            "stemmer": getattr(search, "_stemmer_cfg", None)
            or "by task language (Snowball, PyStemmer)",
            "tokenizer": "by task language (bm25s default; char unigrams for CJK/Thai/...)"
            if tok is None else getattr(tok, "__qualname__", str(tok)),
            "freq_threshold": getattr(search, "_freq_threshold", None)}


def availability() -> str:
    """``installed (bm25s X)`` or how to install it (for ``gecko-bench assets list``)."""
    try:
        bm25s_version, _ = (metadata.version(p) for p in ("bm25s", "PyStemmer"))
    except metadata.PackageNotFoundError:
        return "missing: pip install bm25s PyStemmer"
    return f"installed (bm25s {bm25s_version})"


def load(name: str) -> LexicalModel:
    """mteb's BM25 search model, offline; InputError if bm25s or PyStemmer is missing."""
    if not is_lexical(name):
        raise InputError(f"{name!r} is not a lexical model ({', '.join(LEXICAL_MODELS)})")
    os.environ.setdefault("DISABLE_TQDM", "1")  # bm25s's own bars (read when it is imported)
    try:
        import bm25s  # noqa: F401
        import Stemmer  # noqa: F401
    except ImportError as exc:
        raise InputError(f"{name} needs the bm25s and PyStemmer packages: pip install bm25s "
                         f"PyStemmer ({exc})") from exc
    import mteb

    search = mteb.get_model(LEXICAL_MODELS[name])
    return LexicalModel(name, search, bm25_identity(search, LEXICAL_MODELS[name]))


def is_retrieval(task) -> bool:
    """Tasks BM25 can serve: mteb's retrieval tasks (Reranking included in mteb 2.x)."""
    from mteb.abstasks import AbsTaskRetrieval

    return isinstance(task, AbsTaskRetrieval)
