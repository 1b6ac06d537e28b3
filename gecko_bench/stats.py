"""Paired significance statistics over per-item scores (no SQL, no model knowledge).

Two checkpoints scored on the same items give two aligned arrays. A task's score is a statistic
of its items (the mean for nDCG@10 or accuracy; Spearman against gold for STS), so every test here
takes that statistic as a function and resamples *items*:

- :func:`paired_bootstrap_ci` resamples items with replacement and recomputes the difference of
  the statistic (percentile interval);
- :func:`paired_permutation_p` swaps each item's two scores with probability 1/2 (the paired
  permutation / sign-flip test), which is exact in distribution under "no difference". For the
  mean statistic a swap is a sign flip of the item's difference, so the test runs vectorised, and
  enumerates all 2^n flips exactly when n <= 16 (e.g. mteb's 10 clustering experiments).

Resolution: a Monte Carlo p-value is at least 1/(B+1), so with m tests Holm can only reject when
m/(B+1) < alpha. :func:`resamples_for` sizes B so the smallest attainable adjusted p-value is a
tenth of alpha.

scipy.stats.bootstrap and permutation_test do the same in general form, but they evaluate the
statistic through vectorised axis calls that Spearman-with-gold does not fit, and they cannot share
one set of resampled indices between the CI and the category aggregates; these loops are short.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import spearmanr

Statistic = Callable[[np.ndarray, np.ndarray], float]  # (values, item indices) -> score


EXACT_MAX_ITEMS = 16  # up to 2^16 sign patterns are enumerated instead of sampled
_CHUNK = 2000


def resamples_for(n_tests: int, alpha: float, minimum: int = 2000) -> int:
    """Resamples B so that Holm over `n_tests` can reject: n_tests / (B + 1) <= alpha / 10."""
    return max(int(minimum), math.ceil(10 * max(n_tests, 1) / alpha) - 1)


def mean_statistic(values: np.ndarray, idx: np.ndarray) -> float:
    """The mean of the selected items (nDCG@10, accuracy, ... averaged over items)."""
    return float(np.mean(values[idx]))


def spearman_statistic(gold: np.ndarray) -> Statistic:
    """Spearman correlation of the selected items' predictions with their gold scores (STS)."""

    def stat(values: np.ndarray, idx: np.ndarray) -> float:
        rho = spearmanr(values[idx], gold[idx]).statistic
        return 0.0 if np.isnan(rho) else float(rho)

    return stat


@dataclass(frozen=True)
class PairedResult:
    n_items: int
    baseline: float
    candidate: float
    delta: float
    ci_low: float
    ci_high: float
    p_value: float


def paired_test(baseline: np.ndarray, candidate: np.ndarray, statistic: Statistic = mean_statistic,
                n_resamples: int = 2000, confidence: float = 0.95, seed: int = 0) -> PairedResult:
    """Difference candidate - baseline of `statistic`, with a bootstrap CI and permutation p-value."""
    baseline = np.asarray(baseline, dtype=float)
    candidate = np.asarray(candidate, dtype=float)
    if baseline.shape != candidate.shape or baseline.ndim != 1:
        raise ValueError("baseline and candidate must be aligned 1-d arrays of per-item scores")
    n = len(baseline)
    if n == 0:
        raise ValueError("no items to compare")
    everything = np.arange(n)
    base_score = statistic(baseline, everything)
    cand_score = statistic(candidate, everything)
    observed = cand_score - base_score
    low, high = paired_bootstrap_ci(baseline, candidate, statistic, n_resamples, confidence, seed)
    p = paired_permutation_p(baseline, candidate, statistic, n_resamples, seed)
    return PairedResult(n, base_score, cand_score, observed, low, high, p)


def paired_bootstrap_ci(baseline: np.ndarray, candidate: np.ndarray, statistic: Statistic,
                        n_resamples: int = 2000, confidence: float = 0.95,
                        seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of statistic(candidate) - statistic(baseline) over items."""
    rng = np.random.default_rng(seed)
    n = len(baseline)
    if statistic is mean_statistic:  # the same draws as the loop below, in chunks
        diff = candidate - baseline
        deltas = np.concatenate([diff[rng.integers(0, n, (min(_CHUNK, n_resamples - i), n))]
                                 .mean(axis=1) for i in range(0, n_resamples, _CHUNK)])
    else:
        deltas = np.empty(n_resamples)
        for b in range(n_resamples):
            idx = rng.integers(0, n, n)
            deltas[b] = statistic(candidate, idx) - statistic(baseline, idx)
    alpha = (1 - confidence) / 2
    return float(np.quantile(deltas, alpha)), float(np.quantile(deltas, 1 - alpha))


def paired_permutation_p(baseline: np.ndarray, candidate: np.ndarray, statistic: Statistic,
                         n_resamples: int = 2000, seed: int = 0) -> float:
    """Two-sided p-value of the paired permutation test (swap each item's pair at random).

    Exact (every swap pattern) for the mean statistic with at most :data:`EXACT_MAX_ITEMS` items.
    """
    rng = np.random.default_rng(seed + 1)
    n = len(baseline)
    everything = np.arange(n)
    observed = abs(statistic(candidate, everything) - statistic(baseline, everything))
    if statistic is mean_statistic:
        diff = candidate - baseline
        if n <= EXACT_MAX_ITEMS:
            signs = np.array(list(itertools.product((1.0, -1.0), repeat=n)))
            return float(np.mean(np.abs(signs @ diff / n) >= observed - 1e-12))
        hits = 0
        for i in range(0, n_resamples, _CHUNK):
            signs = np.where(rng.random((min(_CHUNK, n_resamples - i), n)) < 0.5, -1.0, 1.0)
            hits += int(np.sum(np.abs(signs @ diff / n) >= observed - 1e-12))
        return (hits + 1) / (n_resamples + 1)
    hits = 0
    for _ in range(n_resamples):
        swap = rng.random(n) < 0.5
        a = np.where(swap, candidate, baseline)
        b = np.where(swap, baseline, candidate)
        if abs(statistic(b, everything) - statistic(a, everything)) >= observed - 1e-12:
            hits += 1
    # (hits + 1) / (n + 1): the observed assignment counts as one permutation, so p is never 0.
    return (hits + 1) / (n_resamples + 1)


def holm_adjust(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (family-wise error control across tasks)."""
    p = np.asarray(p_values, dtype=float)
    order = np.argsort(p)
    m = len(p)
    adjusted = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adjusted[i] = running
    return adjusted.tolist()
