"""Non-Gaussian and non-linear processes, each with a Monte Carlo oracle.

Their h-step predictive laws have no closed form (a sum of Student t's, a GARCH variance
path, a threshold recursion), so the oracle recovers the process' state from ``y[: t + 1]``
(innovations, conditional variance, last values) and simulates `n_paths` continuations from
the true model, vectorised over origins and paths, looping over the H steps only.
"""

from __future__ import annotations

from functools import partial

import numpy as np
from pydantic import Field, ValidationInfo, field_validator
from scipy.signal import lfilter

from fanlab.data.processes_common import MonteCarloParams, arma_filter, arma_innovations, replicate
from fanlab.data.processes_linear import ArmaParams
from fanlab.data.series import Series
from fanlab.data.oracles import MonteCarloOracle
from fanlab.registry import register_dataset


def _lags(v: np.ndarray, origins: np.ndarray, m: int) -> np.ndarray:
    """v[t - m + 1 .. t] for each origin t, zeros before the start; shape (K, m)."""
    padded = np.r_[np.zeros(m), v]
    return padded[origins[:, None] + 1 + np.arange(m)[None, :]]


# ---------------------------------------------------------------- ARMA with Student t shocks
class StudentTParams(ArmaParams, MonteCarloParams):
    ar: list[float] = Field(default_factory=lambda: [0.7], description="AR coefficients")
    ma: list[float] = Field(default_factory=list, description="MA coefficients")
    df: float = Field(5.0, gt=2.0, description="degrees of freedom of the t innovations (> 2)")


class StudentTOracle(MonteCarloOracle):
    """Monte Carlo oracle of an ARMA with innovations sigma * sqrt((df - 2) / df) * t_df."""

    def __init__(self, ar, ma, mean, sigma, df, n_paths=1000, stream=0):
        super().__init__(n_paths, stream)
        self.ar, self.ma, self.mean, self.sigma, self.df = ar, ma, mean, sigma, df

    def _draw(self, rng, size):
        return self.sigma * np.sqrt((self.df - 2.0) / self.df) * rng.standard_t(self.df, size)

    def _state(self, y, origins):
        x = y - self.mean
        e = arma_innovations(x, self.ar, self.ma)  # causal: e[t] uses x[: t + 1] only
        return {"x": _lags(x, origins, len(self.ar)), "e": _lags(e, origins, len(self.ma))}

    def _paths(self, state, shocks):
        k, s, h = shocks.shape
        p, q = len(self.ar), len(self.ma)
        x = np.empty((k, s, p + h))
        x[:, :, :p] = state["x"][:, None, :]
        e = np.empty((k, s, q + h))
        e[:, :, :q] = state["e"][:, None, :]
        e[:, :, q:] = shocks
        for j in range(h):
            v = e[:, :, q + j].copy()
            for i, a in enumerate(self.ar, start=1):
                v += a * x[:, :, p + j - i]
            for i, m in enumerate(self.ma, start=1):
                v += m * e[:, :, q + j - i]
            x[:, :, p + j] = v
        return self.mean + x[:, :, p:]


@register_dataset("student_t", params=StudentTParams)
def student_t(params: StudentTParams, seed: int) -> list[Series]:
    """ARMA with Student t innovations (variance sigma^2), with a Monte Carlo oracle.

    y_t = mean + x_t,  x_t = sum_i ar_i x_{t-i} + e_t + sum_j ma_j e_{t-j},
    e_t = sigma * sqrt((df - 2) / df) * T_t,  T_t iid Student t(df): Var(e_t) = sigma^2, so
    sigma is comparable with the Gaussian `arma`. Params: ar (default [0.7]), ma ([]), mean
    (0), sigma (1), df (5, must be > 2), n_paths (1000). The h-step law is a weighted sum of
    t's, not a t: the oracle recovers the innovations from y[: t + 1] by inverting the
    recursion from zero pre-sample values and simulates n_paths continuations. Without MA
    the recovered innovations are exact for t >= p; with an invertible MA they are off by
    O(rho^t), rho the largest inverse MA root modulus (below 1e-100 at t = 400 for rho = 0.5),
    negligible at the test origins.
    """
    p = params
    scale = p.sigma * np.sqrt((p.df - 2.0) / p.df)

    def simulate(rng, length):
        return p.mean + arma_filter(scale * rng.standard_t(p.df, length), p.ar, p.ma)

    oracle = partial(StudentTOracle, ar=p.ar, ma=p.ma, mean=p.mean, sigma=p.sigma, df=p.df, n_paths=p.n_paths)
    return replicate("student_t", p, seed, simulate, oracle, {"oracle": "monte_carlo"}, streams=True)


