"""Exponential smoothing state-space models (ETS, statsmodels' `ETSModel`), chosen as R's `ets`.

``model: ZZZ`` (the default) fits every admissible combination of error (A, M), trend (N, A,
damped A) and season (N, A, M) on the training block and keeps the one of lowest AICc, with
R's `forecast::ets` rules (Hyndman, Koehler, Snyder & Grose 2002; Hyndman et al. 2008):

- multiplicative error or season only on strictly positive data;
- ``restrict``: no additive error with a multiplicative season (R's default); multiplicative
  trends are never tried (R's ``allow.multiplicative.trend = FALSE``);
- a damped trend only with a trend;
- a season only for a period 2 <= m <= 24 (`MAX_SEASONAL_PERIOD`) and more than m training
  points; a candidate with as many parameters as training points minus one is skipped;
- the criterion counts parameters as R does: the smoothing parameters, the initial level, trend
  and m - 1 seasonal states (statsmodels fixes the m-th one), and sigma. statsmodels' own
  ``aicc`` counts the fixed seasonal state too; the log-likelihoods agree up to a constant.

statsmodels maximises the likelihood with L-BFGS-B (R: Nelder-Mead), under the usual bounds
(alpha, beta/alpha, gamma/(1 - alpha) in (1e-4, 1 - 1e-4), phi in [0.8, 0.98]), so parameters
and sometimes the chosen model differ from R's (benchmarks/ets_vs_r.py measures how often).

Forecasts: the model is fitted once on y[:train_end]; `predict` runs the ETS recursions with the
fitted parameters and initial states over y[: t_max + 1] (the filter, `ets_filter`; state at t
uses y[: t + 1] only) and forecasts from each origin's state:

- additive error, trend N/A/Ad, season N/A (the linear class): Gaussian with the analytic
  variance sigma^2 (1 + sum_{j<h} c_j^2), c_j = alpha + beta (phi + ... + phi^j) + gamma [m | j]
  (Hyndman et al. 2008, ch. 6; what statsmodels' `get_prediction` gives);
- otherwise: ``samples`` simulated paths per origin (Gaussian errors, relative ones under a
  multiplicative error), drawn from a generator seeded by (fit seed, origin); ``mean`` is the
  zero-error path, R's point forecast.

sigma^2 is the residual sum of squares over n - p (p: R's count without sigma), as R's `ets`;
statsmodels' prediction divides by n. A chosen fit that is not sane (non-finite parameters or
likelihood, variance not positive, a band of zero or non-finite width at some step of the
horizon) is replaced by the next-best candidate with a warning; if none is sane, `ETSFitError`.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from fanlab.forecast import Forecast, check_origins, gaussian_forecast, sample_forecast
from fanlab.registry import register_method

#: R's ets ignores seasons longer than this ("I can't handle data with frequency greater than 24").
MAX_SEASONAL_PERIOD = 24

_ERRORS, _TRENDS, _SEASONS = ("A", "M"), ("N", "A"), ("N", "A", "M")


class ETSFitError(RuntimeError):
    """No admissible ETS model could be fitted (or none passed the sanity check)."""


class ETSParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: str = Field("ZZZ", pattern=r"^[AMZ][NAZ][NAMZ]$",
                       description="error, trend, season as R's ets: A, M, N or Z (chosen by the criterion)")
    damped: bool | None = Field(None, description="None: both tried where the trend is A; true needs a trend")
    ic: Literal["aicc", "aic", "bic"] = Field("aicc", description="the criterion that picks the class")
    restrict: bool = Field(True, description="skip additive error with multiplicative season (R's default)")
    samples: int = Field(1000, ge=50, le=100_000, description="simulated paths per origin (non-linear classes)")

    @model_validator(mode="after")
    def _admissible(self):
        e, t, s = self.model
        if self.damped and t == "N":
            raise ValueError("damped: true needs a trend (model's second letter A or Z)")
        if self.restrict and e == "A" and s == "M":
            raise ValueError(f"model {self.model}: additive error with multiplicative season is excluded "
                             "(set restrict: false to allow it)")
        return self


@dataclass(frozen=True)
class Spec:
    """One ETS class: error A/M, trend N/A, damped, season N/A/M."""

    error: str
    trend: str
    damped: bool
    season: str

    @property
    def label(self) -> str:
        return f"ETS({self.error},{self.trend}{'d' if self.damped else ''},{self.season})"

    @property
    def linear(self) -> bool:
        """Additive error, no multiplicative component: Gaussian with an analytic variance."""
        return self.error == "A" and self.season != "M"


def n_params(spec: Spec, m: int) -> int:
    """Parameters as R's ets counts them, without sigma: smoothing, initial level, trend, m - 1 seasons."""
    k = 2  # alpha, l0
    if spec.trend == "A":
        k += 2 + int(spec.damped)
    if spec.season != "N":
        k += 1 + (m - 1)
    return k


