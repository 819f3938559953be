"""The Forecaster protocol and what a factory is given to build one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from fanlab.data.series import Series
from fanlab.data.splits import Split
from fanlab.forecast import Forecast


@runtime_checkable
class Forecaster(Protocol):
    """Every method of the lab.

    `fit(y, train_end, seed)` learns from ``y[:train_end]`` only and returns self.
    `predict(y, origins, horizon, probs)` may use only ``y[: t + 1]`` for origin t and returns
    a `Forecast` with quantiles at exactly `probs`.
    """

    name: str

    def fit(self, y: np.ndarray, train_end: int, seed: int) -> "Forecaster": ...

    def predict(
        self, y: np.ndarray, origins: np.ndarray, horizon: int, probs: np.ndarray
    ) -> Forecast: ...


@dataclass(frozen=True)
class BuildContext:
    """What a method factory may know about the cell it is built for.

    Wrappers (conformal) read the split to find their calibration block; the oracle reads the
    series' true process; seasonal baselines read its period.
    """

    series: Series
    split: Split
    horizon: int
    stride: int
    fit_store: object | None = None  # a `fanlab.fitstore.FitStore`: fits shared between arms
    levels: tuple[float, ...] = ()  # the config's levels (what a file of forecasts must hold)


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
