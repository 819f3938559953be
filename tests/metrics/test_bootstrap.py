"""The stratified moving-block bootstrap: sampler, exact moments, coverage of its intervals."""

import numpy as np
import pytest
from arch.bootstrap import MovingBlockBootstrap
from scipy.stats import kurtosis

from fanlab.metrics.bootstrap import (
    block_bootstrap_mean,
    block_bootstrap_replicates,
    block_indices,
    default_block,
)
from fanlab.metrics.calibration import binomial_band

Z_TOL = 5.0  # tolerance in standard errors for Monte Carlo moments (two-sided ~6e-7)


@pytest.mark.parametrize("horizon,stride,expected", [(100, 1, 100), (100, 20, 5), (100, 30, 4),
                                                     (1, 5, 1), (10, 10, 1)])
def test_default_block(horizon, stride, expected):
    assert default_block(horizon, stride) == expected


def test_default_block_rejects_nonpositive():
    with pytest.raises(ValueError):
        default_block(0, 1)


@pytest.mark.parametrize("k,block", [(50, 5), (53, 7), (20, 20), (7, 1), (30, 40)])
def test_block_indices_are_arch_moving_block_draws(k, block):
    ours = block_indices(k, block, 200, np.random.default_rng(3))
    rng = np.random.default_rng(3)
    sampler = MovingBlockBootstrap(min(block, k), np.arange(k), seed=rng)
    theirs = np.stack([sampler.update_indices() for _ in range(200)])
    np.testing.assert_array_equal(ours, theirs)


def test_pooled_mean_shapes_and_determinism():
    groups = [np.array([1.0, 0.0]), np.array([1.0, 1.0, 1.0, 0.0])]
    mean, lo, hi = block_bootstrap_mean(groups, reps=500, block=2, seed=1)
    assert isinstance(mean, float) and mean == pytest.approx(4 / 6)  # weighted by K_g, not 0.625
    assert 0.0 <= lo <= mean <= hi <= 1.0
    assert block_bootstrap_mean(groups, reps=500, block=2, seed=1) == (mean, lo, hi)
    same = block_bootstrap_replicates(groups, reps=500, block=2, seed=1)[1]
    np.testing.assert_array_equal(same, block_bootstrap_replicates(groups, reps=500, block=2, seed=1)[1])
    assert not np.array_equal(same, block_bootstrap_replicates(groups, reps=500, block=2, seed=2)[1])

    rng = np.random.default_rng(0)
    hits = [rng.random((k, 7)) < 0.9 for k in (20, 35, 0)]  # an empty group is skipped
    mean, lo, hi = block_bootstrap_mean(hits, reps=300, block=4)
    assert mean.shape == lo.shape == hi.shape == (7,)
    np.testing.assert_allclose(mean, np.concatenate(hits[:2]).mean(axis=0))
    assert np.all(lo <= mean) and np.all(mean <= hi)


def test_constant_data_and_groups_shorter_than_the_block_have_no_spread():
    mean, lo, hi = block_bootstrap_mean([np.ones((30, 4))], reps=200, block=3)
    np.testing.assert_array_equal([mean, lo, hi], np.ones((3, 4)))
    # A group of 3 origins with block 5 is one block: every replicate is the group itself.
    _, boot = block_bootstrap_replicates([np.array([0.0, 1.0, 5.0])], reps=100, block=5)
    np.testing.assert_allclose(boot, 2.0)


def test_invalid_inputs():
    with pytest.raises(ValueError):
        block_bootstrap_mean([])
    with pytest.raises(ValueError):
        block_bootstrap_mean([np.zeros((3, 2)), np.zeros((3, 4))])
    with pytest.raises(ValueError):
        block_bootstrap_mean([np.zeros(3)], block=0)


def _block_means(x, b):
    c = np.concatenate([[0.0], np.cumsum(x)])
    return (c[b:] - c[:-b]) / b  # all K - b + 1 moving blocks


