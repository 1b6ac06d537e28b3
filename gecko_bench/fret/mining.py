"""Stage 4, mining, and export: works from stored ranks only, never calls the LLM."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pandas as pd

from gecko_bench.errors import InputError
from gecko_bench.fret.rank import POSITIVES, mine as mine_one, parse_negative
from gecko_bench.store import fret as S


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
    frame = S.mining_frame(db_path, dataset_id)
    rows = []
    for qid, group in frame.groupby("query_id", sort=True):
        rng = random.Random(f"{seed}:{qid}:{positive}:{negative}")
        pos, neg = mine_one(group["seed_id"].iloc[0],
                            list(zip(group["passage_id"], group["rrf_rank"])), positive,
                            negative, rng)
        rows.append((qid, pos, neg))
    S.save_mined(db_path, dataset_id, positive, negative, rows)
    return S.fret_examples_frame(db_path, dataset_id, positive, negative)


def export_training_jsonl(dataset_id: str, path: str | Path, positive: str = "p1",
                          negative: str = "lowest", db_path: str | Path | None = None) -> int:
    """Write the trainer's JSONL (one example per line); return the number of rows.

    Keys: id, task, task_type, query, positive, positive_title, negative, negative_title
    (null when the strategy gives none), source ("fret").
    """
    frame = mine(dataset_id, positive, negative, db_path)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        for r in frame.itertuples(index=False):
            has_neg = isinstance(r.negative_id, str)
            fh.write(json.dumps({
                "id": r.query_id, "task": r.task, "task_type": r.task_type, "query": r.query,
                "positive": r.positive, "positive_title": r.positive_title or "",
                "negative": r.negative if has_neg else None,
                "negative_title": (r.negative_title or "") if has_neg else None,
                "source": "fret"}, ensure_ascii=False) + "\n")
    tmp.replace(path)
    return len(frame)


def export_parquet(dataset_id: str, folder: str | Path, positive: str = "p1",
                   negative: str = "lowest", db_path: str | Path | None = None) -> list[Path]:
    """examples.parquet (mined), neighbours.parquet (all scores/ranks), rejects.parquet."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    frames = {"examples": mine(dataset_id, positive, negative, db_path),
              "neighbours": S.fret_neighbours_frame(db_path, dataset_id),
              "rejects": S.fret_rejects_frame(db_path, dataset_id)}
    out = []
    for name, frame in frames.items():
        frame.to_parquet(folder / f"{name}.parquet", index=False)
        out.append(folder / f"{name}.parquet")
    return out