def candidates(y: np.ndarray, period: int | None, params: ETSParams) -> tuple[list[Spec], int, list[str]]:
    """The classes R's `ets(model=..., damped=...)` would try on y: (specs, season length m, notes)."""
    e, t, s = params.model
    notes = []
    m = int(period) if period else 1
    n = int(y.shape[0])
    seasonal_ok = 2 <= m <= MAX_SEASONAL_PERIOD and n > m
    if s in "AM" and not seasonal_ok:
        raise ETSFitError(f"model {params.model} asks for a season but the series has period {period} "
                          f"and {n} training points (a season needs 2 <= period <= {MAX_SEASONAL_PERIOD} "
                          "and more points than the period)")
    if s == "Z" and not seasonal_ok and m > 1:
        notes.append(f"period {m} with {n} training points: no seasonal models tried")
    positive = bool(np.min(y) > 0)
    if not positive and (e == "M" or s == "M"):
        raise ETSFitError(f"model {params.model}: multiplicative components need strictly positive data")
    errors = _ERRORS if e == "Z" else (e,)
    trends = _TRENDS if t == "Z" else (t,)
    seasons = (_SEASONS if seasonal_ok else ("N",)) if s == "Z" else (s,)
    damps = (True, False) if params.damped is None else (params.damped,)
    out = []
    for ei in errors:
        for ti in trends:
            for si in seasons:
                for di in damps:
                    if ti == "N" and di:
                        continue
                    if params.restrict and ei == "A" and si == "M":
                        continue
                    if not positive and (ei == "M" or si == "M"):
                        continue
                    spec = Spec(ei, ti, di, si)
                    if n_params(spec, m) >= n - 1:
                        notes.append(f"{spec.label}: too few points ({n}) for {n_params(spec, m)} parameters")
                        continue
                    out.append(spec)
    if not out:
        raise ETSFitError(f"no ETS model of {params.model} can be fitted to {n} training points")
    return out, (m if seasonal_ok else 1), notes


@dataclass(frozen=True)
class Fit:
    """A fitted class: smoothing parameters, initial states (season oldest first), fit statistics."""

    spec: Spec
    alpha: float
    beta: float
    gamma: float
    phi: float
    l0: float
    b0: float
    s0: tuple[float, ...]  # s_{-m}, ..., s_{-1}; () without a season
    llf: float
    sigma2: float
    n: int
    k: int  # parameters without sigma (R's count)

    def ic(self, name: str) -> float:
        np_ = self.k + 1
        aic = -2.0 * self.llf + 2.0 * np_
        if name == "aic":
            return aic
        if name == "bic":
            return -2.0 * self.llf + math.log(self.n) * np_
        return aic + 2.0 * np_ * (np_ + 1) / (self.n - np_ - 1) if self.n - np_ - 1 > 0 else math.inf

    def finite(self) -> bool:
        vals = [self.alpha, self.beta, self.gamma, self.phi, self.l0, self.b0, *self.s0, self.llf, self.sigma2]
        return bool(np.all(np.isfinite(vals)) and self.sigma2 > 0)


