"""The evaluation runner: tasks through mteb's evaluators, every score into the store.

Order of work: resolve tasks and load the model (all input errors surface here, before any row
is written), skip (task, dim) pairs already scored for this model and eval key, load and check
each remaining task's data, open a ``runs`` row, then per task: evaluate each requested dim with
``mteb.evaluate(encoder, task, cache=None)`` (the encoder's embedding cache makes every dim after
the first free), turn mteb's predictions into item scores, and write the task's rows in one
transaction. A killed run therefore leaves whole tasks only, and a rerun resumes.
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
import time
from pathlib import Path

import pandas as pd

from gecko_bench.errors import InputError
from gecko_bench.eval import lexical
from gecko_bench.eval.cache import EmbeddingCache
from gecko_bench.eval.encoder import GeckoEncoder, load_backend
from gecko_bench.eval.items import clustering_rows, item_rows
from gecko_bench.eval.prompts import check_style, resolve_style
from gecko_bench.eval.resolve import TaskSpec, load_checked, resolve
from gecko_bench.store.scores import Protocol

# The version of how a stored score is computed from a model's vectors (mteb's evaluators, our
# item metrics, clustering experiments); part of every score's identity. Bump it with any change
# that alters a stored number for the same model, task and protocol; the exact commit of a run is
# recorded separately (runs.git_sha).
SCORING_VERSION = "2"


def parse_dims(dims: list[int] | None, model_dim: int) -> list[int]:
    """Requested dims, largest first; default the model's full dim; InputError if invalid."""
    if not dims:
        return [model_dim]
    bad = [d for d in dims if d > model_dim or d < 1]
    if bad:
        raise InputError(f"dims {', '.join(map(str, bad))} are not in 1..{model_dim} "
                         f"(the model's embedding dim)")
    return sorted(set(int(d) for d in dims), reverse=True)


def _score_rows(spec: TaskSpec, result, dim: int, **common) -> list[dict]:
    """Flatten an mteb TaskResult to one row per scalar metric (main metric flagged)."""
    main = spec.task.metadata.main_score
    multilingual = bool(spec.task.metadata.is_multilingual)
    rows = []
    for split, per_subset in result.scores.items():
        for entry in per_subset:
            base = dict(common, task=spec.name, category=spec.category,
                        subset=entry.get("hf_subset", "default"),
                        languages=",".join(entry.get("languages", []) or []),
                        multilingual=multilingual, split=split, dim=dim)
            values = {m: v for m, v in entry.items() if m not in ("hf_subset", "languages")
                      and isinstance(v, (int, float)) and not isinstance(v, bool)
                      and not math.isnan(float(v))}
            if main not in values and "main_score" in values:  # main metric only as main_score
                values[main] = values["main_score"]
            values.pop("main_score", None)
            rows += [dict(base, metric=m, value=float(v), is_main=m == main)
                     for m, v in values.items()]
    return rows


def _evaluate_task(encoder: GeckoEncoder, spec: TaskSpec, dims: list[int],
                   batch_size: int) -> tuple[list[tuple[int, object]], list[tuple]]:
    """mteb results per dim and item rows per dim for one task."""
    import mteb

    encoder.set_task(spec.task)
    results, items = [], []
    for dim in dims:
        encoder.dim = dim
        _reset_task_seed(spec.task)  # every dim and model sees the same resampling
        with tempfile.TemporaryDirectory(prefix="gecko-eval-") as tmp:
            res = mteb.evaluate(encoder, spec.task, cache=None, prediction_folder=tmp,
                                show_progress_bar=False, co2_tracker=False,
                                encode_kwargs={"batch_size": batch_size,
                                               "show_progress_bar": False})
            if res.exceptions:
                raise RuntimeError(f"task {spec.name} failed: {res.exceptions[0].exception}")
            results.append((dim, res.task_results[0]))
            pred = Path(tmp) / spec.task.prediction_file_name
            items += [(dim, *row) for row in item_rows(spec.task, pred)]
            items += [(dim, *row) for row in clustering_rows(spec.task, res.task_results[0])]
    return results, items


