"""The evaluation runner: tasks through mteb's evaluators, every score into the store.

Order of work: resolve tasks and load the model (all input errors surface here, before any row
is written), skip (task, dim) pairs already scored for this model and eval key, load and check
each remaining task's data, open a ``runs`` row, then per task: evaluate each requested dim with
``mteb.evaluate(model, task, cache=None)``, turn mteb's predictions into item scores, and write
the task's rows in one transaction. A killed run therefore leaves whole tasks only, and a rerun
resumes.

The model under evaluation is an :class:`EvalModel`: an encoder (:class:`EmbeddingModel`, whose
embedding cache makes every dim after the first free) or a lexical baseline
(:class:`gecko_bench.eval.lexical.LexicalModel`). Both go through the same loop and the same rows.
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol as TypingProtocol

import pandas as pd

from gecko_bench.config import EvalConfig
from gecko_bench.errors import InputError
from gecko_bench.eval.cache import EmbeddingCache
from gecko_bench.eval.backends import load_backend
from gecko_bench.eval.encoder import GeckoEncoder
from gecko_bench.eval.items import clustering_rows, item_rows
from gecko_bench.eval.prompts import check_style, resolve_style
from gecko_bench.eval.resolve import TaskSpec, load_checked, resolve
from gecko_bench.store.scores import Protocol

# The version of how a stored score is computed from a model's vectors (mteb's evaluators, our
# item metrics, clustering experiments); part of every score's identity. Bump it with any change
# that alters a stored number for the same model, task and protocol; the exact commit of a run is
# recorded separately (runs.git_sha).
SCORING_VERSION = "2"

ITEM_COLUMNS = ["dim", "subset", "split", "item_id", "metric", "value"]


@dataclass(frozen=True)
class TaskSource:
    """Which tasks an evaluation scores and where their data comes from.

    One of a suite, task names, a BEIR folder (``beir_dir``) or a tasks file; `langs` narrows
    multilingual tasks to those languages and `data_dir` overrides the data root. Empty: the
    default suite of :class:`~gecko_bench.config.EvalConfig`.
    """

    suite: str | None = None
    tasks: list[str] | None = None
    langs: list[str] | None = None
    data_dir: str | Path | None = None
    beir_dir: str | Path | None = None
    tasks_file: str | Path | None = None

    @classmethod
    def of(cls, config: EvalConfig) -> TaskSource:
        """The tasks a profile's eval config names (its task list, else its suite)."""
        return cls(tasks=list(config.tasks)) if config.tasks else cls(suite=config.suite)

    def resolve(self) -> list[TaskSpec]:
        """The task specs (InputError for an unknown task, suite or source)."""
        empty = not (self.suite or self.tasks or self.beir_dir or self.tasks_file)
        return resolve(suite=EvalConfig().suite if empty else self.suite, tasks=self.tasks,
                       langs=self.langs, data_dir=self.data_dir, beir_dir=self.beir_dir,
                       tasks_file=self.tasks_file)

    def as_config(self) -> dict[str, Any]:
        """The run config's record of the source (paths as strings)."""
        return {"suite": self.suite, "tasks": self.tasks, "langs": self.langs,
                **{k: str(v) if v else None for k, v in (("data_dir", self.data_dir),
                                                         ("beir_dir", self.beir_dir),
                                                         ("tasks_file", self.tasks_file))}}


@dataclass(frozen=True)
class RunContext:
    """Where an evaluation stands in the store's lineage and how it runs; not part of any
    score's identity. A `run_id` already in the store (a job's) gets the scores and is left
    for its owner to finish. ``cache_dir`` overrides ``$GECKO_BENCH_HOME/embeddings``;
    ``use_cache=False`` disables the embedding cache."""

    device: str = "cpu"
    run_id: str | None = None
    profile: str | None = None
    experiment: str | None = None
    variant: str | None = None
    progress: bool = True
    cache_dir: str | Path | None = None
    use_cache: bool = True


class EvalModel(TypingProtocol):
    """A model the runner can score: its identity, protocol and dims, and one task at a time."""

    name: str
    model_id: str
    namespace: str          # stands in the eval key for the vectors' provenance
    protocol: Protocol
    dims: list[int]

    def model_row(self) -> dict[str, Any]: ...
    def run_config(self) -> dict[str, Any]: ...
    def scorable(self, specs: list[TaskSpec]) -> list[TaskSpec]: ...
    def session(self, pending: bool, bars: Any) -> Any: ...
    def score_task(self, spec: TaskSpec, dims: list[int]) -> tuple[list, list[tuple]]: ...
    def stats(self) -> dict[str, Any]: ...


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


