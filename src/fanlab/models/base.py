"""The Forecaster protocol (what a factory is given to build one is `fanlab.context.BuildContext`;
the origin check every method shares is `fanlab.forecast.check_origins`, re-exported here)."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from fanlab.forecast import Forecast, check_origins  # noqa: F401 (every method's origin check)


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
