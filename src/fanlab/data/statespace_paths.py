"""Joint Gaussian laws of whole forecast paths: the covariance of y[t + 1 .. t + H] given y[: t + 1].

`fanlab.data.statespace.filtered_forecast` gives the per-step mean and variance of an ARIMA / SARIMA
fit or a Gaussian oracle; the path needs the cross terms too. Two routes, which agree once the
filter has converged:

- `path_covariance` (exact, what the methods use): from the filtered state a_{t|t}, P_{t|t}
  of each origin, with P_h = P_{t+h|t} the state covariance h steps on and T, Z, H the
  transition, design and observation variance of statsmodels' form,
  Cov(y_{t+h}, y_{t+k}) = Z T^{k-h} P_h Z' (+ H when h = k), for h <= k.
  Its diagonal is `filtered_forecast`'s variance exactly (same recursion), including the
  origin's own state uncertainty (diffuse starts, MA states, the first points of a series).
- `psi_covariance` (the textbook form, a check): with psi_j the coefficients of
  theta(L) Theta(L^s) / (phi(L) Phi(L^s) (1 - L)^d (1 - L^s)^D) (the integrated polynomial, not
  the stationary part's), e_{t+h} = sum_{j<h} psi_j eps_{t+h-j} and
  Cov(e_{t+h}, e_{t+k}) = sigma^2 sum_{j=0}^{min(h,k)-1} psi_{h-1-j} psi_{k-1-j},
  i.e. sigma^2 L L' with L the lower-triangular Toeplitz matrix of psi_0..psi_{H-1}. It ignores
  the origin's state uncertainty (P_{t|t} = 0), which a long series makes negligible.

`oracle_path_law` and `arima_path_law` give (mean, covariance) of fanlab's KalmanOracle and of a
fitted `ARIMAForecaster` at many origins.
"""

from __future__ import annotations

import numpy as np

from fanlab.data.statespace import _NDIM, _matrix, filtered_forecast


def path_covariance(results, origins: np.ndarray, horizon: int) -> np.ndarray:
    """Covariance of y[t + 1 .. t + H] given y[: t + 1] under a filtered state-space model.

    Parameters
    ----------
    results : statsmodels MLEResults
        Filtered over a series that contains every origin (as for `filtered_forecast`).
    origins : (K,) int
    horizon : int
        H.

    Returns
    -------
    cov : (K, H, H), symmetric; its diagonal is the square of `filtered_forecast`'s sd.
    """
    origins = np.asarray(origins, dtype=np.int64)
    ssm = results.model.ssm
    p0 = np.moveaxis(np.asarray(results.filtered_state_cov)[:, :, origins], 2, 0)  # (K, m, m)
    if _cov_time_varying(ssm):
        return np.stack([_one_origin(ssm, p0[i], int(t), horizon) for i, t in enumerate(origins)]) \
            if origins.size else np.empty((0, horizon, horizon))
    t_mat = _matrix(ssm, "transition", 0)
    r, q = _matrix(ssm, "selection", 0), _matrix(ssm, "state_cov", 0)
    rqr = r @ q @ r.T
    z = _matrix(ssm, "design", 0).reshape(-1)
    hh = float(_matrix(ssm, "obs_cov", 0).reshape(-1)[0])
    K, m = p0.shape[0], p0.shape[1]
    g = np.empty((K, horizon, m))  # g[:, h] = P_{t+h+1|t} z
    p = p0
    for h in range(horizon):
        p = t_mat @ p @ t_mat.T + rqr
        g[:, h] = p @ z
    w = np.empty((horizon, m))  # w[j] = (T')^j z
    w[0] = z
    for j in range(1, horizon):
        w[j] = t_mat.T @ w[j - 1]
    a = g @ w.T  # a[:, h, j] = Cov(y_{t+h+1}, y_{t+h+1+j})
    hi, lag = np.triu_indices(horizon)  # rows h, columns k = h + lag over the upper triangle
    lag = lag - hi
    cov = np.zeros((K, horizon, horizon))
    cov[:, hi, hi + lag] = a[:, hi, lag]
    cov = cov + np.triu(cov, 1).transpose(0, 2, 1)
    cov[:, np.arange(horizon), np.arange(horizon)] += hh
    return cov


def _cov_time_varying(ssm) -> bool:
    """Whether a matrix that enters the covariance varies with time (intercepts do not enter:
    a constant or a drift, kept by statsmodels as a time-varying intercept, keeps the fast route)."""
    return any(np.asarray(ssm[n]).ndim == d and np.asarray(ssm[n]).shape[-1] > 1 for n, d in _NDIM.items()
               if n not in ("obs_intercept", "state_intercept"))