def evaluate(model: str, tasks: TaskSource | list[str] | None = None, *,
             config: EvalConfig, db: str | Path | None = None,
             context: RunContext = RunContext()) -> str:
    """Evaluate `model` on `tasks` (names, a :class:`TaskSource`, or None for the config's) at
    ``config``'s dims, prompt style, token cap, dtype, batch size and processes; return the run id.

    Tasks already scored for this model and eval key are skipped (per dim) and listed under the
    run config's ``skipped``. Every stored row carries the resolved protocol (prompt style, cap,
    dtype, :data:`SCORING_VERSION`) and the task's revision; the run config records the same.
    """
    from gecko_bench import provenance
    from gecko_bench.eval import lexical
    from gecko_bench.store import recorded_run

    source = tasks if isinstance(tasks, TaskSource) else (
        TaskSource(tasks=list(tasks)) if tasks else TaskSource.of(config))
    specs = source.resolve()
    scored = (lexical.load(model) if lexical.is_lexical(model)
              else EmbeddingModel(model, config, context))
    specs_scored = scored.scorable(specs)
    pending = _pending(scored, specs_scored, db)
    for spec, _, _ in pending:
        load_checked(spec)
    names_scored = {s.name for s in specs_scored}
    run_config = {"model": model, **source.as_config(), **scored.run_config(),
                  **scored.protocol.as_dict(), "model_id": scored.model_id,
                  "task_names": [s.name for s in specs_scored],
                  "not_applicable": [s.name for s in specs if s.name not in names_scored],
                  "skipped": [s.name for s in specs_scored
                              if s.name not in {p[0].name for p in pending}]}
    with recorded_run("eval", run_config, provenance.collect(context.device),
                      profile=context.profile, experiment=context.experiment,
                      variant=context.variant, db_path=db, run_id=context.run_id,
                      join=True) as run, _quiet(), _progress(context.progress) as bars, \
            scored.session(bool(pending), bars):
        _register(scored, specs, db)  # the whole suite: the leaderboard knows what is missing
        overall = bars.add_task("tasks", total=len(pending)) if bars else None
        for spec, dims, key in pending:
            if bars:
                bars.update(overall, description=f"{spec.name} (dims {dims})")
            t0 = time.perf_counter()
            results, items = scored.score_task(spec, dims)
            _write_task(scored, spec, key, run.run_id, results, items, db)
            run.durations[spec.name] = round(time.perf_counter() - t0, 3)
            if bars:
                bars.advance(overall)
        run.durations.update(scored.stats())
    return run.run_id


def _pending(scored: EvalModel, specs: list[TaskSpec],
             db: str | Path | None) -> list[tuple[TaskSpec, list[int], str]]:
    """(task, dims still to score, eval key) for every task with a dim not yet in the store."""
    from gecko_bench.store.scores import finished_dims

    pending = []
    for spec in specs:
        key = spec.eval_key(scored.protocol.as_dict(), scored.namespace)
        done = finished_dims(db, scored.model_id, key)
        todo = [d for d in scored.dims if d not in done]
        if todo:
            pending.append((spec, todo, key))
    return pending


def _register(scored: EvalModel, specs: list[TaskSpec], db: str | Path | None) -> None:
    """Register the model and every requested suite's tasks, in one transaction."""
    from gecko_bench import store
    from gecko_bench.store.scores import register_suite

    with store.transaction(db) as con:
        store.upsert_model(con=con, **scored.model_row())
        for label in {s.suite for s in specs}:
            register_suite(label, [(s.name, s.category, s.revision) for s in specs
                                   if s.suite == label], con=con)


def _write_task(scored: EvalModel, spec: TaskSpec, key: str, run_id: str, results: list,
                items: list[tuple], db: str | Path | None) -> None:
    """One task's score rows and item rows, in one transaction."""
    from gecko_bench.store.scores import write_task

    identity = dict(scored.protocol.as_dict(), task_revision=spec.revision)
    common = dict(run_id=run_id, model_id=scored.model_id, suite=spec.suite, eval_key=key,
                  **identity)
    rows = [r for dim, res in results for r in _score_rows(spec, res, dim, **common)]
    item_frame = pd.DataFrame(items, columns=ITEM_COLUMNS).assign(
        run_id=run_id, model_id=scored.model_id, task=spec.name, **identity)
    write_task(pd.DataFrame(rows), item_frame, db)


