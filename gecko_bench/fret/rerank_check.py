"""Re-ranker sanity check (Gecko paper Table 6): does LLM re-ranking beat the retriever?

For each labelled query of an offline retrieval task, the retriever's top-N candidates are
re-ranked by query likelihood (QL), relevance classification (RC: raw log p(Yes), and rc_norm:
Yes normalised against No) and their RRF fusion over the configured rankers (several fusions
of the same scores in one call, a check each), with the exact
scorers the FRet build uses; nDCG@10 of each ordering is computed per query with pytrec_eval.
Candidates outside the top-N count as not retrieved for every method alike.

Every method is compared with the retriever on the *same* queries: the difference of mean
nDCG@10 gets a paired 95% bootstrap interval over queries and a paired permutation p-value
(:func:`gecko_bench.stats.paired_test`). Several teachers and several tasks run in one call
(:func:`compare`); each task's queries and retriever neighbours are computed once and shared by
every teacher, and each teacher is loaded once for all tasks.
"""

from __future__ import annotations

import gc
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytrec_eval

from gecko_bench import provenance, stats
from gecko_bench.assets import MODELS, model_dir
from gecko_bench.corpora.seeds import Passage
from gecko_bench.errors import InputError
from gecko_bench.fret import prompts
from gecko_bench.fret.neighbours import Retriever
from gecko_bench.fret.pipeline import rank_neighbours, score_pairs
from gecko_bench.llm import LLM, load_llm
from gecko_bench.progress import StageProgress
from gecko_bench.store import fret as fret_store
from gecko_bench.store import recorded_run

METHODS = ("retriever", "ql", "rc", "rc_norm", "rrf")
N_RESAMPLES = 2000  # bootstrap resamples / permutations per comparison


def _task_split(task_name: str
                ) -> tuple[list[dict], list[dict], dict[str, dict[str, int]], str | None]:
    """(queries, corpus, qrels, data revision) of a retrieval task's test split."""
    from gecko_bench.tasks import get_task

    task = get_task(task_name)
    if task.metadata.type not in ("Retrieval", "Reranking"):
        raise InputError(f"{task_name} is a {task.metadata.type} task; rerank-check needs a "
                         "retrieval task")
    task.load_data()
    subset = next(iter(task.dataset.values()))["test"]
    return (list(subset["queries"]), list(subset["corpus"]), subset["relevant_docs"],
            task.metadata.dataset.get("revision"))


def _label(model: LLM, llm: str | LLM) -> str:
    name = getattr(model, "name", str(llm))
    dtype = getattr(model, "dtype", None)
    return f"{name}@{dtype}" if dtype else name


def per_query_ndcg(qrels: dict[str, dict[str, int]],
                   run: dict[str, dict[str, float]]) -> dict[str, float]:
    """nDCG@10 of every query of `run` (pytrec_eval)."""
    evaluated = pytrec_eval.RelevanceEvaluator(
        {q: qrels[q] for q in run}, {"ndcg_cut.10"}).evaluate(run)
    return {q: evaluated[q]["ndcg_cut_10"] for q in run}


def ndcg_at_10(qrels: dict[str, dict[str, int]], run: dict[str, dict[str, float]]) -> float:
    """Mean nDCG@10 over the queries of `run` (pytrec_eval)."""
    per_query = per_query_ndcg(qrels, run)
    return sum(per_query.values()) / len(per_query)


@dataclass
class MethodScore:
    """One method's mean nDCG@10 and its paired difference from the retriever (None for the
    retriever itself)."""

    method: str
    ndcg_at_10: float
    delta: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    p_value: float | None = None


@dataclass
class CheckResult:
    """One (teacher, task) re-ranker check as stored: per-method scores and per-query nDCG."""

    check_id: str
    task: str
    task_revision: str | None
    llm: str
    retriever: str
    n_neighbours: int
    n_queries: int
    rankers: tuple[str, ...]
    rrf_k: float
    prompt_version: str
    pairs_per_s: float
    methods: dict[str, MethodScore]
    per_query: dict[str, dict[str, float]] = field(repr=False)  # method -> {query_id: nDCG}
    run_id: str | None = None  # the rerank-check run (store ``runs``) that measured it

    @property
    def scores(self) -> dict[str, float]:
        """Mean nDCG@10 per method."""
        return {m: s.ndcg_at_10 for m, s in self.methods.items()}


@dataclass
class _TaskData:
    task: str
    revision: str | None
    queries: list[dict]
    corpus: list[Passage]
    qrels: dict[str, dict[str, int]]
    idx: np.ndarray
    sims: np.ndarray


