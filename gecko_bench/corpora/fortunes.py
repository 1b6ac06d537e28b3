"""fortune-mod cookie files (Debian ``fortunes`` + ``fortunes-min``), labelled by category.

Each category file holds entries separated by ``%`` lines. Dropped: ``ethnic`` and ``men-women``
(stereotyping content), any ``-off`` (offensive) file, and ``ascii-art`` (pictures, not text).
Licence: BSD-4-Clause and public domain (fortune-mod).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from gecko_bench.assets import data_dir
from gecko_bench.corpora._common import clean_ws

SOURCE = "fortunes"
LICENCE = "BSD-4-Clause and public domain (fortune-mod)"
DROPPED = frozenset({"ethnic", "men-women", "ascii-art"})
MAX_WORDS = 120  # longer cookies (whole stories, poems) are left out


@dataclass(frozen=True)
class Fortune:
    """One fortune cookie with its category (the file it came from)."""

    id: str
    category: str
    text: str


def parse_cookie_file(text: str, category: str) -> list[Fortune]:
    """Entries of one ``%``-separated cookie file (pure)."""
    out = []
    for i, chunk in enumerate(text.split("\n%\n")):
        body = clean_ws(chunk.strip("%\n"))
        if body and len(body.split()) <= MAX_WORDS:
            out.append(Fortune(f"{category}:{i}", category, body))
    return out


@lru_cache(maxsize=1)
def fortunes() -> tuple[Fortune, ...]:
    """All kept cookies, ordered by category then position; exact duplicates removed."""
    root = data_dir(SOURCE)
    out: list[Fortune] = []
    seen: set[str] = set()
    for pkg in ("fortunes", "fortunes-min"):
        folder = root / pkg / "usr/share/games/fortunes"
        for path in sorted(folder.iterdir()):
            name = path.name
            if (path.suffix in {".dat", ".u8"} or path.is_symlink() or not path.is_file()
                    or name in DROPPED or name.endswith("-off")):
                continue
            for f in parse_cookie_file(path.read_text(encoding="utf-8", errors="replace"), name):
                if f.text not in seen:
                    seen.add(f.text)
                    out.append(f)
    return tuple(sorted(out, key=lambda f: (f.category, int(f.id.rsplit(":", 1)[1]))))
