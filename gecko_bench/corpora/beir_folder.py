"""A BEIR-format folder as a domain job's target corpus: its documents, its queries, its hash.

``corpus.jsonl`` (``{"_id", "text", "title"?}`` per line) is required; ``queries.jsonl`` and
``qrels/<split>.tsv`` are optional (without them the job adapts but has no target evaluation).
Reading goes through :func:`gecko_bench.errors.read_jsonl`, so a bad line is one InputError
naming ``file:line``. Documents are kept whole (no re-chunking): a seed is a retrieval unit of
the target, so the passage the student learns to find is the one its queries will look for.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from gecko_bench.errors import InputError, read_jsonl

SOURCE_PREFIX = "beir:"


@dataclass(frozen=True)
class BeirFolder:
    root: Path

    @classmethod
    def open(cls, folder: str | Path) -> BeirFolder:
        root = Path(folder).expanduser().resolve()
        if not root.is_dir():
            raise InputError(f"--corpus {folder}: no such folder")
        if not (root / "corpus.jsonl").is_file():
            raise InputError(f"--corpus {folder} is not a BEIR folder: missing corpus.jsonl")
        return cls(root)

    @property
    def name(self) -> str:
        return self.root.name

    def documents(self) -> list[tuple[str, str, str]]:
        """(id, title, text) of every corpus line with non-empty text, in file order."""
        path = self.root / "corpus.jsonl"
        out, seen = [], set()
        for n, row in read_jsonl(path, required=("_id", "text")):
            text, title = row["text"], row.get("title") or ""
            if not isinstance(text, str) or not isinstance(title, str):
                raise InputError(f"{path}:{n}: 'text' and 'title' must be strings")
            doc_id = str(row["_id"])
            if doc_id in seen:
                raise InputError(f"{path}:{n}: duplicate _id {doc_id!r}")
            seen.add(doc_id)
            if text.strip():
                out.append((doc_id, title, text))
        if not out:
            raise InputError(f"{path}: no document with text")
        return out

    def queries(self) -> dict[str, str]:
        """id -> text of every line of queries.jsonl (empty when the folder has none)."""
        path = self.root / "queries.jsonl"
        if not path.is_file():
            return {}
        out = {}
        for n, row in read_jsonl(path, required=("_id", "text")):
            if not isinstance(row["text"], str):
                raise InputError(f"{path}:{n}: 'text' must be a string")
            out[str(row["_id"])] = row["text"]
        return out

    def has_evaluation(self) -> bool:
        """Queries and at least one qrels split: the target can be evaluated."""
        return (self.root / "queries.jsonl").is_file() and any(
            (self.root / "qrels").glob("*.tsv"))

    def content_hash(self) -> str:
        """sha256 (16 hex) of corpus.jsonl, queries.jsonl and every qrels file present."""
        return self._hash([self.root / "corpus.jsonl", self.root / "queries.jsonl",
                           *sorted((self.root / "qrels").glob("*.tsv"))])

    def seed_hash(self) -> str:
        """sha256 (16 hex) of what a FRet build reads: corpus.jsonl (seeds and neighbours) and
        queries.jsonl (generated queries holding one are rejected). The qrels only score and
        choose, so re-splitting them into dev and test keeps the FRet data."""
        return self._hash([self.root / "corpus.jsonl", self.root / "queries.jsonl"])

    def _hash(self, files: list[Path]) -> str:
        digest = hashlib.sha256()
        for path in files:
            if path.is_file():
                digest.update(f"{path.relative_to(self.root)}\n".encode())
                with path.open("rb") as fh:
                    for block in iter(lambda: fh.read(1 << 20), b""):
                        digest.update(block)
        return digest.hexdigest()[:16]


def folder_of(source: str) -> BeirFolder:
    """The folder of a ``beir:<path>`` seed source."""
    return BeirFolder.open(source[len(SOURCE_PREFIX):])


def source_identity(sources: list[str] | tuple[str, ...]) -> list[str]:
    """Seed sources as they enter a FRet dataset id: a ``beir:`` folder with the hash of what
    FRet reads of it (an edited corpus or query file is new data), every other source as
    written."""
    return [f"{s}@{folder_of(s).seed_hash()}" if s.startswith(SOURCE_PREFIX) else s
            for s in sources]
