"""FRet build: generate -> retrieve -> rank (QL, RC, RRF), one batch of seeds at a time.

Each finished batch is stored in one transaction with its queries, rejects and scored
neighbours; a rerun of the same config skips stored batches, so a killed build continues from its
last finished batch with nothing duplicated or lost. The dataset id is a hash of everything that
decides the output, so the same config always lands in the same dataset. ``shard=(i, n)`` builds
every n-th seed starting at i (for several processes or machines; ``merge`` joins shard files).
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gecko_bench import config
from gecko_bench.corpora.seeds import Passage, seed_passages
from gecko_bench.errors import InputError
from gecko_bench.fret import prompts
from gecko_bench.fret.neighbours import Retriever
from gecko_bench.fret.rank import filter_reason, parse_filter, ranks, rrf
from gecko_bench.llm import LLM, load_llm
from gecko_bench.progress import StageProgress
from gecko_bench.store import fret as fret_store

# What decides the generated queries and every LLM score of a dataset ...
SCORE_FIELDS = ("llm", "llm_backend", "retriever", "n_seeds", "n_neighbours", "temperature",
                "batch_size", "seed", "sources", "corpus_size", "gen_attempts", "max_new_tokens")
# (``queries_per_seed``, ``generation`` and ``llm_scoring`` enter the scores id too, each only
# when not its default: see :func:`_identity`.)
# ... and what then decides its ranks and which queries it keeps (no LLM call needed).
RANK_FIELDS = ("rrf_k", "rankers", "filter")
IDENTITY_FIELDS = SCORE_FIELDS + RANK_FIELDS


def compute_dtype(cfg: config.FretConfig, device: str = "cpu") -> str:
    """The dtype the LLM computes in: resolved for transformers, as configured otherwise."""
    if cfg.llm_backend != "transformers":
        return cfg.llm_dtype
    from gecko_bench.llm.transformers_backend import resolve_dtype

    return resolve_dtype(cfg.llm_dtype, device)


def check_rankers(rankers: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """The RRF inputs of ``fret.rankers`` as a tuple; InputError when empty, unknown or
    repeated."""
    if not rankers:
        raise InputError(f"fret.rankers needs at least one of {', '.join(RANKERS)}")
    unknown = [r for r in rankers if r not in RANKERS]
    if unknown:
        raise InputError(f"unknown ranker(s) {', '.join(map(repr, unknown))} in fret.rankers; "
                         f"valid: {', '.join(RANKERS)}")
    if len(set(rankers)) != len(rankers):
        raise InputError(f"fret.rankers lists a ranker twice: {','.join(rankers)}")
    return tuple(rankers)


def check_scoring(cfg: config.FretConfig) -> None:
    """InputError when ``fret.llm_scoring=false`` is asked to rank or filter by scores it will
    not compute (every ranker but the retriever, and a teacher filter)."""
    if cfg.llm_scoring:
        return
    scored = [r for r in cfg.rankers if r != "retriever"]
    if scored:
        raise InputError(f"fret.llm_scoring=false computes no LLM score, so fret.rankers can only "
                         f"be [retriever], not {','.join(cfg.rankers)}")
    if "teacher" in parse_filter(cfg.filter):
        raise InputError(f"fret.llm_scoring=false computes no LLM score, so fret.filter cannot "
                         f"use teacher:K ({cfg.filter})")


def check_generation(generation: str) -> str:
    """``fret.generation`` as given; InputError naming the valid values otherwise."""
    if generation not in prompts.GENERATIONS:
        raise InputError(f"unknown fret.generation {generation!r}; "
                         f"valid: {', '.join(prompts.GENERATIONS)}")
    return generation


def _hash(ident: dict) -> str:
    return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:12]


def _identity(cfg: config.FretConfig, fields: tuple[str, ...], device: str) -> dict:
    """What of `cfg` enters an id: a ``beir:`` source with its folder's content hash, and
    ``queries_per_seed`` only when it is not 1, ``generation`` only when it is not gecko and
    ``llm_scoring`` only when false (so every earlier dataset keeps its id)."""
    from gecko_bench.corpora.beir_folder import source_identity

    ident = {k: getattr(cfg, k) for k in fields} | {"prompts": prompts.PROMPT_VERSION,
                                                    "dtype": compute_dtype(cfg, device)}
    ident["sources"] = source_identity(cfg.sources)
    if cfg.queries_per_seed != 1:
        ident["queries_per_seed"] = cfg.queries_per_seed
    if cfg.generation != "gecko":
        ident["generation"] = cfg.generation
    if not cfg.llm_scoring:
        ident["llm_scoring"] = False
    return ident


def scores_id(cfg: config.FretConfig, device: str = "cpu") -> str:
    """Id of what the LLM computed for a config (queries and every neighbour's scores): two
    configs that differ only in :data:`RANK_FIELDS` share it, so one dataset can be derived
    from the other's stored scores without the LLM."""
    return "scores-" + _hash(_identity(cfg, SCORE_FIELDS, device))


def dataset_id(cfg: config.FretConfig, device: str = "cpu") -> str:
    """Deterministic id of the dataset a config builds on `device` (prompt version and the
    LLM's compute dtype included: bfloat16 and float32 scores rank neighbours slightly
    differently; the RRF inputs and the query filter too)."""
    check_rankers(cfg.rankers)
    parse_filter(cfg.filter)
    check_scoring(cfg)
    check_generation(cfg.generation)
    return "fret-" + _hash(_identity(cfg, IDENTITY_FIELDS, device))


def parse_shard(spec: str | tuple[int, int] | None) -> tuple[int, int]:
    """(i, n) from ``"i/n"`` (0 <= i < n) or None (one shard)."""
    if spec is None:
        return 0, 1
    if isinstance(spec, tuple):
        i, n = spec
    else:
        try:
            i, n = (int(x) for x in spec.split("/"))
        except ValueError:
            raise InputError(f"--shard must look like i/n (e.g. 0/4), not {spec!r}") from None
    if not 0 <= i < n:
        raise InputError(f"shard {i}/{n}: need 0 <= i < n")
    return i, n


# ---------------------------------------------------------------- corpus and retrieval


def target_of(cfg: config.FretConfig):
    """The target corpus (:class:`~gecko_bench.tasks.overlap.TargetTexts`) of a domain job's
    ``beir:`` seed source, or None."""
    from gecko_bench.corpora.beir_folder import SOURCE_PREFIX, folder_of
    from gecko_bench.tasks.overlap import TargetTexts

    folders = [folder_of(s) for s in cfg.sources if s.startswith(SOURCE_PREFIX)]
    if not folders:
        return None
    if len(folders) > 1:
        raise InputError("fret.sources names more than one beir: folder; a domain job adapts "
                         "to one target corpus")
    beir = folders[0]
    return TargetTexts(beir.name, [t for _, _, t in beir.documents()], beir.queries())


def load_corpus(cfg: config.FretConfig) -> tuple[list[Passage], list[Passage]]:
    """(corpus, seeds): the passages searched for neighbours and the first n_seeds of them
    (the corpus is shuffled by ``cfg.seed``, so the seeds are a sample of it).

    Fails with InputError on an empty corpus, N larger than the corpus, or evaluation overlap
    (a domain job's target documents are allowed, its queries never: docs/domain.md).
    """
    from gecko_bench.tasks import overlap_guard

    corpus = seed_passages(tuple(cfg.sources), limit=cfg.corpus_size, seed=cfg.seed)
    if cfg.n_seeds < 1 or cfg.n_neighbours < 1 or cfg.queries_per_seed < 1:
        raise InputError("n_seeds, n_neighbours and queries_per_seed must be at least 1")
    if cfg.n_seeds > len(corpus):
        raise InputError(f"n_seeds={cfg.n_seeds} is larger than the seed corpus "
                         f"({len(corpus)} passages)")
    if cfg.n_neighbours > len(corpus):
        raise InputError(f"n_neighbours={cfg.n_neighbours} is larger than the corpus "
                         f"({len(corpus)} passages)")
    # Every seed and every possible neighbour must be free of evaluation text.
    overlap_guard([p.text for p in corpus], "FRet seed/neighbour passages",
                  allow=target_of(cfg))
    return corpus, corpus[:cfg.n_seeds]


# ---------------------------------------------------------------- stages


@dataclass
class Generated:
    seed_index: int
    seed: Passage
    attempt: int
    task: str
    task_type: str
    example_type: str
    query: str
    replica: int = 0  # which of the seed's fret.queries_per_seed queries

    @property
    def key(self) -> str:
        """The query's key within a dataset: the seed id (its replica r > 0: ``#q<r>``)."""
        return self.seed.id + (f"#q{self.replica}" if self.replica else "")


def replica_of(key: str, seed_id: str) -> int:
    """The replica r of a query key (:attr:`Generated.key`) of seed `seed_id`."""
    return 0 if key == seed_id else int(key[len(seed_id) + 2:])


@dataclass
class BatchResult:
    queries: list[Generated] = field(default_factory=list)
    # seed id, try, why, raw output, replica
    rejects: list[tuple[str, int, str, str, int]] = field(default_factory=list)


def generate(llm: LLM, seeds: list[tuple[int, Passage]], cfg: config.FretConfig, gen_seed: int,
             seen: set[str], target=None) -> BatchResult:
    """Stage 1: a task and a query per seed (``cfg.queries_per_seed`` of them, each from its
    own example rotation; with ``fret.generation=questions`` a question for the fixed
    question-answering task, each from its own sampling seed), with rejects (retried up to
    gen_attempts times). With `target` (a domain job's
    :class:`~gecko_bench.tasks.overlap.TargetTexts`) a query holding one of the target's
    queries is rejected as ``target-query``."""
    out = BatchResult()
    k = cfg.queries_per_seed
    questions = check_generation(cfg.generation) in prompts.QUESTION_PROMPTS
    todo = [(i, p, r) for i, p in seeds for r in range(k)]
    for attempt in range(cfg.gen_attempts):
        if not todo:
            break
        if questions:
            made = [(prompts.question_prompt(p.text, cfg.generation), prompts.QUESTION_TYPE)
                    for _, p, _ in todo]
        else:
            made = [prompts.generation_prompt(p.text, rotation=i * k + r + attempt)
                    for i, p, r in todo]
        texts = llm.generate([m[0] for m in made], max_new_tokens=cfg.max_new_tokens,
                             temperature=cfg.temperature, seed=gen_seed + 7919 * attempt,
                             stop=("\n",) if questions else ("\n\n", "\nPassage:"))
        retry = []
        for (i, passage, r), (_, followed), raw in zip(todo, made, texts):
            parsed = prompts.parse_question(raw) if questions else prompts.parse_generation(raw)
            why = "unparseable" if parsed is None else prompts.reject_reason(*parsed, passage.text)
            if why is None and " ".join(prompts.words(parsed[1])) in seen:
                why = "duplicate"
            if why is None and target is not None and target.query_of(parsed[1]) is not None:
                why = "target-query"
            if why:
                out.rejects.append((passage.id, attempt, why, raw, r))
                retry.append((i, passage, r))
                continue
            task, query = parsed
            seen.add(" ".join(prompts.words(query)))
            out.queries.append(Generated(i, passage, attempt, task,
                                         prompts.task_type(task, followed),
                                         followed, query, r))
        todo = retry
    return out


SCORERS = ("ql", "rc", "rc_norm")  # LLM scores of every neighbour (stored, each with its rank)
RANKERS = SCORERS + ("retriever",)  # what RRF may fuse (fret.rankers)


def _logsumexp(xs: list[float]) -> float:
    m = max(xs)
    return m + math.log(sum(math.exp(x - m) for x in xs))


def unscored(n: int) -> dict[str, list[float]]:
    """What ``fret.llm_scoring=false`` stores for `n` pairs: NaN for every scorer (not scored;
    NaN, not NULL, as the v1 score columns are NOT NULL)."""
    return {k: [math.nan] * n for k in SCORERS}


def score_pairs(llm: LLM, pairs: list[tuple[str, str]]) -> dict[str, list[float]]:
    """Stage 3 scores for (passage, query) pairs, one list per scorer (:data:`SCORERS`):

    - ``ql``: query likelihood, mean log p(query tokens | passage) under the QL prompt;
    - ``rc``: relevance classification, raw log p(" Yes" | passage, query) over the whole
      vocabulary (what v1 datasets stored);
    - ``rc_norm``: the same label normalised over the label set, log p(" Yes") -
      logsumexp(log p(" Yes"), log p(" No")), i.e. log P(Yes | Yes or No) at the label position.
    """
    ql = [prompts.ql_pair(p, q) for p, q in pairs]
    rc = [prompts.rc_pair(p, q)[0] for p, q in pairs]
    ql_scores = llm.logprobs([a for a, _ in ql], [b for _, b in ql], prefix=prompts.ql_prefix())
    labels = llm.choice_logprobs(rc, prompts.RC_LABELS, prefix=prompts.rc_prefix()) if pairs else []
    return {"ql": ql_scores, "rc": [row[0] for row in labels],
            "rc_norm": [row[0] - _logsumexp(row) for row in labels]}


def rank_neighbours(ret_scores: list[float], scores: dict[str, list[float]], k: float,
                    rankers: tuple[str, ...] | list[str] = ("ql", "rc")) -> dict[str, list]:
    """Ranks of one query's neighbours by the retriever and each LLM score, and their RRF over
    `rankers` (any of :data:`RANKERS`; ties: better rank by the first ranker, then by the
    retriever). An unscored (NaN) score list ranks as the retriever does."""
    ret_rank = list(range(1, len(ret_scores) + 1))
    out: dict[str, list] = {"retriever_rank": ret_rank}
    for name in SCORERS:
        if name in scores:
            unscored_ = any(math.isnan(x) for x in scores[name])
            out[f"{name}_rank"] = ret_rank if unscored_ else ranks(scores[name], ret_rank)
    lists = [out[f"{r}_rank"] for r in rankers]
    fused = rrf(lists, k)
    out["rrf"] = fused
    out["rrf_rank"] = ranks(fused, [a * 10_000 + r for a, r in zip(lists[0], ret_rank)])
    return out


def _rows(result: BatchResult, corpus: list[Passage], idx: np.ndarray, sims: np.ndarray,
          scores: dict[str, list[float]], cfg: config.FretConfig, ds: str, shard: int,
          batch_index: int) -> dict[str, list[dict[str, Any]]]:
    """One batch's rows for the store (:data:`gecko_bench.store.fret.ROW_COLUMNS`)."""
    rows: dict[str, list[dict[str, Any]]] = {t: [] for t in fret_store.ROW_COLUMNS}
    passages: dict[str, dict[str, Any]] = {}
    n = cfg.n_neighbours
    conditions = parse_filter(cfg.filter)
    filtered = []
    for qi, g in enumerate(result.queries):
        qid = f"{ds}:{g.key}"
        mine = {k: v[qi * n:(qi + 1) * n] for k, v in scores.items()}
        r = rank_neighbours(sims[qi].tolist(), mine, cfg.rrf_k, cfg.rankers)
        at = [j for j, ci in enumerate(idx[qi]) if corpus[ci].id == g.seed.id]
        why = filter_reason(conditions, {"retriever": at[0] + 1 if at else None,
                                         "teacher": r["rrf_rank"][at[0]] if at else None})
        if why:  # dropped by the round-trip filter: a reject whose raw output is the query
            filtered.append((g.seed.id, g.attempt, why, g.query, g.replica))
            continue
        rows["fret_queries"].append(dict(
            query_id=qid, seed_id=g.seed.id, shard=shard, batch_index=batch_index,
            attempt=g.attempt, task=g.task, task_type=g.task_type, example_type=g.example_type,
            query=g.query))
        passages[g.seed.id] = _passage_row(g.seed, g.seed_index)
        for j, ci in enumerate(idx[qi]):
            p = corpus[ci]
            passages.setdefault(p.id, _passage_row(p, None))
            rows["fret_neighbours"].append(dict(
                query_id=qid, passage_id=p.id, is_seed=p.id == g.seed.id,
                retriever_rank=r["retriever_rank"][j], retriever_score=float(sims[qi, j]),
                **_ranked(r, j, {k: mine[k][j] for k in SCORERS})))
    rows["fret_passages"] = list(passages.values())
    rows["fret_rejects"] = [dict(seed_id=s, attempt=a, shard=shard, batch_index=batch_index,
                                 reason=why, raw_output=raw, replica=replica)
                            for s, a, why, raw, replica in result.rejects + filtered]
    return rows


def _passage_row(p: Passage, seed_index: int | None) -> dict[str, Any]:
    return dict(passage_id=p.id, title=p.title, text=p.text, source=p.source, licence=p.licence,
                seed_index=seed_index)


def _ranked(r: dict[str, list], j: int, scores: dict[str, float]) -> dict[str, Any]:
    """Neighbour `j`'s LLM scores (`scores`, by scorer) and its ranks from
    :func:`rank_neighbours` `r`, as fret_neighbours columns."""
    return dict(ql_score=scores["ql"], ql_rank=r["ql_rank"][j], rc_score=scores["rc"],
                rc_rank=r["rc_rank"][j], rrf_score=r["rrf"][j], rrf_rank=r["rrf_rank"][j],
                rc_norm_score=scores["rc_norm"], rc_norm_rank=r["rc_norm_rank"][j])


# ---------------------------------------------------------------- derive (no LLM)


def _py(value):
    """A numpy/pandas scalar as a plain Python value (NaN/NA -> None) for DuckDB."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def derive(source: str, cfg: config.FretConfig, ds: str, db_path: str | Path | None,
           meta: dict) -> None:
    """Store dataset `ds` of `cfg` from the stored scores of `source`, without the LLM.

    `source` has the same queries and LLM scores (same :func:`scores_id`) and no query filter;
    each query's neighbours are re-ranked by ``cfg.rankers`` / ``cfg.rrf_k`` exactly as a
    build would (the same :func:`rank_neighbours` on the same stored doubles) and
    ``cfg.filter`` drops queries as rejects, so the result equals a fresh build's.
    """
    data = fret_store.dataset_rows(db_path, source)
    nb = data["fret_neighbours"].sort_values(["query_id", "retriever_rank"])
    if cfg.llm_scoring and nb["rc_norm_score"].isna().any():
        raise InputError(f"{source} has no normalised RC scores (built before prompt v2); "
                         "rebuild it")
    conditions = parse_filter(cfg.filter)
    groups = dict(tuple(nb.groupby("query_id", sort=False)))
    rows: dict[str, list[dict[str, Any]]] = {t: [] for t in fret_store.ROW_COLUMNS}
    rows["fret_rejects"] = [{k: _py(v) for k, v in r.items()}
                            for r in data["fret_rejects"].to_dict("records")]
    kept_seeds: set[str] = set()
    used: set[str] = set()
    for q in data["fret_queries"].itertuples(index=False):
        g = groups[q.query_id]
        scores = {k: g[f"{k}_score"].tolist() for k in SCORERS}
        r = rank_neighbours(g["retriever_score"].tolist(), scores, cfg.rrf_k, cfg.rankers)
        at = [j for j, pid in enumerate(g["passage_id"]) if pid == q.seed_id]
        why = filter_reason(conditions, {"retriever": at[0] + 1 if at else None,
                                         "teacher": r["rrf_rank"][at[0]] if at else None})
        if why:
            rows["fret_rejects"].append({k: _py(v) for k, v in dict(
                seed_id=q.seed_id, attempt=q.attempt, shard=q.shard, batch_index=q.batch_index,
                reason=why, raw_output=q.query,
                replica=replica_of(q.query_id[len(source) + 1:], q.seed_id)).items()})
            continue
        qid = ds + q.query_id[len(source):]  # the same key (seed id, replica) in `ds`
        rows["fret_queries"].append({k: _py(v) for k, v in q._asdict().items()} | {"query_id": qid})
        kept_seeds.add(q.seed_id)
        for j, n in enumerate(g.itertuples(index=False)):
            used.add(n.passage_id)
            row = {k: _py(v) for k, v in dict(
                query_id=qid, passage_id=n.passage_id, is_seed=bool(n.is_seed),
                retriever_rank=r["retriever_rank"][j], retriever_score=n.retriever_score,
                **_ranked(r, j, {k: getattr(n, f"{k}_score") for k in SCORERS})).items()}
            # NaN when unscored, not NULL
            row.update(ql_score=float(n.ql_score), rc_score=float(n.rc_score))
            rows["fret_neighbours"].append(row)
    rows["fret_passages"] = [
        {k: _py(v) for k, v in p.items()} | {
            "seed_index": _py(p["seed_index"]) if p["passage_id"] in kept_seeds else None}
        for p in data["fret_passages"].to_dict("records")
        if p["passage_id"] in used or p["passage_id"] in kept_seeds]
    per_batch_q = Counter((r["shard"], r["batch_index"]) for r in rows["fret_queries"])
    per_batch_r = Counter((r["shard"], r["batch_index"]) for r in rows["fret_rejects"])
    batches = [{"shard": int(b.shard), "batch_index": int(b.batch_index),
                "n_seeds": int(b.n_seeds), "n_queries": per_batch_q[(b.shard, b.batch_index)],
                "n_rejects": per_batch_r[(b.shard, b.batch_index)], "seconds": None}
               for b in data["fret_batches"].itertuples(index=False)]
    if not rows["fret_queries"]:
        raise InputError(f"fret.filter={cfg.filter} keeps no query of {source} "
                         f"({len(data['fret_queries'])} queries); nothing was stored")
    datasets = fret_store.fret_datasets_frame(db_path).set_index("dataset_id")
    n_shards = int(datasets.loc[source].n_shards)
    fret_store.write_derived(db_path, meta | {"n_shards": n_shards,
                                     "config": meta["config"] | {"derived_from": source}},
                    batches, rows)


# ---------------------------------------------------------------- build


def build(cfg: config.FretConfig, db_path: str | Path | None = None, device: str = "cpu",
          shard: str | tuple[int, int] | None = None, show_progress: bool = True,
          llm: LLM | None = None, run_id: str | None = None, derive_scores: bool = True) -> str:
    """Build (or resume) the FRet dataset of `cfg`; return its id. Idempotent when complete.

    When the store holds a complete unfiltered dataset with the same queries and LLM scores
    (a config differing only in ``rrf_k``, ``rankers`` or ``filter``), the new dataset is
    derived from those stored scores without loading the LLM (``derive_scores=False``: build
    from scratch).

    All input checks (corpus, N, evaluation overlap, LLM file checksum) happen before anything
    is stored. If the first batch of a new dataset yields no parseable LLM output, or the whole
    build yields no query, nothing is kept and InputError says why.
    """
    i_shard, n_shards = parse_shard(shard)
    ds = dataset_id(cfg, device)
    dtype = compute_dtype(cfg, device)
    if llm is not None and getattr(llm, "dtype", dtype) != dtype:
        raise InputError(f"the given LLM computes in {llm.dtype} but the config says "
                         f"{cfg.llm_dtype} ({dtype} on {device}); its scores would be stored "
                         "under the wrong dataset id")
    state = fret_store.build_state(db_path, ds)
    if state["status"] == "complete":
        return ds
    sid = scores_id(cfg, device)
    meta = {"dataset_id": ds, "llm": cfg.llm, "retriever": cfg.retriever,
            "n_seeds": cfg.n_seeds, "n_neighbours": cfg.n_neighbours, "n_shards": n_shards,
            "rrf_k": cfg.rrf_k,
            "config": config.as_dict(cfg) | {"compute_dtype": dtype, "scores_id": sid},
            "run_id": run_id}
    if state["status"] is None and derive_scores:
        source = fret_store.scored_source(db_path, sid)
        if source is not None:
            derive(source, cfg, ds, db_path, meta)
            return ds
    corpus, seeds = load_corpus(cfg)
    target = target_of(cfg)
    mine = [(j, p) for j, p in enumerate(seeds) if j % n_shards == i_shard]
    batches = [mine[b:b + cfg.batch_size] for b in range(0, len(mine), cfg.batch_size)]
    todo = [b for b in range(len(batches)) if (i_shard, b) not in state["batches"]]
    if not todo:
        return ds
    llm = llm or load_llm(cfg.llm, cfg.llm_backend, device=device, batch_size=cfg.batch_size,
                          dtype=cfg.llm_dtype)
    retriever = Retriever(cfg.retriever, corpus, device)
    seen = {" ".join(prompts.words(q)) for q in state["queries"]}
    fresh = not state["batches"]
    counts: Counter[str] = Counter()
    with StageProgress(disable=not show_progress) as progress:
        bar = progress.add_task(f"FRet {ds} shard {i_shard}/{n_shards}",
                                total=sum(len(b) for b in batches),
                                completed=sum(len(batches[b]) for b in range(len(batches))
                                              if b not in todo))
        for b in todo:
            started = time.perf_counter()
            batch = batches[b]
            progress.update(bar, description=f"generate batch {b + 1}/{len(batches)} "
                            f"{_fmt(counts)}")
            result = generate(llm, batch, cfg, cfg.seed * 1_000_003 + i_shard * 10_007 + b, seen,
                              target)
            if fresh and not result.queries and result.rejects and \
                    all(r[2] == "unparseable" for r in result.rejects):
                raise InputError(f"{cfg.llm} produced no parseable task/query for any seed of the "
                                 f"first batch ({len(result.rejects)} outputs, e.g. "
                                 f"{result.rejects[0][3][:80]!r}); nothing was stored")
            idx = np.zeros((0, cfg.n_neighbours), dtype=int)
            sims = np.zeros((0, cfg.n_neighbours))
            scores: dict[str, list[float]] = {k: [] for k in SCORERS}
            if result.queries:
                progress.update(bar, description=f"retrieve+rank batch {b + 1}/{len(batches)} "
                                f"{_fmt(counts)}")
                idx, sims = retriever.search([g.query for g in result.queries], cfg.n_neighbours)
                pairs = [(corpus[ci].text, g.query) for g, row in zip(result.queries, idx)
                         for ci in row]
                scores = score_pairs(llm, pairs) if cfg.llm_scoring else unscored(len(pairs))
            rows = _rows(result, corpus, idx, sims, scores, cfg, ds, i_shard, b)
            counts.update(r["reason"] for r in rows["fret_rejects"])
            counts["accepted"] += len(rows["fret_queries"])
            fret_store.write_batch(db_path, meta, {"shard": i_shard, "batch_index": b,
                                          "n_seeds": len(batch),
                                          "n_queries": len(rows["fret_queries"]),
                                          "n_rejects": len(rows["fret_rejects"]),
                                          "seconds": time.perf_counter() - started}, rows)
            fresh = False
            progress.update(bar, advance=len(batch), description=f"FRet {_fmt(counts)}")
    state = fret_store.build_state(db_path, ds)
    if not state["n_queries"] and state["status"] == "complete":
        fret_store.delete_dataset(db_path, ds)
        raise InputError(f"FRet build {ds} produced no usable query (rejects: {_fmt(counts)}"
                         f"{'; fret.filter=' + cfg.filter if cfg.filter != 'none' else ''}); "
                         "nothing was kept")
    return ds


def _fmt(counts: Counter[str]) -> str:
    if not counts:
        return ""
    return "[" + " ".join(f"{k}={v}" for k, v in sorted(counts.items())) + "]"


def summary(dataset_id: str, db_path: str | Path | None = None) -> str:
    """One line on a stored dataset: status, queries, seeds, rejects and relabel rate."""
    row = fret_store.fret_datasets_frame(db_path).set_index("dataset_id").loc[dataset_id]
    rate = "n/a" if row.relabel_rate != row.relabel_rate else f"{row.relabel_rate:.0%}"
    rejects = fret_store.fret_rejects_frame(db_path, dataset_id)["reason"]
    filtered = int(rejects.str.startswith("filter:").sum())
    return (f"FRet dataset {dataset_id}: {row.status}, {row.n_queries} queries from "
            f"{row.seeds_done}/{row.n_seeds} seeds, {len(rejects) - filtered} rejected "
            f"generations{f', {filtered} queries dropped by the filter' if filtered else ''}, "
            f"top passage is not the seed for {rate}")
