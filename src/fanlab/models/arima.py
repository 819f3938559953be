"""ARIMA / SARIMA forecaster (statsmodels) with analytic Gaussian prediction intervals.

Fitted once on the training block; every origin is then forecast from that one fit by running
the Kalman filter with the fitted parameters over the series (`results.apply`) and rolling the
filtered state forward (`filtered_forecast`). The filtered state at t uses y[: t + 1] only, so
this is causal, and it equals a per-origin `get_forecast` on y[: t + 1] with the same
parameters. `refit: true` instead re-estimates the same order on y[: t + 1] at every origin.

Choices (documented here because a config cannot show them):

- Non-convergence of the optimiser warns, it does not fail: statsmodels' L-BFGS often stops
  just short of its gradient tolerance at estimates that forecast fine. The fit is marked
  ``info["converged"] = False`` with the warning text in ``info["warnings"]``. Set
  ``strict: true`` to raise `ARIMAFitError` instead. A fit that raises or gives non-finite
  parameters or likelihood always raises `ARIMAFitError` (naming the order and the reason).
- No degenerate fit forecasts. Every fit is checked (`fanlab.models.arima_checks`): a positive
  innovation variance consistent with the residuals, one-step variances never below it, and a
  log-likelihood that agrees with the exact likelihood of the same parameters computed without
  the Kalman filter (a broken likelihood scores an AIC hundreds of units too good). A search
  candidate that fails is dropped with a warning that names why (the cell's note shows it); one
  with an AR / MA root of modulus below 1.01 is refused as R refuses it, without a warning (most
  M3 searches meet one; `selection.n_root_refused` counts them); a fixed order that fails is
  refitted from zero AR / MA start values,
  and raises `DegenerateFitError` if that fails too. A band that is not positive and finite at
  every origin and step fails the cell with that reason.
- ``variance: r`` (default): the bands use R's innovation variance, the residuals' sum of squares
  over their degrees of freedom n* - k + 1 (forecast::Arima), not the maximum-likelihood sigma2
  (``variance: mle``); on a yearly M3 series of 20 points with 2 coefficients the bands are ~6%
  wider.
- ``seasonal_order: [P, D, Q, "auto"]`` takes s from the series' period (error if it has none).
- ``order: "auto"`` is auto.arima (Hyndman & Khandakar 2008) with R's defaults (criterion AICc,
  p, q <= 5 and p + q + P + Q <= 5 in the stepwise moves, each order at most a third of the
  series, the mean / drift tried on and off, `approximation` only above 150 points or a period
  above 12): d by ``unit_root`` (KPSS with forecast::ndiffs' bandwidth),
  then ``search: stepwise`` (default; R's ``stepwise = TRUE``) or ``search: grid`` (every
  candidate of the grid). With a series period 2 <= m <= 24 (`MAX_SEASONAL_PERIOD`) the
  default ``grid.seasonal: null`` also searches P <= grid.max_P, Q <= grid.max_Q (2, 2 as
  auto.arima's max.P, max.Q) at s = m, with the seasonal difference D <= grid.max_D (1) chosen
  by ``seasonal_test``: ``strength`` (STL seasonal strength > 0.64; auto.arima's default "seas"
  in forecast 8.x) or the OCSB test (Osborn, Chui, Smith & Birchenhall 1988, via pmdarima's
  ``nsdiffs``); none for a series of at most two periods.
  Longer periods (hourly-weekly 168, weekly-yearly 52, ...) stay non-seasonal: a SARIMA state
  of dimension ~ m (P + 1) is slow and poorly identified there; use ``fourier`` terms instead
  (or force ``grid.seasonal: true``). ``grid.seasonal: false`` never searches seasonally.
  See `fanlab.models.arima_select` for the selection recipe.
- With a transform, the model is Gaussian on the transformed scale; quantiles map back exactly
  through the increasing inverse, ``sd`` is None, and ``mean`` is the back-transformed Gaussian
  mean, i.e. the predictive MEDIAN (equal to the 0.5 quantile), unless ``bias_adjust: true``
  (then the predictive mean: exact for log, second order for Box-Cox). Box-Cox lambda is
  estimated on the training block (MLE) unless given, and kept fixed under `refit`.
- Fourier terms sin/cos(2 pi j t / period), j = 1..k, with t the position in the series, enter
  as exogenous regressors (regression with ARMA errors); they are known functions of time, so
  forecasting with their future values looks nothing ahead.
"""

