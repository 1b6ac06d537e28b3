"""The evaluation-overlap guard on real texts."""

import pytest

from gecko_bench.corpora import debian_faq, gensim_data
from gecko_bench.errors import InputError
from gecko_bench.tasks import eval_texts, normalize_text, overlap_guard
from gecko_bench.tasks import overlap as overlap_mod


@pytest.fixture(scope="module")
def faq_answer() -> str:
    return {e.section: e for e in debian_faq.faq_entries("en")}["7.12"].answer


def test_normalize_text():
    assert normalize_text("  Hello,\u00a0WORLD!  it's\tme_too ") == "hello world it s me too"


@pytest.mark.assets
def test_eval_texts_hold_every_full_task_item(faq_answer):
    texts = eval_texts()
    assert normalize_text(faq_answer) in texts
    assert normalize_text(debian_faq.faq_entries("ja")[0].question) in texts
    assert len(texts) > 10_000


@pytest.mark.assets
def test_guard_rejects_a_real_faq_answer(faq_answer):
    with pytest.raises(InputError, match=r"1 of 2 training pairs overlap"):
        overlap_guard(["A sentence about cats and dogs.", faq_answer.upper()], "training pairs")


@pytest.mark.assets
def test_guard_rejects_an_embedded_13_word_window(faq_answer):
    window = " ".join(faq_answer.split()[5:18])  # 13 words lifted from the answer
    passage = f"My own notes on package pinning say: {window} and that is all I wrote."
    with pytest.raises(InputError, match="13-word window"):
        overlap_guard([passage], "seed passages")
    short = " ".join(faq_answer.split()[5:16])  # 11 words: not enough to count as a copy
    overlap_guard([f"My notes: {short} and so on."], "seed passages")


@pytest.mark.assets
def test_guard_accepts_unrelated_real_text():
    path = gensim_data._test_data() / "lee_background.cor"
    background = path.read_text(encoding="cp1252", errors="replace").splitlines()[:40]
    overlap_guard(background, "Lee background documents")  # not evaluation data


@pytest.mark.assets
def test_index_is_cached_on_disk():
    overlap_mod._index.cache_clear()
    exact, windows = overlap_mod._index()  # loads the files written by the first build
    key = overlap_mod._cache_key()
    folder = overlap_mod.gecko_home() / "cache"
    assert (folder / f"eval_texts-{key}.json").exists()
    assert (folder / f"eval_windows-{key}.npy").exists()
    assert windows.size > 100_000 and len(exact) == len(eval_texts())
