"""Stage 4, mining, and export: works from stored ranks only, never calls the LLM."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pandas as pd

from gecko_bench.errors import InputError
from gecko_bench.fret.rank import POSITIVES, mine as mine_one, parse_negative
from gecko_bench.store import fret as fret_store


def mine(dataset_id: str, positive: str = "p1", negative: str = "lowest",
         db_path: str | Path | None = None, seed: int = 0) -> pd.DataFrame:
    """Choose a positive and a hard negative per query, store the view, return the examples.

    Columns as :func:`gecko_bench.store.fret.fret_examples_frame`. Random choices are seeded per
    (query, strategy), so re-mining is reproducible.
    """
    if positive not in POSITIVES:
        raise InputError(f"--positive must be one of {', '.join(POSITIVES)}, not {positive!r}")
    try:
        parse_negative(negative)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    frame = fret_store.mining_frame(db_path, dataset_id)
    rows = []
    for qid, group in frame.groupby("query_id", sort=True):
        rng = random.Random(f"{seed}:{qid}:{positive}:{negative}")
        pos, neg = mine_one(group["seed_id"].iloc[0],
                            list(zip(group["passage_id"], group["rrf_rank"])), positive,
                            negative, rng)
        rows.append((qid, pos, neg))
    fret_store.save_mined(db_path, dataset_id, positive, negative, rows)
    return fret_store.fret_examples_frame(db_path, dataset_id, positive, negative)


def _num(value) -> float | int | None:
    """A stored number as plain JSON (numpy scalars unwrapped, NaN/None -> None)."""
    if value is None or pd.isna(value):
        return None
    return value.item() if hasattr(value, "item") else value


def export_training_jsonl(dataset_id: str, path: str | Path, positive: str = "p1",
                          negative: str = "lowest", db_path: str | Path | None = None) -> int:
    """Write the trainer's JSONL (one example per line); return the number of rows.

    Keys: id, task, task_type, query, positive, positive_title, positive_id (the passage's id
    in the dataset), negative, negative_title, negative_id (null when the strategy gives none),
    source ("fret"), and the teacher's scores for
    margin / KL distillation:

    - ``positive_score``, ``negative_score``: the fused RRF score (over the dataset's
      ``fret.rankers``) of the positive and the negative, the score that chose them; null for
      no negative, or for a ``seed`` positive the retriever did not return;
    - ``neighbour_scores``: every neighbour of the query in RRF order, each ``{id, title, text,
      is_seed, retriever_rank, rrf_rank, retriever, ql, rc, rc_norm, rrf}`` (cosine, mean QL
      log-prob, raw log p(Yes), Yes-vs-No log-prob, RRF score).
    """
    frame = mine(dataset_id, positive, negative, db_path)
    nb = fret_store.fret_neighbours_frame(db_path, dataset_id)
    by_query = {qid: g for qid, g in nb.groupby("query_id", sort=False)}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        for r in frame.itertuples(index=False):
            has_neg = isinstance(r.negative_id, str)
            g = by_query[r.query_id].sort_values("rrf_rank")
            rrf_of = dict(zip(g["passage_id"], g["rrf_score"]))
            fh.write(json.dumps({
                "id": r.query_id, "task": r.task, "task_type": r.task_type, "query": r.query,
                "positive": r.positive, "positive_title": r.positive_title or "",
                "positive_id": r.positive_id,
                "negative": r.negative if has_neg else None,
                "negative_id": r.negative_id if has_neg else None,
                "negative_title": (r.negative_title or "") if has_neg else None,
                "source": "fret",
                "positive_score": _num(rrf_of.get(r.positive_id)),
                "negative_score": _num(rrf_of.get(r.negative_id)) if has_neg else None,
                "neighbour_scores": [
                    {"id": n.passage_id, "title": n.title or "", "text": n.text,
                     "is_seed": bool(n.is_seed), "retriever_rank": int(n.retriever_rank),
                     "rrf_rank": int(n.rrf_rank), "retriever": _num(n.retriever_score),
                     "ql": _num(n.ql_score), "rc": _num(n.rc_score),
                     "rc_norm": _num(n.rc_norm_score), "rrf": _num(n.rrf_score)}
                    for n in g.itertuples(index=False)],
            }, ensure_ascii=False) + "\n")
    tmp.replace(path)
    return len(frame)


def export_parquet(dataset_id: str, folder: str | Path, positive: str = "p1",
                   negative: str = "lowest", db_path: str | Path | None = None) -> list[Path]:
    """examples.parquet (mined), neighbours.parquet (all scores/ranks), rejects.parquet."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    frames = {"examples": mine(dataset_id, positive, negative, db_path),
              "neighbours": fret_store.fret_neighbours_frame(db_path, dataset_id),
              "rejects": fret_store.fret_rejects_frame(db_path, dataset_id)}
    out = []
    for name, frame in frames.items():
        frame.to_parquet(folder / f"{name}.parquet", index=False)
        out.append(folder / f"{name}.parquet")
    return out
