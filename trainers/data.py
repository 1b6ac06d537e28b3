"""Training data: the strict FRet JSONL reader, classification triples, pre-finetuning pairs,
the fine-tuning mixture and the (anchor, positive, negative) dataset the loss consumes.

sentence-transformers losses read columns by *position*, not name: a dataset whose columns come
out as (anchor, negative, positive) trains towards the negative without any error. Every dataset
built here goes through :func:`to_dataset`, and :func:`check_columns` refuses anything else.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gecko_bench.errors import InputError, read_jsonl
from gecko_bench.text_format import format_document, format_query

COLUMNS = ("anchor", "positive", "negative")
FRET_KEYS = {"id": str, "task": str, "task_type": str, "query": str, "positive": str,
             "positive_title": str, "negative": (str, type(None)),
             "negative_title": (str, type(None)), "source": str}
# Optional teacher scores (FRet export): kept on the Example for margin / KL distillation.
SCORE_KEYS = ("positive_score", "negative_score")
SAMPLING = ("original", "uniform")


@dataclass(frozen=True)
class Example:
    """One training example in Gecko's (task, query, positive, negative) format.

    ``symmetric`` examples (classification triples, paraphrase pairs) render every side with the
    query form; retrieval examples render positive/negative as documents.
    """

    id: str
    task: str
    task_type: str
    query: str
    positive: str
    source: str
    positive_title: str = ""
    negative: str | None = None
    negative_title: str | None = None
    symmetric: bool = False
    positive_score: float | None = None  # teacher's score of the positive (FRet: RRF score)
    negative_score: float | None = None


def read_fret_jsonl(path: str | Path) -> list[Example]:
    """Read FRet training rows; any malformed line raises InputError naming file and line."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"FRet training file {path} does not exist")
    out: list[Example] = []
    for lineno, row in read_jsonl(path, required=sorted(FRET_KEYS)):
        for key, typ in FRET_KEYS.items():
            if not isinstance(row[key], typ):
                raise InputError(f"{path}:{lineno}: {key!r} has type {type(row[key]).__name__}")
        for key in ("task", "query", "positive"):
            if not row[key].strip():
                raise InputError(f"{path}:{lineno}: {key!r} is empty")
        for key in SCORE_KEYS:
            value = row.get(key)
            if value is not None and (isinstance(value, bool)
                                      or not isinstance(value, (int, float))):
                raise InputError(f"{path}:{lineno}: {key!r} has type {type(value).__name__}")
        out.append(Example(**{k: row[k] for k in FRET_KEYS},
                           **{k: row.get(k) for k in SCORE_KEYS}))
    if not out:
        raise InputError(f"FRet training file {path} is empty")
    return out


def classification_triples(sets: dict[str, list[tuple[str, Any]]], per_task: int,
                           seed: int = 0) -> list[Example]:
    """(x, x+ same label, x- other label) per classification train split (Gecko sec. 3.3).

    A unique id is appended to all three texts of a triple: two triples of the same task in one
    batch would otherwise make each other's x+ a false in-batch negative (the paper's fix).
    """
    rng = random.Random(seed)
    out: list[Example] = []
    for task, rows in sorted(sets.items()):
        by_label: dict[Any, list[str]] = {}
        for text, label in rows:
            by_label.setdefault(label, []).append(text)
        labels = [lab for lab, texts in by_label.items() if len(texts) >= 2]
        if len(by_label) < 2 or not labels:
            continue
        for k in range(per_task):
            label = rng.choice(labels)
            x, x_pos = rng.sample(by_label[label], 2)
            x_neg = rng.choice(by_label[rng.choice([lab for lab in by_label if lab != label])])
            uid = f"{task}-{k}"
            out.append(Example(id=uid, task=f"Classify the {task} text", task_type="classification",
                               query=f"{x} [{uid}]", positive=f"{x_pos} [{uid}]",
                               negative=f"{x_neg} [{uid}]", source=f"classification:{task}",
                               symmetric=True))
    return out