def _one_origin(ssm, p: np.ndarray, t: int, horizon: int) -> np.ndarray:
    """Path covariance (H, H) of one origin when the system matrices vary with time."""
    m = p.shape[0]
    ps, zs, hs = np.empty((horizon, m, m)), np.empty((horizon, m)), np.empty(horizon)
    for h in range(horizon):
        s = t + h
        t_mat = _matrix(ssm, "transition", s)
        r, q = _matrix(ssm, "selection", s), _matrix(ssm, "state_cov", s)
        p = t_mat @ p @ t_mat.T + r @ q @ r.T
        ps[h], zs[h] = p, _matrix(ssm, "design", s + 1).reshape(-1)
        hs[h] = float(_matrix(ssm, "obs_cov", s + 1).reshape(-1)[0])
    cov = np.empty((horizon, horizon))
    for h in range(horizon):
        v = ps[h] @ zs[h]  # Cov(state at step k, y at step h), rolled on with k
        cov[h, h] = zs[h] @ v + hs[h]
        for k in range(h + 1, horizon):
            v = _matrix(ssm, "transition", t + k) @ v
            cov[h, k] = cov[k, h] = zs[k] @ v
    return cov


def psi_weights(ar_poly: np.ndarray, ma_poly: np.ndarray, n: int, d: int = 0, D: int = 0,
                s: int = 0) -> np.ndarray:
    """First n coefficients psi_0 = 1, psi_1, ... of ma_poly(L) / (ar_poly(L) (1 - L)^d (1 - L^s)^D).

    `ar_poly`, `ma_poly`: coefficients in powers of L, leading 1 (statsmodels'
    ``polynomial_reduced_ar`` / ``polynomial_reduced_ma``: [1, -phi_1, ...], [1, theta_1, ...]).
    """
    ar = np.asarray(ar_poly, dtype=float)
    for _ in range(d):
        ar = np.convolve(ar, [1.0, -1.0])
    for _ in range(D):
        ar = np.convolve(ar, np.r_[1.0, np.zeros(s - 1), -1.0])
    ma = np.zeros(n)
    mp = np.asarray(ma_poly, dtype=float)[:n]
    ma[: mp.size] = mp
    psi = np.zeros(n)
    for j in range(n):  # ar(L) psi(L) = ma(L), solved term by term (ar[0] = 1)
        k = min(j, ar.size - 1)
        psi[j] = ma[j] - np.dot(ar[1 : k + 1], psi[j - 1 :: -1][:k]) if j else ma[0]
    return psi


def psi_covariance(psi: np.ndarray, sigma2: float, horizon: int) -> np.ndarray:
    """sigma^2 L L' (H, H), L[h, i] = psi_{h - i} for i <= h: the path covariance with a known state."""
    psi = np.asarray(psi, dtype=float)[:horizon]
    idx = np.arange(horizon)[:, None] - np.arange(horizon)[None, :]
    low = np.where(idx >= 0, psi[np.maximum(idx, 0)], 0.0)
    return sigma2 * low @ low.T


def results_psi_covariance(results, horizon: int) -> np.ndarray:
    """`psi_covariance` of a statsmodels ARIMA / SARIMAX results object (H, H)."""
    mod = results.model
    sigma2 = float(results.params[list(mod.param_names).index("sigma2")])
    psi = psi_weights(results.polynomial_reduced_ar, results.polynomial_reduced_ma, horizon,
                      d=int(mod.k_diff), D=int(mod.k_seasonal_diff), s=int(mod.seasonal_periods or 0))
    return psi_covariance(psi, sigma2, horizon)


def oracle_path_law(oracle, y: np.ndarray, origins: np.ndarray, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean (K, H) and path covariance (K, H, H) of a `KalmanOracle` (the exact law).

    Filters as `KalmanOracle.moments` does (its `_model` / `_params` at the true parameters)."""
    y = np.asarray(y, dtype=float)
    origins = np.asarray(origins, dtype=np.int64)
    n = y.shape[0]
    steps = origins[:, None] + np.arange(1, horizon + 1)[None, :]
    x = y if oracle.deterministic is None else y - oracle.deterministic(np.arange(n))
    last = int(steps.max()) + 1 if origins.size else n
    x = np.r_[x, np.full(max(last - n, 0), np.nan)]
    res = oracle._model(x).filter(oracle._params())
    mean, _ = filtered_forecast(res, origins, horizon)
    if oracle.deterministic is not None:
        mean = mean + oracle.deterministic(steps)
    return mean, path_covariance(res, origins, horizon)


def arima_path_law(forecaster, y: np.ndarray, origins: np.ndarray, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean (K, H) and path covariance (K, H, H) of a fitted `ARIMAForecaster` (no refit).

    The covariance carries the forecaster's variance scale (``var_scale_``), as its sd does.
    With a transform the law is that of the transformed series (a band built there maps back
    through the increasing inverse and holds the same paths)."""
    from fanlab.models.arima_params import fourier_terms

    if forecaster._p().refit:
        raise ValueError("arima_path_law: refit: true re-estimates per origin; one law per origin is not built")
    origins = np.asarray(origins, dtype=np.int64)
    y = np.asarray(y, dtype=float)
    tmax = int(origins.max())
    z = np.concatenate([forecaster._forward(y[: tmax + 1]), np.full(horizon, np.nan)])
    x = fourier_terms(z.shape[0], forecaster._p().fourier)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = forecaster.results_.apply(z, exog=x)
    mean, _ = filtered_forecast(res, origins, horizon)
    # the forecaster may rescale its innovation variance after the fit (R's sigma2 convention)
    return mean, path_covariance(res, origins, horizon) * float(getattr(forecaster, "var_scale_", 1.0))
