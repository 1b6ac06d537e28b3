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
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gecko_bench import config as C
from gecko_bench.corpora.seeds import Passage, seed_passages
from gecko_bench.errors import InputError
from gecko_bench.fret import prompts as P
from gecko_bench.fret.rank import ranks, rrf
from gecko_bench.llm import LLM, load_llm
from gecko_bench.progress import StageProgress
from gecko_bench.store import fret as S

IDENTITY_FIELDS = ("llm", "llm_backend", "retriever", "n_seeds", "n_neighbours", "rrf_k",
                   "temperature", "batch_size", "seed", "sources", "corpus_size", "gen_attempts",
                   "max_new_tokens")


def compute_dtype(cfg: C.FretConfig, device: str = "cpu") -> str:
    """The dtype the LLM computes in: resolved for transformers, as configured otherwise."""
    if cfg.llm_backend != "transformers":
        return cfg.llm_dtype
    from gecko_bench.llm.transformers_backend import resolve_dtype

    return resolve_dtype(cfg.llm_dtype, device)


def dataset_id(cfg: C.FretConfig, device: str = "cpu") -> str:
    """Deterministic id of the dataset a config builds on `device` (prompt version and the
    LLM's compute dtype included: bfloat16 and float32 scores rank neighbours slightly
    differently)."""
    ident = {k: getattr(cfg, k) for k in IDENTITY_FIELDS} | {"prompts": P.PROMPT_VERSION,
                                                             "dtype": compute_dtype(cfg, device)}
    return "fret-" + hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:12]


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


def load_corpus(cfg: C.FretConfig) -> tuple[list[Passage], list[Passage]]:
    """(corpus, seeds): the passages searched for neighbours and the first n_seeds of them.

    Fails with InputError on an empty corpus, N larger than the corpus, or evaluation overlap.
    """
    from gecko_bench.tasks import overlap_guard

    corpus = seed_passages(tuple(cfg.sources), limit=cfg.corpus_size, seed=cfg.seed)
    if cfg.n_seeds < 1 or cfg.n_neighbours < 1:
        raise InputError("n_seeds and n_neighbours must be at least 1")
    if cfg.n_seeds > len(corpus):
        raise InputError(f"n_seeds={cfg.n_seeds} is larger than the seed corpus "
                         f"({len(corpus)} passages)")
    if cfg.n_neighbours > len(corpus):
        raise InputError(f"n_neighbours={cfg.n_neighbours} is larger than the corpus "
                         f"({len(corpus)} passages)")
    # Every seed and every possible neighbour must be free of evaluation text.
    overlap_guard([p.text for p in corpus], "FRet seed/neighbour passages")
    return corpus, corpus[:cfg.n_seeds]