def prefinetune_pairs(wiki: Iterable[tuple[str, str, str]],
                      books: Iterable[tuple[str, int, str]]) -> list[Example]:
    """Pre-finetuning pairs with a dataset-specific task string (no hard negatives).

    - Wikipedia: section heading (with page title; the lead section is the title) -> text.
    - Books: a paragraph -> the next paragraph of the same book.
    """
    out: list[Example] = []
    for i, (page, heading, text) in enumerate(wiki):
        out.append(Example(id=f"wiki-{i}", task="Given a Wikipedia section heading, retrieve "
                           "the section", task_type="pretrain-wiki", query=f"{page}: {heading}" if heading else page,
                           positive=text, positive_title=page, source="wikipedia_sections"))
    prev: tuple[str, int, str] | None = None
    for book, idx, text in books:
        if prev is not None and prev[0] == book and idx == prev[1] + 1:
            out.append(Example(id=f"book-{book}-{idx}", task="Given a paragraph of a novel, "
                               "retrieve the paragraph that follows it", task_type="pretrain-book",
                               query=prev[2], positive=text, positive_title=book,
                               source="book_paragraphs"))
        prev = (book, idx, text)
    return out


@dataclass
class Mixture:
    """The ordered training stream and what it is made of (recorded with the checkpoint)."""

    examples: list[Example]
    composition: dict[str, Any]


def build_mixture(groups: dict[str, list[Example]], n_examples: int, batch_size: int,
                  sampling: str = "original", seed: int = 0,
                  task_types: Sequence[str] | None = None,
                  pool_size: int | None = None) -> Mixture:
    """Sample `n_examples` in batch order from task-type groups.

    Each slot draws a group - proportionally to its size (``original``) or with equal
    probability (``uniform``) - then the group's next example from a shuffled queue (refilled
    when exhausted). No example repeats inside a batch. ``task_types`` keeps only those groups;
    ``pool_size`` then keeps that many examples drawn at random from them (equal-size training
    sets for ablations), which the stream repeats when it is longer than the pool.
    """
    if sampling not in SAMPLING:
        raise InputError(f"unknown task sampling {sampling!r}; choose {' or '.join(SAMPLING)}")
    groups = {k: v for k, v in groups.items() if v}
    if task_types is not None:
        unknown = sorted(set(task_types) - set(groups))
        if unknown:
            raise InputError(f"unknown task type(s) {', '.join(unknown)}; available: "
                             f"{', '.join(sorted(groups))}")
        groups = {k: groups[k] for k in task_types}
    rng = random.Random(seed)
    if pool_size is not None:
        union = [ex for name in sorted(groups) for ex in groups[name]]
        if not 0 < pool_size <= len(union):
            raise InputError(f"a pool of {pool_size} examples needs at least that many; "
                             f"{len(union)} available in {', '.join(sorted(groups))}")
        pool = rng.sample(union, pool_size)
        groups = {k: [ex for ex in pool if ex.task_type == k] for k in groups}
        groups = {k: v for k, v in groups.items() if v}
    total = sum(len(v) for v in groups.values())
    if total < batch_size:
        raise InputError(f"only {total} training examples for a batch of {batch_size}: lower "
                         "the batch size or add data")
    names = sorted(groups)
    weights = [len(groups[n]) if sampling == "original" else 1.0 for n in names]
    queues: dict[str, list[Example]] = {n: [] for n in names}

    def pick(name: str, seen: set[str]) -> Example | None:
        """The group's next example not yet in this batch (refilling the queue as needed)."""
        queue = queues[name]
        for _ in range(2):
            for i in range(len(queue) - 1, -1, -1):
                if queue[i].id not in seen:
                    return queue.pop(i)
            queue[:0] = rng.sample(groups[name], len(groups[name]))
        return None  # every example of this group is already in the batch

    stream: list[Example] = []
    while len(stream) < n_examples:
        seen: set[str] = set()
        full: set[str] = set()
        size = min(batch_size, n_examples - len(stream))  # fixed per batch, not per slot
        while len(seen) < size:
            live = [(n, w) for n, w in zip(names, weights) if n not in full]
            name = rng.choices([n for n, _ in live], [w for _, w in live])[0]
            ex = pick(name, seen)
            if ex is None:
                full.add(name)
                continue
            seen.add(ex.id)
            stream.append(ex)
    drawn = Counter(ex.task_type for ex in stream)
    composition = {
        "sampling": sampling,
        "task_types": sorted(groups),
        "available": {n: len(groups[n]) for n in names},
        "drawn": {n: drawn.get(n, 0) for n in names},
        "sources": dict(sorted(Counter(ex.source.split(":")[0] for ex in stream).items())),
        "unique_examples": len({ex.id for ex in stream}),
        "pool_size": pool_size,
        "n_examples": len(stream),
    }
    return Mixture(stream, composition)


