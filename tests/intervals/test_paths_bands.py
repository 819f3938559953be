"""Simultaneous bands: known multipliers, Monte Carlo error, sample paths, path coverage."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from fanlab.intervals.paths import (
    binomial_tolerance, gaussian_band, max_quantiles, path_inside, path_targets, per_step_band,
    sample_band)
from fanlab.data.statespace_paths import psi_covariance


def _c_independent(level, H):
    """Exact c for H independent steps: (2 Phi(c) - 1)^H = l."""
    return norm.ppf((1 + level ** (1 / H)) / 2)


def test_gaussian_band_independent_steps_known_c():
    H, levels = 50, np.array([0.8, 0.95])
    mean = np.zeros((1, H))
    band = gaussian_band(mean, 4.0 * np.eye(H), levels, n_draws=20000, seed=1)
    truth = _c_independent(levels, H)
    assert band.c.shape == (1, 2) and band.lower.shape == (1, 2, H)
    lo, hi = band.c_interval[0, :, 0], band.c_interval[0, :, 1]
    assert np.all(lo <= truth) and np.all(truth <= hi)  # the MC interval holds the exact c
    np.testing.assert_allclose(band.c[0], truth, rtol=0.01)
    assert np.all(hi - lo < 0.02 * truth)  # 20,000 draws: c known to about 1%
    np.testing.assert_allclose(band.upper[0, 1], 2.0 * band.c[0, 1])  # sd 2 at every step


def test_gaussian_band_perfectly_correlated_is_per_step():
    H = 30
    cov = np.ones((H, H)) * np.outer(np.arange(1, H + 1), np.arange(1, H + 1))  # rank one
    band = gaussian_band(np.zeros((2, H)), cov, [0.9], n_draws=20000, seed=0)
    np.testing.assert_allclose(band.c[:, 0], norm.ppf(0.95), rtol=0.01)
    lo, hi = per_step_band(np.zeros((2, H)), np.broadcast_to(np.arange(1.0, H + 1), (2, H)), [0.9])
    np.testing.assert_allclose(band.upper, hi, rtol=0.01)


def test_gaussian_band_shares_c_across_origins_with_one_correlation():
    H = 20
    cov = psi_covariance(0.8 ** np.arange(H), 1.0, H)
    covs = np.stack([cov, 9.0 * cov, psi_covariance(np.ones(H), 1.0, H)])
    band = gaussian_band(np.zeros((3, H)), covs, [0.95], n_draws=5000, seed=3)
    assert band.c[0, 0] == band.c[1, 0]  # same correlation, same draws
    np.testing.assert_allclose(band.upper[1], 3.0 * band.upper[0])
    # a random walk's steps are more correlated than an AR(0.8)'s: a smaller c
    assert band.c[2, 0] < band.c[0, 0] - 0.1
    assert band.c[0, 0] < _c_independent(0.95, H)


def test_gaussian_band_holds_paths_of_its_own_law():
    H, level, n = 40, 0.9, 4000
    cov = psi_covariance(0.9 ** np.arange(H), 2.0, H)
    band = gaussian_band(np.zeros((1, H)), cov, [level], n_draws=20000, seed=0)
    paths = np.random.default_rng(7).multivariate_normal(np.zeros(H), cov, size=n)
    inside = path_inside(paths, band.lower[[0] * n], band.upper[[0] * n])  # (n, 1)
    assert abs(inside.mean() - level) < binomial_tolerance(n, level)
    # the per-step 90% band holds far fewer whole paths
    lo, hi = per_step_band(np.zeros((1, H)), np.sqrt(np.diag(cov))[None], [level])
    assert path_inside(paths, lo[[0] * n], hi[[0] * n]).mean() < 0.6


def test_max_quantiles_order_statistics():
    q, ci = max_quantiles(np.arange(1.0, 101.0), np.array([0.5, 0.95]))
    np.testing.assert_array_equal(q, [50.0, 95.0])
    # ranks 100 l -+ 1.96 sqrt(100 l (1 - l)): 40.2 / 59.8 -> 40, 60; 90.7 / 99.3 -> 90, 100
    np.testing.assert_array_equal(ci, [[40.0, 60.0], [90.0, 100.0]])


def test_sample_band_matches_gaussian_c_and_conformal_rank():
    H, S = 25, 4000
    rng = np.random.default_rng(0)
    samples = 3.0 + 2.0 * rng.standard_normal((2, S, H))
    band = sample_band(samples, [0.8, 0.95])
    np.testing.assert_allclose(band.c, np.broadcast_to(_c_independent(np.array([0.8, 0.95]), H), (2, 2)),
                               rtol=0.03)
    np.testing.assert_allclose(band.upper[:, 0].mean(), 3.0 + 2.0 * band.c[:, 0].mean(), rtol=0.02)
    # by construction about l of the S sample paths lie inside: exactly ceil((S+1) l) of them
    inside = path_inside(samples[0], np.broadcast_to(band.lower[0], (S, 2, H)),
                         np.broadcast_to(band.upper[0], (S, 2, H)))
    np.testing.assert_array_equal(inside.sum(axis=0), np.ceil((S + 1) * np.array([0.8, 0.95])))
    # ten paths cannot rank a 95% band: ceil(11 * 0.95) = 11 > 10
    small = sample_band(samples[:, :10], [0.5, 0.95])
    assert np.all(np.isfinite(small.c[:, 0])) and np.all(np.isinf(small.c[:, 1]))
    assert np.all(np.isinf(small.upper[:, 1]))


def test_sample_band_center_and_constant_step():
    samples = np.random.default_rng(1).standard_normal((1, 500, 5))
    samples[:, :, 0] = 2.0  # a known step: band is its value there
    band = sample_band(samples, [0.9], center=np.full((1, 5), 0.1))
    assert band.lower[0, 0, 0] == band.upper[0, 0, 0] == 0.1
    assert np.all(band.width[0, 0, 1:] > 0)


def test_path_inside_and_targets():
    y = np.arange(10.0)
    t = path_targets(y, np.array([2, 7]), 3)
    np.testing.assert_array_equal(t[0], [3, 4, 5])
    assert np.isnan(t[1, 2])
    lo = np.array([[[3, 4, 5], [3, 4, 5.5]], [[8, 9, 0], [8, 9.5, 0]]])
    ok = path_inside(t, lo, lo + 1)
    np.testing.assert_array_equal(ok, [[True, False], [True, False]])


def test_levels_checked():
    with pytest.raises(ValueError, match="levels"):
        gaussian_band(np.zeros((1, 3)), np.eye(3), [1.0])
