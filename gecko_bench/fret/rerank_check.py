"""Re-ranker sanity check (Gecko paper Table 6): does LLM re-ranking beat the retriever?

For each labelled query of an offline retrieval task, the retriever's top-N candidates are
re-ranked by query likelihood (QL), relevance classification (RC: raw log p(Yes), and rc_norm:
Yes normalised against No) and their RRF fusion, with the
exact scorers the FRet build uses; nDCG@10 of each ordering is computed with pytrec_eval.
Candidates outside the top-N count as not retrieved for every method alike.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytrec_eval

from gecko_bench.corpora.seeds import Passage
from gecko_bench.errors import InputError
from gecko_bench.fret.pipeline import Retriever, rank_neighbours, score_pairs
from gecko_bench.llm import LLM, load_llm
from gecko_bench.progress import StageProgress
from gecko_bench.store import fret as S


def _task_split(task_name: str) -> tuple[list[dict], list[dict], dict[str, dict[str, int]]]:
    from gecko_bench.tasks import get_task

    task = get_task(task_name)
    if task.metadata.type not in ("Retrieval", "Reranking"):
        raise InputError(f"{task_name} is a {task.metadata.type} task; rerank-check needs a "
                         "retrieval task")
    task.load_data()
    subset = next(iter(task.dataset.values()))["test"]
    return list(subset["queries"]), list(subset["corpus"]), subset["relevant_docs"]


def _label(model: LLM, llm: str | LLM) -> str:
    name = getattr(model, "name", str(llm))
    dtype = getattr(model, "dtype", None)
    return f"{name}@{dtype}" if dtype else name


def ndcg_at_10(qrels: dict[str, dict[str, int]], run: dict[str, dict[str, float]]) -> float:
    """Mean nDCG@10 over the queries of `run` (pytrec_eval)."""
    per_query = pytrec_eval.RelevanceEvaluator(
        {q: qrels[q] for q in run}, {"ndcg_cut.10"}).evaluate(run)
    return sum(v["ndcg_cut_10"] for v in per_query.values()) / len(per_query)


def run(task: str, llm: str | LLM = "smollm2-135m", backend: str = "transformers",
        retriever: str = "minilm-l6", n_neighbours: int = 20, max_queries: int | None = None,
        rrf_k: float = 0.0, device: str = "cpu", db_path: str | Path | None = None,
        show_progress: bool = True, llm_dtype: str = "auto",
        rankers: tuple[str, ...] = ("ql", "rc")) -> dict[str, float]:
    """nDCG@10 for retriever, ql, rc (raw log p(Yes)), rc_norm (Yes vs No) and rrf (over
    `rankers`); stored in fret_rerank_checks (the LLM column names the compute dtype when the
    backend has one, e.g. ``smollm2-135m@bfloat16``)."""
    queries, corpus_rows, qrels = _task_split(task)
    queries = [q for q in queries if q["id"] in qrels][:max_queries]
    if n_neighbours > len(corpus_rows):
        raise InputError(f"n_neighbours={n_neighbours} is larger than {task}'s corpus "
                         f"({len(corpus_rows)} documents)")
    corpus = [Passage(str(d["id"]), d.get("title") or "", d["text"], task, "") for d in corpus_rows]
    model = llm if isinstance(llm, LLM) else load_llm(llm, backend, device=device,
                                                      dtype=llm_dtype)
    dense = Retriever(retriever, corpus, device)
    idx, sims = dense.search([q["text"] for q in queries], n_neighbours)
    methods = ("retriever", "ql", "rc", "rc_norm", "rrf")
    runs: dict[str, dict[str, dict[str, float]]] = {m: {} for m in methods}
    with StageProgress(disable=not show_progress) as progress:
        bar = progress.add_task(f"re-ranking {task}", total=len(queries))
        for q, row, sim in zip(queries, idx, sims):
            docs = [corpus[i] for i in row]
            scores = score_pairs(model, [(d.text, q["text"]) for d in docs])
            r = rank_neighbours(sim.tolist(), scores, rrf_k, rankers)
            for method in methods:
                key = f"{method}_rank"
                # pytrec_eval orders by score: turn ranks into descending scores (ties resolved).
                runs[method][q["id"]] = {d.id: float(n_neighbours + 1 - rank)
                                         for d, rank in zip(docs, r[key])}
            progress.advance(bar)
    scores = {m: ndcg_at_10(qrels, run_) for m, run_ in runs.items()}
    S.save_rerank_check(db_path, f"rerank-{uuid.uuid4().hex[:12]}", task,
                        _label(model, llm), retriever, n_neighbours, len(queries),
                        scores)
    return scores
