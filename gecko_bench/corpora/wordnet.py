"""WordNet 3.0 (Debian ``wordnet-base``): synset glosses labelled by lexicographer file.

``data.{noun,verb,adj,adv}`` lines carry ``offset lex_filenum ss_type words... | gloss``; the file
number -> name table (``noun.animal`` ...) is read from the package's own ``lexnames(5WN)`` page.
Licence: WordNet 3.0 licence (Princeton, BSD-like).
"""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass
from functools import lru_cache

from gecko_bench.assets import data_dir
from gecko_bench.corpora._common import clean_ws

SOURCE = "wordnet"
LICENCE = "WordNet 3.0 licence (Princeton University, BSD-like)"
POS_FILES = ("noun", "verb", "adj", "adv")


@dataclass(frozen=True)
class Gloss:
    """One synset: id (``n00001740``), its lemmas, definition, examples and lexicographer file."""

    synset: str
    lemmas: tuple[str, ...]
    definition: str
    examples: tuple[str, ...]
    lexname: str


def _root():
    return data_dir(SOURCE) / "wordnet-base" / "usr/share"


@lru_cache(maxsize=1)
def lexnames() -> dict[int, str]:
    """Lexicographer file number -> name, parsed from the lexnames(5WN) man page."""
    with gzip.open(_root() / "man/man5/lexnames.5WN.gz", "rt", encoding="utf-8") as fh:
        rows = re.findall(r"^(\d\d)\t([a-z]+\.[A-Za-z]+) *\t", fh.read(), flags=re.M)
    return {int(num): name for num, name in rows}


def parse_data_line(line: str, names: dict[int, str]) -> Gloss | None:
    """A :class:`Gloss` from one ``data.<pos>`` line (None for the licence header lines)."""
    if line.startswith("  ") or "|" not in line:
        return None
    head, gloss = line.split("|", 1)
    fields = head.split()
    offset, lex_num, ss_type, w_cnt = fields[0], int(fields[1]), fields[2], int(fields[3], 16)
    lemmas = tuple(fields[4 + 2 * i].replace("_", " ") for i in range(w_cnt))
    parts = [p.strip() for p in gloss.strip().split(";")]
    examples = tuple(p.strip('"') for p in parts if p.startswith('"'))
    definition = clean_ws("; ".join(p for p in parts if p and not p.startswith('"')))
    pos = "a" if ss_type == "s" else ss_type
    return Gloss(f"{pos}{offset}", lemmas, definition, examples, names[lex_num])


@lru_cache(maxsize=1)
def glosses() -> tuple[Gloss, ...]:
    """All 117,659 synsets of WordNet 3.0 with a non-empty definition, in file order."""
    names = lexnames()
    out = []
    for pos in POS_FILES:
        with open(_root() / "wordnet" / f"data.{pos}", encoding="utf-8") as fh:
            for line in fh:
                g = parse_data_line(line, names)
                if g is not None and g.definition:
                    out.append(g)
    return tuple(out)