# ---------------------------------------------------------------- AR(1) with GARCH(1,1) errors
class GarchParams(MonteCarloParams):
    mean: float = Field(0.0, description="process mean")
    phi: float = Field(0.5, gt=-1.0, lt=1.0, description="AR(1) coefficient of the mean")
    omega: float = Field(0.05, gt=0.0, description="GARCH constant")
    alpha: float = Field(0.1, ge=0.0, description="ARCH coefficient (weight of e_{t-1}^2)")
    beta: float = Field(0.85, ge=0.0, description="GARCH coefficient (weight of sigma_{t-1}^2)")

    @field_validator("beta")
    @classmethod
    def _stationary(cls, v: float, info: ValidationInfo) -> float:
        alpha = info.data.get("alpha")
        if alpha is not None and alpha + v >= 1.0:
            raise ValueError(f"alpha + beta = {alpha + v:g} must be < 1 (covariance-stationary GARCH(1,1))")
        return v


class GarchOracle(MonteCarloOracle):
    """Monte Carlo oracle of an AR(1) with GARCH(1,1) Gaussian errors."""

    def __init__(self, mean, phi, omega, alpha, beta, n_paths=1000, stream=0):
        super().__init__(n_paths, stream)
        self.mean, self.phi, self.omega, self.alpha, self.beta = mean, phi, omega, alpha, beta

    def conditional_variance(self, y: np.ndarray) -> np.ndarray:
        """sigma^2_{t+1} filtered from y[: t + 1] for every t; shape (N,).

        The recursion starts at the unconditional variance (e_0 is unobservable); that
        start is forgotten like beta^t.
        """
        x = np.asarray(y, dtype=float) - self.mean
        eps = x[1:] - self.phi * x[:-1]
        s2_1 = self.omega / (1.0 - self.alpha - self.beta)
        rest = lfilter([1.0], [1.0, -self.beta], self.omega + self.alpha * eps**2, zi=[self.beta * s2_1])[0]
        return np.r_[s2_1, rest]

    def _state(self, y, origins):
        return {"x": y[origins] - self.mean, "s2": self.conditional_variance(y)[origins]}

    def _paths(self, state, shocks):
        k, s, h = shocks.shape
        x = np.broadcast_to(state["x"][:, None], (k, s))
        s2 = np.broadcast_to(state["s2"][:, None], (k, s))
        out = np.empty_like(shocks)
        for j in range(h):
            eps = np.sqrt(s2) * shocks[:, :, j]
            x = self.phi * x + eps
            s2 = self.omega + self.alpha * eps**2 + self.beta * s2
            out[:, :, j] = x
        return self.mean + out


@register_dataset("garch", params=GarchParams)
def garch(params: GarchParams, seed: int) -> list[Series]:
    """AR(1) with GARCH(1,1) Gaussian errors, with a Monte Carlo oracle.

    y_t = mean + phi (y_{t-1} - mean) + e_t,  e_t = sigma_t z_t,  z_t ~ N(0, 1),
    sigma_t^2 = omega + alpha e_{t-1}^2 + beta sigma_{t-1}^2. Params: mean (default 0), phi
    (0.5), omega (0.05), alpha (0.1), beta (0.85): unconditional Var(e) = omega / (1 - alpha
    - beta) = 1; requires alpha + beta < 1, n_paths (1000). The oracle filters sigma_t^2 from
    the observed past (e_t = y_t - mean - phi (y_{t-1} - mean) is exact) and simulates paths.
    """
    p = params
    s2_bar = p.omega / (1.0 - p.alpha - p.beta)

    def simulate(rng, length):
        z = rng.standard_normal(length)
        out = np.empty(length)
        x, s2, eps = 0.0, s2_bar, 0.0
        for t in range(length):
            if t:
                s2 = p.omega + p.alpha * eps * eps + p.beta * s2
            eps = np.sqrt(s2) * z[t]
            x = p.phi * x + eps
            out[t] = x
        return p.mean + out

    oracle = partial(GarchOracle, mean=p.mean, phi=p.phi, omega=p.omega, alpha=p.alpha, beta=p.beta,
                     n_paths=p.n_paths)
    return replicate("garch", p, seed, simulate, oracle, {"oracle": "monte_carlo"}, streams=True)


