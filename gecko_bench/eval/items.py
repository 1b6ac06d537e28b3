"""Per-item scores, derived from the predictions mteb writes with ``prediction_folder``.

mteb's evaluators report task-level averages only; the regression checks need paired per-item
values. mteb saves each task's raw predictions (``{task}_predictions.json``: subset -> split ->
predictions), and we turn those into item metrics with the same libraries mteb uses:

=====================  ===============  ==========================================================
task type              item_id          metrics
=====================  ===============  ==========================================================
Retrieval, Reranking   query id         ``ndcg_at_10``, ``recall_at_10``: pytrec_eval per query
                                        over mteb's ranking (same qrels, same filtering as mteb)
STS                    pair row index   ``cosine``: model similarity; ``gold``: human score
                                        scaled to [0, 1] the way mteb scales it
PairClassification     pair row index   ``cosine``: model similarity; ``label``: 1 = positive pair
Classification         test row index   ``correct``: share of mteb's experiments (classifiers on
                                        different training samples) that got the row right
BitextMining           sentence index   ``correct``: 1 if the nearest neighbour is the gold
                                        translation
Clustering             experiment       ``v_measure`` of each of mteb's clustering experiments
                       (``exp0``..)     (k-means on a bootstrap sample of the texts; the task's
                                        seed is rewound per evaluation so both models of a
                                        comparison cluster the same samples): per-subset
                                        statistics, since V-measure has no per-item value
Summarization, others  (none)           task-level scores only
=====================  ===============  ==========================================================
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytrec_eval

ItemRow = tuple[str, str, str, str, float]  # subset, split, item_id, metric, value


def _split_data(task, subset: str, split: str) -> Any:
    data = task.dataset
    if subset not in data and subset == "default":
        return data[split]
    return data[subset][split]


def item_rows(task, predictions_file: Path) -> list[ItemRow]:
    """Item metrics of one evaluated task (its data must still be loaded)."""
    from mteb.abstasks import (
        AbsTaskBitextMining,
        AbsTaskClassification,
        AbsTaskPairClassification,
        AbsTaskRetrieval,
        AbsTaskSTS,
    )

    if not predictions_file.exists():
        return []
    predictions = json.loads(predictions_file.read_text(encoding="utf-8"))
    rows: list[ItemRow] = []
    for subset, by_split in predictions.items():
        if subset == "mteb_model_meta":
            continue
        for split, preds in by_split.items():
            if isinstance(task, AbsTaskRetrieval):
                rows += _retrieval(task, subset, split, preds)
            elif isinstance(task, AbsTaskSTS):
                rows += _sts(task, subset, split, preds)
            elif isinstance(task, AbsTaskPairClassification):
                rows += _pairs(task, subset, split, preds)
            elif isinstance(task, AbsTaskClassification) and not task.is_cross_validation:
                rows += _classification(task, subset, split, preds)
            elif isinstance(task, AbsTaskBitextMining):
                rows += _bitext(task, subset, split, preds)
    return rows


def clustering_rows(task, task_result) -> list[ItemRow]:
    """Per-experiment V-measures of a clustering task from mteb's result (``v_measures``)."""
    from mteb.abstasks import AbsTaskClustering

    if not isinstance(task, AbsTaskClustering):
        return []
    rows: list[ItemRow] = []
    for split, entries in task_result.scores.items():
        for entry in entries:
            levels = entry.get("v_measures") or {}
            for level, values in sorted(levels.items()):
                prefix = "" if len(levels) == 1 else f"{level.replace(' ', '')}:"
                rows += [(entry.get("hf_subset", "default"), split, f"{prefix}exp{k}",
                          "v_measure", float(v)) for k, v in enumerate(values)]
    return rows


def _retrieval(task, subset: str, split: str, results: dict) -> list[ItemRow]:
    qrels = _split_data(task, subset, split)["relevant_docs"]
    # The same adjustments mteb's RetrievalEvaluator.evaluate makes before pytrec_eval.
    if task.ignore_identical_ids:
        results = {q: {d: s for d, s in docs.items() if d != q} for q, docs in results.items()}
    if task.skip_first_result:
        results = {q: dict(sorted(docs.items(), key=lambda x: x[1], reverse=True)[1:])
                   for q, docs in results.items()}
    qrels = {q: {d: int(r) for d, r in rel.items()} for q, rel in qrels.items()}
    per_query = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "recall.10"}).evaluate(
        results)
    rows: list[ItemRow] = []
    for qid, m in per_query.items():
        rows.append((subset, split, qid, "ndcg_at_10", float(m["ndcg_cut_10"])))
        rows.append((subset, split, qid, "recall_at_10", float(m["recall_10"])))
    return rows


def _sts(task, subset: str, split: str, preds: dict) -> list[ItemRow]:
    gold = [task._normalize(s) for s in _split_data(task, subset, split)["score"]]
    rows: list[ItemRow] = []
    for i, (cos, g) in enumerate(zip(preds["cosine_scores"], gold, strict=True)):
        rows.append((subset, split, str(i), "cosine", float(cos)))
        rows.append((subset, split, str(i), "gold", float(g)))
    return rows


def _pairs(task, subset: str, split: str, preds: dict) -> list[ItemRow]:
    from datasets import Dataset

    data = _split_data(task, subset, split)
    if len(data) == 1:  # mteb v1 layout: one row holding lists (mteb unpacks it the same way)
        data = Dataset.from_dict(data[0])
    labels = data[task.label_column_name]
    rows: list[ItemRow] = []
    for i, (cos, label) in enumerate(zip(preds["cosine_scores"], labels, strict=True)):
        rows.append((subset, split, str(i), "cosine", float(cos)))
        rows.append((subset, split, str(i), "label", float(label)))
    return rows


def _classification(task, subset: str, split: str, experiments: list) -> list[ItemRow]:
    data = task.dataset
    data = data[subset] if subset in data else data
    gold = [str(g) for g in data[split][task.label_column_name]]
    n = len(experiments)
    return [(subset, split, str(i), "correct",
             sum(str(exp[i]) == g for exp in experiments) / n) for i, g in enumerate(gold)]


def _bitext(task, subset: str, split: str, neighbours: dict) -> list[ItemRow]:
    data = _split_data(task, subset, split) if not task.parallel_subsets else None
    rows: list[ItemRow] = []
    for pair, nearest in neighbours.items():
        gold = (data["gold"] if data is not None and "gold" in data.column_names
                else [(i, i) for i in range(len(nearest))])
        prefix = f"{pair}:" if len(neighbours) > 1 else ""
        for i, x in enumerate(nearest):
            rows.append((subset, split, f"{prefix}{i}", "correct",
                         float(x["corpus_id"] == gold[i][1])))
    return rows
