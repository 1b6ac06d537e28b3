"""Paired statistics against scipy's reference implementations and hand-computed values."""

import numpy as np
import pytest
from scipy import stats as sps

from gecko_bench.stats import holm_adjust, mean_statistic, paired_test, spearman_statistic


def test_identical_models_have_no_difference():
    x = np.random.default_rng(0).random(50)
    r = paired_test(x, x.copy())
    assert r.delta == 0 and r.ci_low == 0 and r.ci_high == 0 and r.p_value == 1.0


def test_permutation_p_matches_scipy_exact_test():
    rng = np.random.default_rng(1)
    base = rng.random(11)
    cand = base + rng.normal(0.08, 0.1, 11)
    ours = paired_test(base, cand, n_resamples=20000).p_value
    ref = sps.permutation_test((cand, base), lambda a, b, axis: np.mean(a, axis=axis) - np.mean(b, axis=axis),
                               permutation_type="samples", alternative="two-sided",
                               n_resamples=np.inf).pvalue
    assert ours == pytest.approx(ref, abs=0.01)


def test_bootstrap_ci_matches_scipy_percentile_interval():
    rng = np.random.default_rng(2)
    base = rng.random(80)
    cand = base + rng.normal(0.05, 0.2, 80)
    r = paired_test(base, cand, n_resamples=4000)
    ref = sps.bootstrap((cand - base,), np.mean, method="percentile", n_resamples=4000,
                        random_state=3).confidence_interval
    assert r.ci_low == pytest.approx(ref.low, abs=0.01)
    assert r.ci_high == pytest.approx(ref.high, abs=0.01)
    assert r.delta == pytest.approx(np.mean(cand - base))


def test_spearman_statistic_is_sts_main_score():
    rng = np.random.default_rng(4)
    gold = rng.random(60)
    base = gold + rng.normal(0, 0.3, 60)
    cand = rng.random(60)  # unrelated to gold: a clear regression
    r = paired_test(base, cand, statistic=spearman_statistic(gold))
    assert r.baseline == pytest.approx(sps.spearmanr(base, gold).statistic)
    assert r.delta < 0 and r.ci_high < 0 and r.p_value < 0.01


def test_holm_adjustment_by_hand():
    assert holm_adjust([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm_adjust([0.5]) == [0.5]
    assert mean_statistic(np.array([1.0, 2.0, 6.0]), np.array([0, 2])) == 3.5
