"""`ar_panel` (CF-RNN's synthetic setting): its exact oracle against simulation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binom, norm

from fanlab import registry
from fanlab.data.processes_panel import ARPanelParams, noise_sd, simulate_ar_panel

H, TRAIN = 5, 15


def _continue(params, prefix, n_paths, rng):
    """Monte Carlo continuations x_{t+1..t+H} of one sequence given its prefix x_0..x_t."""
    ar = np.asarray(params.ar)
    t = prefix.size - 1
    paths = np.zeros((n_paths, prefix.size + H))
    paths[:, : prefix.size] = prefix
    for step in range(1, H + 1):
        pos = t + step
        past = sum(ar[i] * paths[:, pos - 1 - i] for i in range(ar.size) if pos - 1 - i >= 0)
        paths[:, pos] = past + rng.standard_normal(n_paths) * noise_sd(params, np.array(pos))
    return paths[:, prefix.size:]


@pytest.mark.parametrize("noise", ["static", "growing"])
def test_oracle_moments_match_simulation(noise):
    params = ARPanelParams(ar=[0.9, -0.3], sigma=0.1, noise=noise, n=TRAIN + H, n_series=3)
    series = registry.build_dataset("ar_panel", params.model_dump(), seed=0)
    s = series[0]
    oracle = s.oracle().fit(s.values, TRAIN, 0)
    mean, sd = oracle.moments(s.values, np.array([TRAIN - 1]), H)
    n = 200_000
    sims = _continue(params, s.values[:TRAIN], n, np.random.default_rng(5))
    # 5 standard errors: a wrong recursion or variance would be off by far more
    assert np.all(np.abs(sims.mean(axis=0) - mean[0]) < 5 * sd[0] / np.sqrt(n))
    assert np.all(np.abs(sims.std(axis=0) - sd[0]) < 5 * sd[0] / np.sqrt(2 * n))


def test_per_step_bands_and_their_joint_coverage_over_sequences():
    """Per-step 90% oracle bands over 4,000 sequences: each step covers 0.9, and the whole
    5-step path is covered as often as a simulation of the same errors says (both within a
    two-sided 99.9% binomial band of the count)."""
    params = ARPanelParams(ar=[0.9], sigma=0.1, noise="growing", n=TRAIN + H, n_series=4000)
    series = registry.build_dataset("ar_panel", params.model_dump(), seed=1)
    z = norm.ppf(0.95)
    hits = np.empty((len(series), H), dtype=bool)
    for i, s in enumerate(series):
        mean, sd = s.oracle().moments(s.values, np.array([TRAIN - 1]), H)
        hits[i] = np.abs(s.values[TRAIN:] - mean[0]) <= z * sd[0]
    n = len(series)
    lo, hi = binom.ppf(0.0005, n, 0.9), binom.ppf(0.9995, n, 0.9)
    assert np.all((hits.sum(axis=0) >= lo) & (hits.sum(axis=0) <= hi))
    # the joint probability from 10^6 simulated continuations of one prefix (the error law does
    # not depend on the prefix for a linear Gaussian AR)
    s = series[0]
    mean, sd = s.oracle().moments(s.values, np.array([TRAIN - 1]), H)
    sims = _continue(params, s.values[:TRAIN], 1_000_000, np.random.default_rng(9))
    p_joint = float(np.mean(np.all(np.abs(sims - mean[0]) <= z * sd[0], axis=1)))
    assert 0.9**5 <= p_joint <= 0.9  # Sidak: a Gaussian vector covers at least the product of its margins
    lo, hi = binom.ppf(0.0005, n, p_joint), binom.ppf(0.9995, n, p_joint)
    assert lo <= hits.all(axis=1).sum() <= hi


def test_sequences_start_from_zero_and_differ():
    params = ARPanelParams(n=20, n_series=2)
    a, b = registry.build_dataset("ar_panel", params.model_dump(), seed=0)
    assert a.values.shape == (20,) and not np.array_equal(a.values, b.values)
    x = simulate_ar_panel(params, np.random.default_rng(0), 20)
    assert abs(x[0]) < 1.0  # x_0 = e_0 with sd 0.1
