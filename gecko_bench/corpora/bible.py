"""Verse-aligned Bibles from Debian's SWORD modules, read with ``pysword``.

Modules: World English Bible (``engWEB2015eb``, en), King James Version (``engKJV2006eb``, en),
Reina-Valera 1909 (``spaRV1909eb``, es). OSIS markup (Strong's numbers, footnotes, paragraph
milestones) is removed. Only the New Testament is used: the WEB module follows the NRSVA
versification and the other two KJV, and those schemes agree on NT verse numbering while the Old
Testament differs in places (e.g. Malachi 4, Psalm titles), which would misalign pairs.
Licence: public domain (all three texts).
"""

from __future__ import annotations

import re
from functools import lru_cache

from gecko_bench.assets import data_dir
from gecko_bench.corpora._common import clean_ws

SOURCE = "bible"
LICENCE = "public domain (World English Bible, King James Version, Reina-Valera 1909)"
MODULES = {  # our name -> (package folder, SWORD module name)
    "web": ("sword-text-web", "engWEB2015eb"),
    "kjv": ("sword-text-kjv", "engKJV2006eb"),
    "sparv": ("sword-text-sparv", "spaRV1909eb"),
}

_NOTE = re.compile(r"(?s)<note\b.*?</note>")
_TAG = re.compile(r"<[^>]*>")


def clean_osis(raw: str) -> str:
    """Plain verse text from OSIS-marked SWORD text (pure)."""
    text = _TAG.sub("", _NOTE.sub(" ", raw)).replace("¶", " ")
    text = clean_ws(text)
    return re.sub(r" ([,.;:!?])", r"\1", text)


@lru_cache(maxsize=None)
def verses(module: str) -> dict[str, str]:
    """``"John 3:16"`` -> verse text for every non-empty New Testament verse of `module`."""
    from pysword.modules import SwordModules  # imported lazily: only the Bible tasks need it

    folder, name = MODULES[module]
    modules = SwordModules(str(data_dir(SOURCE) / folder / "usr/share/sword"))
    modules.parse_modules()
    bible = modules.get_bible_from_module(name)
    # pysword inflates a whole compressed block for every single verse; memoizing the current
    # block turns reading the New Testament from ~10 s into well under a second.
    bible._decompressed_text = lru_cache(maxsize=4)(bible._decompressed_text)
    out: dict[str, str] = {}
    for book in bible.get_structure().get_books()["nt"]:
        raw = bible.get(books=[book.osis_name], clean=False, join="\x00").split("\x00")
        refs = [(c, v) for c, n in enumerate(book.chapter_lengths, start=1)
                for v in range(1, n + 1)]
        for (chapter, verse), text in zip(refs, raw, strict=True):
            text = clean_osis(text)
            if text:
                out[f"{book.name} {chapter}:{verse}"] = text
    return out


def aligned(a: str, b: str) -> list[tuple[str, str, str]]:
    """(reference, text in `a`, text in `b`) for NT verses present in both modules, in order."""
    va, vb = verses(a), verses(b)
    return [(ref, text, vb[ref]) for ref, text in va.items() if ref in vb]
