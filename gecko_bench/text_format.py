"""The unified text format shared by training and evaluation (Gecko paper, Table 7).

Queries render as ``task: {task} | query: {text}`` and documents as ``title: {title} | text: {text}``.
Symmetric tasks (STS, classification, clustering, pair classification, bitext) use the query form
on both sides. With ``unified=False`` the paper's "- unified format" ablation renders plain
``{task} {text}`` for queries and the bare text for documents. Training and evaluation both call
these functions so the two can never drift.
"""

from __future__ import annotations


def format_query(text: str, task: str, unified: bool = True) -> str:
    """Render a query (or any text of a symmetric task) with its task description."""
    if not unified:
        return f"{task} {text}".strip()
    return f"task: {task} | query: {text}"


def format_document(text: str, title: str = "", unified: bool = True) -> str:
    """Render a document/passage; an empty title renders as ``title: none``."""
    if not unified:
        return f"{title} {text}".strip() if title else text
    return f"title: {title or 'none'} | text: {text}"
