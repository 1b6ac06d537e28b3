"""The package's error types, a leaf module that imports nothing of gecko_bench.

Every error a user can cause or fix derives from :class:`GeckoBenchError`; the CLI prints one
of those as a single line and exits 2. Anything else (a ``KeyError`` from a typo in our code,
say) is a bug and keeps its traceback. :func:`read_jsonl` and :func:`read_tsv` read user files
and raise InputError naming ``path:line`` for the first bad line.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any


class GeckoBenchError(Exception):
    """Root of the errors a user can fix; the message says what went wrong and what to do."""


class InputError(GeckoBenchError, ValueError):
    """Malformed or unusable user input (files, names, options)."""


class NothingToScore(InputError):
    """A model can score none of the requested tasks (e.g. BM25 asked for STS only)."""


class AssetError(GeckoBenchError, RuntimeError):
    """A missing, corrupt or unfetchable asset (model or data file)."""


class StoreError(GeckoBenchError, RuntimeError):
    """The results database cannot be used as asked."""


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """(1-based line number, text) of every non-blank line; InputError if missing or not UTF-8."""
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            try:
                line = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError:
                raise InputError(f"{path}:{lineno}: not UTF-8 text") from None
            if line.strip():
                yield lineno, line


def read_jsonl(path: str | Path,
               required: Iterable[str] = ()) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for every non-blank line of a JSONL file.

    InputError ``path:line: why`` on a line that is not a JSON object or lacks a `required` key.
    """
    path = Path(path)
    required = tuple(required)
    for lineno, line in _lines(path):
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}:{lineno}: not valid JSON ({exc.msg} at column "
                             f"{exc.colno})") from None
        if not isinstance(row, dict):
            raise InputError(f"{path}:{lineno}: expected a JSON object, got "
                             f"{type(row).__name__}")
        missing = [k for k in required if k not in row]
        if missing:
            raise InputError(f"{path}:{lineno}: missing key(s) {', '.join(missing)}")
        yield lineno, row


def read_tsv(path: str | Path, n_columns: int,
             header: bool = False) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) for every non-blank row of a tab-separated file.

    The first row is skipped when `header`. InputError ``path:line: why`` on a row with fewer
    than `n_columns` fields (extra fields are kept).
    """
    path = Path(path)
    for i, (lineno, line) in enumerate(_lines(path)):
        if header and i == 0:
            continue
        fields = next(csv.reader([line], delimiter="\t"))
        if len(fields) < n_columns:
            raise InputError(f"{path}:{lineno}: expected {n_columns} tab-separated columns, "
                             f"got {len(fields)}")
        yield lineno, fields
