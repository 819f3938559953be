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


def _matrix(ssm, name: str, t: int) -> np.ndarray:
    m = np.asarray(ssm[name])
    ndim = {"design": 3, "obs_intercept": 2, "obs_cov": 3, "transition": 3,
            "state_intercept": 2, "selection": 3, "state_cov": 3}[name]
    if m.ndim < ndim:  # statsmodels squeezes a time-invariant last axis
        return m
    return m[..., min(t, m.shape[-1] - 1)] if m.shape[-1] > 1 else m[..., 0]


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
    k = origins.size
    mean = np.empty((k, horizon))
    var = np.empty((k, horizon))
    # Time-varying matrices (exogenous regressors, trends) are looked up at the right time for
    # each origin; the common case (time-invariant) takes the fast shared path.
    varying = any(np.asarray(ssm[n]).ndim == d and np.asarray(ssm[n]).shape[-1] > 1
                  for n, d in (("design", 3), ("obs_intercept", 2), ("obs_cov", 3), ("transition", 3),
                               ("state_intercept", 2), ("selection", 3), ("state_cov", 3)))
    for h in range(1, horizon + 1):
        if not varying:
            t_mat = _matrix(ssm, "transition", 0)
            c = _matrix(ssm, "state_intercept", 0).reshape(-1)
            rqr = _rqr(ssm, 0)
            a = a @ t_mat.T + c
            p = t_mat @ p @ t_mat.T + rqr
            z = _matrix(ssm, "design", 0).reshape(-1)
            d = float(np.asarray(_matrix(ssm, "obs_intercept", 0)).reshape(-1)[0])
            hh = float(np.asarray(_matrix(ssm, "obs_cov", 0)).reshape(-1)[0])
            mean[:, h - 1] = a @ z + d
            var[:, h - 1] = np.einsum("i,kij,j->k", z, p, z) + hh
        else:
            for i, t in enumerate(origins):
                s = int(t) + h - 1  # transition from time s to s + 1
                t_mat = _matrix(ssm, "transition", s)
                a[i] = t_mat @ a[i] + _matrix(ssm, "state_intercept", s).reshape(-1)
                p[i] = t_mat @ p[i] @ t_mat.T + _rqr(ssm, s)
                z = _matrix(ssm, "design", s + 1).reshape(-1)
                d = float(np.asarray(_matrix(ssm, "obs_intercept", s + 1)).reshape(-1)[0])
                hh = float(np.asarray(_matrix(ssm, "obs_cov", s + 1)).reshape(-1)[0])
                mean[i, h - 1] = z @ a[i] + d
                var[i, h - 1] = z @ p[i] @ z + hh
    return mean, np.sqrt(np.maximum(var, 0.0))


def _rqr(ssm, t: int) -> np.ndarray:
    r = _matrix(ssm, "selection", t)
    q = _matrix(ssm, "state_cov", t)
    return r @ q @ r.T
