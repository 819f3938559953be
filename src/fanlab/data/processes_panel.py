"""`ar_panel`: many short independent AR(p) sequences from a fixed start (the CF-RNN setting).

x_t = sum_i ar_i x_{t-i} + e_t,  e_t ~ N(0, s_t^2),  t = 0 .. length - 1,  x_{-1} = ... = 0,

with s_t = sigma (static noise) or s_t = sigma (t + 1) (noise growing with the position in the
sequence), Stankeviciute et al. (2021)'s two synthetic settings. The oracle is exact and in
closed form: given x_0..x_t (zeros before 0), x_{t+h} is Gaussian with the AR recursion's mean
and variance sum_{j<h} psi_j^2 s_{t+h-j}^2 (psi the AR's MA(infinity) weights), so its
per-step bands and the joint coverage of the whole path are known.
"""

from __future__ import annotations

from functools import partial
from typing import Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from fanlab.data.processes_common import SyntheticParams, check_ar, psi_weights, replicate
from fanlab.forecast import Forecast, check_origins, gaussian_forecast
from fanlab.registry import register_dataset


class ARPanelParams(SyntheticParams):
    n: int = Field(20, ge=2, le=10_000, description="length of each sequence")
    n_series: int = Field(2500, ge=1, le=100_000, description="independent sequences, named ar_panel_<i>")
    burn_in: int = Field(0, ge=0, le=0, description="always 0: every sequence starts from the fixed zero state")
    ar: list[float] = Field(default_factory=lambda: [0.9], description="AR coefficients (stationary)")
    sigma: float = Field(0.1, gt=0.0, description="noise sd (static), or its growth per position (growing)")
    noise: Literal["static", "growing"] = Field(
        "static", description="static: s_t = sigma; growing: s_t = sigma (t + 1), t the position in the sequence")

    @field_validator("ar")
    @classmethod
    def _stationary(cls, v: list[float]) -> list[float]:
        return check_ar(v, "ar")

    @model_validator(mode="after")
    def _cap(self):
        if self.n * self.n_series > 10_000_000:
            raise ValueError(f"n * n_series = {self.n * self.n_series:,} values, more than 10,000,000")
        return self


def noise_sd(params: ARPanelParams, t: np.ndarray) -> np.ndarray:
    """s_t at positions t (any shape)."""
    t = np.asarray(t, dtype=float)
    return params.sigma * (t + 1.0) if params.noise == "growing" else np.full(t.shape, params.sigma)


class ARPanelOracle:
    """The exact Gaussian predictive law of an `ar_panel` sequence (see the module docstring)."""

    name = "oracle"

    def __init__(self, params: ARPanelParams):
        self.params = params

    def fit(self, y: np.ndarray, train_end: int, seed: int) -> "ARPanelOracle":
        return self  # the true law is known

    def moments(self, y: np.ndarray, origins: np.ndarray, horizon: int) -> tuple[np.ndarray, np.ndarray]:
        """Mean and sd (K, H) of x_{t+h} given x[: t + 1]."""
        ar = np.asarray(self.params.ar, dtype=float)
        p = ar.size
        y = np.asarray(y, dtype=float)
        origins = check_origins(y, origins, horizon)
        psi = psi_weights(list(ar), [], horizon)  # (H,)
        mean = np.empty((origins.size, horizon))
        var = np.empty((origins.size, horizon))
        padded = np.r_[np.zeros(p), y]  # x_{-p} .. x_{-1} = 0
        for k, t in enumerate(origins):
            state = list(padded[t + 1: t + 1 + p]) if p else []  # x_{t-p+1} .. x_t
            for h in range(1, horizon + 1):
                nxt = float(np.dot(ar, state[::-1])) if p else 0.0
                mean[k, h - 1] = nxt
                state = (state[1:] + [nxt]) if p else []
            steps = t + np.arange(1, horizon + 1)  # positions t+1 .. t+H
            s2 = noise_sd(self.params, np.arange(0, t + horizon + 1)) ** 2
            for h in range(1, horizon + 1):
                j = np.arange(h)
                var[k, h - 1] = np.sum(psi[j] ** 2 * s2[steps[h - 1] - j])
        return mean, np.sqrt(var)

    def predict(self, y: np.ndarray, origins: np.ndarray, horizon: int, probs: np.ndarray) -> Forecast:
        mean, sd = self.moments(y, origins, horizon)
        return gaussian_forecast(np.asarray(origins, dtype=np.int64), mean, sd, probs, info={"oracle": "exact"})


def simulate_ar_panel(params: ARPanelParams, rng: np.random.Generator, length: int) -> np.ndarray:
    """One sequence of `length` points from the zero start."""
    ar = np.asarray(params.ar, dtype=float)
    e = rng.standard_normal(length) * noise_sd(params, np.arange(length))
    x = np.zeros(length)
    for t in range(length):
        past = sum(ar[i] * x[t - 1 - i] for i in range(ar.size) if t - 1 - i >= 0)
        x[t] = past + e[t]
    return x


@register_dataset("ar_panel", params=ARPanelParams)
def ar_panel(params: ARPanelParams, seed: int) -> list:
    """Many short AR(p) sequences from a zero start, static or growing noise (CF-RNN's synthetic
    setting), each with an exact closed-form oracle."""
    # the oracle travels to worker processes with its series: a partial of a module-level class pickles
    return replicate("ar_panel", params, seed, lambda rng, length: simulate_ar_panel(params, rng, length),
                     partial(ARPanelOracle, params), {"oracle": "exact", "noise": params.noise})
