"""Reliability, calibration error, PIT histograms and exact binomial bands."""

import numpy as np
import pytest
from scipy.stats import binom

from fanlab.forecast import gaussian_forecast, probs_for_levels
from fanlab.metrics.calibration import (
    binomial_band,
    calibration_error,
    pit_histogram,
    reliability,
    reliability_by_h,
)


def test_reliability_hand_example():
    probs = np.array([0.1, 0.25, 0.5, 0.75, 0.9])
    # Every cell has quantiles -2, -1, 0, 1, 2: level 0.5 is [-1, 1], level 0.8 is [-2, 2].
    quantiles = np.broadcast_to(np.array([-2.0, -1.0, 0.0, 1.0, 2.0])[None, :, None], (2, 5, 3))
    y = np.array([[0.0, 1.5, 3.0], [-1.0, -2.0, 0.5]])
    # level 0.5 hits: [1, 0, 0], [1, 0, 1]; level 0.8 hits: [1, 1, 0], [1, 1, 1]
    np.testing.assert_allclose(reliability(y, quantiles, probs, [0.5, 0.8]), [3 / 6, 5 / 6])
    np.testing.assert_allclose(
        reliability_by_h(y, quantiles, probs, [0.5, 0.8]), [[1.0, 0.0, 0.5], [1.0, 1.0, 0.5]]
    )


def test_reliability_looks_probabilities_up_within_tolerance_and_fails_loudly():
    probs = np.array([0.1, 0.5, 0.9]) + 1e-12
    quantiles = np.broadcast_to(np.array([-1.0, 0.0, 1.0])[None, :, None], (1, 3, 2))
    y = np.array([[0.5, 3.0]])
    np.testing.assert_allclose(reliability(y, quantiles, probs, [0.8]), [0.5])
    with pytest.raises(KeyError):
        reliability(y, quantiles, probs, [0.95])


def test_reliability_of_a_correct_gaussian_forecast_is_within_binomial_bands():
    rng = np.random.default_rng(0)
    k, h = 200, 25
    levels = [0.5, 0.8, 0.95]
    mean, sd = rng.normal(size=(k, h)), rng.exponential(size=(k, h)) + 0.1
    f = gaussian_forecast(np.arange(k), mean, sd, probs_for_levels(levels))
    y = mean + sd * rng.standard_normal((k, h))  # independent cells: n = K * H
    emp = reliability(y, f.quantiles, f.probs, levels)
    for level, e in zip(levels, emp):
        lo, hi = binomial_band(level, k * h, false_alarm=0.01, n_tests=len(levels))
        assert lo <= e <= hi, (level, e, lo, hi)
    # And a forecast with half the spread is rejected at every level.
    narrow = gaussian_forecast(np.arange(k), mean, sd / 2, probs_for_levels(levels))
    emp_narrow = reliability(y, narrow.quantiles, narrow.probs, levels)
    for level, e in zip(levels, emp_narrow):
        assert e < binomial_band(level, k * h, false_alarm=0.01, n_tests=len(levels))[0]


def test_calibration_error_is_mean_absolute_difference():
    assert calibration_error([0.5, 0.8, 0.95], [0.4, 0.9, 0.95]) == pytest.approx(0.2 / 3)


def test_pit_histogram_bins_and_edges():
    pit = np.array([0.0, 0.05, 0.1, 0.5, 0.99, 1.0])
    np.testing.assert_array_equal(pit_histogram(pit, bins=10), [2, 1, 0, 0, 0, 1, 0, 0, 0, 2])
    np.testing.assert_array_equal(pit_histogram(pit.reshape(2, 3), bins=2), [3, 3])
    with pytest.raises(ValueError):
        pit_histogram(np.array([0.5, 1.2]))
    with pytest.raises(ValueError):
        pit_histogram(np.array([0.5, np.nan]))


def test_binomial_band_known_case():
    # n = 100, p = 0.9, two-sided 5%: P(X <= 83) = 0.0206 < 0.025 <= P(X <= 84) = 0.0399
    # and P(X > 95) = 0.0237 <= 0.025 < P(X > 94) = 0.0576, so the region is [84, 95].
    assert binom.cdf(83, 100, 0.9) < 0.025 <= binom.cdf(84, 100, 0.9)
    assert binom.sf(95, 100, 0.9) <= 0.025 < binom.sf(94, 100, 0.9)
    assert binomial_band(0.9, 100, false_alarm=0.05) == (0.84, 0.95)
    # Bonferroni: n_tests = 5 at 5% is the same as one test at 1%.
    assert binomial_band(0.9, 100, 0.05, n_tests=5) == binomial_band(0.9, 100, 0.01)


@pytest.mark.parametrize("p,n,fa,tests", [(0.5, 37, 0.01, 1), (0.95, 500, 0.01, 100), (0.8, 2000, 0.05, 3),
                                          (0.05, 60, 0.1, 1)])
def test_binomial_band_is_the_tightest_valid_region(p, n, fa, tests):
    # Brute force over all counts: each tail outside the region has mass <= a / 2, and
    # moving either bound inward by one count would break that.
    a = fa / tests / 2
    lo, hi = binomial_band(p, n, fa, tests)
    k_lo, k_hi = round(lo * n), round(hi * n)
    pmf = binom.pmf(np.arange(n + 1), n, p)
    assert pmf[:k_lo].sum() <= a + 1e-12 and pmf[k_hi + 1:].sum() <= a + 1e-12
    assert pmf[: k_lo + 1].sum() > a - 1e-12 or k_lo == n
    assert pmf[k_hi:].sum() > a - 1e-12 or k_hi == 0
    assert pmf[k_lo: k_hi + 1].sum() >= 1 - 2 * a - 1e-12


def test_binomial_band_degenerate_and_invalid():
    assert binomial_band(1.0, 50) == (1.0, 1.0)
    assert binomial_band(0.0, 50) == (0.0, 0.0)
    with pytest.raises(ValueError):
        binomial_band(0.5, 0)
    with pytest.raises(ValueError):
        binomial_band(1.5, 10)
