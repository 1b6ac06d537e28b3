"""Training data: the strict FRet JSONL reader, classification triples, pre-finetuning pairs,
the fine-tuning mixture and the (anchor, positive, negative) dataset the loss consumes.

sentence-transformers losses read columns by *position*, not name: a dataset whose columns come
out as (anchor, negative, positive) trains towards the negative without any error. Every dataset
built here goes through :func:`to_dataset`, and :func:`check_columns` refuses anything else.
"""

from __future__ import annotations

import math
import random
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
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
# train.loss: eq. 3 | MarginMSE on the teacher's margins | their sum (trainers/losses.py)
LOSSES = ("gecko", "margin_mse", "gecko+margin_mse")
# train.soft_label_score: the neighbour score the margin is taken of (mean QL log-prob, or the
# Yes-vs-No log-prob of relevance classification); RRF is rank-based, no margin
SOFT_LABEL_SCORES = ("ql", "rc_norm")


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
    # the teacher's SOFT_LABEL_SCORES of the positive / negative, from the row's
    # neighbour_scores (FRet export); empty when that passage is not among the neighbours
    positive_teacher: dict[str, float | None] = field(default_factory=dict, hash=False)
    negative_teacher: dict[str, float | None] = field(default_factory=dict, hash=False)


def _is_score(value: Any) -> bool:
    return value is None or (not isinstance(value, bool) and isinstance(value, (int, float)))


def _neighbour_teacher(where: str, neighbours: Any) -> dict[tuple[str, str], dict]:
    """(title, text) -> that neighbour's SOFT_LABEL_SCORES; InputError `where` on a bad entry.

    A neighbour without a text cannot be matched and is skipped. Passages of the same text get
    the same teacher score (the teacher scores the text), so a duplicate keeps the first one's.
    """
    if neighbours is None:
        return {}
    if not isinstance(neighbours, list):
        raise InputError(f"{where}: 'neighbour_scores' has type {type(neighbours).__name__}")
    out: dict[tuple[str, str], dict] = {}
    for i, n in enumerate(neighbours):
        if not isinstance(n, dict):
            raise InputError(f"{where}: neighbour_scores[{i}] has type {type(n).__name__}")
        bad = [k for k in SOFT_LABEL_SCORES if not _is_score(n.get(k))]
        if bad:
            raise InputError(f"{where}: neighbour_scores[{i}] {bad[0]!r} has type "
                             f"{type(n[bad[0]]).__name__}")
        if isinstance(n.get("text"), str):
            out.setdefault((n.get("title") or "", n["text"]),
                           {k: n.get(k) for k in SOFT_LABEL_SCORES})
    return out


def read_fret_jsonl(path: str | Path) -> list[Example]:
    """Read FRet training rows; any malformed line raises InputError naming file and line.

    The positive's and the negative's teacher scores are looked up in ``neighbour_scores`` by
    (title, text): the export gives the mined passages' texts, not their ids.
    """
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
            if not _is_score(value):
                raise InputError(f"{path}:{lineno}: {key!r} has type {type(value).__name__}")
        teacher = _neighbour_teacher(f"{path}:{lineno}", row.get("neighbour_scores"))
        neg_key = (row["negative_title"] or "", row["negative"])
        out.append(Example(**{k: row[k] for k in FRET_KEYS},
                           **{k: row.get(k) for k in SCORE_KEYS},
                           positive_teacher=teacher.get((row["positive_title"], row["positive"]),
                                                        {}),
                           negative_teacher=teacher.get(neg_key, {})))
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
    check_sampling(sampling)
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


TEXT_STYLES = ("gecko", "plain", "none")  # train.text_style


def check_text_style(style: str) -> None:
    """InputError on an unknown ``train.text_style``."""
    if style not in TEXT_STYLES:
        raise InputError(f"unknown train.text_style {style!r}; choose one of "
                         f"{', '.join(TEXT_STYLES)}")


def example_texts(ex: Example, style: str = "gecko") -> dict[str, str | None]:
    """The texts the encoder sees in ``train.text_style`` `style`: the shared unified format
    (gecko), its plain ablation, or the bare texts (none: query as is, documents as title and
    text, as the ``none`` prompt style scores them)."""
    check_text_style(style)
    unified = style == "gecko"

    def query(text: str) -> str:
        return text if style == "none" else format_query(text, ex.task, unified)

    def side(text: str | None, title: str | None) -> str | None:
        if text is None:
            return None
        if ex.symmetric:
            return query(text)
        return format_document(text, title or "", unified)

    return {"anchor": query(ex.query),
            "positive": side(ex.positive, ex.positive_title),
            "negative": side(ex.negative, ex.negative_title)}


