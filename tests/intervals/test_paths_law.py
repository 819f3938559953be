"""Joint path laws: state-space covariance against the psi-weight form and the per-step variances."""

from __future__ import annotations

import numpy as np
import pytest

import fanlab
from fanlab.models.arima import ARIMAForecaster
from fanlab.data.statespace import filtered_forecast
from fanlab.data.statespace_paths import (
    _one_origin, arima_path_law, oracle_path_law, path_covariance, psi_covariance, psi_weights,
    results_psi_covariance)


def test_psi_weights_known_answers():
    # AR(1): phi^j; random walk: all ones; ARIMA(1,1,0): (1 - phi^(j+1)) / (1 - phi)
    phi = 0.6
    np.testing.assert_allclose(psi_weights([1, -phi], [1], 6), phi ** np.arange(6))
    np.testing.assert_allclose(psi_weights([1], [1], 5, d=1), np.ones(5))
    np.testing.assert_allclose(psi_weights([1, -phi], [1], 6, d=1), (1 - phi ** np.arange(1, 7)) / (1 - phi))
    # MA(1): 1, theta, 0, ...; seasonal difference at s = 4: ones at multiples of 4
    np.testing.assert_allclose(psi_weights([1], [1, 0.4], 4), [1, 0.4, 0, 0])
    np.testing.assert_allclose(psi_weights([1], [1], 9, D=1, s=4), [1, 0, 0, 0, 1, 0, 0, 0, 1])


def test_psi_covariance_random_walk_is_min_h_k():
    cov = psi_covariance(np.ones(5), 2.0, 5)
    h = np.arange(1, 6)
    np.testing.assert_allclose(cov, 2.0 * np.minimum.outer(h, h))


@pytest.mark.parametrize("name, order", [("arma", (2, 0, 1)), ("arima", (1, 1, 0))])
def test_oracle_and_arima_laws_match_per_step_and_psi(name, order):
    s = fanlab.datasets.load(name, n=700)[0]
    y, oracle, H = s.values, s.oracle(), 25
    origins = np.array([1, 5, 300, 650])
    mean, cov = oracle_path_law(oracle, y, origins, H)
    m2, sd2 = oracle.moments(y, origins, H)
    np.testing.assert_allclose(mean, m2, atol=1e-12)
    np.testing.assert_allclose(np.sqrt(np.diagonal(cov, axis1=1, axis2=2)), sd2, rtol=1e-10)
    np.testing.assert_allclose(cov, cov.transpose(0, 2, 1))
    # a late origin has a known state: the textbook psi form of the true model, cross terms included
    psi = psi_weights(np.r_[1.0, -np.asarray(oracle.ar)], np.r_[1.0, oracle.ma], H, d=oracle.d)
    np.testing.assert_allclose(cov[-1], psi_covariance(psi, oracle.sigma ** 2, H), rtol=1e-8, atol=1e-10)
    if name == "arma":  # an origin at the series' start knows its MA state less: wider at h = 1
        assert cov[0, 0, 0] > cov[-1, 0, 0] + 1e-3

    f = ARIMAForecaster({"order": order}).fit(y, 500)
    fo = np.arange(499, 670, 10)
    fm, fcov = arima_path_law(f, y, fo, H)
    fc = f.predict(y, fo, H, np.array([0.1, 0.5, 0.9]))
    np.testing.assert_allclose(fm, fc.mean, atol=1e-10)
    np.testing.assert_allclose(np.sqrt(np.diagonal(fcov, axis1=1, axis2=2)), fc.sd, rtol=1e-10)
    scale = getattr(f, "var_scale_", 1.0)
    np.testing.assert_allclose(fcov[-1], scale * results_psi_covariance(f.results_, H), rtol=1e-6, atol=1e-9)
    assert np.linalg.eigvalsh(fcov).min() > 0


def test_seasonal_arima_law_matches_psi_form():
    rng = np.random.default_rng(3)
    n, s = 400, 4
    e = rng.standard_normal(n + 50)
    x = np.zeros(n + 50)
    for t in range(s + 1, n + 50):  # (1 - 0.5 L)(1 - L^4) x = e
        x[t] = x[t - s] + 0.5 * (x[t - 1] - x[t - 1 - s]) + e[t]
    y = x[50:]
    f = ARIMAForecaster({"order": [1, 0, 0], "seasonal_order": [0, 1, 1, 4]}).fit(y, 300)
    _, cov = arima_path_law(f, y, np.array([390]), 12)
    scale = getattr(f, "var_scale_", 1.0)
    np.testing.assert_allclose(cov[0], scale * results_psi_covariance(f.results_, 12), rtol=1e-6, atol=1e-8)


def test_time_varying_route_agrees_and_variance_break_oracle():
    s = fanlab.datasets.load("arma", n=300)[0]
    res = s.oracle()._model(s.values).filter(s.oracle()._params())
    cov = path_covariance(res, np.array([100, 250]), 15)
    p0 = np.asarray(res.filtered_state_cov)[:, :, 250]
    np.testing.assert_allclose(_one_origin(res.model.ssm, p0, 250, 15), cov[1], rtol=1e-10, atol=1e-12)
    # the break dataset's oracle has a time-varying innovation variance: diagonal still matches
    b = fanlab.datasets.load("break", n=800)[0]
    origins = np.array([350, 390, 420, 700])
    mean, bcov = oracle_path_law(b.oracle(), b.values, origins, 30)
    m2, sd2 = b.oracle().moments(b.values, origins, 30)
    np.testing.assert_allclose(mean, m2, atol=1e-12)
    np.testing.assert_allclose(np.sqrt(np.diagonal(bcov, axis1=1, axis2=2)), sd2, rtol=1e-10)
    assert np.linalg.eigvalsh(bcov).min() > 0


def test_path_covariance_matches_simulated_continuations():
    # the cross terms against simulation, no psi weights: AR(2) paths continued from an origin's
    # last two values, minus the shock-free continuation (the conditional mean)
    from fanlab.data.oracles import KalmanOracle

    ar, H = np.array([0.9, -0.3]), 8
    y = fanlab.datasets.load("arma", n=300, ar=list(ar), ma=[])[0].values
    oracle = KalmanOracle(ar=list(ar), ma=[], sigma=1.5)
    _, cov = oracle_path_law(oracle, y, np.array([200]), H)
    rng = np.random.default_rng(0)
    e = 1.5 * rng.standard_normal((40000, H))
    x = np.zeros((40000, H + 2))
    x[:, :2] = y[199], y[200]
    for h in range(H):
        x[:, h + 2] = ar[0] * x[:, h + 1] + ar[1] * x[:, h] + e[:, h]
    emp = np.cov(x[:, 2:].T)
    np.testing.assert_allclose(emp, cov[0], atol=0.04 * cov[0].max())
    assert cov[0, 0, 1] > 0.5 and cov[0, 0, 4] < cov[0, 0, 1]  # strong, decaying cross terms