# ---------------------------------------------------------------- two-regime threshold AR
class SetarParams(MonteCarloParams):
    threshold: float = Field(0.0, description="regime boundary r")
    delay: int = Field(1, ge=1, le=1000, description="threshold lag d: the regime is set by y_{t-d}")
    ar_low: list[float] = Field(default_factory=lambda: [0.9], min_length=1, description="AR if y_{t-d} <= r")
    ar_high: list[float] = Field(default_factory=lambda: [-0.3], min_length=1, description="AR if y_{t-d} > r")
    const_low: float = Field(0.0, description="intercept when y_{t-d} <= r")
    const_high: float = Field(0.0, description="intercept when y_{t-d} > r")
    sigma: float = Field(1.0, gt=0.0, description="innovation standard deviation")

    @field_validator("ar_low", "ar_high")
    @classmethod
    def _ergodic(cls, v: list[float], info: ValidationInfo) -> list[float]:
        # sum |a_i| < 1 in every regime is sufficient (not necessary) for geometric ergodicity
        total = float(np.sum(np.abs(v)))
        if total >= 1.0:
            raise ValueError(f"{info.field_name}={v}: sum of |coefficients| = {total:g} must be < 1 "
                             "(the sufficient condition for a stationary SETAR used here)")
        return [float(a) for a in v]


class SetarOracle(MonteCarloOracle):
    """Monte Carlo oracle of a two-regime SETAR with Gaussian innovations."""

    def __init__(self, threshold, delay, ar_low, ar_high, const_low, const_high, sigma,
                 n_paths=1000, stream=0):
        super().__init__(n_paths, stream)
        self.threshold, self.delay = threshold, delay
        self.ar_low, self.ar_high = ar_low, ar_high
        self.const_low, self.const_high, self.sigma = const_low, const_high, sigma

    @property
    def memory(self) -> int:
        """Number of past values the recursion reads."""
        return max(len(self.ar_low), len(self.ar_high), self.delay)

    def step(self, past: np.ndarray) -> np.ndarray:
        """Conditional mean of the next value given past values (..., m), last = newest."""
        m = past.shape[-1]
        low = self.const_low + sum(a * past[..., m - i] for i, a in enumerate(self.ar_low, start=1))
        high = self.const_high + sum(a * past[..., m - i] for i, a in enumerate(self.ar_high, start=1))
        return np.where(past[..., m - self.delay] <= self.threshold, low, high)

    def _state(self, y, origins):
        return {"y": _lags(y, origins, self.memory)}

    def _paths(self, state, shocks):
        k, s, h = shocks.shape
        m = self.memory
        buf = np.empty((k, s, m + h))
        buf[:, :, :m] = state["y"][:, None, :]
        for j in range(h):
            buf[:, :, m + j] = self.step(buf[:, :, j:m + j]) + self.sigma * shocks[:, :, j]
        return buf[:, :, m:]


@register_dataset("setar", params=SetarParams)
def setar(params: SetarParams, seed: int) -> list[Series]:
    """Two-regime self-exciting threshold AR (SETAR), with a Monte Carlo oracle.

    y_t = const_low + sum_i ar_low_i y_{t-i} + sigma z_t   if y_{t-d} <= threshold,
    y_t = const_high + sum_i ar_high_i y_{t-i} + sigma z_t  otherwise,  z_t ~ N(0, 1).
    Params: threshold (default 0), delay d (1), ar_low ([0.9]), ar_high ([-0.3]),
    const_low (0), const_high (0), sigma (1), n_paths (1000). Each regime must have
    sum |ar| < 1, a sufficient condition for stationarity. The oracle reads the last
    max(p_low, p_high, d) values and simulates paths through the regimes.
    """
    p = params
    oracle = partial(SetarOracle, threshold=p.threshold, delay=p.delay, ar_low=p.ar_low, ar_high=p.ar_high,
                     const_low=p.const_low, const_high=p.const_high, sigma=p.sigma, n_paths=p.n_paths)
    m = max(len(p.ar_low), len(p.ar_high), p.delay)

    def simulate(rng, length):
        e = (p.sigma * rng.standard_normal(length)).tolist()
        buf = [0.0] * (m + length)  # scalar Python: ~20x faster than numpy on length-1 steps
        for i in range(m, m + length):
            if buf[i - p.delay] <= p.threshold:
                v = p.const_low + sum(a * buf[i - j] for j, a in enumerate(p.ar_low, start=1))
            else:
                v = p.const_high + sum(a * buf[i - j] for j, a in enumerate(p.ar_high, start=1))
            buf[i] = v + e[i - m]
        return np.array(buf[m:])

    return replicate("setar", p, seed, simulate, oracle, {"oracle": "monte_carlo"}, streams=True)