def _reset_task_seed(task) -> None:
    """Rewind the task's random state, as a fresh task object has it.

    mteb's clustering draws its bootstrap samples from ``task.rng_state``; without the rewind the
    second dim (or a second model in one process) would be scored on other samples, and the
    per-experiment scores of two models would not pair up.
    """
    import random

    import numpy as np

    task.rng_state = random.Random(task.seed)
    task.np_rng = np.random.default_rng(task.seed)


def evaluate(model: str, suite: str | None = None, tasks: list[str] | None = None,
             dims: list[int] | None = None, prompt_style: str = "auto", db_path=None,
             device: str = "cpu", batch_size: int = 32, langs: list[str] | None = None,
             data_dir=None, beir_dir=None, tasks_file=None, experiment: str | None = None,
             variant: str | None = None, run_id: str | None = None, progress: bool = True,
             cache_dir: str | Path | None = None, use_cache: bool = True,
             profile: str | None = None, max_seq_length: int | None = None,
             dtype: str = "float32", processes: int = 1) -> str:
    """Evaluate `model` on the requested tasks and dims; return the run id.

    Tasks already scored for this model, prompt style and data source are skipped (per dim);
    the run row lists them under ``config.skipped``. ``prompt_style`` ``auto`` (the default)
    is the model's own convention (:func:`gecko_bench.eval.prompts.resolve_style`); the
    resolved style is what is stored. A `run_id` that already exists in the
    store gets the scores attached and is left for its owner to finish. ``cache_dir`` overrides
    ``$GECKO_BENCH_HOME/embeddings``; ``use_cache=False`` disables the embedding cache.
    ``max_seq_length`` caps input tokens (the model's own limit when None or lower); ``dtype``
    is the compute dtype (float32 by default; auto: bfloat16 where native). ``processes`` > 1
    encodes through that many worker processes (same scores; not part of any key). Every stored row
    carries the resolved protocol (prompt style, cap, dtype, :data:`SCORING_VERSION`) and the
    task's revision; the run config records the same protocol.
    """
    if lexical.is_lexical(model):  # BM25: no encoder, retrieval tasks only (eval/lexical.py)
        return lexical.evaluate(**locals())
    from gecko_bench import store
    from gecko_bench.store import scores as score_store

    check_style(prompt_style)
    if not (suite or tasks or beir_dir or tasks_file):
        from gecko_bench.config import EvalConfig

        suite = EvalConfig().suite
    specs = resolve(suite=suite, tasks=tasks, langs=langs, data_dir=data_dir,
                    beir_dir=beir_dir, tasks_file=tasks_file)
    backend = load_backend(model, device=device, max_seq_length=max_seq_length, dtype=dtype)
    backend.check_pool(processes)  # before anything is stored
    prompt_style = resolve_style(prompt_style, backend.declares_prompts, backend.own_prefix,
                                 backend.name)
    dims = parse_dims(dims, backend.dim)
    protocol = Protocol(prompt_style, backend.max_seq_length, backend.dtype, SCORING_VERSION)

    pending: list[tuple[TaskSpec, list[int], str]] = []
    for spec in specs:
        key = spec.eval_key(protocol.as_dict(), backend.namespace)
        todo = [d for d in dims if d not in score_store.finished_dims(db_path, backend.model_id,
                                                                        key)]
        if todo:
            pending.append((spec, todo, key))
    for spec, _, _ in pending:
        load_checked(spec)

    logging.getLogger("mteb").setLevel(logging.WARNING)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    config = {"model": model, "model_path": backend.path, "suite": suite, "tasks": tasks,
              "dims": dims, "batch_size": batch_size, "processes": processes,
              **source_config(langs, data_dir, beir_dir, tasks_file),
              **protocol.as_dict(), "model_id": backend.model_id,
              "task_names": [s.name for s in specs],
              "skipped": [s.name for s in specs if s.name not in {p[0].name for p in pending}]}
    run_id, owned = open_eval_run(
        config, specs, dict(model_id=backend.model_id, name=backend.name, path=backend.path,
                            kind=backend.kind, n_params=backend.n_params, dim=backend.dim),
        run_id=run_id, db_path=db_path, device=device, profile=profile,
        experiment=experiment, variant=variant)

    cache = EmbeddingCache(backend.namespace, cache_dir) if use_cache else None
    started = time.perf_counter()
    durations: dict[str, float] = {}
    import datasets

    bars_were_on = not datasets.utils.are_progress_bars_disabled()
    datasets.disable_progress_bars()  # ours replace the per-map bars of mteb's data handling
    try:
        if pending:
            backend.start_pool(processes, device)
        with _progress(progress) as bars:
            encoder = GeckoEncoder(backend, prompt_style, cache, batch_size, bars)
            overall = bars.add_task("tasks", total=len(pending)) if bars else None
            for spec, todo, key in pending:
                if bars:
                    bars.update(overall, description=f"{spec.name} (dims {todo})")
                t0 = time.perf_counter()
                results, items = _evaluate_task(encoder, spec, todo, batch_size)
                identity = dict(protocol.as_dict(), task_revision=spec.revision)
                common = dict(run_id=run_id, model_id=backend.model_id, suite=spec.suite,
                              eval_key=key, **identity)
                rows = [r for dim, res in results for r in _score_rows(spec, res, dim, **common)]
                item_frame = pd.DataFrame(
                    items, columns=["dim", "subset", "split", "item_id", "metric", "value"])
                item_frame = item_frame.assign(run_id=run_id, model_id=backend.model_id,
                                               task=spec.name, **identity)
                score_store.write_task(pd.DataFrame(rows), item_frame, db_path)
                durations[spec.name] = round(time.perf_counter() - t0, 3)
                if bars:
                    bars.advance(overall)
        st = encoder.stats
        durations.update(total_s=round(time.perf_counter() - started, 3),
                         encode_s=round(st.encode_s, 3), texts=st.texts,
                         unique_texts=st.unique, texts_encoded=st.encoded,
                         cache_hits=st.cache_hits)
    except BaseException as exc:
        if owned:
            store.finish_run(run_id, "failed", durations, f"{type(exc).__name__}: {exc}",
                             db_path=db_path)
        raise
    finally:
        backend.stop_pool()
        if bars_were_on:
            datasets.enable_progress_bars()
    if owned:
        store.finish_run(run_id, "finished", durations, db_path=db_path)
    return run_id


