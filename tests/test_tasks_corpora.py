"""The evaluation corpus parsers on the real fetched packages."""

import re
from collections import Counter

import pytest

from gecko_bench.corpora import (
    bible, brown, debian_faq, fortunes, gensim_data, manpages, spamassassin, wordnet,
)

pytestmark = pytest.mark.assets  # needs fetched models or data


def test_debian_faq_ten_languages_aligned_by_section():
    assert len(debian_faq.LANGS) == 10
    sections = {lg: [e.section for e in debian_faq.faq_entries(lg)] for lg in debian_faq.LANGS}
    assert all(len(s) == 112 for s in sections.values())
    assert len({tuple(s) for s in sections.values()}) == 1  # same numbering everywhere
    en = {e.section: e for e in debian_faq.faq_entries("en")}
    assert en["1.1"].question == "What is this FAQ?"
    assert en["1.1"].answer.startswith("This document gives frequently asked questions")
    assert "Chapter" not in en["1.7"].answer  # chapter titles end a section, not join it
    de = {e.section: e for e in debian_faq.faq_entries("de")}
    assert de["1.1"].question == "Was ist diese FAQ?"


def test_debian_faq_rejoins_cjk_line_wraps():
    ja = {e.section: e for e in debian_faq.faq_entries("ja")}
    assert "プロジェクトにとって" in ja["1.6"].question  # wrapped as "プロジェク\nト" in the file


def test_manpages_name_line_and_body():
    pages = {p.id: p for p in manpages.man_pages()}
    assert 150 < len(pages) < 281  # aliases (.so) and duplicate descriptions dropped
    intro = pages["intro.1"]
    assert intro.description == "introduction to user commands"
    assert intro.body.startswith("Section 1 of the manual describes user commands")
    assert not re.search(r"\\f[BIRP]|^\.[A-Z]{2} ", intro.body)  # no roff left
    assert len({p.description for p in pages.values()}) == len(pages)


def test_translated_manpages_read_their_own_headings():
    """manpages-l10n titles NAME / DESCRIPTION in the page's language; alias links are left out,
    so each page keeps its own name."""
    de = {p.id: p for p in manpages.translated_pages("de")}
    fr = {p.id: p for p in manpages.translated_pages("fr")}
    assert (len(de), len(fr)) == (846, 374)
    assert de["acct.5"].description == "Datei zur Prozessabrechnung"
    assert de["acct.5"].body.startswith("Wenn der Kernel mit aktivierter Prozessabrechnungsoption")
    assert fr["acct.5"].description == "Fichier de comptabilité des processus"
    assert fr["acct.5"].body.startswith("Si le noyau a été compilé")
    assert "[.1" not in de and "test.1" in de  # "[" is a link to test(1)
    for pages in (de, fr):
        assert len({p.description for p in pages.values()}) == len(pages)
        assert not any(re.search(r"\\f[BIRP]|^\.[A-Z]{2} ", p.body) for p in pages.values())


def test_wordnet_glosses_and_lexnames():
    names = wordnet.lexnames()
    assert len(names) == 45 and names[5] == "noun.animal" and names[18] == "noun.person"
    glosses = wordnet.glosses()
    assert len(glosses) == 117659
    entity = glosses[0]
    assert entity.lemmas == ("entity",) and entity.lexname == "noun.Tops"
    assert entity.definition.startswith("that which is perceived or known")


def test_fortunes_drop_offensive_and_stereotype_files():
    cats = Counter(f.category for f in fortunes.fortunes())
    assert not {"ethnic", "men-women", "ascii-art"} & set(cats)
    assert not any(c.endswith("-off") for c in cats)
    assert cats["computers"] > 500 and len(cats) >= 30


def test_bible_verses_clean_and_aligned():
    kjv, web, es = bible.verses("kjv"), bible.verses("web"), bible.verses("sparv")
    assert "only begotten Son" in kjv["John 3:16"]
    assert "only born Son" in web["John 3:16"]  # footnote removed, words kept apart
    assert es["John 3:16"].startswith("Porque de tal manera amó Dios al mundo")
    assert not any("<" in t or "¶" in t for t in kjv.values())
    assert len(bible.aligned("web", "sparv")) > 7900


def test_gensim_lee_and_polarity():
    docs = gensim_data.lee_documents()
    pairs = gensim_data.lee_similarity_pairs()
    assert len(docs) == 50 and len(pairs) == 1225
    assert all(0.0 <= p.score <= 1.0 for p in pairs)
    assert any("£" in d for d in docs)  # Windows-1252 decoded
    polarity = gensim_data.pang_lee_polarity()
    assert Counter(lab for _, lab in polarity) == {"pos": 100, "neg": 100}


def test_brown_detokenized_by_genre():
    texts = brown.brown_texts()
    assert len(texts) == 500 and len({t.genre for t in texts}) == 15
    first = texts[0].passages[0]
    assert first.startswith("The Fulton County Grand Jury said Friday an investigation")
    assert "/at" not in first and "``" not in first


def test_spamassassin_subject_and_body():
    mails = spamassassin.emails()
    labels = Counter(m.label for m in mails)
    assert labels["ham"] > 3000 and labels["spam"] > 1000
    assert not any(m.text.startswith("Return-Path:") for m in mails[:200])
