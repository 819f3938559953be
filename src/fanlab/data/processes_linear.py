"""Linear Gaussian processes, each with an exact (Kalman) oracle.

Every process here is y_t = m(t) + x_t with m a known deterministic function of time and x
an ARMA (or integrated ARMA) with Gaussian innovations, so the predictive law of y[t + h]
given y[: t + 1] is Gaussian and `KalmanOracle` computes it exactly from the true parameters.
Time t counts from the first kept value (y[0]); the burn-in lies at negative times.
Simulation starts from zeros; the burn-in (default 500 steps) removes that start-up.
"""

from __future__ import annotations

from functools import partial

import numpy as np
from pydantic import Field, ValidationInfo, field_validator

from fanlab.data.processes_common import (
    SyntheticParams,
    arma_filter,
    check_ar,
    check_ma,
    replicate,
)
from fanlab.data.series import Series
from fanlab.data.oracles import KalmanOracle
from fanlab.registry import register_dataset


class ArmaCoefs(SyntheticParams):
    """ARMA coefficients and innovation scale, checked for stationarity and invertibility."""

    ar: list[float] = Field(default_factory=lambda: [0.5, -0.2], description="AR coefficients phi_1..phi_p")
    ma: list[float] = Field(default_factory=lambda: [0.3], description="MA coefficients theta_1..theta_q")
    sigma: float = Field(1.0, gt=0.0, description="innovation standard deviation")

    @field_validator("ar")
    @classmethod
    def _stationary(cls, v: list[float], info: ValidationInfo) -> list[float]:
        return check_ar(v, info.field_name)

    @field_validator("ma")
    @classmethod
    def _invertible(cls, v: list[float], info: ValidationInfo) -> list[float]:
        return check_ma(v, info.field_name)


class ArmaParams(ArmaCoefs):
    mean: float = Field(0.0, description="process mean")


class ArimaParams(ArmaCoefs):
    ar: list[float] = Field(default_factory=lambda: [0.5], description="AR coefficients of the differences")
    ma: list[float] = Field(default_factory=list, description="MA coefficients of the differences")
    drift: float = Field(0.0, description="mean of the differences y_t - y_{t-1}")


class SeasonalParams(ArmaParams):
    ar: list[float] = Field(default_factory=lambda: [0.5], description="AR coefficients of the noise")
    ma: list[float] = Field(default_factory=list, description="MA coefficients of the noise")
    period: int = Field(12, ge=2, description="length of the seasonal cycle")
    amplitude: float = Field(2.0, description="amplitude of the sine cycle")


class BreakParams(ArmaParams):
    ar: list[float] = Field(default_factory=lambda: [0.7], description="AR coefficients")
    ma: list[float] = Field(default_factory=list, description="MA coefficients")
    shift: float = Field(2.0, description="change of the mean at the break")
    sigma_after: float | None = Field(2.0, gt=0.0, description="innovation sd from the break (None: sigma)")
    break_at: float = Field(0.9, gt=0.0, lt=1.0, description="break time as a fraction of n")


# Deterministic parts and sd paths are module-level functions bound with partial, so oracles
# pickle (parallel cells ship them to worker processes).
def _constant(t: np.ndarray, mean: float) -> np.ndarray:
    return np.full(np.shape(t), float(mean))


def _linear(t: np.ndarray, slope: float) -> np.ndarray:
    return slope * np.asarray(t, dtype=float)


def _cycle(t: np.ndarray, mean: float, amplitude: float, period: int) -> np.ndarray:
    return mean + amplitude * np.sin(2.0 * np.pi * np.asarray(t, dtype=float) / period)


def _step(t: np.ndarray, before: float, after: float, at: int) -> np.ndarray:
    return np.where(np.asarray(t) >= at, after, before).astype(float)


def _gaussian_arma(rng: np.random.Generator, length: int, p: ArmaCoefs) -> np.ndarray:
    return arma_filter(p.sigma * rng.standard_normal(length), p.ar, p.ma)


