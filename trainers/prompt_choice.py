"""The prompt style a student is to be used with, chosen on a dev split it was never trained on.

A style (gecko / plain / none) is what the checkpoint's sentence-transformers ``prompts`` say
(:func:`gecko_bench.eval.prompts.checkpoint_prompts`). Each candidate is scored on the dev
split's retrieval problem with sentence-transformers' ``InformationRetrievalEvaluator`` using
exactly the retrieval prefixes the checkpoint would carry, and the best nDCG@10 wins; a tie goes
to ``none``, then ``plain`` (plain text is what every other tool feeds a model). The test splits of the benchmark are never read.

The dev problem: each held-out FRet query against a corpus of every passage of the dev rows
(positives, hard negatives and all retrieved neighbours), its mined positive relevant. Passages
are ``title text`` joined as mteb joins them, so the prefixes apply as they do under mteb.
A domain job whose BEIR folder has ``qrels/dev.tsv`` passes the folder instead: its dev
queries, with their qrels, against the whole corpus (real queries, never trained on and never
reported: the target is reported on ``qrels/test.tsv``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from gecko_bench.errors import InputError, read_jsonl
from gecko_bench.eval.prompts import TRAINED_STYLES, checkpoint_prompts

MIN_DEV_QUERIES = 2  # below this a "choice" is a coin flip: the training format is kept instead
METRIC = "cosine_ndcg@10"


@dataclass
class StyleChoice:
    """The chosen style and the dev figures behind it (recorded in the manifest and card)."""

    style: str
    chosen_on: str                      # "dev" | "training format (no dev split)"
    scores: dict[str, float] = field(default_factory=dict)   # style -> dev nDCG@10
    n_queries: int = 0
    n_passages: int = 0
    dev_sha256: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _joined(title: str | None, text: str) -> str:
    return f"{title} {text}".strip() if title else text


def dev_digest(dev: Path) -> str:
    """What the dev split is, for keys and manifests: the sha256 of a FRet-format dev file, or
    ``beir:<revision>`` of a BEIR folder's dev split (its corpus, queries and dev qrels)."""
    from gecko_bench.eval.beir_task import folder_revision

    dev = Path(dev)
    if dev.is_dir():
        return f"beir:{folder_revision(dev, 'dev')}"
    return hashlib.sha256(dev.read_bytes()).hexdigest()


def dev_problem(dev_jsonl: Path) -> tuple[dict[str, str], dict[str, str], dict[str, set[str]]]:
    """(queries, corpus, relevant) of a FRet-format dev file, or of a BEIR folder's
    ``qrels/dev.tsv`` over its whole corpus (see the module docstring)."""
    if Path(dev_jsonl).is_dir():
        from gecko_bench.eval.beir_task import read_beir

        docs, dev_queries, qrels = read_beir(Path(dev_jsonl), "dev")
        return (dev_queries, {k: _joined(d["title"], d["text"]) for k, d in docs.items()},
                {q: {d for d, score in rel.items() if score > 0} for q, rel in qrels.items()})
    queries: dict[str, str] = {}
    corpus: dict[str, str] = {}
    relevant: dict[str, set[str]] = {}
    ids: dict[str, str] = {}  # passage text -> corpus id (the same passage under one id)

    def pid(text: str) -> str:
        if text not in ids:
            ids[text] = f"p{len(ids)}"
            corpus[ids[text]] = text
        return ids[text]

    for _, row in read_jsonl(dev_jsonl, required=["id", "query", "positive"]):
        qid = str(row["id"])
        queries[qid] = row["query"]
        relevant[qid] = {pid(_joined(row.get("positive_title"), row["positive"]))}
        if row.get("negative"):
            pid(_joined(row.get("negative_title"), row["negative"]))
        for n in row.get("neighbour_scores") or []:
            pid(_joined(n.get("title"), n["text"]))
    return queries, corpus, relevant


def evaluator_prompts(style: str) -> dict[str, str]:
    """``query_prompt`` / ``corpus_prompt`` for an ``InformationRetrievalEvaluator``: the
    retrieval prefixes a checkpoint of `style` carries (:func:`checkpoint_prompts`)."""
    prompts = checkpoint_prompts(style)
    return {"query_prompt": prompts.get("Retrieval-query", ""),
            "corpus_prompt": prompts.get("Retrieval-document", "")}


def choose_prompt_style(model, dev_jsonl: Path | None, training_style: str,
                        styles: tuple[str, ...] = TRAINED_STYLES,
                        batch_size: int = 32) -> StyleChoice:
    """Score each style on the dev split and return the best (see the module docstring).

    `model` is a loaded SentenceTransformer. Without a dev file, or with fewer than
    :data:`MIN_DEV_QUERIES` queries, the style it was trained with is kept and says so.
    """
    from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator

    if dev_jsonl is None or not Path(dev_jsonl).exists():
        return StyleChoice(training_style, "training format (no dev split)")
    queries, corpus, relevant = dev_problem(Path(dev_jsonl))
    sha = dev_digest(Path(dev_jsonl))
    if len(queries) < MIN_DEV_QUERIES:
        return StyleChoice(training_style, f"training format (dev split of {len(queries)} "
                           f"queries, fewer than {MIN_DEV_QUERIES})", n_queries=len(queries),
                           n_passages=len(corpus), dev_sha256=sha)
    scores: dict[str, float] = {}
    for style in styles:
        evaluator = InformationRetrievalEvaluator(
            queries, corpus, relevant, name=f"dev-{style}", batch_size=batch_size,
            show_progress_bar=False, write_csv=False, **evaluator_prompts(style))
        scores[style] = float(evaluator(model)[f"dev-{style}_{METRIC}"])
    best = max(reversed(styles), key=lambda s: scores[s])
    return StyleChoice(best, "dev", scores, len(queries), len(corpus), sha)


def write_prompts(checkpoint: Path, style: str) -> dict[str, str]:
    """Put `style`'s prompts into the checkpoint's ``config_sentence_transformers.json``.

    Edited in place rather than by re-saving the model: the weights (and so the model id) stay
    byte-for-byte what training wrote. ``default_prompt_name`` is cleared so plain
    ``encode`` adds nothing the lookup did not choose.
    """
    path = Path(checkpoint) / "config_sentence_transformers.json"
    if not path.is_file():
        raise InputError(f"{checkpoint} is not a sentence-transformers checkpoint (no {path.name})")
    config = json.loads(path.read_text())
    prompts = checkpoint_prompts(style)
    config["prompts"] = prompts
    config["default_prompt_name"] = None
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(config, indent=2))
    tmp.replace(path)
    return prompts
