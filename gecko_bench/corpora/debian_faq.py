"""The Debian GNU/Linux FAQ (package ``debian-faq`` + 9 translations), parsed into Q/A sections.

Each language ships the FAQ as plain text (``debian-faq.<lang>.txt.gz``, DocBook rendered by the
package build). Numbered headings ``N.M. Question`` start at column 0, answer paragraphs are
indented; ``N.M.K.`` sub-headings are folded into their ``N.M`` answer. Section numbers are the
same in every language (112 sections each in 11.1), which aligns the translations.
Licence: GPL-2+ (see the package copyright files).
"""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from gecko_bench.assets import data_dir
from gecko_bench.corpora._common import clean_ws

SOURCE = "debian-faq"
LICENCE = "GPL-2+ (The Debian GNU/Linux FAQ)"
# Our language code -> (package folder, file language tag).
LANGS: dict[str, tuple[str, str]] = {
    "en": ("debian-faq", "en"), "de": ("debian-faq-de", "de"), "fr": ("debian-faq-fr", "fr"),
    "it": ("debian-faq-it", "it"), "ja": ("debian-faq-ja", "ja"), "ko": ("debian-faq-ko", "ko"),
    "nl": ("debian-faq-nl", "nl"), "pt": ("debian-faq-pt", "pt"), "ru": ("debian-faq-ru", "ru"),
    "zh": ("debian-faq-zh-cn", "zh-cn"),
}
# ISO 639-3 + script, as mteb wants them.
MTEB_LANGS = {
    "en": "eng-Latn", "de": "deu-Latn", "fr": "fra-Latn", "it": "ita-Latn", "ja": "jpn-Jpan",
    "ko": "kor-Hang", "nl": "nld-Latn", "pt": "por-Latn", "ru": "rus-Cyrl", "zh": "zho-Hans",
}

_HEADING = re.compile(r"^(\d+(?:\.\d+)+)\.\s+(\S.*)$")


@dataclass(frozen=True)
class FaqEntry:
    """One FAQ section: its number (``"7.12"``), question and answer paragraphs."""

    lang: str
    section: str
    question: str
    paragraphs: tuple[str, ...]

    @property
    def answer(self) -> str:
        return "\n".join(self.paragraphs)


def faq_file(lang: str) -> Path:
    folder, tag = LANGS[lang]
    return data_dir(SOURCE) / folder / "usr/share/doc/debian/FAQ" / f"debian-faq.{tag}.txt.gz"


def parse_faq_text(text: str, lang: str) -> list[FaqEntry]:
    """Sections of one rendered FAQ text (pure: text in, entries out)."""
    blocks = re.split(r"\n[ \t\u00a0]*\n", text.replace("\u00a0", " "))
    entries: list[FaqEntry] = []
    current: tuple[str, str] | None = None
    paras: list[str] = []

    def close() -> None:
        if current is not None and paras:
            entries.append(FaqEntry(lang, current[0], current[1], tuple(paras)))

    for block in blocks:
        block = block.strip("\n")
        if not block.strip():
            continue
        first = block.split("\n", 1)[0]
        m = _HEADING.match(first)
        if m:
            title = clean_ws(m.group(2) + block[len(first):])
            if m.group(1).count(".") == 1:
                close()
                current, paras = (m.group(1), title), []
            elif current is not None:
                paras.append(title)  # sub-heading folded into its parent answer
        elif not first[:1].isspace():
            close()  # chapter title, rule or other structure ends the section
            current, paras = None, []
        elif current is not None:
            paras.append(clean_ws(block))
    close()
    return entries


@lru_cache(maxsize=None)
def faq_entries(lang: str = "en") -> tuple[FaqEntry, ...]:
    """All Q/A sections of the FAQ in `lang` (one of :data:`LANGS`), in document order."""
    with gzip.open(faq_file(lang), "rt", encoding="utf-8") as fh:
        return tuple(parse_faq_text(fh.read(), lang))


def aligned_sections(langs: list[str] | tuple[str, ...] = tuple(LANGS)) -> list[str]:
    """Section numbers present in every language of `langs`, in document order."""
    common = set.intersection(*({e.section for e in faq_entries(lg)} for lg in langs))
    return [e.section for e in faq_entries(langs[0]) if e.section in common]