def mteb_evaluate(model: Any, spec: TaskSpec, **kwargs: Any) -> tuple[Any, list[tuple]]:
    """One task through ``mteb.evaluate``: its TaskResult and its item rows (from mteb's
    predictions file, read before the temporary folder goes)."""
    import mteb

    _reset_task_seed(spec.task)  # every dim and model sees the same resampling
    with tempfile.TemporaryDirectory(prefix="gecko-eval-") as tmp:
        res = mteb.evaluate(model, spec.task, cache=None, prediction_folder=tmp,
                            show_progress_bar=False, co2_tracker=False, **kwargs)
        if res.exceptions:
            raise RuntimeError(f"task {spec.name} failed: {res.exceptions[0].exception}")
        return res.task_results[0], item_rows(spec.task, Path(tmp) / spec.task.prediction_file_name)


class EmbeddingModel:
    """An encoder under evaluation: its backend (loaded here, so bad input fails before any
    row), the resolved prompt style, dims and protocol, and the encoder mteb calls."""

    def __init__(self, name: str, config: EvalConfig, context: RunContext) -> None:
        check_style(config.prompt_style)
        self.backend = load_backend(name, device=context.device,
                                    max_seq_length=config.max_seq_length, dtype=config.dtype)
        self.backend.check_pool(config.processes)
        self.config, self.context = config, context
        self.name, self.model_id = self.backend.name, self.backend.model_id
        self.namespace = self.backend.namespace
        self.prompt_style = resolve_style(config.prompt_style, self.backend.declares_prompts,
                                          self.backend.own_prefix, self.backend.name)
        self.dims = parse_dims(config.dims, self.backend.dim)
        self.protocol = Protocol(self.prompt_style, self.backend.max_seq_length,
                                 self.backend.dtype, SCORING_VERSION)
        self.encoder: GeckoEncoder | None = None

    def model_row(self) -> dict[str, Any]:
        b = self.backend
        return dict(model_id=b.model_id, name=b.name, path=b.path, kind=b.kind,
                    n_params=b.n_params, dim=b.dim)

    def run_config(self) -> dict[str, Any]:
        return {"model_path": self.backend.path, "dims": self.dims,
                "batch_size": self.config.batch_size, "processes": self.config.processes}

    def scorable(self, specs: list[TaskSpec]) -> list[TaskSpec]:
        return specs

    @contextmanager
    def session(self, pending: bool, bars: Any) -> Iterator[None]:
        """The encoder (and its worker pool, when there is work) for the run's tasks."""
        ctx = self.context
        cache = EmbeddingCache(self.namespace, ctx.cache_dir) if ctx.use_cache else None
        self.encoder = GeckoEncoder(self.backend, self.prompt_style, cache,
                                    self.config.batch_size, bars)
        try:
            if pending:
                self.backend.start_pool(self.config.processes, ctx.device)
            yield
        finally:
            self.backend.stop_pool()

    def score_task(self, spec: TaskSpec, dims: list[int]) -> tuple[list, list[tuple]]:
        """mteb results per dim and item rows per dim for one task."""
        self.encoder.set_task(spec.task)
        results, items = [], []
        for dim in dims:
            self.encoder.dim = dim
            result, rows = mteb_evaluate(
                self.encoder, spec, encode_kwargs={"batch_size": self.config.batch_size,
                                                   "show_progress_bar": False})
            results.append((dim, result))
            items += [(dim, *row) for row in rows]
            items += [(dim, *row) for row in clustering_rows(spec.task, result)]
        return results, items

    def stats(self) -> dict[str, Any]:
        st = self.encoder.stats
        return dict(encode_s=round(st.encode_s, 3), texts=st.texts, unique_texts=st.unique,
                    texts_encoded=st.encoded, cache_hits=st.cache_hits)


@contextmanager
def _quiet() -> Iterator[None]:
    """mteb's info logs and the datasets library's per-map bars off for the run (ours replace
    them)."""
    import datasets

    logging.getLogger("mteb").setLevel(logging.WARNING)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    bars_were_on = not datasets.utils.are_progress_bars_disabled()
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        if bars_were_on:
            datasets.enable_progress_bars()


def _progress(enabled: bool):
    from contextlib import nullcontext

    if not enabled:
        return nullcontext(None)
    from gecko_bench.progress import StageProgress

    return StageProgress(transient=False)