def fit_class(y: np.ndarray, spec: Spec, m: int) -> Fit:
    """Maximum-likelihood fit of one class on y (statsmodels); raises on failure."""
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    seasonal = {"N": None, "A": "add", "M": "mul"}[spec.season]
    model = ETSModel(y, error="add" if spec.error == "A" else "mul",
                     trend="add" if spec.trend == "A" else None, damped_trend=spec.damped,
                     seasonal=seasonal, seasonal_periods=m if seasonal else None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # optimiser notices; the sanity check judges the fit
        params = np.asarray(model.fit(disp=False, return_params=True), dtype=float)
        llf = float(model.loglike(params))
    p = dict(zip(model.param_names, params))
    s0 = ()
    if seasonal:
        # statsmodels: initial_seasonal.j is s_{-1-j}; s_{-m} is fixed (0 or 1) and not a parameter
        fixed = 1.0 if spec.season == "M" else 0.0
        newest_first = [p.get(f"initial_seasonal.{j}", fixed) for j in range(m)]
        s0 = tuple(float(v) for v in newest_first[::-1])
    fit = Fit(spec, alpha=float(p["smoothing_level"]), beta=float(p.get("smoothing_trend", 0.0)),
              gamma=float(p.get("smoothing_seasonal", 0.0)),
              phi=float(p.get("damping_trend", 1.0)), l0=float(p["initial_level"]),
              b0=float(p.get("initial_trend", 0.0)), s0=s0, llf=llf, sigma2=math.nan,
              n=int(y.shape[0]), k=n_params(spec, m))
    _, mu = ets_filter(fit, y)
    resid = (y - mu) / mu if spec.error == "M" else y - mu
    dof = fit.n - fit.k
    sigma2 = float(np.sum(resid ** 2) / dof) if dof > 0 else math.nan
    return Fit(**{**fit.__dict__, "sigma2": sigma2})


# ---- the recursions ----------------------------------------------------------------------

def ets_filter(fit: Fit, y: np.ndarray):
    """Run the ETS recursions over y from the initial states.

    Returns the states (level, trend, each (n,); season history (n + m,) with s_t at index t + m)
    and the one-step means mu (n,); the state at t uses y[: t + 1] only.
    A NaN in y leaves the states to evolve without an update.

    The error-correction forms of Hyndman et al. (2008), in statsmodels' parametrisation, except a
    multiplicative season, which statsmodels (and so the fitted likelihood) updates in Holt-Winters'
    form s_t = g* y_t / l_t + (1 - g*) s_{t-m}, g* = gamma / (1 - alpha), rather than ETS's
    s_{t-m} (1 + gamma e_t) (R's): the recursion here is statsmodels', so fit and forecast agree.
    """
    spec, n = fit.spec, y.shape[0]
    m = len(fit.s0)
    mseason = spec.season == "M"
    level, trend = np.empty(n), np.empty(n)
    season = np.empty(n + m)
    season[:m] = fit.s0
    mu = np.empty(n)
    l_, b_ = fit.l0, fit.b0
    a, be, g, phi = fit.alpha, fit.beta, fit.gamma, fit.phi
    g_star = g / (1.0 - a)
    for t in range(n):
        lb = l_ + phi * b_
        s_old = season[t] if m else (1.0 if mseason else 0.0)
        mu[t] = lb * s_old if mseason else lb + s_old
        r = y[t] - mu[t]  # k_t e_t under either error type
        if not np.isfinite(r):
            r = 0.0
        l_ = lb + a * (r / s_old if mseason else r)
        b_ = phi * b_ + be * (r / s_old if mseason else r)
        if m:
            season[t + m] = g_star * (mu[t] + r) / l_ + (1.0 - g_star) * s_old if mseason else s_old + g * r
        level[t], trend[t] = l_, b_
    return (level, trend, season), mu


def _states_at(states, origins: np.ndarray, m: int):
    """Level (K,), trend (K,), season buffers (K, m) oldest first (the next step's season first)."""
    level, trend, season = states
    buf = season[origins[:, None] + 1 + np.arange(m)[None, :]] if m else np.empty((origins.size, 0))
    return level[origins], trend[origins], buf


def forecast_paths(fit: Fit, level, trend, buf, horizon: int, eps: np.ndarray | None):
    """Paths (K, S, H) from states (K,), (K,), (K, m); eps (K, S, H) scaled errors, or None for
    the zero-error path (then S = 1)."""
    spec = fit.spec
    k, m = level.shape[0], buf.shape[1]
    s_n = 1 if eps is None else eps.shape[1]
    mseason = spec.season == "M"
    g_star = fit.gamma / (1.0 - fit.alpha)
    l_ = np.repeat(level[:, None], s_n, axis=1)
    b_ = np.repeat(trend[:, None], s_n, axis=1)
    sb = np.repeat(buf[:, None, :], s_n, axis=1).copy()  # circular: step h reads slot h % m
    out = np.empty((k, s_n, horizon))
    for h in range(horizon):
        lb = l_ + fit.phi * b_
        s_old = sb[:, :, h % m] if m else (1.0 if mseason else 0.0)
        mu = lb * s_old if mseason else lb + s_old
        if eps is None:
            out[:, :, h] = mu
            r = np.zeros_like(mu)
        else:
            r = eps[:, :, h] * (mu if spec.error == "M" else 1.0)
            out[:, :, h] = mu + r
        l_ = lb + fit.alpha * (r / s_old if mseason else r)
        b_ = fit.phi * b_ + fit.beta * (r / s_old if mseason else r)
        if m:
            sb[:, :, h % m] = g_star * (mu + r) / l_ + (1.0 - g_star) * s_old if mseason else s_old + fit.gamma * r
    return out


def _error_weights(fit: Fit, horizon: int) -> np.ndarray:
    """c_0 = 1, c_1 .. c_{H-1} (H,): the weight of the error j steps back in an h-step forecast
    error of the linear class (Hyndman et al. 2008, the c_j of its variance formula)."""
    j = np.arange(1, horizon)
    phi_j = np.cumsum(fit.phi ** j) if fit.spec.trend == "A" else np.zeros(j.size)
    m = len(fit.s0)
    c = fit.alpha + fit.beta * phi_j + (fit.gamma * (j % m == 0) if m else 0.0)
    return np.concatenate([[1.0], c])


def linear_variance(fit: Fit, horizon: int) -> np.ndarray:
    """h-step forecast variance (H,) of the linear class: sigma^2 (1 + sum_{j=1}^{h-1} c_j^2)."""
    c = _error_weights(fit, horizon)
    return fit.sigma2 * np.concatenate([[1.0], 1.0 + np.cumsum(c[1:] ** 2)])


def linear_path_cov(fit: Fit, horizon: int) -> np.ndarray:
    """Covariance (H, H) of the whole path's forecast errors of the linear class: the error at
    step h is sum_{j<h} c_j e_{t+h-j}, so Cov = sigma^2 L L' with L[h, i] = c_{h-i} (i <= h).
    Its diagonal is `linear_variance`."""
    c = _error_weights(fit, horizon)
    idx = np.arange(horizon)
    lag = idx[:, None] - idx[None, :]
    weights = np.where(lag >= 0, c[np.clip(lag, 0, None)], 0.0)
    return fit.sigma2 * weights @ weights.T


class ETSForecaster:
    """ETS fitted on y[:train_end] (class chosen by AICc); analytic or simulated intervals.

    Parameters
    ----------
    params : ETSParams or dict or None
    period : int or None
        The series' seasonal period m.
    check_horizon : int
        Steps over which the sanity check asks for bands of positive width.
    """

    name = "ets"

    def __init__(self, params: ETSParams | dict | None = None, period: int | None = None, check_horizon: int = 10):
        self.params = params
        self.period = period
        self.check_horizon = check_horizon

    def _p(self) -> ETSParams:
        return self.params if isinstance(self.params, ETSParams) else ETSParams.model_validate(self.params or {})

    def fit(self, y: np.ndarray, train_end: int, seed: int = 0) -> "ETSForecaster":
        """Fit every candidate class on y[:train_end], keep the sane one of lowest criterion.
        `seed` seeds the simulated paths of predict. Sets `fit_`, `info_`."""
        p = self._p()
        y = np.asarray(y, dtype=float)
        if not 1 <= train_end <= y.shape[0]:
            raise ValueError(f"train_end={train_end} outside [1, {y.shape[0]}]")
        z = y[:train_end]
        if not np.all(np.isfinite(z)):
            raise ETSFitError(f"ETS needs a training block without missing values ({int(np.sum(~np.isfinite(z)))} found)")
        if np.ptp(z) == 0:
            raise ETSFitError(f"the training block ({train_end} points) is constant: no ETS model has a positive variance")
        self.train_end_, self.seed_ = int(train_end), int(seed)
        specs, m, notes = candidates(z, self.period, p)
        table, fits = [], []
        for spec in specs:
            try:
                f = fit_class(z, spec, m)
                table.append({"model": spec.label, p.ic: _finite_or_none(f.ic(p.ic)), "llf": f.llf})
                fits.append(f)
            except Exception as exc:  # one failing class does not stop the search
                table.append({"model": spec.label, "error": f"{type(exc).__name__}: {exc}"[:300]})
        ranked = sorted((f for f in fits if np.isfinite(f.ic(p.ic))), key=lambda f: f.ic(p.ic))
        warns = list(notes)
        for f in ranked:
            why = self._insane(f, z)
            if why is None:
                break
            warns.append(f"{f.spec.label} ({p.ic} {f.ic(p.ic):.2f}) is not sane ({why}); trying the next best")
        else:
            errs = [r["error"] for r in table if "error" in r][:2]
            raise ETSFitError(f"no sane ETS model among {len(specs)} candidates on {train_end} training points"
                              + (f" ({'; '.join(warns[-2:] + errs)})" if warns or errs else ""))
        if f is not ranked[0]:
            warnings.warn(f"ets: {ranked[0].spec.label} was not sane; {f.spec.label} kept", RuntimeWarning)
        self.fit_ = f
        self.info_ = {
            "model": f.spec.label, "error": f.spec.error, "trend": f.spec.trend, "damped": f.spec.damped,
            "season": f.spec.season, "period": len(f.s0) or None,
            "params": {"alpha": f.alpha, "beta": f.beta, "gamma": f.gamma, "phi": f.phi},
            "initial_states": {"level": f.l0, "trend": f.b0, "season": list(f.s0)},
            "sigma2": f.sigma2, "llf": f.llf, "aic": f.ic("aic"), "aicc": _finite_or_none(f.ic("aicc")),
            "bic": f.ic("bic"), "n_params": f.k + 1, "nobs": f.n,
            "intervals": "analytic" if f.spec.linear else f"simulated ({p.samples} paths)",
            "selection": {"criterion": p.ic, "candidates": table}, "warnings": warns,
        }
        return self

    def _insane(self, f: Fit, z: np.ndarray) -> str | None:
        """Why fit f is not sane, or None: finite, positive variance, 80% bands of positive finite
        width at every step of the horizon from the end of the training block."""
        if not f.finite():
            return "non-finite parameters or likelihood, or variance not positive"
        h, last = max(int(self.check_horizon), 1), np.array([f.n - 1])
        fc = self._forecast(f, last, self._filtered(f, last, z), h, np.array([0.1, 0.9]))
        width = fc.quantiles[0, 1] - fc.quantiles[0, 0]
        bad = np.flatnonzero(~(np.isfinite(width) & (width > 0)) | ~np.isfinite(fc.mean[0]))
        return f"80% band of zero or non-finite width at step {int(bad[0]) + 1}" if bad.size else None

    def _filtered(self, f: Fit, origins: np.ndarray, y: np.ndarray):
        states, _ = ets_filter(f, y)
        return _states_at(states, origins, len(f.s0))

    def _forecast(self, f: Fit, origins, states, horizon, probs, info=None) -> Forecast:
        level, trend, buf = states
        mean = forecast_paths(f, level, trend, buf, horizon, None)[:, 0, :]
        if f.spec.linear:
            sd = np.broadcast_to(np.sqrt(linear_variance(f, horizon)), mean.shape)
            cov = np.broadcast_to(linear_path_cov(f, horizon), (origins.size, horizon, horizon))
            return gaussian_forecast(origins, mean, np.array(sd), probs, info, cov=np.array(cov))
        s_n = self._p().samples
        eps = np.stack([np.random.default_rng([self.seed_, int(t)]).standard_normal((s_n, horizon)) for t in origins])
        paths = forecast_paths(f, level, trend, buf, horizon, eps * math.sqrt(f.sigma2))
        return sample_forecast(origins, paths, probs, mean=mean, info=info)

    def predict(self, y: np.ndarray, origins: np.ndarray, horizon: int, probs: np.ndarray) -> Forecast:
        """Forecasts (K, H) at `origins`, using y[: t + 1] only for origin t: Gaussian (``sd`` set)
        for the linear class, ``samples`` (K, S, H) paths otherwise."""
        y = np.asarray(y, dtype=float)
        origins = check_origins(y, origins, horizon, self.train_end_)
        probs = np.asarray(probs, dtype=float)
        info = {**self.info_, "warnings": list(self.info_["warnings"])}
        if origins.size == 0:
            empty = np.empty((0, horizon))
            return gaussian_forecast(origins, empty, empty, probs, info)
        states = self._filtered(self.fit_, origins, y[: int(origins.max()) + 1])
        return self._forecast(self.fit_, origins, states, horizon, probs, info)


def _finite_or_none(v: float):
    return float(v) if np.isfinite(v) else None


@register_method("ets", params=ETSParams, cost=2.0)
def build_ets(params: ETSParams, ctx) -> ETSForecaster:
    """ETS (statsmodels ETSModel), class chosen by AICc as R's ets; analytic or simulated intervals."""
    return ETSForecaster(params, period=ctx.series.period, check_horizon=ctx.horizon)