from __future__ import annotations

import warnings

import numpy as np

from fanlab.forecast import Forecast, check_origins, gaussian_forecast
from fanlab.models import arima_checks as checks
from fanlab.models import arima_select as sel
from fanlab.models.arima_fit import ml_fit
from fanlab.models.arima_params import ARIMAParams, fourier_terms
from fanlab.data.statespace import filtered_forecast
from fanlab.data.statespace_paths import path_covariance
from fanlab.models.transforms import Transform
from fanlab.registry import register_method


# order "auto" searches seasonal orders by default only up to this period (auto.arima has no such
# cap, but statsmodels' SARIMA state grows with the period; Fourier terms serve longer ones)
MAX_SEASONAL_PERIOD = 24


class ARIMAFitError(RuntimeError):
    """An ARIMA fit that failed (or, with ``strict``, did not converge); names order and reason."""


class DegenerateFitError(ARIMAFitError):
    """A fit that returned numbers but is no model (`fanlab.models.arima_checks.problems`)."""


#: Optimiser settings of a search candidate under `approximation` that CSS cannot fit (Fourier
#: terms, a trend that is not a mean of the differenced series): L-BFGS-B stops once the relative
#: change of the likelihood is below factr * machine eps, about 2e-6, or after 30 steps.
APPROX_OPTIMISER = {"maxiter": 30, "factr": 1e10, "pgtol": 1e-4}

#: Under `approximation`: at most this many exact fits (that succeed) of the search's best
#: candidates, until one converges (see `ARIMAForecaster._exact_refit`). 1: the chosen order only,
#: unless its fit fails. 3 cut the non-converged final fits on the M3 sample of
#: benchmarks/arima_m3.py from 24 to 15 of 110 for about 50% more time per series.
EXACT_REFITS = 1


