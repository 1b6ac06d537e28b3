"""A BEIR-format folder (corpus.jsonl, queries.jsonl, qrels/<split>.tsv) as an mteb retrieval task.

The files are read and checked when the task is made (before any model loads or run row is
written), the way BEIR's ``GenericDataLoader`` reads them: corpus lines ``{"_id", "text",
"title"?}``, query lines ``{"_id", "text"}``, a qrels TSV with a header row and
``query-id, corpus-id, score`` rows; only queries with qrels are kept. A bad line is one
InputError naming ``file:line``. The data is put into mteb's retrieval layout, so scoring is
mteb's RetrievalEvaluator like every other retrieval task.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mteb.abstasks import AbsTaskRetrieval
from mteb.abstasks.task_metadata import TaskMetadata

from gecko_bench.corpora._common import stable_sample
from gecko_bench.errors import InputError, read_jsonl, read_tsv
from gecko_bench.tasks.base import SPLIT_SEED


def beir_splits(folder: Path) -> list[str]:
    """The qrels splits of a BEIR folder, ``test`` first when present."""
    splits = sorted(p.stem for p in (folder / "qrels").glob("*.tsv"))
    return sorted(splits, key=lambda s: s != "test")


def make_beir_task(folder: str | Path, language: str = "eng-Latn") -> AbsTaskRetrieval:
    """An mteb task over the BEIR folder; InputError when files are missing or empty."""
    root = Path(folder)
    if not root.is_dir():
        raise InputError(f"--beir-dir {root}: no such folder")
    missing = [f for f in ("corpus.jsonl", "queries.jsonl") if not (root / f).is_file()]
    splits = beir_splits(root)
    if missing or not splits:
        missing += [] if splits else ["qrels/<split>.tsv"]
        raise InputError(f"--beir-dir {root} is not a BEIR folder: missing {', '.join(missing)}")
    corpus, queries, qrels = read_beir(root, splits[0])
    name = "beir-" + re.sub(r"[^A-Za-z0-9_.-]+", "_", root.resolve().name)
    revision = folder_revision(root, splits[0])

    class BeirFolderTask(AbsTaskRetrieval):
        metadata = TaskMetadata(
            name=name, description=f"BEIR-format folder {root.resolve()}",
            dataset={"path": str(root.resolve()), "revision": revision}, type="Retrieval",
            category="t2t", modalities=["text"], eval_splits=[splits[0]],
            eval_langs=[language], main_score="ndcg_at_10", reference=None,
            date=None, domains=None, task_subtypes=None, license=None,
            annotations_creators=None, dialect=None, sample_creation=None, bibtex_citation="")
        symmetric = False
        gecko_instruction = "search result"

        def load_data(self, num_proc: int | None = None, **kwargs) -> None:
            from datasets import Dataset

            if self.data_loaded:
                return
            self.dataset = {"default": {splits[0]: {
                "corpus": Dataset.from_list([{"id": k, "title": v["title"], "text": v["text"]}
                                            for k, v in corpus.items()]),
                "queries": Dataset.from_list([{"id": k, "text": v} for k, v in queries.items()]),
                "relevant_docs": qrels,
                "top_ranked": None,
            }}}
            self.data_loaded = True

    BeirFolderTask.__name__ = name.replace("-", "_")
    return BeirFolderTask()


def folder_revision(root: Path, split: str) -> str:
    """The folder's data revision: a short hash of its corpus, queries and qrels files, so an
    edited folder is a new revision of the task and its old scores stop being current."""
    import hashlib

    from gecko_bench.assets.fetch import sha256_file

    digest = hashlib.sha256()
    for name in ("corpus.jsonl", "queries.jsonl", f"qrels/{split}.tsv"):
        digest.update(f"{name}={sha256_file(root / name)}\n".encode())
    return digest.hexdigest()[:12]


def read_beir(root: Path, split: str) -> tuple[dict[str, dict[str, str]], dict[str, str],
                                               dict[str, dict[str, int]]]:
    """(corpus, queries with qrels, qrels) of one split; InputError ``file:line`` on a bad line."""
    corpus_file, queries_file = root / "corpus.jsonl", root / "queries.jsonl"
    corpus = {str(row["_id"]): {"title": _str(row, "title", corpus_file, n),
                                "text": _str(row, "text", corpus_file, n)}
              for n, row in read_jsonl(corpus_file, required=("_id", "text"))}
    if not corpus:
        raise InputError(f"--beir-dir {root}: empty corpus (corpus.jsonl is empty)")
    all_queries = {str(row["_id"]): _str(row, "text", queries_file, n)
                   for n, row in read_jsonl(queries_file, required=("_id", "text"))}
    if not all_queries:
        raise InputError(f"--beir-dir {root}: no queries (queries.jsonl is empty)")
    qrels: dict[str, dict[str, int]] = {}
    path = root / "qrels" / f"{split}.tsv"
    for n, (query_id, doc_id, score, *_) in read_tsv(path, 3, header=True):
        if query_id not in all_queries:
            raise InputError(f"{path}:{n}: query {query_id!r} is not in queries.jsonl")
        try:
            qrels.setdefault(query_id, {})[doc_id] = int(score)
        except ValueError:
            raise InputError(f"{path}:{n}: score {score!r} is not an integer") from None
    if not qrels:
        raise InputError(f"--beir-dir {root}: no queries for split {split!r} "
                         f"(qrels/{split}.tsv has no rows)")
    return corpus, {q: all_queries[q] for q in qrels}, qrels


def _str(row: dict[str, Any], key: str, path: Path, lineno: int) -> str:
    """``row[key]`` as text (missing or null: empty); InputError ``path:line`` if not a string."""
    value = row.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InputError(f"{path}:{lineno}: {key!r} has type {type(value).__name__}, not string")
    return value


def exportable(task) -> bool:
    """Whether a task can be written as a BEIR folder whole: a monolingual retrieval task (a
    multilingual one exports a language at a time: :func:`check_exportable`)."""
    from gecko_bench.tasks.registry import task_category

    return task_category(task) == "Retrieval" and not task.metadata.is_multilingual


def check_exportable(task_name: str, lang: str | None = None):
    """The registered task `task_name` if it (its language `lang`) can be written as a BEIR
    folder; InputError naming the task, or the languages it has, otherwise."""
    from gecko_bench.tasks.registry import get_task, task_category

    task = get_task(task_name)
    if task_category(task) != "Retrieval":
        raise InputError(f"{task_name} is a {task_category(task)} task; only retrieval tasks "
                         "export as a BEIR folder")
    if task.metadata.is_multilingual and lang not in task.hf_subsets:
        raise InputError(f"{task_name} is multilingual: name one of its languages "
                         f"({', '.join(task.hf_subsets)})"
                         + (f"; it has no {lang!r}" if lang else ""))
    if not task.metadata.is_multilingual and lang:
        raise InputError(f"{task_name} has one language; it takes no language {lang!r}")
    return task


def export_beir(task_name: str, folder: str | Path, dev_queries: int = 0,
                lang: str | None = None) -> dict[str, int]:
    """Write the registered retrieval task `task_name` (of a multilingual one, its language
    `lang`) as a BEIR folder (corpus.jsonl, queries.jsonl, qrels/test.tsv) that
    :func:`make_beir_task` reads back to the same task; returns the counts. With
    `dev_queries` = N > 0, N of its queries (a deterministic sample) go to qrels/dev.tsv
    instead, for choices made on the target (docs/domain.md), and the rest stay in
    qrels/test.tsv. InputError for an unknown, non-retrieval or reranking task, a multilingual
    one without one of its languages, a folder that already holds a BEIR folder, or N that
    leaves no test query."""
    import json

    task = check_exportable(task_name, lang)
    root = Path(folder)
    if (root / "corpus.jsonl").exists():
        raise InputError(f"{root} already holds corpus.jsonl; export into a new folder")
    task.load_data()
    split = task.dataset[lang or "default"]["test"]
    if split.get("top_ranked"):
        raise InputError(f"{task_name} reranks given candidates; a BEIR folder cannot say that")
    qrels = split["relevant_docs"]
    if not 0 <= dev_queries < len(qrels):
        raise InputError(f"--dev-queries {dev_queries}: {task_name} has {len(qrels)} queries; "
                         "the dev split must leave at least one for test")
    dev = set(stable_sample(sorted(qrels), dev_queries, SPLIT_SEED + 2, key=str))
    (root / "qrels").mkdir(parents=True, exist_ok=True)

    def write(name: str, rows) -> int:
        n = 0
        with open(root / name, "w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
                n += 1
        return n

    n_corpus = write("corpus.jsonl", ({"_id": r["id"], "title": r.get("title") or "",
                                       "text": r["text"]} for r in split["corpus"]))
    n_queries = write("queries.jsonl", ({"_id": r["id"], "text": r["text"]}
                                        for r in split["queries"]))
    n_qrels = 0
    for name, keep in (("test", lambda q: q not in dev), ("dev", lambda q: q in dev)):
        if name == "dev" and not dev:
            continue
        with open(root / "qrels" / f"{name}.tsv", "w", encoding="utf-8") as fh:
            fh.write("query-id\tcorpus-id\tscore\n")
            for qid, docs in qrels.items():
                for doc_id, score in docs.items() if keep(qid) else ():
                    fh.write(f"{qid}\t{doc_id}\t{int(score)}\n")
                    n_qrels += 1
    return {"corpus": n_corpus, "queries": n_queries, "qrels": n_qrels} | (
        {"dev_queries": len(dev)} if dev else {})
