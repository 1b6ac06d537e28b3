"""Evaluation through sentence-transformers' multi-process pool (``--processes``): 2 worker
processes give the scores of one, per task, dim and item."""

from __future__ import annotations

from pathlib import Path

import pytest

from gecko_bench.errors import InputError
from gecko_bench.api import evaluate
from gecko_bench.config import EvalConfig
from gecko_bench.store.scores import item_scores_frame, scores_frame

pytestmark = pytest.mark.assets  # needs fetched models or data

TESTS = Path(__file__).parent


@pytest.mark.slow
def test_two_worker_processes_score_like_one(tmp_path, monkeypatch):
    from sentence_transformers import SentenceTransformer

    started = []
    real_start = SentenceTransformer.start_multi_process_pool

    def spy(self, target_devices=None):  # the real pool, counted
        pool = real_start(self, target_devices)
        started.append(len(pool["processes"]))
        return pool

    monkeypatch.setattr(SentenceTransformer, "start_multi_process_pool", spy)
    tasks = tmp_path / "tasks.py"
    tasks.write_text(f"import sys\nsys.path.insert(0, {str(TESTS)!r})\n"
                     "from eval_tasks import FaqRetrieval, LeeSTS\n\n\n"
                     "class Faq(FaqRetrieval):\n    pass\n\n\nclass Lee(LeeSTS):\n    pass\n")
    frames = {}
    for n in (1, 2):
        db = tmp_path / f"p{n}.duckdb"
        evaluate("minilm-l6", config=EvalConfig(dims=[384, 64], processes=n), db=db,
                 tasks_file=tasks, use_cache=False, progress=False)
        scores = scores_frame(db)
        frames[n] = (scores, item_scores_frame(db, scores.model_id.iloc[0]))
    assert started == [2]  # one pool of two workers, for the 2-process evaluation only
    keys = ["task", "dim", "split", "subset", "metric"]
    one, two = (f[0].sort_values(keys).reset_index(drop=True) for f in (frames[1], frames[2]))
    assert len(one) > 10 and one[keys].equals(two[keys])
    assert one.value.to_numpy() == pytest.approx(two.value.to_numpy(), abs=1e-6)
    items = [f[1].sort_values(["task", "dim", "item_id", "metric"]).value.to_numpy()
             for f in (frames[1], frames[2])]
    assert len(items[0]) > 50 and items[0] == pytest.approx(items[1], abs=1e-6)


def test_processes_refused_where_the_pool_cannot_run(tmp_path):
    with pytest.raises(InputError, match="at least 1"):
        evaluate("minilm-l6", ["ManPageRetrieval-tiny"], config=EvalConfig(processes=0, dims=[]),
                 db=tmp_path / "a.duckdb", progress=False)
    with pytest.raises(InputError, match="float32"):
        evaluate("e5-small-multilingual", ["ManPageRetrieval-tiny"],
                 config=EvalConfig(processes=2, dims=[]), db=tmp_path / "b.duckdb",
                 progress=False)
    assert not (tmp_path / "a.duckdb").exists() and not (tmp_path / "b.duckdb").exists()
