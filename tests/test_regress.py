"""Regression gate on real checkpoints: MiniLM against itself passes, a noised copy fails, a
candidate with missing work is incomplete, and scores measured another way never stand in."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from gecko_bench.cli import app
from gecko_bench.errors import InputError
from gecko_bench.api import evaluate
from gecko_bench.config import EvalConfig
from gecko_bench.regress import category_gains, compare

TASKS = ["DebianFAQRetrieval-tiny", "LeeSTS-tiny", "BrownGenreClustering-tiny"]


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
        evaluate(model, TASKS, config=EvalConfig(dims=[384], prompt_style="none"), db=db,
                 progress=False, cache_dir=root / "emb")
    return db, damaged_path


@pytest.mark.assets
def test_model_against_itself_passes(store):
    db, _ = store
    result = CliRunner().invoke(app, ["regress", "-b", "minilm-l6", "-c", "minilm-l6",
                                      "--db", str(db), "--format", "json", "--resamples", "300"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["passed"] and len(report["tasks"]) == 3 and report["exit_code"] == 0
    assert all(t["delta"] == 0 and not t["regressed"] for t in report["tasks"])
    assert report["baseline"]["protocol"]["prompt_style"] == "none"


@pytest.mark.assets
def test_clustering_is_gated_on_mteb_experiments(store):
    db, _ = store
    report = compare(db, "minilm-l6", "minilm-damaged", n_resamples=200)
    row = report.table.set_index("task").loc["BrownGenreClustering-tiny"]
    assert row["n_items"] == 10 and row["p_value"] == row["p_value"]  # tested, not skipped
    assert row["delta"] < 0


@pytest.mark.assets
def test_damaged_copy_fails_the_gate(store):
    db, damaged = store
    runner = CliRunner()
    result = runner.invoke(app, ["regress", "-b", "minilm-l6", "-c", "minilm-damaged",
                                 "--db", str(db), "--format", "junit", "--resamples", "300"])
    assert result.exit_code == 1, result.output
    report = compare(db, "minilm-l6", "minilm-damaged", n_resamples=300)
    assert not report.passed and report.exit_code == 1
    retrieval_sts = report.table[report.table["task"].isin(TASKS[:2])]
    assert (retrieval_sts["delta"] < -5).all() and retrieval_sts["regressed"].all()
    assert (retrieval_sts["ci_high"] < 0).all()
    n_failed = int(report.table["regressed"].sum())
    assert f'failures="{n_failed}"' in result.output and "<failure" in result.output


@pytest.mark.assets
def test_tolerance_lets_small_regressions_pass(store):
    db, _ = store
    report = compare(db, "minilm-l6", "minilm-damaged", tolerance=100.0, n_resamples=200)
    assert report.passed and report.table["significant"].any()


@pytest.mark.assets
def test_tolerance_applies_to_the_lower_confidence_bound(store):
    """Non-inferiority: a drop whose point estimate is within the margin but whose CI reaches
    past it regresses (the old rule looked at the point estimate only)."""
    db, _ = store
    first = compare(db, "minilm-l6", "minilm-damaged", n_resamples=300).table.iloc[0]
    assert first["ci_low"] < first["delta"] < 0
    margin = (abs(first["delta"]) + abs(first["ci_low"])) / 2
    report = compare(db, "minilm-l6", "minilm-damaged", tolerance=margin, n_resamples=300)
    row = report.table.iloc[0]
    assert row["delta"] > -margin > row["ci_low"] and row["regressed"]


@pytest.mark.assets
def test_resamples_grow_with_the_number_of_tests(store):
    db, _ = store
    report = compare(db, "minilm-l6", "minilm-damaged", n_resamples=10)
    tested = int(report.table["p_value"].notna().sum())
    assert tested / (report.n_resamples + 1) <= report.alpha / 10


@pytest.mark.assets
def test_a_candidate_missing_a_task_is_incomplete_not_passed(store, tmp_path):
    """The sequence that passed before: a candidate scored on one task of the baseline's three
    printed a note and PASS, exit 0."""
    from gecko_bench.assets.loaders import load_sentence_transformer

    db, _ = store
    partial = tmp_path / "minilm-partial"
    model = load_sentence_transformer("minilm-l6")
    with torch.no_grad():
        next(model.parameters()).mul_(1.0001)  # other weights, same behaviour
    model.save(str(partial))
    evaluate(str(partial), ["LeeSTS-tiny"], config=EvalConfig(dims=[384], prompt_style="none"),
             db=db, progress=False, cache_dir=tmp_path / "emb")
    args = ["regress", "-b", "minilm-l6", "-c", "minilm-partial", "--db", str(db),
            "--format", "json", "--resamples", "200"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 3, result.output
    report = json.loads(result.output)
    assert not report["passed"] and report["incomplete"]
    assert report["missing"]["candidate"] == ["BrownGenreClustering-tiny",
                                              "DebianFAQRetrieval-tiny"]
    assert "INCOMPLETE" in report["message"]
    allowed = CliRunner().invoke(app, args + ["--allow-missing"])
    assert allowed.exit_code == 0, allowed.output
    junit = CliRunner().invoke(app, args[:-4] + ["--format", "junit"])
    assert junit.exit_code == 3 and 'failures="2"' in junit.output


@pytest.mark.assets
def test_category_gains_of_identical_models_are_zero(store):
    db, _ = store
    gains = category_gains(db, "minilm-l6", "minilm-l6", n_resamples=100)
    assert set(gains["category"]) == {"Clustering", "Retrieval", "STS"}
    assert (gains["delta"] == 0).all() and (gains["ci_low"] == 0).all()


@pytest.mark.assets
def test_unknown_model_suggests_close_names(store):
    db, _ = store
    with pytest.raises(InputError, match="did you mean: minilm-l6"):
        compare(db, "minilm-l7", "minilm-l6")


@pytest.mark.assets
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


@pytest.mark.assets
def test_category_gains_average_subsets_like_the_leaderboard(tmp_path):
    """For nDCG@10 the per-item mean is the main score, so a category's gain baseline must equal
    the leaderboard's category mean, multilingual task included."""
    from gecko_bench.compare import leaderboard

    db = tmp_path / "m.duckdb"
    evaluate("minilm-l6", ["DebianFAQMultilingualRetrieval-tiny", "DebianFAQRetrieval-tiny"],
             config=EvalConfig(dims=[384], prompt_style="none"), db=db, progress=False,
             cache_dir=tmp_path / "emb")
    board, _ = leaderboard(db, dim=384)
    gains = category_gains(db, "minilm-l6", "minilm-l6", n_resamples=10).set_index("category")
    assert gains.loc["Retrieval", "n_tasks"] == 2
    assert gains.loc["Retrieval", "baseline"] == pytest.approx(board.loc[0, "Retrieval"],
                                                               abs=1e-3)  # mteb rounds