def source_config(langs, data_dir, beir_dir, tasks_file) -> dict:
    """The data-source part of an eval run's config (paths as strings)."""
    return {"langs": langs, "data_dir": str(data_dir) if data_dir else None,
            "beir_dir": str(beir_dir) if beir_dir else None,
            "tasks_file": str(tasks_file) if tasks_file else None}


def open_eval_run(config: dict, specs: list[TaskSpec], model_row: dict, *, run_id, db_path,
                  device: str, profile, experiment, variant) -> tuple[str, bool]:
    """Start the eval run (or join an existing one), register the model and the suites' tasks.

    Returns (run id, owned): an existing run id (e.g. a pipeline's) gets the scores attached and
    is left for its owner to finish. Shared by the embedding and the lexical evaluations.
    """
    from gecko_bench import store
    from gecko_bench.provenance import collect
    from gecko_bench.store import scores as score_store

    owned = run_id is None or not _run_exists(run_id, db_path)
    if owned:
        run_id = store.start_run("eval", config, collect(device), profile=profile,
                                 experiment=experiment, variant=variant, db_path=db_path,
                                 run_id=run_id)
    with store.transaction(db_path) as con:
        store.upsert_model(con=con, **model_row)
        for label in {s.suite for s in specs}:
            score_store.register_suite(label, [(s.name, s.category, s.revision) for s in specs
                                               if s.suite == label], con=con)
    return run_id, owned


def _run_exists(run_id: str, db_path) -> bool:
    from gecko_bench.store import default_db_path, get_run

    path = Path(db_path) if db_path else default_db_path()
    return path.exists() and get_run(run_id, path) is not None


def _progress(enabled: bool):
    from contextlib import nullcontext

    if not enabled:
        return nullcontext(None)
    from gecko_bench.progress import StageProgress

    return StageProgress(transient=False)