class Retriever:
    """Dense top-N search of the corpus with a sentence-transformers model (normalized dot)."""

    def __init__(self, name: str, corpus: list[Passage], device: str = "cpu") -> None:
        from gecko_bench.assets import gecko_home
        from gecko_bench.assets.loaders import load_sentence_transformer

        self.name = name
        self.model = load_sentence_transformer(name, device)
        texts = [p.text for p in corpus]
        key = hashlib.sha256(("\n".join([name] + [p.id for p in corpus] + texts)).encode())
        cache = gecko_home() / "cache" / f"fret-emb-{Path(name).name}-{key.hexdigest()[:16]}.npy"
        if cache.exists():
            self.emb = np.load(cache)
        else:
            self.emb = self.model.encode(texts, batch_size=64, normalize_embeddings=True,
                                         convert_to_numpy=True).astype(np.float32)
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_suffix(".tmp.npy")
            np.save(tmp, self.emb)
            tmp.replace(cache)

    def search(self, queries: list[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        """(indices, scores), each of shape (len(queries), k), best first."""
        q = self.model.encode(queries, normalize_embeddings=True, convert_to_numpy=True)
        sims = q @ self.emb.T
        idx = np.argsort(-sims, axis=1, kind="stable")[:, :k]
        return idx, np.take_along_axis(sims, idx, axis=1)


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


@dataclass
class BatchResult:
    queries: list[Generated] = field(default_factory=list)
    rejects: list[tuple[str, int, str, str]] = field(default_factory=list)  # seed, try, why, raw


def generate(llm: LLM, seeds: list[tuple[int, Passage]], cfg: C.FretConfig, gen_seed: int,
             seen: set[str]) -> BatchResult:
    """Stage 1: a task and a query per seed, with rejects (retried up to gen_attempts times)."""
    out = BatchResult()
    todo = list(seeds)
    for attempt in range(cfg.gen_attempts):
        if not todo:
            break
        made = [P.generation_prompt(p.text, rotation=i + attempt) for i, p in todo]
        texts = llm.generate([m[0] for m in made], max_new_tokens=cfg.max_new_tokens,
                             temperature=cfg.temperature, seed=gen_seed + 7919 * attempt,
                             stop=("\n\n", "\nPassage:"))
        retry = []
        for (i, passage), (_, followed), raw in zip(todo, made, texts):
            parsed = P.parse_generation(raw)
            why = "unparseable" if parsed is None else P.reject_reason(*parsed, passage.text)
            if why is None and " ".join(P.words(parsed[1])) in seen:
                why = "duplicate"
            if why:
                out.rejects.append((passage.id, attempt, why, raw))
                retry.append((i, passage))
                continue
            task, query = parsed
            seen.add(" ".join(P.words(query)))
            out.queries.append(Generated(i, passage, attempt, task, P.task_type(task, followed),
                                         followed, query))
        todo = retry
    return out


def score_pairs(llm: LLM, pairs: list[tuple[str, str]]) -> tuple[list[float], list[float]]:
    """Stage 3 scores for (passage, query) pairs: (QL mean log-prob, RC log p(Yes))."""
    ql = [P.ql_pair(p, q) for p, q in pairs]
    rc = [P.rc_pair(p, q) for p, q in pairs]
    ql_scores = llm.logprobs([a for a, _ in ql], [b for _, b in ql], prefix=P.ql_prefix())
    rc_scores = llm.logprobs([a for a, _ in rc], [b for _, b in rc], prefix=P.rc_prefix(),
                             reduce="sum")
    return ql_scores, rc_scores


def rank_neighbours(ret_scores: list[float], ql: list[float], rc: list[float],
                    k: float) -> dict[str, list]:
    """QL, RC and RRF ranks for one query's neighbours (ties: better retriever rank first)."""
    ret_rank = list(range(1, len(ret_scores) + 1))
    ql_rank = ranks(ql, ret_rank)
    rc_rank = ranks(rc, ret_rank)
    fused = rrf([ql_rank, rc_rank], k)
    rrf_rank = ranks(fused, [q * 10_000 + r for q, r in zip(ql_rank, ret_rank)])
    return {"retriever_rank": ret_rank, "ql_rank": ql_rank, "rc_rank": rc_rank,
            "rrf": fused, "rrf_rank": rrf_rank}


def _rows(result: BatchResult, corpus: list[Passage], idx: np.ndarray, sims: np.ndarray,
          ql: list[float], rc: list[float], cfg: C.FretConfig, ds: str, shard: int,
          batch_index: int) -> dict[str, list[tuple]]:
    rows: dict[str, list[tuple]] = {t: [] for t in S._INSERT_COLUMNS}
    passages: dict[str, tuple] = {}
    n = cfg.n_neighbours
    for qi, g in enumerate(result.queries):
        qid = f"{ds}:{g.seed.id}"
        rows["fret_queries"].append((qid, g.seed.id, shard, batch_index, g.attempt, g.task,
                                     g.task_type, g.example_type, g.query))
        passages[g.seed.id] = (g.seed.id, g.seed.title, g.seed.text, g.seed.source,
                               g.seed.licence, g.seed_index)
        r = rank_neighbours(sims[qi].tolist(), ql[qi * n:(qi + 1) * n], rc[qi * n:(qi + 1) * n],
                            cfg.rrf_k)
        for j, ci in enumerate(idx[qi]):
            p = corpus[ci]
            passages.setdefault(p.id, (p.id, p.title, p.text, p.source, p.licence, None))
            rows["fret_neighbours"].append(
                (qid, p.id, p.id == g.seed.id, r["retriever_rank"][j], float(sims[qi, j]),
                 ql[qi * n + j], r["ql_rank"][j], rc[qi * n + j], r["rc_rank"][j],
                 r["rrf"][j], r["rrf_rank"][j]))
    rows["fret_passages"] = list(passages.values())
    rows["fret_rejects"] = [(s, a, shard, batch_index, why, raw)
                            for s, a, why, raw in result.rejects]
    return rows


# ---------------------------------------------------------------- build


def build(cfg: C.FretConfig, db_path: str | Path | None = None, device: str = "cpu",
          shard: str | tuple[int, int] | None = None, show_progress: bool = True,
          llm: LLM | None = None, run_id: str | None = None) -> str:
    """Build (or resume) the FRet dataset of `cfg`; return its id. Idempotent when complete.

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
    state = S.build_state(db_path, ds)
    if state["status"] == "complete":
        return ds
    corpus, seeds = load_corpus(cfg)
    mine = [(j, p) for j, p in enumerate(seeds) if j % n_shards == i_shard]
    batches = [mine[b:b + cfg.batch_size] for b in range(0, len(mine), cfg.batch_size)]
    todo = [b for b in range(len(batches)) if (i_shard, b) not in state["batches"]]
    if not todo:
        return ds
    llm = llm or load_llm(cfg.llm, cfg.llm_backend, device=device, batch_size=cfg.batch_size,
                          dtype=cfg.llm_dtype)
    retriever = Retriever(cfg.retriever, corpus, device)
    meta = {"dataset_id": ds, "llm": cfg.llm, "retriever": cfg.retriever,
            "n_seeds": cfg.n_seeds, "n_neighbours": cfg.n_neighbours, "n_shards": n_shards,
            "rrf_k": cfg.rrf_k, "config": C.as_dict(cfg) | {"compute_dtype": dtype},
            "run_id": run_id}
    seen = {" ".join(P.words(q)) for q in state["queries"]}
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
            result = generate(llm, batch, cfg, cfg.seed * 1_000_003 + i_shard * 10_007 + b, seen)
            if fresh and not result.queries and result.rejects and \
                    all(r[2] == "unparseable" for r in result.rejects):
                raise InputError(f"{cfg.llm} produced no parseable task/query for any seed of the "
                                 f"first batch ({len(result.rejects)} outputs, e.g. "
                                 f"{result.rejects[0][3][:80]!r}); nothing was stored")
            counts.update(r[2] for r in result.rejects)
            counts["accepted"] += len(result.queries)
            idx = np.zeros((0, cfg.n_neighbours), dtype=int)
            sims = np.zeros((0, cfg.n_neighbours))
            ql: list[float] = []
            rc: list[float] = []
            if result.queries:
                progress.update(bar, description=f"retrieve+rank batch {b + 1}/{len(batches)} "
                                f"{_fmt(counts)}")
                idx, sims = retriever.search([g.query for g in result.queries], cfg.n_neighbours)
                pairs = [(corpus[ci].text, g.query) for g, row in zip(result.queries, idx)
                         for ci in row]
                ql, rc = score_pairs(llm, pairs)
            rows = _rows(result, corpus, idx, sims, ql, rc, cfg, ds, i_shard, b)
            S.write_batch(db_path, meta, {"shard": i_shard, "batch_index": b,
                                          "n_seeds": len(batch),
                                          "n_queries": len(result.queries),
                                          "n_rejects": len(result.rejects),
                                          "seconds": time.perf_counter() - started}, rows)
            fresh = False
            progress.update(bar, advance=len(batch), description=f"FRet {_fmt(counts)}")
    state = S.build_state(db_path, ds)
    if not state["queries"] and state["status"] == "complete":
        S.delete_dataset(db_path, ds)
        raise InputError(f"FRet build {ds} produced no usable query (rejects: {_fmt(counts)}); "
                         "nothing was kept")
    return ds


def _fmt(counts: Counter[str]) -> str:
    if not counts:
        return ""
    return "[" + " ".join(f"{k}={v}" for k, v in sorted(counts.items())) + "]"


def summary(dataset_id: str, db_path: str | Path | None = None) -> str:
    """One line on a stored dataset: status, queries, seeds, rejects and relabel rate."""
    row = S.fret_datasets_frame(db_path).set_index("dataset_id").loc[dataset_id]
    rate = "n/a" if row.relabel_rate != row.relabel_rate else f"{row.relabel_rate:.0%}"
    return (f"FRet dataset {dataset_id}: {row.status}, {row.n_queries} queries from "
            f"{row.seeds_done}/{row.n_seeds} seeds, {row.n_rejects} rejected generations, "
            f"top passage is not the seed for {rate}")