def _prepare(task: str, retriever: str, n_neighbours: int, max_queries: int | None,
             device: str) -> _TaskData:
    queries, corpus_rows, qrels, revision = _task_split(task)
    queries = [q for q in queries if q["id"] in qrels][:max_queries]
    if not queries:
        raise InputError(f"{task} has no labelled queries to check")
    if n_neighbours > len(corpus_rows):
        raise InputError(f"n_neighbours={n_neighbours} is larger than {task}'s corpus "
                         f"({len(corpus_rows)} documents)")
    corpus = [Passage(str(d["id"]), d.get("title") or "", d["text"], task, "") for d in corpus_rows]
    dense = Retriever(retriever, corpus, device)
    idx, sims = dense.search([q["text"] for q in queries], n_neighbours)
    return _TaskData(task, revision, queries, corpus, qrels, idx, sims)


def paired_scores(per_query: dict[str, dict[str, float]],
                  n_resamples: int = N_RESAMPLES) -> dict[str, MethodScore]:
    """Mean nDCG@10 per method and, for every method but the retriever, the paired bootstrap
    CI / permutation p of (method - retriever) over the retriever's queries, in one order."""
    order = list(per_query["retriever"])
    base = np.array([per_query["retriever"][q] for q in order])
    out = {"retriever": MethodScore("retriever", float(base.mean()))}
    for method, values in per_query.items():
        if method == "retriever":
            continue
        if set(values) != set(order):
            raise ValueError(f"{method} was scored on other queries than the retriever")
        cand = np.array([values[q] for q in order])
        r = stats.paired_test(base, cand, n_resamples=n_resamples)
        out[method] = MethodScore(method, r.candidate, r.delta, r.ci_low, r.ci_high, r.p_value)
    return out


def _check_one(model: LLM, label: str, data: _TaskData, retriever: str, n_neighbours: int,
               rrf_k: float, fusions: list[tuple[str, ...]],
               progress: StageProgress) -> list[CheckResult]:
    """Score every (neighbour, query) pair of one task once, then one CheckResult per fusion
    (each fusion re-ranks the same scores)."""
    scored: list[dict[str, list[float]]] = []
    scoring_s = 0.0
    bar = progress.add_task(f"{label}: {data.task}", total=len(data.queries))
    for q, row in zip(data.queries, data.idx):
        start = time.perf_counter()
        scored.append(score_pairs(model, [(data.corpus[i].text, q["text"]) for i in row]))
        scoring_s += time.perf_counter() - start
        progress.advance(bar)
    n_pairs = len(data.queries) * n_neighbours
    results = []
    for rankers in fusions:
        runs: dict[str, dict[str, dict[str, float]]] = {m: {} for m in METHODS}
        for q, row, sim, scores in zip(data.queries, data.idx, data.sims, scored):
            r = rank_neighbours(sim.tolist(), scores, rrf_k, rankers)
            for method in METHODS:
                # pytrec_eval orders by score: turn ranks into descending scores (ties resolved).
                runs[method][q["id"]] = {data.corpus[i].id: float(n_neighbours + 1 - rank)
                                         for i, rank in zip(row, r[f"{method}_rank"])}
        per_query = {m: per_query_ndcg(data.qrels, run_) for m, run_ in runs.items()}
        results.append(CheckResult(
            check_id=f"rerank-{uuid.uuid4().hex[:12]}", task=data.task,
            task_revision=data.revision, llm=label,
            retriever=retriever, n_neighbours=n_neighbours, n_queries=len(data.queries),
            rankers=rankers, rrf_k=rrf_k, prompt_version=prompts.PROMPT_VERSION,
            pairs_per_s=n_pairs / scoring_s if scoring_s > 0 else float("nan"),
            methods=paired_scores(per_query), per_query=per_query))
    return results


def fusions_of(rankers: Sequence[str] | Sequence[Sequence[str]]) -> list[tuple[str, ...]]:
    """One fusion (``("ql", "rc")``) or several (``[("ql", "rc"), ("ql", "retriever")]``) as a
    list of distinct tuples."""
    fusions = ([tuple(rankers)] if all(isinstance(r, str) for r in rankers)
               else [tuple(f) for f in rankers])
    if not fusions or not all(fusions):
        raise InputError("rerank-check needs at least one ranker to fuse")
    if len(set(fusions)) != len(fusions):
        raise InputError("a fusion is listed twice: " + "; ".join(",".join(f) for f in fusions))
    return fusions


