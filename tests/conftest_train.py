"""Fixtures for the trainer tests (imported explicitly by tests/test_train_*.py).

The FRet-format file is built from real text: Austen paragraphs (query = first sentence,
positive = the rest, negative = a nearby paragraph) and Wikipedia sections
(query = page and heading, positive = section text, negative = a nearby section).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from gecko_bench.config import TrainConfig


def fret_rows(n_books: int = 24, n_wiki: int = 24) -> list[dict]:
    """FRet-format rows (two task types) from real passages."""
    from gecko_bench.corpora import seeds

    paras = [p for p in seeds.book_paragraphs() if len(p[2].split()) > 40]
    rows = []
    for i, (book, idx, text) in enumerate(paras[: n_books * 7 : 7]):
        first, rest = re.split(r"(?<=[.!?])\s+", text, maxsplit=1)
        other = paras[i * 7 + 3]  # a nearby paragraph of the same novel: a hard negative
        rows.append({"id": f"austen-{i}", "task": "Given the first sentence of a paragraph of a "
                     "novel, retrieve the rest of the paragraph", "task_type": "continuation",
                     "query": first, "positive": rest, "positive_title": book,
                     "negative": other[2], "negative_title": other[0], "source": "fret"})
    wiki = [w for w in seeds.wikipedia_sections() if w[1] and len(w[2].split()) > 30]
    for i, (page, heading, text) in enumerate(wiki[: n_wiki * 5 : 5]):
        other = wiki[i * 5 + 2]  # another section, usually of the same or a nearby page
        rows.append({"id": f"wiki-{i}", "task": "Given a section heading, retrieve the section",
                     "task_type": "heading", "query": f"{page}: {heading}", "positive": text,
                     "positive_title": page, "negative": other[2], "negative_title": other[0],
                     "source": "fret"})
    return rows


def write_jsonl(rows: list[dict], path: Path) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def tiny_cfg(**over) -> TrainConfig:
    """A seconds-scale config: short sequences, small batches, few steps."""
    cfg = TrainConfig(prefinetune_steps=2, prefinetune_batch_size=8, finetune_steps=3,
                      finetune_batch_size=6, max_seq_length=32, save_steps=2,
                      classification_per_task=0)
    for k, v in over.items():
        setattr(cfg, k, v)
    return cfg
