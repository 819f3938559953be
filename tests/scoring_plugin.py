"""Test plugin: a least-squares AR(1) with Gaussian bands, and the ways a forecaster goes wrong.

`fault` names what the forecaster does wrong (`tests/test_scoring_path.py` runs each through
`fanlab.evaluate` and through a config's cell, and expects the same error from both).
"""

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

import fanlab
from fanlab.registry import register_method

Fault = Literal["none", "nan_mean", "nan_quantile", "reversed", "three_origins", "shifted", "short", "long",
                "none_returned", "zero_h1", "standardise_in_place", "peek", "warns_degenerate"]


class AR1:
    """AR(1) by least squares, Gaussian intervals; `fault` breaks it on purpose."""

    def __init__(self, fault: str = "none"):
        self.fault = fault

    def fit(self, y, train_end, seed):
        if self.fault == "standardise_in_place":
            y -= y[:train_end].mean()  # what a careless user writes; y is read-only, so this raises
        x = np.asarray(y[:train_end], dtype=float)
        self.phi_ = float(np.dot(x[1:], x[:-1]) / np.dot(x[:-1], x[:-1]))
        self.sd_ = float(np.std(x[1:] - self.phi_ * x[:-1]))
        return self

    def predict(self, y, origins, horizon, probs):
        f = self.fault
        if f == "none_returned":
            return None
        origins = np.asarray(origins)
        if f == "three_origins":
            origins = origins[:3]
        if f == "shifted":
            origins = origins + 3
        steps = horizon + {"short": -5, "long": 5}.get(f, 0)
        h = np.arange(1, steps + 1)
        mean = y[origins, None] * self.phi_ ** h
        if f == "peek":  # reads the targets it is scored on
            mean = y[np.minimum(origins[:, None] + h, len(y) - 1)]
        sd = np.broadcast_to(self.sd_ * np.sqrt(np.cumsum(self.phi_ ** (2 * (h - 1)))), mean.shape).copy()
        if f == "zero_h1":
            sd[:, 0] = 0.0  # a point forecast at h = 1 at every origin (darts' ARIMA does this)
        info = {"warnings": ["search dropped 1 degenerate candidate(s), e.g. ARIMA(2, 1, 2) is degenerate: "
                             "broken likelihood"]} if f == "warns_degenerate" else None
        fc = fanlab.gaussian_forecast(origins, mean, sd, probs, info)
        q = fc.quantiles.copy()
        mean = fc.mean.copy()
        if f == "nan_mean":
            mean[2, 4] = np.nan
        if f == "nan_quantile":
            q[1, 3, 6] = np.nan
        if f == "reversed":
            q = q[:, ::-1, :]
        if f in ("nan_mean", "nan_quantile", "reversed"):
            return fanlab.Forecast(origins=fc.origins, mean=mean, probs=fc.probs, quantiles=q)
        return fc


class AR1Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    fault: Fault = "none"


@register_method("test_ar1", params=AR1Params)
def build_ar1(params, ctx):
    """AR(1) by least squares (tests only; `fault` breaks it on purpose)."""
    return AR1(params.fault)