def render(ex: Example, unified: bool = True) -> dict[str, str | None]:
    """The texts the encoder sees, via the shared unified format."""
    def side(text: str | None, title: str | None) -> str | None:
        if text is None:
            return None
        if ex.symmetric:
            return format_query(text, ex.task, unified)
        return format_document(text, title or "", unified)

    return {"anchor": format_query(ex.query, ex.task, unified),
            "positive": side(ex.positive, ex.positive_title),
            "negative": side(ex.negative, ex.negative_title)}


NEGATIVE_MASK = "label"  # sentence-transformers hands a column of this name to the loss


def to_dataset(examples: Sequence[Example], unified: bool = True, with_negative: bool = True):
    """A ``datasets.Dataset`` with columns exactly (anchor, positive[, negative[, label]]).

    An example without a hard negative (FRet ``neg=none``, pre-finetuning pairs) gets none: no
    text of another example is borrowed for it. Batches may mix examples with and without one
    (``neg=none`` FRet rows next to classification triples), and sentence-transformers needs
    one column layout per batch, so:

    - every example has a negative: (anchor, positive, negative), as always;
    - none has one (or ``with_negative=False``): (anchor, positive), in-batch and same-tower
      negatives only;
    - a mix: (anchor, positive, negative, label); the negative of an example without one is an
      empty placeholder and ``label`` is 0 there, 1 elsewhere. The trainer passes ``label`` to
      :class:`trainers.losses.GeckoLoss`, which drops the placeholder from every denominator,
      so such a row trains on exactly eq. 3 without the hard-negative term.

    Why a mask rather than batches grouped to be all-with or all-without: the mixture
    (:func:`build_mixture`) decides which task types share a batch, and grouping by negative
    would split ``neg=none`` FRet rows from classification triples, changing the in-batch
    negatives the ablation means to hold fixed. The mask keeps the stream as sampled and costs
    only the encoding of a few empty strings.
    """
    from datasets import Dataset

    rows = [render(ex, unified) for ex in examples]
    has = [r["negative"] is not None for r in rows]
    cols: tuple[str, ...] = COLUMNS if with_negative and any(has) else COLUMNS[:2]
    data = {c: [r[c] for r in rows] for c in cols}
    if len(cols) == 3 and not all(has):
        data["negative"] = [n if n is not None else "" for n in data["negative"]]
        data[NEGATIVE_MASK] = [int(h) for h in has]
    ds = Dataset.from_dict(data)
    check_columns(ds)
    return ds


