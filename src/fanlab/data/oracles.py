"""Oracles: the true predictive distribution of a synthetic series, as a Forecaster.

An oracle belongs to the data: the synthetic processes (`fanlab.data.synthetic`) build it
with their true parameters and attach it to the series; the method `oracle`
(`fanlab.models.oracle`) only reads it. Two kinds:

- `KalmanOracle`: exact Gaussian forecasts of y_t = m(t) + x_t, x_t an ARIMA(p, d, q) with
  known coefficients and innovation variance (optionally time-varying), m a known
  deterministic function of time (mean, drift, seasonal cycle, level break). The series
  x = y - m is filtered once with statsmodels' state-space model at the true parameters (no
  fitting); `filtered_forecast` rolls the filtered state of every origin forward.
- `MonteCarloOracle`: a base class drawing `n_paths` sample paths per origin from the true
  model given the state recovered from ``y[: t + 1]``; each process supplies the state and
  the recursion.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from fanlab.forecast import Forecast, check_origins, gaussian_forecast, sample_forecast
from fanlab.data.statespace import filtered_forecast


class KalmanOracle:
    """Exact Gaussian forecasts of y_t = m(t) + x_t, x an ARIMA(p, d, q) with known parameters.

    Parameters
    ----------
    ar, ma : list of float
        Coefficients of (1 - sum ar_i L^i) (1 - L)^d x_t = (1 + sum ma_j L^j) e_t.
    sigma : float
        Innovation standard deviation.
    d : int
        Order of integration (0 or 1); the initial level is treated as unknown (exact diffuse).
    deterministic : callable or None
        ``m(t) -> (same shape)``: the known deterministic part at integer times t (any t >= 0,
        also past the end of the series).
    sigma_path : callable or None
        ``s(t) -> (same shape)``: innovation sd of e_t when it varies with time (a variance
        break); `sigma` is then ignored.
    """

    name = "oracle"

    def __init__(
        self,
        ar: list[float],
        ma: list[float],
        sigma: float,
        d: int = 0,
        deterministic: Callable[[np.ndarray], np.ndarray] | None = None,
        sigma_path: Callable[[np.ndarray], np.ndarray] | None = None,
    ):
        self.ar = ar
        self.ma = ma
        self.sigma = sigma
        self.d = d
        self.deterministic = deterministic
        self.sigma_path = sigma_path

    def fit(self, y: np.ndarray, train_end: int, seed: int) -> "KalmanOracle":
        # the true law is known: nothing to learn
        self.fitted_ = True
        return self

    def predict(self, y: np.ndarray, origins: np.ndarray, horizon: int, probs: np.ndarray) -> Forecast:
        """Exact Gaussian predictive of y[t + h] given y[: t + 1]; mean and sd (K, H) and the
        path covariance (K, H, H) of y[t + 1 .. t + H] (`fanlab.data.statespace_paths`)."""
        from fanlab.data.statespace_paths import path_covariance

        y = np.asarray(y, dtype=float)
        origins = check_origins(y, origins, horizon)
        mean, sd, results = self._moments(y, origins, horizon)
        cov = path_covariance(results, origins, horizon)
        return gaussian_forecast(origins, mean, sd, probs, info={"oracle": "kalman"}, cov=cov)

    def moments(self, y: np.ndarray, origins: np.ndarray, horizon: int) -> tuple[np.ndarray, np.ndarray]:
        """Conditional mean and sd of y[t + h], h = 1..H, for each origin t; each (K, H)."""
        return self._moments(y, origins, horizon)[:2]

    def _moments(self, y: np.ndarray, origins: np.ndarray, horizon: int):
        """(mean, sd, the filter's results) of `moments`."""
        n = y.shape[0]
        steps = origins[:, None] + np.arange(1, horizon + 1)[None, :]  # (K, H)
        x = y
        if self.deterministic is not None:
            x = y - self.deterministic(np.arange(n))
        # Trailing missing values extend the model to the last target, so time-varying
        # matrices are defined there; the filtered states at the origins are unchanged.
        last = int(steps.max()) + 1
        x = np.r_[x, np.full(max(last - n, 0), np.nan)]
        results = self._model(x).filter(self._params())
        mean, sd = filtered_forecast(results, origins, horizon)
        if self.deterministic is not None:
            mean = mean + self.deterministic(steps)
        return mean, sd, results

    def _params(self) -> np.ndarray:
        return np.r_[self.ar, self.ma, float(self.sigma) ** 2]

    def _model(self, x: np.ndarray):
        order = (len(self.ar), self.d, len(self.ma))
        kw = dict(order=order, trend="n", use_exact_diffuse=self.d > 0)
        if self.sigma_path is None:
            from statsmodels.tsa.statespace.sarimax import SARIMAX

            return SARIMAX(x, **kw)
        # state_cov[t] drives the transition t -> t + 1, i.e. the innovation of y[t + 1]
        var = self.sigma_path(np.arange(1, x.shape[0] + 1)) ** 2
        return _sarimax_varying_variance(x, var, **kw)


def _sarimax_varying_variance(x: np.ndarray, var: np.ndarray, **kw):
    """A SARIMAX whose innovation variance follows `var` (N,) instead of its sigma2 parameter."""
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    class _VaryingVariance(SARIMAX):
        def update(self, params, **kwargs):
            params = super().update(params, **kwargs)
            # a copy: SARIMAX writes sigma2 into the state_cov array in place on every update
            self.ssm["state_cov"] = var.reshape(1, 1, -1).copy()
            return params

    return _VaryingVariance(x, **kw)


class MonteCarloOracle:
    """Sample paths from the true model given the state recovered from the observed past.

    Subclasses implement `_state(y, origins)` (what the recursion needs at each origin,
    computed from ``y[: t + 1]`` only), `_draw(rng, size)` (standardised innovations) and
    `_paths(state, shocks)`: (K, S, H) paths from (K, S, H) shocks, a loop over H only.

    Each origin t draws its shocks from ``SeedSequence([seed, stream, t])``: forecasts are
    deterministic and do not depend on which other origins are asked for; `stream` (set per
    series by the dataset) keeps the draws of different series independent.

    Parameters
    ----------
    n_paths : int
        Sample paths per origin, S.
    stream : int
        Key of this series' random stream.
    """

    name = "oracle"

    def __init__(self, n_paths: int = 1000, stream: int = 0):
        self.n_paths = n_paths
        self.stream = stream

    def fit(self, y: np.ndarray, train_end: int, seed: int) -> "MonteCarloOracle":
        self.seed_ = int(seed)
        return self

    def predict(self, y: np.ndarray, origins: np.ndarray, horizon: int, probs: np.ndarray) -> Forecast:
        """Sample-based predictive: samples (K, n_paths, H)."""
        if not hasattr(self, "seed_"):
            raise RuntimeError("call fit(y, train_end, seed) before predict")
        y = np.asarray(y, dtype=float)
        origins = check_origins(y, origins, horizon)
        shocks = np.empty((origins.size, self.n_paths, horizon))
        for k, t in enumerate(origins):
            rng = np.random.default_rng(np.random.SeedSequence([self.seed_, int(self.stream), int(t)]))
            shocks[k] = self._draw(rng, (self.n_paths, horizon))
        paths = self._paths(self._state(y, origins), shocks)
        return sample_forecast(origins, paths, probs, info={"oracle": "monte_carlo", "n_paths": self.n_paths})

    def _state(self, y: np.ndarray, origins: np.ndarray) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError

    def _draw(self, rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
        return rng.standard_normal(size)

    def _paths(self, state: dict, shocks: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError
