"""Path scores: energy and variogram scores against scoringrules, Gaussian laws, climatology."""

from __future__ import annotations

import numpy as np
import pytest
import scoringrules as sr
from scipy.special import gamma as gamma_fn

import fanlab
from fanlab.metrics.paths import (
    abs_moment_normal, climatology_paths, energy_score, energy_score_gaussian, gaussian_paths,
    variogram_score, variogram_score_gaussian)
from fanlab.data.statespace_paths import oracle_path_law


def _hand_made():
    # three origins, four paths of five steps; ties and a constant path on purpose
    fct = np.array([
        [[0, 1, 2, 3, 4], [1, 1, 1, 1, 1], [0, 2, 1, 3, 2], [0, 1, 2, 3, 4]],
        [[5, 5, 5, 5, 5], [4, 6, 4, 6, 4], [3, 3, 7, 7, 3], [5, 4, 3, 2, 1]],
        [[-1, 0, 1, 0, -1], [0, 0, 0, 0, 0], [1, 0, -1, 0, 1], [2, 2, 2, 2, 2]],
    ], dtype=float)
    obs = np.array([[0, 1, 2, 2, 2], [5, 5, 4, 4, 4], [0, 1, 0, 1, 0]], dtype=float)
    return obs, fct


@pytest.mark.parametrize("estimator", ["nrg", "fair"])
def test_energy_score_matches_scoringrules(estimator):
    obs, fct = _hand_made()
    ours = energy_score(obs, fct, estimator=estimator)
    theirs = np.asarray(sr.es_ensemble(obs, fct, m_axis=-2, v_axis=-1, estimator=estimator, backend="numpy"))
    np.testing.assert_allclose(ours, theirs, rtol=1e-10)
    # by hand, origin 0 (nrg): E||X - y|| = (sqrt(5) + sqrt(3) + sqrt(3) + sqrt(5)) / 4 ...
    e1 = (np.sqrt(5) + np.linalg.norm([1, 0, -1, -1, -1]) + np.linalg.norm([0, 1, -1, 1, 0]) + np.sqrt(5)) / 4
    pair = [np.linalg.norm(fct[0, i] - fct[0, j]) for i in range(4) for j in range(4)]
    expect = e1 - 0.5 * np.sum(pair) / (16 if estimator == "nrg" else 12)
    np.testing.assert_allclose(ours[0], expect, rtol=1e-12)


@pytest.mark.parametrize("p", [0.5, 1.0, 2.0])
def test_variogram_score_matches_scoringrules(p):
    obs, fct = _hand_made()
    ours = variogram_score(obs, fct, p=p)
    theirs = np.asarray(sr.vs_ensemble(obs, fct, m_axis=-2, v_axis=-1, p=p, backend="numpy"))
    np.testing.assert_allclose(ours, theirs, rtol=1e-10)
    w = np.random.default_rng(0).random((5, 5))
    np.testing.assert_allclose(variogram_score(obs, fct, p=p, weights=w),
                               np.asarray(sr.vs_ensemble(obs, fct, w=w, p=p, backend="numpy")), rtol=1e-10)


def test_energy_score_random_ensembles_match_scoringrules():
    rng = np.random.default_rng(5)
    obs, fct = rng.normal(size=(6, 12)), rng.normal(size=(6, 300, 12)) * 50.0 + 1000.0  # far from 0
    np.testing.assert_allclose(energy_score(obs, fct, "nrg"),
                               np.asarray(sr.es_ensemble(obs, fct, backend="numpy")), rtol=1e-8)
    np.testing.assert_allclose(energy_score(obs, fct, "circperm"),
                               np.asarray(sr.es_ensemble(obs, fct, estimator="akr_circperm", backend="numpy")),
                               rtol=1e-10)
    # the cheap estimator sits near the exact one for a large ensemble
    np.testing.assert_allclose(energy_score(obs, fct, "circperm"), energy_score(obs, fct, "fair"), rtol=0.05)


