"""STS on the Lee corpus: 50 news documents, mean human similarity of all 1,225 pairs."""

from __future__ import annotations

from typing import Any

from datasets import Dataset
from mteb.abstasks import AbsTaskSTS

from gecko_bench.corpora import gensim_data
from gecko_bench.corpora._common import stable_sample
from gecko_bench.tasks.base import SPLIT_SEED, GeckoTask, make_metadata


class LeeSTS(GeckoTask, AbsTaskSTS):
    """Lee et al. (2005) document similarity: cosine vs. averaged human ratings (0-1)."""

    source = "gensim-test-data"
    gecko_instruction = "semantic similarity"
    symmetric = True
    min_score = 0
    max_score = 1
    tiny_pairs = 150
    metadata = make_metadata(
        name="LeeSTS", type="STS", main_score="cosine_spearman", source="gensim-test-data",
        eval_langs=["eng-Latn"], domains=["News", "Written"], annotations="human-annotated",
        reference="https://ccc.inaoep.mx/~villasen/bib/AN%20EMPIRICAL%20EVALUATION%20OF%20MODELS%20OF%20TEXT%20DOCUMENT%20SIMILARITY.pdf",
        description="Lee, Pincombe & Welsh (2005): 50 Australian news documents, every one of the "
        "1,225 pairs rated for similarity by humans (mean rating scaled to 0-1), as shipped in "
        "gensim's test data.",
    )

    def build(self) -> dict[str, Any]:
        pairs = gensim_data.lee_similarity_pairs()
        if self.tiny:
            pairs = sorted(stable_sample(pairs, self.tiny_pairs, SPLIT_SEED,
                                         key=lambda p: f"{p.i}-{p.j}"), key=lambda p: (p.i, p.j))
        rows = [{"sentence1": p.text1, "sentence2": p.text2, "score": p.score} for p in pairs]
        return {"default": {"test": Dataset.from_list(rows)}}
