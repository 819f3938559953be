"""What every synthetic process shares: params, seeding, parameter checks, replication.

Series i of dataset `name` for seed s is simulated from its own stream,
``default_rng(SeedSequence([s, i, crc32(name)]))``, so processes and replications never share
draws and the same seed always gives the same bytes.
"""

from __future__ import annotations

import zlib
from functools import partial
from typing import Callable

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from scipy.signal import lfilter

from fanlab.data.series import MAX_SERIES_LENGTH, Series

#: Largest |value| of a real-valued process parameter (sigma, mean, coefficients, ...); the
#: series themselves are bounded by `fanlab.data.series.MAX_ABS_VALUE`.
MAX_ABS_PARAM = 1e50
#: Most values simulated by one dataset: n_series * (burn_in + n).
MAX_SIMULATED = 10_000_000


class SyntheticParams(BaseModel):
    """Parameters common to every synthetic dataset."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    n: int = Field(2000, ge=10, le=MAX_SERIES_LENGTH, description="length of each series (after the burn-in)")
    n_series: int = Field(1, ge=1, le=10_000, description="independent replications, named <name>_<i>")
    burn_in: int = Field(500, ge=0, le=MAX_SERIES_LENGTH, description="simulated steps discarded before the series")

    @field_validator("*", mode="after")
    @classmethod
    def _bounded(cls, v):
        for x in (v if isinstance(v, (list, tuple)) else [v]):
            if isinstance(x, float) and not abs(x) <= MAX_ABS_PARAM:
                raise ValueError(f"{x:g} is beyond the bound {MAX_ABS_PARAM:g} on |parameters|")
        return v

    @model_validator(mode="after")
    def _total(self):
        total = self.n_series * (self.burn_in + self.n)
        if total > MAX_SIMULATED:
            raise ValueError(f"n_series * (burn_in + n) = {total:,} values to simulate, more than "
                             f"{MAX_SIMULATED:,}")
        return self


class MonteCarloParams(SyntheticParams):
    """Common parameters of a process whose oracle is Monte Carlo."""

    n_paths: int = Field(1000, ge=10, le=100_000, description="sample paths per origin drawn by the oracle")


def series_rng(seed: int, i: int, name: str) -> np.random.Generator:
    """The random stream of replication `i` of dataset `name` for `seed`."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(i), zlib.crc32(name.encode())]))


def inverse_root_modulus(coefs: list[float], sign: float) -> float:
    """Largest modulus of the inverse roots of 1 + sign * (c1 z + c2 z^2 + ...).

    The polynomial's roots lie outside the unit circle exactly when this is < 1; it is the
    spectral radius of the companion matrix of (-sign * c).
    """
    c = np.asarray(coefs, dtype=float)
    if c.size == 0:
        return 0.0
    # inverse roots are the roots of z^p + sign * (c1 z^(p-1) + ... + cp)
    return float(np.max(np.abs(np.roots(np.r_[1.0, sign * c]))))


def check_ar(coefs: list[float], key: str) -> list[float]:
    """Raise ValueError naming `key` unless phi(z) = 1 - sum phi_i z^i is stationary."""
    r = inverse_root_modulus(coefs, -1.0)
    if not r < 1.0:  # NaN (overflowing coefficients) fails too
        raise ValueError(f"{key}={list(coefs)} is not stationary: an AR root has inverse modulus "
                         f"{r:.4g} >= 1")
    return [float(c) for c in coefs]


def check_ma(coefs: list[float], key: str) -> list[float]:
    """Raise ValueError naming `key` unless theta(z) = 1 + sum theta_j z^j is invertible."""
    r = inverse_root_modulus(coefs, 1.0)
    if not r < 1.0:
        raise ValueError(f"{key}={list(coefs)} is not invertible: an MA root has inverse modulus "
                         f"{r:.4g} >= 1")
    return [float(c) for c in coefs]


def arma_filter(e: np.ndarray, ar: list[float], ma: list[float]) -> np.ndarray:
    """x_t = sum ar_i x_{t-i} + e_t + sum ma_j e_{t-j}, started from zeros; shape of `e`."""
    return lfilter(np.r_[1.0, ma], np.r_[1.0, -np.asarray(ar, dtype=float)], e)


def arma_innovations(x: np.ndarray, ar: list[float], ma: list[float]) -> np.ndarray:
    """Invert `arma_filter`: e_t from x[: t + 1] with zero pre-sample values; shape of `x`.

    Exact for t >= p when there is no MA part. With an invertible MA part the error from the
    unknown pre-sample values decays like rho^t, rho the largest inverse MA root modulus.
    """
    return lfilter(np.r_[1.0, -np.asarray(ar, dtype=float)], np.r_[1.0, ma], x)


def psi_weights(ar: list[float], ma: list[float], horizon: int) -> np.ndarray:
    """MA(infinity) weights psi_0 = 1, psi_1, ..., psi_{H-1} of an ARMA; shape (H,)."""
    impulse = np.zeros(horizon)
    impulse[0] = 1.0
    return arma_filter(impulse, ar, ma)


def replicate(
    name: str,
    params: SyntheticParams,
    seed: int,
    simulate: Callable[[np.random.Generator, int], np.ndarray],
    oracle: Callable[[], object],
    meta: dict,
    period: int | None = None,
    streams: bool = False,
) -> list[Series]:
    """`params.n_series` independent series of one process.

    Parameters
    ----------
    simulate : callable
        ``simulate(rng, length) -> (length,)`` draws one path of the process from its start;
        the first `params.burn_in` values are discarded.
    oracle : callable
        ``oracle() -> Forecaster`` built from the true parameters.
    meta : dict
        Process description stored in each series' `meta`, completed with the seed and index.
    streams : bool
        Monte Carlo oracles: give each series its own random stream (``oracle(stream=k)``,
        k = crc32 of the series name), so the oracles' Monte Carlo errors are independent
        across replications and datasets instead of repeating the same draws.
    """
    out = []
    for i in range(params.n_series):
        path = simulate(series_rng(seed, i, name), params.burn_in + params.n)
        values = np.ascontiguousarray(path[params.burn_in:], dtype=float)
        info = {"process": name, **meta, "seed": int(seed), "replication": i,
                "params": params.model_dump()}
        label = f"{name}_{i}"
        own = partial(oracle, stream=zlib.crc32(label.encode())) if streams else oracle
        out.append(Series(name=label, values=values, period=period, oracle=own, meta=info))
    return out
