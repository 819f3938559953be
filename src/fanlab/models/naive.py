"""Naive and seasonal naive baselines with empirical h-step error distributions.

Point forecast from origin t: naive y[t]; seasonal naive with period m
y[t + h - m * ceil(h / m)], the last observed value in the same phase of the season
(naive is seasonal naive with m = 1).

Predictive distribution at step h: point + the empirical distribution of the same rule's
h-step errors e_h(s) = y[s + h] - point_s(h) over every origin s inside the training block
whose target s + h is also inside it (so nothing after train_end is ever used; the errors
overlap, which is fine for marginal quantiles). Hence the intervals are not assumed Gaussian
or symmetric and grow with h as the data say.

- ``quantiles`` are the exact empirical quantiles of all n_h errors (linear interpolation
  between order statistics, numpy's default, "type 7").
- ``samples`` (K, S, H) carry the same distribution for sample-based scores: column h holds the
  empirical quantile function of e_h at S evenly spaced probabilities 0, 1/(S-1), ..., 1, i.e.
  S evenly spaced order statistics when n_h >= S (thinning) and interpolation between them
  when n_h < S. S = min(max_samples, n_1), n_1 being the largest error count.
- ``mean`` is the rule's point forecast (not point + mean error).
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from fanlab.forecast import Forecast, check_origins
from fanlab.registry import register_method


class NaiveParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_samples: int = Field(1000, ge=2, description="samples S per origin and step")


class SeasonalNaiveParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    period: int | None = Field(None, ge=1, description="None: the series' period")
    max_samples: int = Field(1000, ge=2, description="samples S per origin and step")


def seasonal_lags(horizon: int, period: int) -> np.ndarray:
    """How far back the rule looks at each step: m * ceil(h / m) - h, for h = 1..H; (H,)."""
    h = np.arange(1, horizon + 1)
    return period * (-(-h // period)) - h


def empirical_errors(y_train: np.ndarray, horizon: int, period: int = 1) -> list[np.ndarray]:
    """The rule's h-step errors inside the training block, one array (n_h,) per h = 1..H.

    Origins s run from period - 1 (the first with a full season behind it) to
    len(y_train) - 1 - h, so n_h = len(y_train) - h - period + 1.
    """
    y_train = np.asarray(y_train, dtype=float)
    n = y_train.shape[0]
    need = horizon + period
    if n < need:
        rule = "naive" if period == 1 else f"seasonal naive (period {period})"
        raise ValueError(
            f"training block has {n} points; the {rule} rule needs at least H + period = "
            f"{horizon} + {period} = {need} for one h={horizon} error"
        )
    back = seasonal_lags(horizon, period)
    errors = []
    for h in range(1, horizon + 1):
        s = np.arange(period - 1, n - h)
        errors.append(y_train[s + h] - y_train[s - back[h - 1]])
    return errors


class SeasonalNaiveForecaster:
    """Seasonal naive (period 1: naive) with empirical h-step intervals.

    Parameters
    ----------
    period : int
        Season length m >= 1.
    max_samples : int
        Cap S on samples per origin and step.
    """

    def __init__(self, period: int = 1, max_samples: int = 1000):
        self.period = period
        self.max_samples = max_samples

    @property
    def name(self) -> str:
        return "naive" if self.period == 1 else "seasonal_naive"

    def fit(self, y: np.ndarray, train_end: int, seed: int = 0) -> "SeasonalNaiveForecaster":
        """Keep the training block (the error distributions depend on H, known at predict)."""
        if int(self.period) < 1:
            raise ValueError(f"period must be >= 1, got {self.period}")
        y = np.asarray(y, dtype=float)
        if not 1 <= train_end <= y.shape[0]:
            raise ValueError(f"train_end={train_end} outside [1, {y.shape[0]}]")
        self.train_end_ = int(train_end)
        self.y_train_ = y[:train_end].copy()
        self.info_ = {"period": int(self.period), "train_len": int(train_end)}
        return self

    def predict(self, y: np.ndarray, origins: np.ndarray, horizon: int, probs: np.ndarray) -> Forecast:
        """Point (K, H), quantiles (K, Q, H) and samples (K, S, H); uses y[: t + 1] for origin t."""
        m = int(self.period)
        y = np.asarray(y, dtype=float)
        origins = check_origins(y, origins, horizon, self.train_end_)
        if origins.size and origins.min() < m - 1:
            raise ValueError(f"origin {origins.min()} has less than one period ({m}) behind it")
        probs = np.asarray(probs, dtype=float)
        errors = empirical_errors(self.y_train_, horizon, m)
        back = seasonal_lags(horizon, m)
        point = y[origins[:, None] - back[None, :]]  # (K, H), indices <= t
        n_h = np.array([e.size for e in errors])
        s = int(min(self.max_samples, n_h.max()))
        grid = np.linspace(0.0, 1.0, s)
        q_err = np.stack([np.quantile(e, probs) for e in errors], axis=1)  # (Q, H)
        s_err = np.stack([np.quantile(e, grid) for e in errors], axis=1)  # (S, H)
        info = {**self.info_, "n_errors_h1": int(n_h[0]), "n_errors_hH": int(n_h[-1]), "n_samples": s}
        return Forecast(
            origins=origins,
            mean=point,
            probs=probs,
            quantiles=point[:, None, :] + q_err[None],
            samples=point[:, None, :] + s_err[None],
            info=info,
        )


@register_method("naive", params=NaiveParams, cost=0.3)
def build_naive(params: NaiveParams, ctx) -> SeasonalNaiveForecaster:
    """Last value, with empirical h-step error quantiles from the training block."""
    return SeasonalNaiveForecaster(period=1, max_samples=params.max_samples)


@register_method("seasonal_naive", params=SeasonalNaiveParams, cost=0.3)
def build_seasonal_naive(params: SeasonalNaiveParams, ctx) -> SeasonalNaiveForecaster:
    """Value one season back, with empirical h-step error quantiles from the training block."""
    period = params.period if params.period is not None else ctx.series.period
    if period is None:
        raise ValueError(
            f"seasonal_naive needs a period: series '{ctx.series.name}' has none and params.period is unset"
        )
    return SeasonalNaiveForecaster(period=int(period), max_samples=params.max_samples)


class ClimatologyParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_samples: int = Field(1000, ge=2, description="samples S per origin and step")


class ClimatologyForecaster:
    """The "learnt nothing" reference: the training block's marginal distribution.

    Every origin and step gets the same predictive: the empirical distribution of
    ``y[:train_end]``. Quantiles are its exact empirical quantiles (numpy's linear
    interpolation), samples (K, S, H) its quantile function at S evenly spaced probabilities
    0 ... 1 (S = min(max_samples, train_end)), the mean the training mean. A method whose
    skill against this is zero has used nothing of the recent past.
    """

    name = "climatology"

    def __init__(self, max_samples: int = 1000):
        self.max_samples = max_samples

    def fit(self, y: np.ndarray, train_end: int, seed: int = 0) -> "ClimatologyForecaster":
        """Keep the training block's marginal distribution."""
        y = np.asarray(y, dtype=float)
        if not 2 <= train_end <= y.shape[0]:
            raise ValueError(f"train_end={train_end} outside [2, {y.shape[0]}]")
        self.train_end_ = int(train_end)
        self.y_train_ = y[:train_end].copy()
        self.info_ = {"train_len": int(train_end), "train_mean": float(self.y_train_.mean()),
                      "train_sd": float(self.y_train_.std())}
        return self

    def predict(self, y: np.ndarray, origins: np.ndarray, horizon: int, probs: np.ndarray) -> Forecast:
        """The same marginal at every origin (K,) and step H; reads no value after train_end."""
        y = np.asarray(y, dtype=float)
        origins = check_origins(y, origins, horizon, self.train_end_)
        probs = np.asarray(probs, dtype=float)
        k = origins.size
        s = int(min(self.max_samples, self.y_train_.size))
        q = np.quantile(self.y_train_, probs)  # (Q,)
        grid = np.quantile(self.y_train_, np.linspace(0.0, 1.0, s))  # (S,)
        return Forecast(
            origins=origins,
            mean=np.full((k, horizon), self.y_train_.mean()),
            probs=probs,
            quantiles=np.broadcast_to(q[None, :, None], (k, probs.size, horizon)).copy(),
            samples=np.broadcast_to(grid[None, :, None], (k, s, horizon)).copy(),
            info=dict(self.info_),
        )


@register_method("climatology", params=ClimatologyParams, cost=0.1)
def build_climatology(params: ClimatologyParams, ctx) -> ClimatologyForecaster:
    """The training block's marginal distribution at every origin and step (the "learnt nothing" line)."""
    return ClimatologyForecaster(max_samples=params.max_samples)