def test_abs_moment_normal_known_values():
    # p = 2: mu^2 + s^2; p = 1, mu = 0: s sqrt(2 / pi); s = 0: |mu|^p
    np.testing.assert_allclose(abs_moment_normal(np.array([1.5, -2.0]), np.array([2.0, 0.5]), 2.0), [6.25, 4.25])
    np.testing.assert_allclose(abs_moment_normal(0.0, 3.0, 1.0), 3.0 * np.sqrt(2 / np.pi))
    np.testing.assert_allclose(abs_moment_normal(np.array([-2.0]), np.array([0.0]), 0.5), [np.sqrt(2.0)])
    z = np.random.default_rng(1).normal(0.7, 1.3, size=400000)
    np.testing.assert_allclose(abs_moment_normal(0.7, 1.3, 0.5), np.mean(np.abs(z) ** 0.5), rtol=3e-3)


def test_energy_score_isotropic_gaussian_known_answer():
    # y at the mean, Sigma = s^2 I: ES = s m_H (1 - 1/sqrt 2), m_H = E||N(0, I_H)||
    H, s = 10, 2.0
    m_h = np.sqrt(2.0) * gamma_fn((H + 1) / 2) / gamma_fn(H / 2)
    es, se = energy_score_gaussian(np.zeros((1, H)), np.zeros((1, H)), s ** 2 * np.eye(H), n_draws=40000)
    truth = s * m_h * (1 - 1 / np.sqrt(2.0))
    assert abs(es[0] - truth) < 4 * se[0] + 1e-12 and se[0] < 0.01 * truth


def test_oracle_scores_exact_law_against_own_samples_and_a_wrong_dependence():
    s = fanlab.datasets.load("arma", n=1500, ar=[0.9], ma=[])[0]
    H, origins = 30, np.arange(900, 1460, 40)
    y = s.values
    mean, cov = oracle_path_law(s.oracle(), y, origins, H)
    obs = y[origins[:, None] + np.arange(1, H + 1)]
    es_law, se = energy_score_gaussian(obs, mean, cov, n_draws=20000, seed=1)
    samples = gaussian_paths(mean, cov, 1000, seed=2)
    es_smp = energy_score(obs, samples, "fair")
    # the samples' fair estimate sits on the exact law's score, per origin and on average
    assert abs(es_smp.mean() - es_law.mean()) < 0.01 * es_law.mean()
    np.testing.assert_allclose(es_smp, es_law, rtol=0.05)
    vs_law = variogram_score_gaussian(obs, mean, cov)
    vs_smp = variogram_score(obs, samples)
    np.testing.assert_allclose(vs_smp.mean(), vs_law.mean(), rtol=0.02)
    # the same marginals without the dependence between steps score worse on average
    indep = np.zeros_like(cov)
    idx = np.arange(H)
    indep[:, idx, idx] = cov[:, idx, idx]
    vs_indep = variogram_score_gaussian(obs, mean, indep)
    es_indep, _ = energy_score_gaussian(obs, mean, indep, n_draws=20000, seed=1)
    assert vs_indep.mean() > 1.1 * vs_law.mean()
    assert es_indep.mean() > es_law.mean()


def test_climatology_paths_blocks():
    y = np.arange(20.0)
    blocks = climatology_paths(y, 10, 4)
    assert blocks.shape == (7, 4)
    np.testing.assert_array_equal(blocks[0], [0, 1, 2, 3])
    np.testing.assert_array_equal(blocks[-1], [6, 7, 8, 9])  # never past train_end
    some = climatology_paths(y, 10, 4, n_paths=3)
    np.testing.assert_array_equal(some[:, 0], [0, 3, 6])
    with pytest.raises(ValueError, match="no block"):
        climatology_paths(y, 3, 4)


def test_climatology_paths_score_worse_than_the_oracle_on_a_persistent_process():
    s = fanlab.datasets.load("arma", n=2000, ar=[0.95], ma=[])[0]
    y, H, origins = s.values, 20, np.arange(1500, 1960, 40)
    mean, cov = oracle_path_law(s.oracle(), y, origins, H)
    obs = y[origins[:, None] + np.arange(1, H + 1)]
    clim = climatology_paths(y, 1400, H, n_paths=500)
    es_clim = energy_score(obs, np.broadcast_to(clim, (origins.size, *clim.shape)))
    es_oracle, _ = energy_score_gaussian(obs, mean, cov)
    assert es_oracle.mean() < 0.8 * es_clim.mean()
