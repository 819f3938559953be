"""The one object every forecaster returns.

A `Forecast` is batched over K forecast origins and H horizon steps. Quantiles are always
present at the requested probabilities; `samples` (sample-based methods) and `sd` (Gaussian
methods) are optional extras that let scores be computed exactly rather than from quantiles.

The joint law of a whole path y[t + 1 .. t + H], where the method has one (`Forecast.joint`):
`cov` (K, H, H) for a Gaussian path law (ARIMA, the Gaussian oracles), or `samples` with
``paths=True`` when every sample is a draw of a whole path (`sample_forecast` says so by
default). Samples that are per-step devices (a quantile grid at every step, as climatology
and naive give) are no path law: ``paths=False``, the default of the bare constructor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import numpy as np

# Probabilities are compared after rounding, so 0.1 + 0.05 and 0.15 name the same quantile.
from fanlab.schema import PROB_DECIMALS  # noqa: E402,F401 (the forecast's probabilities keep these decimals)

#: Levels of the fine grid used for reliability curves (0.05, 0.10, ..., 0.95).
FINE_LEVELS: tuple[float, ...] = tuple(round(0.05 * i, 2) for i in range(1, 20))


def level_probs(level: float) -> tuple[float, float]:
    """Quantile probabilities ((1 - level) / 2, (1 + level) / 2) of a central interval."""
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    return (round((1.0 - level) / 2.0, PROB_DECIMALS), round((1.0 + level) / 2.0, PROB_DECIMALS))


def probs_for_levels(levels: Iterable[float], median: bool = True) -> np.ndarray:
    """Sorted unique probabilities needed for the central intervals at `levels`, shape (Q,)."""
    ps = {0.5} if median else set()
    for level in levels:
        ps.update(level_probs(level))
    return np.array(sorted(ps), dtype=float)


@dataclass(frozen=True)
class Forecast:
    """Predictive distributions from K origins over H steps.

    Attributes
    ----------
    origins : (K,) int
        Index of the last observed point of each origin; step h forecasts y[origin + h].
    mean : (K, H)
        Point forecast.
    probs : (Q,)
        Sorted quantile probabilities.
    quantiles : (K, Q, H)
        Predictive quantiles, non-decreasing along Q.
    samples : (K, S, H) or None
        Predictive sample paths where the method is sample based.
    sd : (K, H) or None
        Predictive standard deviation where the predictive distribution is Gaussian
        (then CRPS and PIT are computed in closed form).
    cov : (K, H, H) or None
        Covariance of the whole path where the path law is Gaussian (its diagonal is sd^2);
        memory only: it is scored in the cell, never written to a results file.
    paths : bool
        Whether `samples` are draws of whole paths from the method's joint law (True) or
        per-step devices whose dependence across steps means nothing (False).
    info : dict
        Free-form notes (fitted parameters, warnings) carried into the cell's record.
    """

    origins: np.ndarray
    mean: np.ndarray
    probs: np.ndarray
    quantiles: np.ndarray
    samples: np.ndarray | None = None
    sd: np.ndarray | None = None
    cov: np.ndarray | None = None
    paths: bool = False
    info: dict = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        origins = np.asarray(self.origins)
        mean = np.asarray(self.mean, dtype=float)
        probs = np.round(np.asarray(self.probs, dtype=float), PROB_DECIMALS)
        quantiles = np.asarray(self.quantiles, dtype=float)
        if origins.ndim != 1:
            raise ValueError(f"origins must be (K,), got shape {origins.shape}")
        k = origins.shape[0]
        if mean.ndim != 2 or mean.shape[0] != k:
            raise ValueError(f"mean must be (K={k}, H), got shape {mean.shape}")
        h = mean.shape[1]
        if probs.ndim != 1 or np.any(np.diff(probs) <= 0) or np.any((probs <= 0) | (probs >= 1)):
            raise ValueError("probs must be strictly increasing values in (0, 1)")
        if quantiles.shape != (k, probs.shape[0], h):
            raise ValueError(
                f"quantiles must be (K, Q, H) = {(k, probs.shape[0], h)}, got {quantiles.shape}"
            )
        if self.samples is not None:
            samples = np.asarray(self.samples, dtype=float)
            if samples.ndim != 3 or samples.shape[0] != k or samples.shape[2] != h:
                raise ValueError(f"samples must be (K={k}, S, H={h}), got {samples.shape}")
            object.__setattr__(self, "samples", samples)
        if self.sd is not None:
            sd = np.asarray(self.sd, dtype=float)
            if sd.shape != (k, h):
                raise ValueError(f"sd must be (K, H) = {(k, h)}, got {sd.shape}")
            object.__setattr__(self, "sd", sd)
        if self.cov is not None:
            cov = np.asarray(self.cov, dtype=float)
            if cov.shape != (k, h, h):
                raise ValueError(f"cov must be (K, H, H) = {(k, h, h)}, got {cov.shape}")
            object.__setattr__(self, "cov", cov)
        object.__setattr__(self, "origins", origins.astype(np.int64))
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "probs", probs)
        object.__setattr__(self, "quantiles", quantiles)

    @property
    def horizon(self) -> int:
        return int(self.mean.shape[1])

    @property
    def joint(self) -> str | None:
        """The joint law of whole paths: "gaussian" (`cov`), "samples" (sample paths) or None
        (marginals only: no simultaneous band, no path score)."""
        if self.cov is not None:
            return "gaussian"
        if self.samples is not None and self.paths:
            return "samples"
        return None

    def quantile(self, p: float) -> np.ndarray:
        """Quantile at probability `p`, which must be one of `probs`; shape (K, H)."""
        p = round(float(p), PROB_DECIMALS)
        idx = np.flatnonzero(np.isclose(self.probs, p, rtol=0.0, atol=1e-9))
        if idx.size == 0:
            raise KeyError(f"probability {p} was not forecast; have {self.probs.tolist()}")
        return self.quantiles[:, idx[0], :]

    def interval(self, level: float) -> tuple[np.ndarray, np.ndarray]:
        """Central interval at `level`: (lower, upper), each (K, H)."""
        lo, hi = level_probs(level)
        return self.quantile(lo), self.quantile(hi)

    def select(self, rows: np.ndarray) -> "Forecast":
        """The forecast restricted to origins `rows` (an index or boolean mask over K)."""
        return Forecast(
            origins=self.origins[rows],
            mean=self.mean[rows],
            probs=self.probs,
            quantiles=self.quantiles[rows],
            samples=None if self.samples is None else self.samples[rows],
            sd=None if self.sd is None else self.sd[rows],
            cov=None if self.cov is None else self.cov[rows],
            paths=self.paths,
            info=dict(self.info),
        )


def gaussian_forecast(
    origins: np.ndarray, mean: np.ndarray, sd: np.ndarray, probs: np.ndarray, info: dict | None = None,
    cov: np.ndarray | None = None,
) -> Forecast:
    """A Gaussian `Forecast` with exact quantiles; mean and sd are (K, H), cov (K, H, H) the
    path covariance where the method knows it (its diagonal must be sd^2)."""
    from scipy.stats import norm

    probs = np.asarray(probs, dtype=float)
    z = norm.ppf(probs)  # (Q,)
    q = mean[:, None, :] + z[None, :, None] * sd[:, None, :]
    return Forecast(origins=origins, mean=mean, probs=probs, quantiles=q, sd=sd, cov=cov, info=info or {})


def sample_forecast(
    origins: np.ndarray,
    samples: np.ndarray,
    probs: np.ndarray,
    mean: np.ndarray | None = None,
    info: dict | None = None,
    paths: bool = True,
) -> Forecast:
    """A sample-based `Forecast`; samples (K, S, H), quantiles by linear interpolation.

    `paths`: each sample is a whole path drawn from the method's joint law (the default), so
    simultaneous bands and path scores read them; False for samples drawn step by step."""
    samples = np.asarray(samples, dtype=float)
    probs = np.asarray(probs, dtype=float)
    q = np.moveaxis(np.quantile(samples, probs, axis=1), 0, 1)  # (K, Q, H)
    if mean is None:
        mean = samples.mean(axis=1)
    return Forecast(origins=origins, mean=mean, probs=probs, quantiles=q, samples=samples, paths=paths,
                    info=info or {})


def check_origins(y: np.ndarray, origins: np.ndarray, horizon: int, train_end: int | None = None) -> np.ndarray:
    """Validate origins (K,) against a series; returns them as int64."""
    origins = np.asarray(origins, dtype=np.int64)
    if origins.ndim != 1:
        raise ValueError(f"origins must be (K,), got shape {origins.shape}")
    if origins.size and (origins.min() < 0 or origins.max() >= len(y)):
        raise ValueError(f"origins must lie in [0, {len(y) - 1}]")
    if train_end is not None and origins.size and origins.min() < train_end - 1:
        raise ValueError(f"origin {origins.min()} lies inside the training block (train_end={train_end})")
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1, got {horizon}")
    return origins
