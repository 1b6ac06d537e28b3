"""Real mteb.evaluate runs with MiniLM on tiny slices: scores are sensible, not just present."""

import mteb
import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.metrics import v_measure_score

from gecko_bench.assets.loaders import load_sentence_transformer
from gecko_bench.tasks import get_task

pytestmark = pytest.mark.assets  # needs fetched models or data


@pytest.fixture(scope="module")
def minilm():
    return load_sentence_transformer("minilm-l6")


def _main(model, name: str) -> dict[str, float]:
    result = mteb.evaluate(model, [get_task(name)], cache=None, show_progress_bar=False)
    return {s["hf_subset"]: s["main_score"] for s in result.task_results[0].scores["test"]}


def test_faq_retrieval_beats_random(minilm):
    # 30 questions over 60 answers, one relevant each: random ranking gives nDCG@10 ~ 0.08.
    assert _main(minilm, "DebianFAQRetrieval-tiny")["default"] > 0.5


def test_polarity_classification_above_chance(minilm):
    assert _main(minilm, "PangLeePolarityClassification-tiny")["default"] > 0.6


def test_bible_paraphrase_pairs_separate(minilm):
    # Half the pairs are positives; a useless model gets max AP ~ 0.5.
    assert _main(minilm, "BibleParaphrasePairClassification-tiny")["default"] > 0.75


def test_wordnet_clustering_beats_random_embeddings(minilm):
    # With 45 small clusters V-measure is high even by chance, so compare with k-means on
    # random vectors for the same labels.
    task = get_task("WordNetLexnameClustering-tiny")
    task.load_data()
    labels = task.dataset["default"]["test"]["labels"]
    noise = np.random.default_rng(0).normal(size=(len(labels), 384))
    assignment = KMeans(n_clusters=len(set(labels)), n_init=1, random_state=0).fit_predict(noise)
    chance = v_measure_score(labels, assignment)
    assert _main(minilm, "WordNetLexnameClustering-tiny")["default"] > chance + 0.1
