"""A BEIR-format folder (corpus.jsonl, queries.jsonl, qrels/<split>.tsv) as an mteb retrieval task.

Loading is BEIR's own ``GenericDataLoader``; the dicts it returns are put into mteb's retrieval
layout, so scoring is mteb's RetrievalEvaluator like every other retrieval task.
"""

from __future__ import annotations

import re
from pathlib import Path

from mteb.abstasks import AbsTaskRetrieval
from mteb.abstasks.task_metadata import TaskMetadata

from gecko_bench.errors import InputError


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
    name = "beir-" + re.sub(r"[^A-Za-z0-9_.-]+", "_", root.resolve().name)

    class BeirFolderTask(AbsTaskRetrieval):
        metadata = TaskMetadata(
            name=name, description=f"BEIR-format folder {root.resolve()}",
            dataset={"path": str(root.resolve()), "revision": "local"}, type="Retrieval",
            category="t2t", modalities=["text"], eval_splits=[splits[0]],
            eval_langs=[language], main_score="ndcg_at_10", reference=None,
            date=None, domains=None, task_subtypes=None, license=None,
            annotations_creators=None, dialect=None, sample_creation=None, bibtex_citation="")
        symmetric = False
        gecko_instruction = "search result"

        def load_data(self, num_proc: int | None = None, **kwargs) -> None:
            from beir.datasets.data_loader import GenericDataLoader
            from datasets import Dataset

            if self.data_loaded:
                return
            for fname, what in (("corpus.jsonl", "empty corpus"), ("queries.jsonl", "no queries")):
                with open(root / fname, encoding="utf-8") as fh:  # beir crashes on empty files
                    empty = not any(line.strip() for line in fh)
                if empty:
                    raise InputError(f"--beir-dir {root}: {what} ({fname} is empty)")
            self.dataset = {"default": {}}
            for split in self.metadata.eval_splits:
                corpus, queries, qrels = GenericDataLoader(data_folder=str(root)).load(split=split)
                if not corpus or not queries:
                    raise InputError(f"--beir-dir {root}: empty corpus or no queries for "
                                     f"split {split!r}")
                self.dataset["default"][split] = {
                    "corpus": Dataset.from_list([{"id": str(k), "title": v.get("title", ""),
                                                 "text": v.get("text", "")}
                                                for k, v in corpus.items()]),
                    "queries": Dataset.from_list([{"id": str(k), "text": v}
                                                 for k, v in queries.items()]),
                    "relevant_docs": {str(q): {str(d): int(s) for d, s in rel.items()}
                                      for q, rel in qrels.items()},
                    "top_ranked": None,
                }
            self.data_loaded = True

    BeirFolderTask.__name__ = name.replace("-", "_")
    return BeirFolderTask()
