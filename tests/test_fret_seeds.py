"""The seed corpus: real fetched text, chunked, deduplicated, deterministic."""

import pytest

from gecko_bench.corpora import seeds
from gecko_bench.errors import InputError


@pytest.fixture(scope="module")
def corpus():
    return seeds.seed_passages()


@pytest.mark.assets
def test_sources_parse_into_real_text():
    sections = seeds.wikipedia_sections()
    titles = {t for t, _, _ in sections}
    assert "Anarchism" in titles and len(titles) > 100
    assert not any("{{" in text or "<ref" in text or "[[" in text for _, _, text in sections)
    books = {b for b, _, _ in seeds.book_paragraphs()}
    assert books == set(seeds.AUSTEN_BOOKS.values())
    first = seeds.book_paragraphs()[0]
    assert first[0] == "Sense & Sensibility" and "Dashwood" in first[2]


@pytest.mark.assets
def test_passages_are_chunked_deduplicated_and_labelled(corpus):
    assert {p.source for p in corpus} == {"wikipedia", "austen", "nlp-corpus"}
    assert all(seeds.MIN_WORDS <= len(p.text.split()) <= seeds.MAX_WORDS for p in corpus)
    assert len({p.id for p in corpus}) == len(corpus)
    assert len({seeds._norm(p.text) for p in corpus}) == len(corpus)
    assert all(p.licence == seeds.LICENCES[p.source] for p in corpus)


@pytest.mark.assets
def test_sample_is_deterministic_and_mixes_sources():
    a = seeds.seed_passages(limit=30, seed=3)
    assert a == seeds.seed_passages(limit=30, seed=3)
    assert a != seeds.seed_passages(limit=30, seed=4)
    assert len(a) == 30 and {p.source for p in a[:3]} == {"wikipedia", "austen", "nlp-corpus"}
    only = seeds.seed_passages(("austen",), limit=5)
    assert [p.source for p in only] == ["austen"] * 5


def test_bad_sources_raise_one_clear_error():
    with pytest.raises(InputError, match="unknown seed source"):
        seeds.seed_passages(("reddit",))
    with pytest.raises(InputError, match="empty"):
        seeds.seed_passages(())
