"""FRet: LLM-generated (task, query) pairs for seed passages, neighbours re-ranked by the LLM.

Entry points: :func:`build` (generate -> retrieve -> rank, resumable, sharded), :func:`mine`
(positive/negative choice without the LLM), :func:`export_training_jsonl` (the trainer's input),
:func:`merge` (join shard databases), :func:`rerank_check` (paper Table 6 on a labelled task).
"""

from gecko_bench.fret.mining import export_parquet, export_training_jsonl, mine
from gecko_bench.fret.pipeline import build, dataset_id, summary
from gecko_bench.store.fret import merge

__all__ = ["build", "dataset_id", "export_parquet", "export_training_jsonl", "merge", "mine",
           "rerank_check", "summary"]


def rerank_check(*args, **kwargs):
    """See :func:`gecko_bench.fret.rerank_check.run` (imported lazily: it loads mteb tasks)."""
    from gecko_bench.fret.rerank_check import run

    return run(*args, **kwargs)
