"""Calibration summaries: reliability of central intervals, PIT histograms, binomial bands.

A note on independence. Hits of one forecast origin at steps h and h + 1 are dependent, and
so are hits of origins closer than H steps apart (their windows overlap and share the same
future values). The binomial band below assumes n independent trials; callers must pass an n
that reflects independence (e.g. origins spaced at least H steps apart, or one cell per
independent series or seed), or use the block bootstrap of `fanlab.metrics.bootstrap`.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy.stats import binom

from fanlab.forecast import level_probs
from fanlab.metrics.scores import hits

_PROB_TOL = 1e-9


def prob_index(probs: np.ndarray, p: float) -> int:
    """Position of probability `p` in `probs` (within 1e-9); KeyError if it was not forecast."""
    idx = np.flatnonzero(np.abs(probs - p) <= _PROB_TOL)
    if idx.size == 0:
        raise KeyError(f"probability {p} is not among the forecast probabilities {probs.tolist()}")
    return int(idx[0])


def _level_hits(y: np.ndarray, quantiles: np.ndarray, probs: np.ndarray, levels: Sequence[float]) -> np.ndarray:
    """Hit indicators of each central level; bool (L, K, H)."""
    y = np.asarray(y, dtype=float)
    quantiles = np.asarray(quantiles, dtype=float)
    probs = np.asarray(probs, dtype=float)
    if quantiles.ndim != 3 or quantiles.shape[1] != probs.shape[0] or y.shape != (
        quantiles.shape[0],
        quantiles.shape[2],
    ):
        raise ValueError(f"need y (K, H) and quantiles (K, Q, H); got {y.shape} and {quantiles.shape}")
    out = []
    for level in levels:
        p_lo, p_hi = level_probs(level)
        lo = quantiles[:, prob_index(probs, p_lo), :]
        hi = quantiles[:, prob_index(probs, p_hi), :]
        out.append(hits(y, lo, hi))
    return np.stack(out) if out else np.zeros((0,) + y.shape, dtype=bool)


def reliability(y: np.ndarray, quantiles: np.ndarray, probs: np.ndarray, levels: Sequence[float]) -> np.ndarray:
    """Empirical coverage of each central level over all (K, H) cells; (L,).

    y (K, H), quantiles (K, Q, H) at probs (Q,). The bounds of level l are the quantiles at
    (1 - l) / 2 and (1 + l) / 2, which must be in `probs` (within 1e-9), else KeyError.
    """
    return _level_hits(y, quantiles, probs, levels).mean(axis=(1, 2))


def reliability_by_h(y: np.ndarray, quantiles: np.ndarray, probs: np.ndarray, levels: Sequence[float]) -> np.ndarray:
    """Empirical coverage of each central level at each step, over origins; (L, H)."""
    return _level_hits(y, quantiles, probs, levels).mean(axis=1)


def calibration_error(nominal: np.ndarray, empirical: np.ndarray) -> float:
    """Mean absolute difference between nominal and empirical coverage, over levels.

    0 is perfect; 0.05 means the levels miss their nominal coverage by 5 points on average
    (over- and under-coverage count alike). Both arrays (L,), or broadcastable.
    """
    nominal = np.asarray(nominal, dtype=float)
    empirical = np.asarray(empirical, dtype=float)
    return float(np.mean(np.abs(nominal - empirical)))


def pit_histogram(pit: np.ndarray, bins: int = 10) -> np.ndarray:
    """Counts of PIT values (any shape) in `bins` equal bins of [0, 1]; int (bins,).

    Bins are [i / bins, (i + 1) / bins), the last one closed. Values outside [0, 1] or
    non-finite raise ValueError (they signal a bug upstream, not a calibration fact).
    """
    pit = np.asarray(pit, dtype=float).ravel()
    if not np.all(np.isfinite(pit)) or np.any((pit < 0) | (pit > 1)):
        raise ValueError("PIT values must be finite and in [0, 1]")
    counts, _ = np.histogram(pit, bins=bins, range=(0.0, 1.0))
    return counts


def binomial_band(p: float, n: int, false_alarm: float = 0.01, n_tests: int = 1) -> tuple[float, float]:
    """Exact two-sided binomial acceptance region for a proportion: (lo, hi) as fractions.

    If X ~ Binomial(n, p), then P(X / n < lo) <= a / 2 and P(X / n > hi) <= a / 2 with
    a = false_alarm / n_tests (Bonferroni over n_tests simultaneous checks), and each bound
    is the tightest count with that property. An empirical proportion outside [lo, hi]
    rejects "true proportion p" at family-wise false-alarm rate <= false_alarm.

    n must count independent trials; see the module note on overlapping windows.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must lie in [0, 1], got {p}")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if not 0.0 < false_alarm < 1.0 or n_tests < 1:
        raise ValueError("need 0 < false_alarm < 1 and n_tests >= 1")
    a = false_alarm / n_tests / 2.0
    # ppf(a): smallest k with P(X <= k) >= a, so P(X < k) < a. isf(a): smallest k with
    # P(X > k) <= a.
    k_lo = binom.ppf(a, n, p)
    k_hi = binom.isf(a, n, p)
    return float(k_lo) / n, float(k_hi) / n
