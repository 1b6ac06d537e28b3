"""Linux man-pages (Debian package ``manpages``): the NAME line and the page body as plain text.

The pages are gzipped roff. A small roff-to-text pass is enough here (we only need running text,
not layout): font escapes and layout requests are dropped, font-alternating macros (``.BR`` ...)
are joined, ``.so`` alias pages are skipped. Licence: various free licences of the Linux
man-pages project (each page carries its own SPDX line).
"""

from __future__ import annotations

import gzip
import re
import shlex
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from gecko_bench.assets import data_dir
from gecko_bench.corpora._common import clean_ws, truncate_words

SOURCE = "manpages"
DEV_SOURCE = "manpages-dev"
L10N_SOURCE = "manpages-l10n"
# NAME and DESCRIPTION as the translated pages title them (manpages-l10n 4.18).
HEADINGS = {"en": ("NAME", "DESCRIPTION"), "de": ("BEZEICHNUNG", "BESCHREIBUNG"),
            "fr": ("NOM", "DESCRIPTION")}
LICENCE = "various free licences (Linux man-pages project; see each page's SPDX line)"
BODY_WORDS = 300  # page bodies are cut to this many words (models read ~256 tokens anyway)

_ESCAPES = [
    (re.compile(r"\\f(\[[^\]]*\]|\(..|.)"), ""),  # font changes
    (re.compile(r"\\s[+-]?\d"), ""),  # size changes
    (re.compile(r"\\\*(\[[^\]]*\]|\(..|.)"), ""),  # strings
    (re.compile(r"\\\((em|en)"), "-"), (re.compile(r"\\\((aq|cq)"), "'"),
    (re.compile(r"\\\((dq|lq|rq)"), '"'), (re.compile(r"\\\((bu|ci)"), "*"),
    (re.compile(r"\\\(mu"), "x"), (re.compile(r"\\\((rs|e)"), r"\\"),
    (re.compile(r"\\\(..|\\\[[^\]]*\]"), ""),  # other named glyphs
    (re.compile(r"\\[-]"), "-"), (re.compile(r"\\[e]"), "\\\\"), (re.compile(r"\\[ ~0]"), " "),
    (re.compile(r"\\[&%c|^:)]"), ""),
]
_FONT_MACROS = {"B", "I", "BR", "RB", "IR", "RI", "BI", "IB", "SM", "SB"}
_KEEP_ARG_MACROS = {"SH", "SS", "IP", "TP", "UR", "MT", "TQ"}


@dataclass(frozen=True)
class ManPage:
    """One man page: ``name(section)``, its NAME description and its body text."""

    name: str
    section: str
    description: str
    body: str

    @property
    def id(self) -> str:
        return f"{self.name}.{self.section}"


def _unescape(text: str) -> str:
    for pattern, repl in _ESCAPES:
        text = pattern.sub(repl, text)
    return text


def _args(rest: str) -> list[str]:
    try:
        return shlex.split(rest, posix=True)
    except ValueError:
        return rest.split()


def roff_sections(source: str) -> list[tuple[str, list[str]]]:
    """(heading, text lines) of each ``.SH`` section of a roff page (pure)."""
    sections: list[tuple[str, list[str]]] = []
    lines: list[str] = []
    heading = ""
    table_spec = False  # inside the option/format lines that open a tbl table
    for raw in source.splitlines():
        if raw.startswith(('.\\"', "'\\\"", '.\\\\"')) or raw.strip() in {".", "'"}:
            continue
        if raw.startswith((".", "'")):
            macro, _, rest = raw[1:].strip().partition(" ")
            if macro == "SH":
                if heading or lines:
                    sections.append((heading, lines))
                heading, lines = clean_ws(_unescape(" ".join(_args(rest)))).upper(), []
            elif macro == "TS":
                table_spec = True
            elif macro in _FONT_MACROS:
                sep = " " if macro in {"B", "I", "SM", "SB"} else ""
                lines.append(_unescape(sep.join(_args(rest))))
            elif macro in _KEEP_ARG_MACROS and rest.strip():
                lines.append(_unescape(" ".join(_args(rest))))
            continue
        if table_spec:  # tbl options ("center ;") and formats ("l l l.") end with a "."
            table_spec = not raw.rstrip().endswith(".")
            continue
        lines.append(_unescape(raw.replace("\t", " ")))
    sections.append((heading, lines))
    return sections


def parse_page(source: str, file_name: str, headings: tuple[str, str] = HEADINGS["en"],
               ) -> ManPage | None:
    """A :class:`ManPage` from roff source, or None for alias (``.so``) or NAME-less pages.

    `headings` are the NAME and DESCRIPTION section titles (translated pages use their
    language's: :data:`HEADINGS`)."""
    if re.search(r"^\.so\s", source, flags=re.M):
        return None
    name_heading, body_heading = headings
    sections = roff_sections(source)
    by_name = {h: ls for h, ls in sections}
    name_lines = by_name.get(name_heading)
    if not name_lines:
        return None
    name_line = clean_ws(" ".join(name_lines))
    names, sep, description = name_line.partition(" - ")
    if not sep:
        return None
    body_sections = [(h, ls) for h, ls in sections if h and h != name_heading]
    preferred = [ls for h, ls in body_sections if h == body_heading]
    body_lines = preferred[0] if preferred else [line for _, ls in body_sections for line in ls]
    body = truncate_words(clean_ws(" ".join(body_lines)), BODY_WORDS)
    stem = file_name.removesuffix(".gz")
    page_name, _, section = stem.rpartition(".")
    if not body or not description:
        return None
    return ManPage(page_name, section, clean_ws(description), body)


@lru_cache(maxsize=2)
def man_pages(source: str = SOURCE) -> tuple[ManPage, ...]:
    """Every non-alias English page with a NAME line and a body, sorted by ``name.section``.

    `source` is ``manpages`` (sections 1, 4-8) or ``manpages-dev`` (2-3: system calls and
    library functions; no page in common). Pages repeating another page's NAME description
    (copies such as latin1/iso_8859-1, or a function's page linked under each of its names)
    are dropped, keeping the first by name, so every description identifies one page.
    """
    return _distinct(data_dir(source) / source / "usr/share/man", HEADINGS["en"])


@lru_cache(maxsize=2)
def translated_pages(lang: str) -> tuple[ManPage, ...]:
    """The pages of manpages-l10n in `lang` (``de`` or ``fr``), as :func:`man_pages`: distinct
    NAME descriptions, the DESCRIPTION section (under its translated titles) as the body."""
    root = data_dir(L10N_SOURCE) / f"manpages-{lang}" / "usr/share/man" / lang
    return _distinct(root, HEADINGS[lang], skip_links=True)


def _distinct(root: Path, headings: tuple[str, str], skip_links: bool = False,
              ) -> tuple[ManPage, ...]:
    """Parsed pages under `root`, one per NAME description (the first by id). `skip_links`
    leaves out symbolic links (an alias page under another name), so a page keeps its own."""
    pages = []
    for path in sorted(root.glob("man*/*.gz")):
        if skip_links and path.is_symlink():
            continue
        with gzip.open(path, "rt", encoding="utf-8", errors="replace") as fh:
            page = parse_page(fh.read(), path.name, headings)
        if page is not None:
            pages.append(page)
    unique: dict[str, ManPage] = {}
    for page in sorted(pages, key=lambda p: p.id):
        unique.setdefault(page.description, page)
    return tuple(unique.values())