@pytest.mark.parametrize("block", [1, 5])
def test_replicate_moments_match_the_exact_moving_block_moments(block):
    # With K_g a multiple of the block, a replicate's group mean is the average of
    # K_g / block block means drawn uniformly from the K_g - block + 1 moving blocks, so its
    # bootstrap mean and variance are known exactly given the data. Groups are independent
    # and pooled with weights K_g / K.
    rng = np.random.default_rng(4)
    groups = [rng.standard_normal(60).cumsum() * 0.1, rng.exponential(size=40)]
    reps = 20000
    mean, boot = block_bootstrap_replicates(groups, reps=reps, block=block, seed=5)
    total = sum(len(g) for g in groups)
    exp_mean, exp_var, kurt = 0.0, 0.0, 0.0
    for g in groups:
        bm = _block_means(g, block)
        w = len(g) / total
        n_blocks = len(g) // block
        exp_mean += w * bm.mean()
        exp_var += w**2 * bm.var() / n_blocks
        kurt = max(kurt, kurtosis(bm) / n_blocks)
    assert mean == pytest.approx(np.mean(np.concatenate(groups)))
    assert abs(boot.mean() - exp_mean) <= Z_TOL * np.sqrt(exp_var / reps)
    # Relative s.e. of a sample variance: sqrt((2 + excess kurtosis) / reps).
    assert abs(boot.var() / exp_var - 1.0) <= Z_TOL * np.sqrt((2.0 + max(kurt, 0.0)) / reps)


def _ci_coverage(make_groups, n_datasets, block, reps=1000):
    inside = 0
    for i in range(n_datasets):
        groups = make_groups(np.random.default_rng(1000 + i))
        _, lo, hi = block_bootstrap_mean(groups, reps=reps, block=block, seed=i)
        inside += lo <= 0.0 <= hi
    return inside / n_datasets


def _iid_groups(rng):
    return [rng.standard_normal(50) for _ in range(3)]


def _window_groups(rng, k=200, m=10):
    # Means of m consecutive iid shocks: dependent exactly like the hits of origins whose
    # m-step windows overlap (horizon m, stride 1), with known mean 0.
    out = []
    for _ in range(3):
        c = np.concatenate([[0.0], np.cumsum(rng.standard_normal(k + m - 1))])
        out.append((c[m:] - c[:-m]) / m)
    return out


def test_iid_data_ci_covers_the_truth_at_the_nominal_rate():
    n = 200
    cov = _ci_coverage(_iid_groups, n, block=1)
    lo, hi = binomial_band(0.95, n, false_alarm=0.01)
    assert lo <= cov <= hi, (cov, lo, hi)


def test_dependent_data_block_ci_is_wider_than_iid_ci():
    n = 40
    lo_iid, _ = binomial_band(0.95, n, false_alarm=0.01)
    iid_cov = _ci_coverage(_window_groups, n, block=1)
    block_cov = _ci_coverage(_window_groups, n, block=default_block(10, 1))
    assert iid_cov < lo_iid  # resampling single origins is demonstrably too narrow
    for i in range(10):
        groups = _window_groups(np.random.default_rng(i))
        _, a, b = block_bootstrap_mean(groups, block=1, seed=i)
        _, c, d = block_bootstrap_mean(groups, block=default_block(10, 1), seed=i)
        assert d - c > b - a
    assert block_cov > iid_cov


@pytest.mark.slow
def test_coverage_of_bootstrap_intervals_many_datasets():
    n = 2000
    band = binomial_band(0.95, n, false_alarm=0.01, n_tests=2)
    iid_cov = _ci_coverage(_iid_groups, n, block=1)
    assert band[0] <= iid_cov <= band[1], (iid_cov, band)
    # Dependent data: the block bootstrap beats the iid one by more than both sampling bands.
    dep_iid = _ci_coverage(_window_groups, n // 4, block=1)
    dep_block = _ci_coverage(_window_groups, n // 4, block=default_block(10, 1))
    print(f"iid data: {iid_cov:.4f}; windows: iid bootstrap {dep_iid:.4f}, block {dep_block:.4f}")
    assert binomial_band(dep_iid, n // 4, 0.01, 2)[1] < binomial_band(dep_block, n // 4, 0.01, 2)[0]