def _save(result: CheckResult, db_path: str | Path | None) -> None:
    check = {"check_id": result.check_id, "task": result.task,
             "task_revision": result.task_revision, "llm": result.llm,
             "retriever": result.retriever, "n_neighbours": result.n_neighbours,
             "n_queries": result.n_queries, "pairs_per_s": result.pairs_per_s,
             "prompt_version": result.prompt_version, "rankers": ",".join(result.rankers),
             "rrf_k": result.rrf_k}
    methods = [vars(m) for m in result.methods.values()]
    fret_store.save_rerank_check(db_path, check, methods, result.per_query, result.run_id)


def compare(tasks: Sequence[str], llms: Sequence[str | LLM], backend: str = "transformers",
            retriever: str = "minilm-l6", n_neighbours: int = 20,
            max_queries: int | None = None, rrf_k: float = 0.0, device: str = "cpu",
            db_path: str | Path | None = None, show_progress: bool = True,
            llm_dtype: str = "auto",
            rankers: Sequence[str] | Sequence[Sequence[str]] = ("ql", "rc")
            ) -> list[CheckResult]:
    """One check per (teacher, task, fusion), each stored as soon as it finishes (the LLM column
    names the compute dtype when the backend has one, e.g. ``smollm2-135m@bfloat16``).
    `rankers` is one fusion or a list of them, all re-ranking the same LLM scores. Results are
    in task order, then teachers in the order given, then fusions. The call is one
    ``rerank-check`` run in the store (settings, task revisions, teachers' weights, code
    version); every check row carries its id."""
    if not tasks or not llms:
        raise InputError("rerank-check needs at least one --task and one --llm")
    if len(set(map(str, tasks))) != len(tasks):
        raise InputError(f"a task is listed twice: {', '.join(tasks)}")
    for llm in llms:  # a teacher that is not fetched fails before any task is loaded
        if isinstance(llm, str) and llm in MODELS and backend in ("transformers", "llamacpp"):
            model_dir(llm)
    fusions = fusions_of(rankers)
    data = [_prepare(t, retriever, n_neighbours, max_queries, device) for t in tasks]
    results: dict[tuple[int, int], list[CheckResult]] = {}
    config = {"tasks": {d.task: d.revision for d in data}, "llms": [_teacher_id(x) for x in llms],
              "backend": backend, "llm_dtype": llm_dtype, "retriever": retriever,
              "n_neighbours": n_neighbours, "max_queries": max_queries, "rrf_k": rrf_k,
              "rankers": [",".join(f) for f in fusions], "prompt_version": prompts.PROMPT_VERSION}
    with recorded_run("rerank-check", config, provenance.collect(device), db_path=db_path) as run, \
            StageProgress(disable=not show_progress) as progress:
        for li, llm in enumerate(llms):
            model = llm if isinstance(llm, LLM) else load_llm(llm, backend, device=device,
                                                              dtype=llm_dtype)
            label = _label(model, llm)
            for ti, d in enumerate(data):
                checks = _check_one(model, label, d, retriever, n_neighbours, rrf_k, fusions,
                                    progress)
                for check in checks:
                    check.run_id = run.run_id
                    _save(check, db_path)
                results[ti, li] = checks
            if not isinstance(llm, LLM):
                del model
                gc.collect()
    return [check for ti in range(len(data)) for li in range(len(llms))
            for check in results[ti, li]]


def _teacher_id(llm: str | LLM) -> dict[str, str | None]:
    """A teacher as the run records it: its name and, for a registered model, its weights."""
    name = getattr(llm, "name", str(llm))
    asset = MODELS.get(name) if isinstance(llm, str) else None
    return {"name": name, "weight_sha256": asset.weight_sha256 if asset else None}


def run(task: str, llm: str | LLM = "smollm2-135m", backend: str = "transformers",
        retriever: str = "minilm-l6", n_neighbours: int = 20, max_queries: int | None = None,
        rrf_k: float = 0.0, device: str = "cpu", db_path: str | Path | None = None,
        show_progress: bool = True, llm_dtype: str = "auto",
        rankers: tuple[str, ...] = ("ql", "rc")) -> CheckResult:
    """One teacher on one task (see :func:`compare`); ``.scores`` is nDCG@10 per method."""
    (result,) = compare([task], [llm], backend, retriever, n_neighbours, max_queries, rrf_k,
                        device, db_path, show_progress, llm_dtype, rankers)
    return result
