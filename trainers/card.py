"""The model card (``README.md``) of a checkpoint trained here: what it is and how it scored.

sentence-transformers writes a generic card on ``save``; it cannot know the FRet dataset, the
teacher, the prompt style chosen on the dev split or the scores in our store, so the card is
rewritten from the manifest (and, once the checkpoint is evaluated, the store's current scores
with their identity). The YAML header keeps the keys the Hugging Face hub reads.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CARD = "README.md"


def _teacher(fret_dataset_id: str | None, db_path) -> str:
    if not fret_dataset_id:
        return "none (no FRet data)"
    from gecko_bench.store.fret import fret_datasets_frame

    frame = fret_datasets_frame(db_path)
    row = frame[frame["dataset_id"] == fret_dataset_id] if not frame.empty else frame
    if row.empty:
        return f"unknown (FRet dataset {fret_dataset_id} not in this store)"
    r = row.iloc[0]
    return f"{r['llm']} (retriever {r['retriever']}, {r['n_queries']} queries)"


def _scores_table(model_id: str, db_path) -> list[str]:
    from gecko_bench.store.scores import current_scores

    frame = current_scores(db_path, model_ids=[model_id], main_only=True)
    if frame.empty:
        return ["Not evaluated yet: `gecko-bench eval --model <this folder>`."]
    lines = ["Current scores in the gecko-bench store (x100; each row with its identity):", "",
             "| task | subset | split | dim | metric | score | prompt style | max tokens | dtype "
             "| scoring | task revision |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in frame.sort_values(["task", "subset", "dim"], ascending=[True, True, False]) \
            .itertuples(index=False):
        lines.append(f"| {r.task} | {r.subset} | {r.split} | {r.dim} | {r.metric} | "
                     f"{100 * r.value:.2f} | {r.prompt_style} | {r.max_seq_length} | {r.dtype} | "
                     f"{r.code_version} | {str(r.task_revision)[:12]} |")
    return lines


def _selection_rows(sel: dict[str, Any] | None) -> list[str]:
    """The card row of the dev checkpoint selection, none when it was off."""
    if not sel:
        return []
    if sel.get("chosen_on") != "dev":
        return [f"| dev checkpoint selection | {sel.get('chosen_on')} |"]
    curve = ", ".join(f"{step}: {100 * v:.1f}" for step, v in sel["curve"])
    stop = (f"stopped early at step {sel['steps_trained']} (patience "
            f"{sel['early_stopping_patience']})" if sel["stopped_early"] else "not stopped early")
    return [f"| dev checkpoint selection | weights of step {sel['best_step']}, best dev "
            f"nDCG@10 {100 * sel['best_score']:.1f} of evaluations every {sel['eval_steps']} "
            f"steps ({curve}); {stop}; {sel['n_queries']} dev queries |"]


def write_card(checkpoint: Path, manifest: dict[str, Any], db_path=None) -> Path:
    """(Re)write ``checkpoint/README.md`` from its manifest and the store; return the path."""
    checkpoint = Path(checkpoint)
    choice = manifest.get("prompt_choice") or {}
    style = manifest.get("prompt_style", "unknown")
    how = choice.get("chosen_on", "unknown")
    if choice.get("scores"):
        how += " (dev nDCG@10 " + ", ".join(f"{s} {100 * v:.1f}"
                                             for s, v in choice["scores"].items())
        how += f"; {choice['n_queries']} queries, {choice['n_passages']} passages)"
    dims = manifest.get("mrl_dims") or []
    trained = manifest.get("text_style") or (
        "gecko" if manifest.get("unified_format", True) else "plain")  # before train.text_style
    text_format = {"gecko": "unified (`task: ... \\| query: ...`)",
                   "plain": "plain ({task} {text})",
                   "none": "the bare texts (no task description)"}[trained]
    usage = ("model.encode(texts)  # no prompt: this model is used with plain text" if style ==
             "none" else
             'model.encode_query(queries)      # adds prompts["query"]\n'
             'model.encode_document(passages)  # adds prompts["document"]')
    lines = [
        "---",
        "library_name: sentence-transformers",
        "pipeline_tag: sentence-similarity",
        "tags: [sentence-transformers, gecko-bench, fret]",
        f"base_model: {manifest.get('base_model')}",
        "---",
        "",
        f"# {manifest.get('name', checkpoint.name)}",
        "",
        f"A gecko-bench {manifest.get('stage')} checkpoint: Gecko-style distillation of an LLM "
        "into a compact embedding model.",
        "",
        "| | |",
        "|---|---|",
        f"| base model | {manifest.get('base_model')} (`{str(manifest.get('base_model_id'))[:12]}`) |",
        f"| parent | {manifest.get('parent')} |",
        f"| model id (sha256 of the weights) | `{manifest.get('model_id')}` |",
        f"| FRet dataset | {manifest.get('fret_dataset_id') or 'none'} |",
        f"| teacher | {_teacher(manifest.get('fret_dataset_id'), db_path)} |",
        f"| training text format | {text_format} |",
        f"| prompt style | **{style}**, chosen on {how} |",
        f"| Matryoshka dims | {', '.join(map(str, dims)) or 'none'} |",
        f"| steps x batch | {manifest.get('steps')} x {manifest.get('batch_size', '?')} |",
        *_selection_rows(manifest.get("dev_selection")),
        f"| loss | {manifest.get('loss', '')} |",
        f"| git commit | {manifest.get('git_sha')} |",
        "",
        "The prompts in `config_sentence_transformers.json` are the prompt style above, keyed "
        "the way mteb looks them up (task type + query/document), so plain sentence-transformers "
        "and `mteb.evaluate` use the model as gecko-bench scores it (`--prompt-style model`).",
        "",
        "```python",
        "from sentence_transformers import SentenceTransformer",
        f"model = SentenceTransformer({str(checkpoint.resolve())!r})",
        usage,
        "```",
        "",
        "## Scores",
        "",
        *_scores_table(manifest["model_id"], db_path),
        "",
    ]
    path = checkpoint / CARD
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def refresh_card(checkpoint: Path, db_path=None) -> Path:
    """Rewrite the card of a trained checkpoint from its manifest (e.g. after evaluation)."""
    from trainers.core import MANIFEST

    manifest = json.loads((Path(checkpoint) / MANIFEST).read_text())
    return write_card(Path(checkpoint), manifest, db_path)
