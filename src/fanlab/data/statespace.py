"""Gaussian h-step forecasts from many origins of one filtered state-space model.

A statsmodels state-space results object filtered over the whole series holds, at every
time t, the filtered state a_{t|t} and its covariance P_{t|t}, which depend on y[: t + 1]
only (the Kalman filter is causal; smoothed states would look ahead and are never used).
Rolling the transition forward H steps from each origin gives the exact conditional mean and
variance of y[t + h] under the model, for all origins at once, without a refit or a new
filter run per origin.

statsmodels' convention: y_t = d_t + Z_t a_t + e_t, a_{t+1} = c_t + T_t a_t + R_t n_t,
e_t ~ N(0, H_t), n_t ~ N(0, Q_t).
"""

from __future__ import annotations

import numpy as np


# Dimensions of each system matrix when statsmodels keeps its time axis (the last one).
_NDIM = {"design": 3, "obs_intercept": 2, "obs_cov": 3, "transition": 3,
         "state_intercept": 2, "selection": 3, "state_cov": 3}


def _matrix(ssm, name: str, t: int) -> np.ndarray:
    """System matrix `name` at time t (the last column past the end of the series)."""
    m = np.asarray(ssm[name])
    if m.ndim < _NDIM[name]:  # statsmodels squeezes a time-invariant last axis
        return m
    return m[..., min(t, m.shape[-1] - 1)]


def _time_varying(ssm) -> bool:
    return any(np.asarray(ssm[n]).ndim == d and np.asarray(ssm[n]).shape[-1] > 1 for n, d in _NDIM.items())


def _step(a: np.ndarray, p: np.ndarray, ssm, s: int):
    """Roll states a (K, m), covariances p (K, m, m) from time s to s + 1 with the matrices of
    those times; returns the new a, p and the mean and variance (K,) of y[s + 1]."""
    t_mat = _matrix(ssm, "transition", s)
    r, q = _matrix(ssm, "selection", s), _matrix(ssm, "state_cov", s)
    a = a @ t_mat.T + _matrix(ssm, "state_intercept", s).reshape(-1)
    p = t_mat @ p @ t_mat.T + r @ q @ r.T
    z = _matrix(ssm, "design", s + 1).reshape(-1)
    d = float(_matrix(ssm, "obs_intercept", s + 1).reshape(-1)[0])
    hh = float(_matrix(ssm, "obs_cov", s + 1).reshape(-1)[0])
    return a, p, a @ z + d, np.einsum("i,kij,j->k", z, p, z) + hh


def filtered_forecast(results, origins: np.ndarray, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of y[t + h] given y[: t + 1], for each origin t.

    Parameters
    ----------
    results : statsmodels MLEResults
        Filtered (not smoothed) over a series that contains every origin; univariate.
    origins : (K,) int
        Indices of the last observed points.
    horizon : int
        H.

    Returns
    -------
    mean, sd : (K, H)
    """
    origins = np.asarray(origins, dtype=np.int64)
    ssm = results.model.ssm
    a = np.asarray(results.filtered_state)[:, origins].T  # (K, m)
    p = np.moveaxis(np.asarray(results.filtered_state_cov)[:, :, origins], 2, 0)  # (K, m, m)
    mean = np.empty((origins.size, horizon))
    var = np.empty((origins.size, horizon))
    if not _time_varying(ssm):
        # the common case: one set of matrices, all origins rolled forward together
        for h in range(horizon):
            a, p, mean[:, h], var[:, h] = _step(a, p, ssm, 0)
    else:
        # exogenous regressors, trends, variance paths: each origin reads the matrices of its
        # own future times
        for i, t in enumerate(origins):
            ai, pi = a[i : i + 1], p[i : i + 1]
            for h in range(horizon):
                ai, pi, mean[i, h : h + 1], var[i, h : h + 1] = _step(ai, pi, ssm, int(t) + h)
    return mean, np.sqrt(np.maximum(var, 0.0))