NEGATIVE_MASK = "label"  # sentence-transformers hands a column of this name to the loss


def check_sampling(sampling: str) -> None:
    """InputError on an unknown ``train.task_sampling``."""
    if sampling not in SAMPLING:
        raise InputError(f"unknown task sampling {sampling!r} (train.task_sampling); choose "
                         f"{' or '.join(SAMPLING)}")


def check_dev_fraction(fraction: float) -> None:
    """InputError unless ``train.dev_fraction`` is in [0, 1)."""
    if not 0 <= fraction < 1:
        raise InputError(f"train.dev_fraction must be in [0, 1), got {fraction}")


def check_loss(loss: str, soft_label_score: str | None = None) -> None:
    """InputError on an unknown ``train.loss`` or (when given) ``train.soft_label_score``."""
    if loss not in LOSSES:
        raise InputError(f"unknown train.loss {loss!r}; choose one of {', '.join(LOSSES)}")
    if soft_label_score is not None and soft_label_score not in SOFT_LABEL_SCORES:
        raise InputError(f"unknown train.soft_label_score {soft_label_score!r}; choose one of "
                         f"{', '.join(SOFT_LABEL_SCORES)}")


def teacher_margin(ex: Example, score: str) -> float | None:
    """teacher(q, positive) - teacher(q, negative) under `score`; None when either is missing."""
    pos, neg = ex.positive_teacher.get(score), ex.negative_teacher.get(score)
    if ex.negative is None or pos is None or neg is None or not math.isfinite(pos - neg):
        return None
    return float(pos - neg)


def _why_no_margin(ex: Example, score: str) -> str:
    if ex.negative is None:
        return "no hard negative"
    side = "positive" if ex.positive_teacher.get(score) is None else "negative"
    return f"no teacher {score!r} score for its {side}"


def soft_labels(examples: Sequence[Example], loss: str, score: str) -> list:
    """The ``label`` column of a soft-label loss (:func:`trainers.losses.build_loss`).

    ``margin_mse``: the teacher margin of each row; every row must have one (InputError naming
    the first that has not). ``gecko+margin_mse``: ``[has_negative, margin]`` per row, the
    margin NaN where there is none (that row trains on eq. 3 only); at least one row must have
    a margin, or the run would silently be eq. 3.
    """
    margins = [teacher_margin(ex, score) for ex in examples]
    missing = [ex for ex, m in zip(examples, margins) if m is None]
    if missing and (loss == "margin_mse" or len(missing) == len(examples)):
        first = missing[0]
        advice = ("use train.loss=gecko+margin_mse (rows without one train on eq. 3 only), or "
                  "FRet rows only (train.classification_per_task=0) with a hard negative"
                  if loss == "margin_mse" else "FRet exports carry the scores in "
                  "neighbour_scores; classification triples and pairs have none")
        raise InputError(f"train.loss={loss} needs a teacher {score!r} margin, and {len(missing)} "
                         f"of the {len(examples)} training rows have none (first: {first.id!r}, "
                         f"{_why_no_margin(first, score)}); {advice}")
    if loss == "margin_mse":
        return margins
    return [[float(ex.negative is not None), math.nan if m is None else m]
            for ex, m in zip(examples, margins)]


def to_dataset(examples: Sequence[Example], style: str = "gecko", with_negative: bool = True,
               loss: str = "gecko", soft_label_score: str = "ql"):
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

    A soft-label ``loss`` (``margin_mse``, ``gecko+margin_mse``) always has all four columns,
    ``label`` holding :func:`soft_labels` of the teacher's ``soft_label_score``.
    """
    from datasets import Dataset

    check_loss(loss, soft_label_score)
    labels = None if loss == "gecko" else soft_labels(examples, loss, soft_label_score)
    rows = [example_texts(ex, style) for ex in examples]
    has = [r["negative"] is not None for r in rows]
    cols: tuple[str, ...] = COLUMNS if with_negative and any(has) else COLUMNS[:2]
    if labels is not None and len(cols) == 2:
        raise ValueError(f"train.loss={loss} trains on hard negatives: pass with_negative=True")
    data = {c: [r[c] for r in rows] for c in cols}
    if len(cols) == 3 and (labels is not None or not all(has)):
        data["negative"] = [n if n is not None else "" for n in data["negative"]]
        data[NEGATIVE_MASK] = labels if labels is not None else [int(h) for h in has]
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

    check_dev_fraction(fraction)
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