def split_dev(path: str | Path, fraction: float, train_out: str | Path,
              dev_out: str | Path) -> tuple[int, int]:
    """Split a FRet JSONL into train and dev files by a hash of each row's id; (n_train, n_dev).

    Deterministic and stable: a row's side depends only on its id, so the same FRet data
    always gives the same dev split, and a dev query is never a training query. The several
    queries of one seed (ids ending ``#q<r>``, ``fret.queries_per_seed``) hash as one id, so
    they land on the same side and no dev seed is trained on.
    ``round(n * fraction)`` rows (the smallest hashes) go to dev.
    """
    import hashlib
    import re

    def group(row_id) -> str:
        return re.sub(r"#q\d+$", "", str(row_id))

    if not 0 <= fraction < 1:
        raise InputError(f"train.dev_fraction must be in [0, 1), got {fraction}")
    lines = [(row["id"], line) for (_, row), line in
             zip(read_jsonl(path, required=["id"]),
                 (ln for ln in Path(path).read_text(encoding="utf-8").splitlines() if ln.strip()))]
    ranked = sorted(lines, key=lambda r: (hashlib.sha256(group(r[0]).encode()).hexdigest(),
                                          str(r[0])))
    n_dev = round(len(ranked) * fraction)
    while 0 < n_dev < len(ranked) and group(ranked[n_dev][0]) == group(ranked[n_dev - 1][0]):
        n_dev += 1  # a seed's queries stay together
    dev_ids = {i for i, _ in ranked[:n_dev]}
    for out, keep in ((train_out, False), (dev_out, True)):
        Path(out).write_text("".join(line + "\n" for i, line in lines if (i in dev_ids) == keep),
                             encoding="utf-8")
    return len(lines) - n_dev, n_dev


def check_columns(dataset) -> None:
    """Refuse a dataset whose columns are not (anchor, positive[, negative[, label]]) in order."""
    names = tuple(dataset.column_names)
    if names not in (COLUMNS + (NEGATIVE_MASK,), COLUMNS, COLUMNS[:2]):
        raise InputError(f"training columns are {names}; the loss reads them by position and "
                         f"needs {COLUMNS} (or the first two) in that order")


def without_negative(examples: Sequence[Example]) -> int:
    """How many examples have no hard negative (they train without one, see :func:`to_dataset`)."""
    return sum(ex.negative is None for ex in examples)


def passage_rows(n_books: int = 24, n_wiki: int = 24) -> list[dict]:
    """FRet-format rows (two task types) from real seed passages, for tests and benchmarks.

    Austen paragraphs: query = first sentence, positive = the rest, negative = a nearby
    paragraph. Wikipedia sections: query = page and heading, positive = the section, negative =
    a nearby section. Real text, but not LLM-generated: use FRet output for real training.
    """
    from gecko_bench.corpora import seeds

    paras = [p for p in seeds.book_paragraphs() if len(p[2].split()) > 40]
    rows = []
    for i in range(0, len(paras) - 3, 7):
        book, _, text = paras[i]
        parts = re.split(r"(?<=[.!?])\s+", text, maxsplit=1)
        if len(parts) < 2:
            continue
        first, rest = parts
        other = paras[i + 3]  # a nearby paragraph of the same novel: a hard negative
        rows.append({"id": f"austen-{i}", "task": "Given the first sentence of a paragraph of a "
                     "novel, retrieve the rest of the paragraph", "task_type": "continuation",
                     "query": first, "positive": rest, "positive_title": book,
                     "negative": other[2], "negative_title": other[0], "source": "fret"})
        if len(rows) == n_books:
            break
    wiki = [w for w in seeds.wikipedia_sections() if w[1] and len(w[2].split()) > 30]
    for i, (page, heading, text) in enumerate(wiki[: n_wiki * 5 : 5]):
        other = wiki[i * 5 + 2]  # another section, usually of the same or a nearby page
        rows.append({"id": f"wiki-{i}", "task": "Given a section heading, retrieve the section",
                     "task_type": "heading", "query": f"{page}: {heading}", "positive": text,
                     "positive_title": page, "negative": other[2], "negative_title": other[0],
                     "source": "fret"})
    return rows