class ARIMAForecaster:
    """ARIMA fitted on y[:train_end]; Gaussian (or back-transformed) forecasts at every origin.

    Parameters
    ----------
    params : ARIMAParams or dict or None
    period : int or None
        The series' seasonal period, used by ``seasonal_order[3] == "auto"`` and ``grid.seasonal``.
    """

    name = "arima"

    def __init__(self, params: ARIMAParams | dict | None = None, period: int | None = None):
        self.params = params
        self.period = period

    # ---- fitting -------------------------------------------------------------------------

    def fit(self, y: np.ndarray, train_end: int, seed: int = 0) -> "ARIMAForecaster":
        """Fit on y[:train_end] (deterministic: `seed` is unused). Sets `results_`, `info_`."""
        p = self._p()
        y = np.asarray(y, dtype=float)
        if not 1 <= train_end <= y.shape[0]:
            raise ValueError(f"train_end={train_end} outside [1, {y.shape[0]}]")
        self.train_end_ = int(train_end)
        self.transform_ = Transform(p.transform, p.boxcox_lambda).fit(y[:train_end]) if p.transform else None
        z = self._forward(y[:train_end])
        x = fourier_terms(train_end, p.fourier)
        selection = None
        self.trend_ = p.trend
        self.approx_ = (train_end > 150 or (self.period or 1) > 12) if p.approximation == "auto" else p.approximation
        if p.order == "auto":
            (res, converged, warns, order, sorder), selection = self._select(z, x)
        else:
            order, sorder = tuple(p.order), self._seasonal_order()
            res, converged, warns = self._sane_fit(z, x, order, sorder)
        self.var_scale_ = checks.r_sigma2(res) / checks.sigma2_of(res) if p.variance == "r" else 1.0
        if not converged and p.strict:
            raise ARIMAFitError(
                f"ARIMA{order}x{sorder} on {train_end} training points did not converge "
                f"({res.mle_retvals.get('iterations')} iterations; warnings: {warns})"
            )
        self.results_, self.order_, self.seasonal_order_ = res, order, sorder
        self.info_ = self._info(res, converged, warns, selection)
        return self

    def _p(self) -> ARIMAParams:
        if isinstance(self.params, ARIMAParams):
            return self.params
        return ARIMAParams.model_validate(self.params or {})

    def _forward(self, y: np.ndarray) -> np.ndarray:
        return y if self.transform_ is None else self.transform_.forward(y)

    def _seasonal_order(self) -> tuple[int, int, int, int]:
        so = self._p().seasonal_order
        if so is None:
            return (0, 0, 0, 0)
        s = so[3]
        if s == "auto":
            if self.period is None or self.period < 2:
                raise ValueError(f"seasonal_order {list(so)} asks for s='auto' but the series has no period")
            s = int(self.period)
        return (int(so[0]), int(so[1]), int(so[2]), int(s))

    def _fit_one(self, z, x, order, sorder, start_params=None, trend="default", approx=False, check=None):
        """(results, converged, warnings) of one ARIMA fit; raises ARIMAFitError on failure.
        `approx`: a loose optimiser tolerance (a search candidate under `approximation`).
        `check`: None, "fit" (`arima_checks.problems`) or "search" (the same and R's root rule);
        a fit with problems raises `DegenerateFitError` naming them. `start_params` "zeros":
        statsmodels' start values with every AR and MA coefficient at zero."""
        p = self._p()
        trend = self.trend_ if trend == "default" else trend
        label = f"ARIMA{tuple(order)}x{tuple(sorder)} (trend={trend})"
        kw = {"maxiter": p.maxiter} if p.maxiter else None
        if approx:
            kw = {**(kw or {}), **APPROX_OPTIMISER}
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                res = ml_fit(z, x, order, sorder, trend, start_params, kw)
            if not (np.all(np.isfinite(res.params)) and np.isfinite(res.llf)):
                raise ValueError("non-finite parameters or log-likelihood")
        except Exception as exc:
            raise ARIMAFitError(
                f"{label} failed on {len(z)} training points: {type(exc).__name__}: {exc}"
            ) from exc
        warns = list(dict.fromkeys(f"{w.category.__name__}: {w.message}" for w in caught))
        converged = bool((res.mle_retvals or {}).get("converged", True))
        if check is not None:
            found = checks.problems(res, z, order[1], sorder[1], sorder[3])
            if found:
                raise DegenerateFitError(f"{label} is degenerate: {'; '.join(found)}")
            root = checks.root_problem(res) if check == "search" else None
            if root:
                # R's rule, not a broken fit: such candidates are routine (most M3 searches have one)
                raise ARIMAFitError(f"{label} refused by R's root rule: {root}")
        return res, converged, warns

    def _sane_fit(self, z, x, order, sorder, trend="default"):
        """A fit of one given order that passes `arima_checks.problems`: statsmodels' start values
        first, then zero AR / MA start values; raises `DegenerateFitError` if neither is sane."""
        try:
            return self._fit_one(z, x, order, sorder, trend=trend, check="fit")
        except DegenerateFitError as first:
            try:
                res, converged, warns = self._fit_one(z, x, order, sorder, "zeros", trend=trend, check="fit")
            except ARIMAFitError as second:
                raise DegenerateFitError(f"{first}; refitted from zero AR / MA start values: {second}") from None
            return res, converged, warns + [f"refitted from zero AR / MA start values: {first}"]

    def _search_fit(self, z, x, order, sorder, trend):
        """A stepwise-search candidate: an exact fit, or under `approximation` a CSS fit
        (`arima_select.css_fit`, as R's auto.arima ranks candidates when approximating) where
        the trend is a mean of the differenced series and there are no Fourier terms, else a
        loosely converged exact fit. CSS fits carry no statsmodels results: the chosen order
        is always refitted exactly."""
        if not self.approx_:
            return self._fit_one(z, x, order, sorder, trend=trend, check="search")
        integ = order[1] + sorder[1]
        mean = {None: integ == 0, "n": False, "c": True if integ == 0 else None,
                "t": True if integ == 1 else None}.get(trend)
        if x is not None or mean is None:
            return self._fit_one(z, x, order, sorder, trend=trend, approx=True, check="search")
        try:
            res = sel.css_fit(z, order, sorder, mean)
        except Exception as exc:
            raise ARIMAFitError(f"ARIMA{tuple(order)}x{tuple(sorder)} (trend={trend}) CSS fit failed on "
                                f"{len(z)} training points: {type(exc).__name__}: {exc}") from exc
        return res, res.converged, []

    def _select(self, z, x):
        p, g = self._p(), self._p().grid
        fixed = self._seasonal_order() if p.seasonal_order is not None else None
        has_period = self.period is not None and self.period >= 2
        if g.seasonal is None:
            seasonal = fixed is None and has_period and self.period <= MAX_SEASONAL_PERIOD
        else:
            seasonal = fixed is None and g.seasonal
            if seasonal and not has_period:
                raise ValueError("grid.seasonal needs a series with a seasonal period >= 2")
        if fixed is not None:
            D, s = fixed[1], fixed[3]
        elif seasonal:
            s = int(self.period)
            D = g.D if g.D is not None else sel.n_seasonal_diffs(z, s, p.seasonal_test, g.max_D)
        else:
            D, s = 0, 0
        zs = z
        for _ in range(D):
            zs = zs[s:] - zs[:-s]
        d_pvalues: list[float] = []
        if g.d is not None:
            d = g.d
        else:
            d, d_pvalues = sel.n_diffs(zs, p.unit_root, p.alpha, g.max_d)
        # as auto.arima: with one difference in all, a drift is tried (a series with a steady slope
        # needs one); with none, the mean is tried on and off (allowdrift, allowmean)
        trends = [p.trend]
        if p.trend is None and d + D == 1:
            trends = ["n", "t"]
        elif p.trend is None and d + D == 0:
            trends = ["n", "c"]
        # auto.arima's caps: a third of the series per order, and p, q below the period when
        # seasonal AR / MA terms can carry the seasonal lags
        n = len(z)
        max_p, max_q = min(g.max_p, n // 3), min(g.max_q, n // 3)
        max_P, max_Q = g.max_P, g.max_Q
        if seasonal:
            max_P, max_Q = min(max_P, n // (3 * s)), min(max_Q, n // (3 * s))
            max_p = min(max_p, s - 1) if max_P > 0 else max_p
            max_q = min(max_q, s - 1) if max_Q > 0 else max_q
        if p.search == "stepwise":
            try:
                found, table = sel.stepwise_search(
                    lambda o, so, tr: self._search_fit(z, x, o, so, tr), g.criterion, d=d,
                    max_p=max_p, max_q=max_q, seasonal=(max_P, max_Q, D, s) if seasonal else None,
                    fixed_seasonal=fixed, trends=trends, max_order=g.max_order)
            except RuntimeError as exc:
                raise ARIMAFitError(f"order search (d={d}, D={D}) on {len(z)} points: every candidate "
                                    f"failed ({exc})") from exc
            *found, self.trend_ = found
            best = tuple(found)
            if self.approx_:
                best = self._exact_refit(z, x, best, table, g.criterion)
        else:
            best, table = self._grid_select(z, x, d, D, s, fixed, seasonal, trends)
        degenerate = [r["error"] for r in table if "is degenerate" in (r.get("error") or "")]
        if degenerate:
            best = (*best[:2], best[2] + [f"search dropped {len(degenerate)} degenerate candidate(s), e.g. "
                                          f"{degenerate[0].removeprefix('DegenerateFitError: ')}"], *best[3:])
        selection = {"unit_root": p.unit_root, "d": d, "d_pvalues": d_pvalues, "D": D,
                     "seasonal_test": p.seasonal_test if seasonal else None,
                     "seasonal_period": s if seasonal else None, "search": p.search,
                     "approximation": bool(self.approx_), "criterion": g.criterion, "n_candidates": len(table),
                     "n_failed": sum(r.get("error") is not None for r in table),
                     "n_degenerate": len(degenerate),
                     "n_root_refused": sum("root rule" in (r.get("error") or "") for r in table), "table": table}
        return best, selection

    def _exact_refit(self, z, x, best, table, criterion):
        """The order chosen by an approximate search, fitted exactly.

        If that exact fit does not converge (or fails), the next candidates in the search's rank
        order are fitted exactly too, at most `EXACT_REFITS` fits that succeed in all, and the first
        that converges is kept (else the one of lowest criterion among them): the exact search
        ranks converged fits first, and an approximate rank cannot see convergence. A chosen
        order whose exact fit fails keeps its loose statsmodels search fit when it has one (Fourier
        terms); a CSS fit is no model to forecast with. Each replacement is noted in the warnings."""
        order, sorder, trend0 = tuple(best[3]), tuple(best[4]), self.trend_
        ranked = sorted((i for i, r in enumerate(table) if r.get(criterion) is not None),
                        key=lambda i: (not table[i]["converged"], table[i][criterion], i))
        keys = [(order, sorder, trend0)]
        keys += [k for k in ((tuple(table[i]["order"]), tuple(table[i]["seasonal_order"]), table[i]["trend"])
                             for i in ranked) if k != keys[0]]
        done, notes = [], []
        for o, so, tr in keys:
            if len(done) >= EXACT_REFITS:
                break
            try:
                res, converged, warns = self._fit_one(z, x, o, so, trend=tr, check="search")
            except ARIMAFitError as exc:
                notes.append(f"exact fit of {o}x{so} (trend={tr}) failed: {exc}")
                if not done and hasattr(best[0], "model"):  # a loose statsmodels search fit
                    return (best[0], best[1], best[2] + [f"exact refit failed, loose search fit kept: {exc}"],
                            order, sorder)
                continue
            done.append((not converged, sel.criterion_value(res, criterion), len(done),
                         (res, converged, warns, o, so, tr)))
            if converged:
                break
            notes.append(f"exact fit of {o}x{so} (trend={tr}) did not converge")
        if not done:
            raise ARIMAFitError("; ".join(notes[:3]))
        res, converged, warns, o, so, tr = min(done)[3]
        self.trend_ = tr
        if (o, so, tr) != keys[0]:
            warns = warns + [f"approximation: {n}; {o}x{so} (trend={tr}) kept" for n in notes[:1]] + notes[1:]
        return res, converged, warns, o, so

    def _grid_select(self, z, x, d, D, s, fixed, seasonal, trends):
        g = self._p().grid
        if fixed is not None:
            candidates = [(o, fixed) for o, _ in sel.grid_orders(g.max_p, g.max_q, d, None, 0, None)]
        else:
            candidates = sel.grid_orders(g.max_p, g.max_q, d, (g.max_P, g.max_Q) if seasonal else None, D, s)
        best, table = None, []
        for trend in trends:
            try:
                found, rows = sel.search(
                    candidates, lambda o, so, tr=trend: self._fit_one(z, x, o, so, trend=tr, check="search"),
                    g.criterion)
            except RuntimeError as exc:
                table.append({"trend": trend, "error": str(exc)})
                continue
            table += [{**r, "trend": trend} for r in rows]
            value = sel.criterion_value(found[0], g.criterion)
            rank = (not found[1], value)
            if best is None or rank < best[0]:
                best = (rank, found, trend)
        if best is None:
            raise ARIMAFitError(f"order search (d={d}, D={D}) on {len(z)} points: every candidate failed "
                                f"({table[-1].get('error')})")
        _, best, self.trend_ = best
        return best, table

    def _info(self, res, converged, warns, selection) -> dict:
        p = self._p()
        order, sorder = self.order_, self.seasonal_order_
        names = list(res.model.param_names)
        info = {
            "order": [int(v) for v in order],
            "seasonal_order": [int(v) for v in sorder],
            "trend": self.trend_ or ("c" if order[1] + sorder[1] == 0 else "n"),
            "params": {n: float(v) for n, v in zip(names, np.asarray(res.params))},
            "sigma2": checks.sigma2_of(res),
            "variance": p.variance, "band_sigma2": checks.sigma2_of(res) * self.var_scale_,
            "aic": float(res.aic), "aicc": float(res.aicc), "bic": float(res.bic), "llf": float(res.llf),
            "nobs": int(res.nobs),
            "converged": bool(converged),
            "iterations": _plain((res.mle_retvals or {}).get("iterations")),
            "warnings": warns,
            "transform": p.transform,
            "boxcox_lambda": None if self.transform_ is None else float(self.transform_.lam_),
            "fourier": [t.model_dump() for t in p.fourier],
        }
        if selection is not None:
            info["selection"] = selection
        return info

    # ---- forecasting ---------------------------------------------------------------------

    def predict(self, y: np.ndarray, origins: np.ndarray, horizon: int, probs: np.ndarray) -> Forecast:
        """Forecasts (K, H) at `origins`, using y[: t + 1] only for origin t.

        Returns a Gaussian `Forecast` (``sd`` set) without a transform, and exact
        back-transformed quantiles (``sd`` None) with one.
        """
        y = np.asarray(y, dtype=float)
        origins = check_origins(y, origins, horizon, self.train_end_)
        probs = np.asarray(probs, dtype=float)
        info = dict(self.info_)
        info["warnings"] = list(self.info_["warnings"])
        info["refit"] = self._p().refit
        if origins.size == 0:
            empty = np.empty((0, horizon))
            return gaussian_forecast(origins, empty, empty, probs, info)
        tmax = int(origins.max())
        # values after the last origin are never needed: NaN (missing) stands in for the future
        z = np.concatenate([self._forward(y[: tmax + 1]), np.full(horizon, np.nan)])
        x = fourier_terms(z.shape[0], self._p().fourier)
        # the path covariance (K, H, H) of the (transformed) series, on the sd's variance scale
        want_cov = self.transform_ is None  # a transform's law on the data scale is not Gaussian
        if self._p().refit:
            mean, sd, cov = self._refit_forecasts(z, x, origins, horizon, info, want_cov)
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # re-running the filter repeats fit-time notices
                res = self.results_.apply(z, exog=x)
            mean, sd = filtered_forecast(res, origins, horizon)
            sd = sd * np.sqrt(self.var_scale_)
            cov = path_covariance(res, origins, horizon) * self.var_scale_ if want_cov else None
        bad = ~(np.isfinite(sd) & (sd > 0)) | ~np.isfinite(mean)
        if bad.any():
            k, h = np.argwhere(bad)[0]
            raise DegenerateFitError(
                f"ARIMA{self.order_}x{self.seasonal_order_}: no sane band at origin {int(origins[k])}, step "
                f"{int(h) + 1} (sd {sd[k, h]:.3g}, mean {mean[k, h]:.3g}; {int(bad.sum())} of {bad.size} bad)")
        return self._to_forecast(origins, mean, sd, probs, info, cov)

    def _refit_forecasts(self, z, x, origins, horizon, info, want_cov: bool = False):
        mean = np.empty((origins.size, horizon))
        sd = np.empty((origins.size, horizon))
        cov = np.empty((origins.size, horizon, horizon)) if want_cov else None
        nonconverged = []
        start = np.asarray(self.results_.params)
        for i, t in enumerate(origins):
            t = int(t)
            xt = None if x is None else x[: t + 1]
            res, converged, warns = self._fit_one(z[: t + 1], xt, self.order_, self.seasonal_order_, start,
                                                  check="fit")
            if not converged:
                if self._p().strict:
                    raise ARIMAFitError(f"refit of ARIMA{self.order_}x{self.seasonal_order_} at origin {t} "
                                        f"did not converge ({warns})")
                nonconverged.append(t)
            xf = None if x is None else x[t + 1 : t + 1 + horizon]
            fc = res.get_forecast(horizon, exog=xf)
            mean[i] = np.asarray(fc.predicted_mean)
            scale = checks.r_sigma2(res) / checks.sigma2_of(res) if self._p().variance == "r" else 1.0
            sd[i] = np.sqrt(np.maximum(np.asarray(fc.var_pred_mean), 0.0) * scale)
            if cov is not None:
                cov[i] = path_covariance(res, np.array([t]), horizon)[0] * scale
        info["n_refits"] = int(origins.size)
        info["refit_nonconverged_origins"] = nonconverged
        if nonconverged:
            info["warnings"].append(f"refit did not converge at {len(nonconverged)} of {origins.size} origins")
        return mean, sd, cov

    def _to_forecast(self, origins, mean, sd, probs, info, cov=None) -> Forecast:
        if self.transform_ is None:
            return gaussian_forecast(origins, mean, sd, probs, info, cov=cov)
        from scipy.stats import norm

        qz = mean[:, None, :] + norm.ppf(probs)[None, :, None] * sd[:, None, :]
        quantiles = self.transform_.inverse(qz)
        point = self.transform_.mean(mean, sd) if self._p().bias_adjust else self.transform_.inverse(mean)
        return Forecast(origins=origins, mean=point, probs=probs, quantiles=quantiles, info=info)


def _plain(v):
    """numpy scalars -> Python scalars, for JSON."""
    return v.item() if isinstance(v, np.generic) else v


@register_method("arima", params=ARIMAParams, store_fit=True, cost=2.5)
def build_arima(params: ARIMAParams, ctx) -> ARIMAForecaster:
    """ARIMA/SARIMA (statsmodels), fitted once, analytic Gaussian intervals; order may be 'auto'."""
    return ARIMAForecaster(params, period=ctx.series.period)
