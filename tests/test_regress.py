"""Regression gate on real checkpoints: MiniLM against itself passes, a noised copy fails."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from gecko_bench.cli import app
from gecko_bench.errors import InputError
from gecko_bench.eval import evaluate
from gecko_bench.regress import category_gains, compare

TASKS = ["DebianFAQRetrieval-tiny", "LeeSTS-tiny"]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """MiniLM and a copy with noise in every weight, both evaluated on two tiny real tasks."""
    from gecko_bench.assets.loaders import load_sentence_transformer

    root = tmp_path_factory.mktemp("regress")
    db = root / "r.duckdb"
    damaged = load_sentence_transformer("minilm-l6")
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in damaged.parameters():
            p.add_(torch.randn(p.shape, generator=gen) * 0.6 * p.std())
    damaged_path = root / "minilm-damaged"
    damaged.save(str(damaged_path))
    for model in ("minilm-l6", str(damaged_path)):
        evaluate(model, tasks=TASKS, dims=[384], prompt_style="none", db_path=db,
                 progress=False, cache_dir=root / "emb")
    return db, damaged_path


def test_model_against_itself_passes(store):
    db, _ = store
    result = CliRunner().invoke(app, ["regress", "-b", "minilm-l6", "-c", "minilm-l6",
                                      "--db", str(db), "--format", "json", "--resamples", "300"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["passed"] and len(report["tasks"]) == 2
    assert all(t["delta"] == 0 and not t["regressed"] for t in report["tasks"])


def test_damaged_copy_fails_the_gate(store):
    db, damaged = store
    runner = CliRunner()
    result = runner.invoke(app, ["regress", "-b", "minilm-l6", "-c", "minilm-damaged",
                                 "--db", str(db), "--format", "junit", "--resamples", "300"])
    assert result.exit_code == 1, result.output
    assert 'failures="2"' in result.output and "<failure" in result.output
    report = compare(db, "minilm-l6", "minilm-damaged", n_resamples=300)
    assert not report.passed
    assert (report.table["delta"] < -5).all() and report.table["regressed"].all()
    assert (report.table["ci_high"] < 0).all()


def test_tolerance_lets_small_regressions_pass(store):
    db, _ = store
    report = compare(db, "minilm-l6", "minilm-damaged", tolerance=100.0, n_resamples=200)
    assert report.passed and report.table["significant"].all()


def test_category_gains_of_identical_models_are_zero(store):
    db, _ = store
    gains = category_gains(db, "minilm-l6", "minilm-l6", n_resamples=100)
    assert set(gains["category"]) == {"Retrieval", "STS"}
    assert (gains["delta"] == 0).all() and (gains["ci_low"] == 0).all()


def test_unknown_model_suggests_close_names(store):
    db, _ = store
    with pytest.raises(InputError, match="did you mean: minilm-l6"):
        compare(db, "minilm-l7", "minilm-l6")


def test_reproduce_matches_stored_scores(store):
    db, _ = store
    result = CliRunner().invoke(app, ["regress", "--reproduce", "minilm-l6", "--db", str(db),
                                      "--format", "json"])
    assert result.exit_code == 0, result.output
    assert "PASS" in result.output


def test_subset_weights_count_each_task_once():
    from gecko_bench.regress import subset_weights

    # task A has three language subsets, B one: A's subsets share one task's weight
    weights = subset_weights(["A", "A", "B", "A"])
    assert weights.tolist() == pytest.approx([1 / 3, 1 / 3, 1, 1 / 3])
    deltas = [0.3, 0.6, 0.1, 0.0]  # A's mean delta 0.3, B's 0.1 -> category 0.2
    assert float(np.average(deltas, weights=weights)) == pytest.approx(0.2)


def test_category_gains_average_subsets_like_the_leaderboard(tmp_path):
    """For nDCG@10 the per-item mean is the main score, so a category's gain baseline must equal
    the leaderboard's category mean, multilingual task included."""
    from gecko_bench.compare import leaderboard

    db = tmp_path / "m.duckdb"
    evaluate("minilm-l6", tasks=["DebianFAQMultilingualRetrieval-tiny", "DebianFAQRetrieval-tiny"],
             dims=[384], prompt_style="none", db_path=db, progress=False,
             cache_dir=tmp_path / "emb")
    board, _ = leaderboard(db, dim=384)
    gains = category_gains(db, "minilm-l6", "minilm-l6", n_resamples=10).set_index("category")
    assert gains.loc["Retrieval", "n_tasks"] == 2
    assert gains.loc["Retrieval", "baseline"] == pytest.approx(board.loc[0, "Retrieval"],
                                                               abs=1e-3)  # mteb rounds


def test_checkpoint_folder_names_its_stored_model_without_reevaluating(store):
    """`--candidate path/to/checkpoint` finds the stored model by its weights hash: no new run."""
    from gecko_bench.store.dashboard import runs_frame

    db, damaged = store
    n_runs = len(runs_frame(db))
    result = CliRunner().invoke(app, ["regress", "-b", "minilm-l6", "-c", str(damaged),
                                      "--db", str(db), "--format", "json", "--resamples", "200"])
    assert result.exit_code == 1, result.output
    assert not json.loads(result.output)["passed"]
    assert len(runs_frame(db)) == n_runs


def test_a_later_run_at_another_input_cap_does_not_replace_the_job_scores(store, tmp_path):
    """Leaderboard and gains filtered by max_seq_length keep the evaluation run at that cap."""
    import shutil

    from gecko_bench.compare import leaderboard
    from gecko_bench.regress import resolve_model_id, task_pairs
    from gecko_bench.store.scores import scores_frame

    db = tmp_path / "copy.duckdb"
    shutil.copy(store[0], db)
    own = int(scores_frame(db)["max_seq_length"].iloc[0])
    evaluate("minilm-l6", tasks=["LeeSTS-tiny"], dims=[384], prompt_style="none", db_path=db,
             progress=False, cache_dir=tmp_path / "emb", max_seq_length=8)
    newest, _ = leaderboard(db, dim=384)
    at_own, _ = leaderboard(db, dim=384, max_seq_length=own)
    original, _ = leaderboard(store[0], dim=384)
    sts = {name: df.set_index("model").loc["minilm-l6", "STS"]
           for name, df in [("newest", newest), ("own", at_own), ("original", original)]}
    assert sts["own"] == sts["original"] != sts["newest"]
    minilm, _ = resolve_model_id(db, "minilm-l6")
    pairs, _ = task_pairs(db, minilm, minilm, 384, max_seq_length=8)
    assert [p.task for p in pairs] == ["LeeSTS-tiny"]  # only the 8-token run's task
