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
import tempfile
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from gecko_bench.errors import InputError
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
    """A loaded lexical model and the facts the store needs about it."""

    name: str
    search: Any            # mteb SearchProtocol (index + search)
    identity: dict[str, Any]

    @property
    def model_id(self) -> str:
        return hashlib.sha256(json.dumps(self.identity, sort_keys=True).encode()).hexdigest()

    @property
    def namespace(self) -> str:
        """Stands where an embedding model's cache namespace stands in the eval key."""
        return f"{KIND}-{self.model_id[:32]}"


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


def evaluate(model: str, suite: str | None = None, tasks: list[str] | None = None,
             prompt_style: str | None = None, db_path=None, langs: list[str] | None = None,
             data_dir=None, beir_dir=None, tasks_file=None, experiment: str | None = None,
             variant: str | None = None, run_id: str | None = None, progress: bool = True,
             profile: str | None = None, device: str = "cpu", **ignored: Any) -> str:
    """:func:`gecko_bench.eval.runner.evaluate` for a lexical model; return the run id.

    Same task options, store rows, resumption and run row as the runner. `dims`,
    `max_seq_length`, `dtype`, `batch_size` and the embedding-cache options do not apply and
    are ignored, and so is `prompt_style` (BM25 reads the raw text): the stored protocol says
    what ran.
    """
    import mteb

    from gecko_bench import store
    from gecko_bench.eval.items import item_rows
    from gecko_bench.eval.resolve import load_checked, resolve
    from gecko_bench.eval.runner import (
        SCORING_VERSION,
        _progress,
        _reset_task_seed,
        _score_rows,
        open_eval_run,
        source_config,
    )
    from gecko_bench.store import scores as score_store

    if not (suite or tasks or beir_dir or tasks_file):
        from gecko_bench.config import EvalConfig

        suite = EvalConfig().suite
    specs = resolve(suite=suite, tasks=tasks, langs=langs, data_dir=data_dir,
                    beir_dir=beir_dir, tasks_file=tasks_file)
    kept = [s for s in specs if is_retrieval(s.task)]
    others = [s for s in specs if not is_retrieval(s.task)]
    if not kept:
        cats = sorted({s.category for s in specs})
        raise InputError(f"{model} scores Retrieval and Reranking tasks only, and none of the "
                         f"{len(specs)} requested task(s) is one ({', '.join(cats)})")
    lexical = load(model)
    if others:
        print(f"{model}: skipping {len(others)} task(s) that are not retrieval/reranking (a "
              f"lexical model has no embeddings): {', '.join(s.name for s in others)}",
              flush=True)
    protocol = Protocol(PROMPT_STYLE, NO_TOKEN_CAP, DTYPE, SCORING_VERSION)
    model_id = lexical.model_id

    pending = []
    for spec in kept:
        key = spec.eval_key(protocol.as_dict(), lexical.namespace)
        if NO_DIM not in score_store.finished_dims(db_path, model_id, key):
            pending.append((spec, key))
    for spec, _ in pending:
        load_checked(spec)

    logging.getLogger("mteb").setLevel(logging.WARNING)
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    config = {"model": model, "model_path": None, "suite": suite, "tasks": tasks,
              "dims": [NO_DIM], **source_config(langs, data_dir, beir_dir, tasks_file),
              **protocol.as_dict(), "model_id": model_id, "lexical": lexical.identity,
              "task_names": [s.name for s in kept],
              "not_applicable": [s.name for s in others],
              "skipped": [s.name for s in kept if s.name not in {p[0].name for p in pending}]}
    # The whole suite is registered (specs, not kept), so the leaderboard knows what BM25 lacks.
    run_id, owned = open_eval_run(
        config, specs, dict(model_id=model_id, name=lexical.name, path=None, kind=KIND,
                            n_params=0),
        run_id=run_id, db_path=db_path, device=device, profile=profile,
        experiment=experiment, variant=variant)

    started = time.perf_counter()
    durations: dict[str, float] = {}
    try:
        with _progress(progress) as bars:
            overall = bars.add_task("tasks", total=len(pending)) if bars else None
            for spec, key in pending:
                if bars:
                    bars.update(overall, description=f"{spec.name} ({model})")
                t0 = time.perf_counter()
                _reset_task_seed(spec.task)
                with tempfile.TemporaryDirectory(prefix="gecko-eval-") as tmp:
                    res = mteb.evaluate(lexical.search, spec.task, cache=None,
                                        prediction_folder=tmp, show_progress_bar=False,
                                        co2_tracker=False)
                    if res.exceptions:
                        raise RuntimeError(f"task {spec.name} failed: "
                                           f"{res.exceptions[0].exception}")
                    items = item_rows(spec.task, Path(tmp) / spec.task.prediction_file_name)
                identity = dict(protocol.as_dict(), task_revision=spec.revision)
                common = dict(run_id=run_id, model_id=model_id, suite=spec.suite, eval_key=key,
                              **identity)
                rows = _score_rows(spec, res.task_results[0], NO_DIM, **common)
                item_frame = pd.DataFrame([(NO_DIM, *r) for r in items],
                                          columns=["dim", "subset", "split", "item_id", "metric",
                                                   "value"])
                item_frame = item_frame.assign(run_id=run_id, model_id=model_id,
                                               task=spec.name, **identity)
                score_store.write_task(pd.DataFrame(rows), item_frame, db_path)
                durations[spec.name] = round(time.perf_counter() - t0, 3)
                if bars:
                    bars.advance(overall)
        durations["total_s"] = round(time.perf_counter() - started, 3)
    except BaseException as exc:
        if owned:
            store.finish_run(run_id, "failed", durations, f"{type(exc).__name__}: {exc}",
                             db_path=db_path)
        raise
    if owned:
        store.finish_run(run_id, "finished", durations, db_path=db_path)
    return run_id