@pytest.mark.assets
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


@pytest.mark.assets
def test_scores_measured_another_way_never_replace_each_other(store, tmp_path):
    """A later evaluation under another prompt style or input cap is its own leaderboard row;
    the earlier row keeps its numbers, and a gate on an ambiguous model asks which one."""
    import shutil

    from gecko_bench.compare import leaderboard
    from gecko_bench.store.scores import Protocol

    db = tmp_path / "copy.duckdb"
    shutil.copy(store[0], db)
    original, _ = leaderboard(store[0], dim=384)
    for style, cap in (("gecko", None), ("none", 8)):
        evaluate("minilm-l6", TASKS,
                 config=EvalConfig(dims=[384], prompt_style=style, max_seq_length=cap),
                 db=db, progress=False, cache_dir=tmp_path / "emb")
    board, _ = leaderboard(db, dim=384)
    minilm = board[board["model"] == "minilm-l6"]
    assert len(minilm) == 3
    assert sorted(zip(minilm["prompt_style"], minilm["max_seq_length"])) == [
        ("gecko", 256), ("none", 8), ("none", 256)]
    before = original.set_index("model").loc["minilm-l6"]
    after = minilm[(minilm["prompt_style"] == "none") & (minilm["max_seq_length"] == 256)].iloc[0]
    assert after["STS"] == before["STS"] and after["Retrieval"] == before["Retrieval"]
    assert len(set(minilm["STS"])) == 3  # three measurements, three numbers
    with pytest.raises(InputError, match="measured under 3 protocols"):
        compare(db, "minilm-l6", "minilm-damaged", n_resamples=50)
    picked = compare(db, "minilm-l6", "minilm-damaged", n_resamples=50,
                     baseline_protocol=Protocol("none", 256))
    assert picked.baseline.protocol.max_seq_length == 256 and picked.exit_code == 1
    result = CliRunner().invoke(app, ["regress", "-b", "minilm-l6", "-c", "minilm-l6", "--db",
                                      str(db), "--baseline-prompt-style", "none",
                                      "--candidate-prompt-style", "gecko"])
    assert isinstance(result.exception, InputError)  # the console script prints it, exit 2
    assert "measured under 2 protocols" in str(result.exception)