@register_dataset("arma", params=ArmaParams)
def arma(params: ArmaParams, seed: int) -> list[Series]:
    """Gaussian ARMA(p, q) with an exact Kalman oracle.

    y_t = mean + x_t,  x_t = sum_i ar_i x_{t-i} + e_t + sum_j ma_j e_{t-j},  e_t ~ N(0, sigma^2).
    Params: ar (default [0.5, -0.2]), ma ([0.3]), mean (0), sigma (1); ar must be stationary
    and ma invertible.
    """
    p = params

    def simulate(rng, length):
        return p.mean + _gaussian_arma(rng, length, p)

    oracle = partial(KalmanOracle, ar=p.ar, ma=p.ma, sigma=p.sigma,
                     deterministic=partial(_constant, mean=p.mean))
    return replicate("arma", p, seed, simulate, oracle, {"oracle": "kalman"})


@register_dataset("arima", params=ArimaParams)
def arima(params: ArimaParams, seed: int) -> list[Series]:
    """Gaussian ARIMA(p, 1, q) with drift, with an exact Kalman oracle.

    y_t - y_{t-1} = drift + u_t,  u_t = sum_i ar_i u_{t-i} + e_t + sum_j ma_j e_{t-j},
    e_t ~ N(0, sigma^2); equivalently y_t = drift * t + z_t with z an ARIMA(p, 1, q).
    Params: ar (default [0.5]), ma ([]), sigma (1), drift (0). The level at the start of the
    burn-in is 0; the oracle treats the initial level as unknown (exact diffuse prior).
    """
    p = params

    def simulate(rng, length):
        return np.cumsum(p.drift + _gaussian_arma(rng, length, p))

    oracle = partial(KalmanOracle, ar=p.ar, ma=p.ma, sigma=p.sigma, d=1,
                     deterministic=partial(_linear, slope=p.drift))
    return replicate("arima", p, seed, simulate, oracle, {"oracle": "kalman"})


@register_dataset("seasonal", params=SeasonalParams)
def seasonal(params: SeasonalParams, seed: int) -> list[Series]:
    """Deterministic sine cycle plus Gaussian ARMA noise, with an exact Kalman oracle.

    y_t = mean + amplitude * sin(2 pi t / period) + x_t,  x_t a Gaussian ARMA(ar, ma, sigma),
    t = 0 at the first kept value. Params: period (default 12, also Series.period),
    amplitude (2), ar ([0.5]), ma ([]), mean (0), sigma (1). A fixed cycle rather than a
    SARIMA: the seasonal pattern is then exactly known, so methods differ only in how well
    they learn it and the noise, not in a stochastic season.
    """
    p = params
    cycle = partial(_cycle, mean=p.mean, amplitude=p.amplitude, period=p.period)

    def simulate(rng, length):
        return cycle(np.arange(length) - p.burn_in) + _gaussian_arma(rng, length, p)

    oracle = partial(KalmanOracle, ar=p.ar, ma=p.ma, sigma=p.sigma, deterministic=cycle)
    return replicate("seasonal", p, seed, simulate, oracle, {"oracle": "kalman"}, period=p.period)


@register_dataset("break", params=BreakParams)
def level_variance_break(params: BreakParams, seed: int) -> list[Series]:
    """Gaussian ARMA with a level and/or variance break; the exact oracle knows the break.

    y_t = mean + shift * 1[t >= b] + x_t,  x_t = sum_i ar_i x_{t-i} + e_t + sum_j ma_j e_{t-j},
    e_t ~ N(0, sigma^2) for t < b and N(0, sigma_after^2) for t >= b, b = floor(break_at * n).
    The mean jumps at b (y[b] is the first shifted value); the variance break acts through
    the innovations, so the variance of y moves to its new level gradually. Params: ar
    (default [0.7]), ma ([]), mean (0), sigma (1), shift (2), sigma_after (2; None keeps
    sigma), break_at (0.9): with a 0.6/0.2/0.2 split the test block starts at 0.8 n, so the
    break falls inside it and early test origins forecast across it.
    """
    p = params
    b = int(np.floor(p.break_at * p.n))
    sigma_after = p.sigma if p.sigma_after is None else p.sigma_after
    level = partial(_step, before=p.mean, after=p.mean + p.shift, at=b)
    sd = partial(_step, before=p.sigma, after=sigma_after, at=b)

    def simulate(rng, length):
        t = np.arange(length) - p.burn_in
        return level(t) + arma_filter(sd(t) * rng.standard_normal(length), p.ar, p.ma)

    oracle = partial(KalmanOracle, ar=p.ar, ma=p.ma, sigma=p.sigma, deterministic=level,
                     sigma_path=None if sigma_after == p.sigma else sd)
    return replicate("break", p, seed, simulate, oracle, {"oracle": "kalman", "break_index": b})
