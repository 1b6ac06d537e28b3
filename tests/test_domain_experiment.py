"""``experiment domain`` (issue 16, item 5): the per-task verdict against the issue's target
rule, and bad targets refused before any job starts."""

import subprocess
import sys

import pandas as pd
import pytest

from gecko_bench import config, domain_experiment
from gecko_bench.errors import InputError


def _target(base: float, student: float, low: float, high: float) -> pd.DataFrame:
    return pd.DataFrame([{"task": "t", "n": 112, "minilm-l6": base, "student": student,
                          "delta": student - base, "ci_low": low, "ci_high": high}])


GENERAL = pd.DataFrame([
    {"category": "STS", "n_tasks": 1, "baseline": 80.0, "candidate": 78.5, "delta": -1.5,
     "ci_low": -2.5, "ci_high": -0.4},
    {"category": "Classification", "n_tasks": 4, "baseline": 60.0, "candidate": 59.2,
     "delta": -0.8, "ci_low": -1.6, "ci_high": -0.1},
    {"category": "Clustering", "n_tasks": 3, "baseline": 40.0, "candidate": 38.0,
     "delta": -2.0, "ci_low": -4.5, "ci_high": 0.3},
])


def test_target_rule_is_three_points_or_a_third_of_the_headroom():
    # base 47: headroom 53, a third 17.7 > 3, so +3 is needed with the CI above 0
    row = domain_experiment.summary_row("t", _target(47.0, 50.5, 0.8, 6.1), GENERAL)
    assert row["needed"] == pytest.approx(3.0) and row["target_met"]
    summary_row = domain_experiment.summary_row
    assert not summary_row("t", _target(47.0, 49.9, 0.2, 5.0), GENERAL)["target_met"]
    assert not summary_row("t", _target(47.0, 51.0, -0.1, 8.0), GENERAL)["target_met"]
    # base 94: a third of the headroom (2.0) is the smaller bar
    row = domain_experiment.summary_row("t", _target(94.0, 96.1, 0.3, 3.9), GENERAL)
    assert row["needed"] == pytest.approx(2.0) and row["target_met"]
    # harm: significantly worse by more than 1 point (STS); Classification is significant but
    # under 1 point, Clustering more than 1 point but not significant
    assert row["harmed"] == "STS"
    assert (row["worst_category"], row["worst_delta"]) == ("Clustering", -2.0)


def test_default_targets_are_the_suites_monolingual_retrieval_tasks():
    tiny = config.resolve("tiny")
    assert domain_experiment.default_targets(tiny) == [
        "DebianFAQRetrieval-tiny", "ManPageRetrieval-tiny", "DebianFAQParagraphRetrieval-tiny"]


def test_a_task_that_is_not_a_retrieval_corpus_is_refused_before_any_job(tmp_path):
    with pytest.raises(InputError, match="LeeSTS-tiny is a STS task"):
        domain_experiment.run_experiment(config.resolve("tiny"),
                                         ["ManPageRetrieval-tiny", "LeeSTS-tiny"],
                                         db_path=tmp_path / "r.duckdb", root=tmp_path / "runs")
    assert not list(tmp_path.iterdir())
    out = subprocess.run([sys.executable, "-m", "gecko_bench", "experiment", "domain",
                          "--tasks", "NoSuchTask", "--db", str(tmp_path / "r.duckdb"),
                          "--work-dir", str(tmp_path / "runs")],
                         capture_output=True, text=True)
    assert out.returncode == 2 and "unknown task 'NoSuchTask'" in out.stderr
    assert "Traceback" not in out.stderr and not list(tmp_path.iterdir())
