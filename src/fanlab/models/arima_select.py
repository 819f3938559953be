"""Order selection for ARIMA: differencing by unit-root tests, then p, q[, P, Q] by criterion.

The recipe is Hyndman & Khandakar's (2008) auto.arima, as R's ``forecast::auto.arima``:

1. seasonal D (if seasonal): OCSB test (pmdarima's `nsdiffs`, as auto.arima's default
   ``seasonal.test = "ocsb"``) or the seasonal-strength rule (STL; D = 1 when
   F_s = max(0, 1 - var(R) / var(S + R)) > 0.64, the fpp3 threshold), up to max_D (1);
2. d on the seasonally differenced series: KPSS (H0 stationary, short bandwidth
   trunc(4 (n / 100)^(1/4)); difference while rejected at `alpha`) or ADF (lag by AIC;
   H0 unit root; difference while not rejected), up to `max_d`;
3. with d, D fixed, the (p, q[, P, Q]) by the criterion, either
   - `stepwise_search` (the default): four start models, then moves to the best neighbour
     while the criterion improves, each model fitted at most once; or
   - `search` over the whole grid (exhaustive: the grid's argmin, a known answer to test).
   In both the minimum criterion among the fits that converged wins (among all fits if none
   converged). Criteria across different d are not comparable (different likelihoods), which
   is why d is chosen by test, not by AIC.
"""

from __future__ import annotations

import itertools
import warnings
from typing import Callable

import numpy as np

# F_s above this means "strongly seasonal": Wang, Smith & Hyndman (2006), used in fpp3's
# unitroot_nsdiffs.
STRENGTH_THRESHOLD = 0.64


def n_diffs(x: np.ndarray, test: str = "kpss", alpha: float = 0.05, max_d: int = 2) -> tuple[int, list[float]]:
    """Number of first differences that make `x` stationary by a unit-root test.

    Parameters
    ----------
    x : (N,)
    test : {"kpss", "adf"}
    alpha : float
        Test level.
    max_d : int

    Returns
    -------
    d : int
    pvalues : list of float
        The test's p-value on the 0, 1, ..., d times differenced series (as far as tested).
    """
    from statsmodels.tsa.stattools import adfuller, kpss

    x = np.asarray(x, dtype=float)
    pvalues: list[float] = []
    for d in range(max_d + 1):
        if d == max_d or x.size < 10 or np.ptp(x) == 0:
            return d, pvalues
        with warnings.catch_warnings():
            # KPSS p-values are interpolated in a table and warn at its edges; the edge value is
            # still on the right side of alpha, so the decision is unaffected.
            warnings.simplefilter("ignore")
            if test == "kpss":
                # the "short" bandwidth of urca / forecast::ndiffs / pmdarima: on n = 500 it
                # detects a random walk 99% of the time against 94% for statsmodels' "auto"
                # (Hobijn) bandwidth, at the same size (7% at nominal 5% on white noise)
                nlags = int(4 * (x.size / 100) ** 0.25)
                p = _pvalue(kpss(x, regression="c", nlags=nlags))
                stationary = p >= alpha
            elif test == "adf":
                p = _pvalue(adfuller(x, regression="c", autolag="AIC"))
                stationary = p < alpha
            else:
                raise ValueError(f"unknown unit-root test '{test}' (valid: kpss, adf)")
        pvalues.append(p)
        if stationary:
            return d, pvalues
        x = np.diff(x)
    return max_d, pvalues


def _pvalue(result) -> float:
    # statsmodels returns a tuple today and a result object from 0.16 on
    return float(result.pvalue if hasattr(result, "pvalue") else result[1])


def n_seasonal_diffs(x: np.ndarray, period: int, test: str = "ocsb", max_D: int = 1) -> int:
    """Number of seasonal differences at lag `period` by the OCSB test or the strength rule."""
    x = np.asarray(x, dtype=float)
    if max_D < 1 or period < 2 or x.size < 3 * period:
        return 0
    if test == "ocsb":
        from pmdarima.arima import nsdiffs  # heavy import (scikit-learn), only when asked

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return int(nsdiffs(x, m=period, max_D=max_D, test="ocsb"))
    if test == "strength":
        from statsmodels.tsa.seasonal import STL

        D = 0
        while D < max_D and x.size >= 3 * period:
            fit = STL(x, period=period, robust=False).fit()
            sr = fit.seasonal + fit.resid
            strength = max(0.0, 1.0 - np.var(fit.resid) / np.var(sr)) if np.var(sr) > 0 else 0.0
            if strength <= STRENGTH_THRESHOLD:
                break
            D += 1
            x = x[period:] - x[:-period]
        return D
    raise ValueError(f"unknown seasonal test '{test}' (valid: ocsb, strength)")


def grid_orders(max_p: int, max_q: int, d: int, seasonal: tuple[int, int] | None, D: int, period: int | None):
    """All (order, seasonal_order) pairs of the grid; seasonal = (max_P, max_Q) or None."""
    pq = list(itertools.product(range(max_p + 1), range(max_q + 1)))
    if seasonal is None:
        return [((p, d, q), (0, 0, 0, 0)) for p, q in pq]
    max_P, max_Q = seasonal[0], seasonal[1]
    return [
        ((p, d, q), (P, D, Q, period))
        for p, q in pq
        for P, Q in itertools.product(range(max_P + 1), range(max_Q + 1))
    ]


def criterion_value(res, criterion: str) -> float:
    return float({"aic": res.aic, "aicc": res.aicc, "bic": res.bic}[criterion])


def search(candidates, fit_one: Callable, criterion: str = "aic"):
    """Fit every candidate, return the best result and the table of tried orders.

    Parameters
    ----------
    candidates : list of (order, seasonal_order)
    fit_one : callable
        ``fit_one(order, seasonal_order) -> (results, converged, warnings)``; may raise.
    criterion : {"aic", "aicc", "bic"}

    Returns
    -------
    best : (results, converged, warnings, order, seasonal_order)
    table : list of dict
        One row per candidate: order, seasonal_order, criterion value (None if failed),
        converged, error.
    """
    table, fits = [], []
    for order, sorder in candidates:
        row = {"order": list(order), "seasonal_order": list(sorder), criterion: None,
               "converged": False, "error": None}
        try:
            res, converged, warns = fit_one(order, sorder)
            value = criterion_value(res, criterion)
            if not np.isfinite(value):
                raise ValueError(f"{criterion} is not finite")
            row.update({criterion: value, "converged": bool(converged)})
            fits.append((value, not converged, len(fits), (res, converged, warns, order, sorder)))
        except Exception as exc:  # a failing candidate drops out; the search goes on
            row["error"] = f"{type(exc).__name__}: {exc}"
        table.append(row)
    if not fits:
        errors = "; ".join(f"{r['order']}{r['seasonal_order']}: {r['error']}" for r in table[:5])
        raise RuntimeError(f"every candidate order failed to fit ({errors})")
    # converged fits first, then the criterion (the index breaks ties in grid order)
    best = min(fits, key=lambda f: (f[1], f[0], f[2]))
    return best[3], table


def stepwise_search(fit_one: Callable, criterion: str = "aic", *, d: int, max_p: int, max_q: int,
                    seasonal: tuple[int, int, int, int] | None = None,
                    fixed_seasonal: tuple[int, int, int, int] | None = None,
                    trends: list | tuple = (None,), max_fits: int = 100):
    """Hyndman & Khandakar's stepwise search (R's ``forecast::auto.arima(stepwise = TRUE)``).

    Starts from (2, d, 2)(1, D, 1), (0, d, 0)(0, D, 0), (1, d, 0)(1, D, 0), (0, d, 1)(0, D, 1)
    (orders capped at the maxima; the seasonal parts only when searching seasonally) fitted with
    ``trends[-1]``, plus the null model with each other trend (auto.arima's "null model without
    constant"). Then it fits every not yet tried neighbour of the current best model,
    p +- 1, q +- 1, (p, q) both +- 1, (p + 1, q - 1), (p - 1, q + 1), the same for (P, Q), and
    each other trend (the constant / drift toggle), and moves to
    the best of all fits while that improves the rank. Every (order, seasonal order, trend) is
    fitted at most once (cache), and at most `max_fits` are fitted in all.

    The rank is the one of `search`: converged fits first, then the criterion, then fitting
    order (so ties keep the earlier fit).

    Parameters
    ----------
    fit_one : callable
        ``fit_one(order, seasonal_order, trend) -> (results, converged, warnings)``; may raise.
    criterion : {"aic", "aicc", "bic"}
    d : int
    max_p, max_q : int
    seasonal : (max_P, max_Q, D, s) or None
        Search P, Q in [0, max_P] x [0, max_Q] with D and s fixed; None: no seasonal part.
    fixed_seasonal : (P, D, Q, s) or None
        A fixed seasonal order used by every candidate (only when `seasonal` is None).
    trends : sequence
        Trend values to choose from (one value: no toggling); the last one starts the search.

    Returns
    -------
    best : (results, converged, warnings, order, seasonal_order, trend)
    table : list of dict
        One row per fitted model in fitting order: order, seasonal_order, trend, criterion
        value (None if failed), converged, error.
    """
    trends = list(trends)
    max_P, max_Q = (seasonal[0], seasonal[1]) if seasonal is not None else (0, 0)

    def spec(key):
        p, q, P, Q, t = key
        if seasonal is not None:
            sorder = (P, seasonal[2], Q, seasonal[3])
        else:
            sorder = tuple(fixed_seasonal) if fixed_seasonal is not None else (0, 0, 0, 0)
        return (p, d, q), sorder, trends[t]

    table, fits, tried = [], {}, set()

    def try_fit(key):
        if key in tried or len(tried) >= max_fits:
            return
        tried.add(key)
        order, sorder, trend = spec(key)
        row = {"order": list(order), "seasonal_order": list(sorder), "trend": trend,
               criterion: None, "converged": False, "error": None}
        try:
            res, converged, warns = fit_one(order, sorder, trend)
            value = criterion_value(res, criterion)
            if not np.isfinite(value):
                raise ValueError(f"{criterion} is not finite")
            row.update({criterion: value, "converged": bool(converged)})
            fits[key] = ((not converged, value, len(table)), (res, converged, warns, order, sorder, trend))
        except Exception as exc:  # a failing candidate drops out; the search goes on
            row["error"] = f"{type(exc).__name__}: {exc}"
        table.append(row)

    t0 = len(trends) - 1
    seas = seasonal is not None
    starts = [
        (min(2, max_p), min(2, max_q), min(1, max_P), min(1, max_Q), t0),
        (0, 0, 0, 0, t0),
        (min(1, max_p), 0, min(1, max_P) if seas else 0, 0, t0),
        (0, min(1, max_q), 0, min(1, max_Q) if seas else 0, t0),
    ] + [(0, 0, 0, 0, t) for t in range(len(trends)) if t != t0]
    for key in starts:
        try_fit(key)

    def best_key():
        return min(fits, key=lambda k: fits[k][0]) if fits else None

    current = best_key()
    # as R's auto.arima (forecast >= 8): the cross moves (+1, -1), (-1, +1) too; without them a
    # search stuck at MA(1) never reaches an AR(2) two steps away
    moves = [(-1, 0), (1, 0), (0, -1), (0, 1), (-1, -1), (1, 1), (1, -1), (-1, 1)]
    while current is not None and len(tried) < max_fits:
        p, q, P, Q, t = current
        neighbours = [(p + a, q + b, P, Q, t) for a, b in moves]
        if seas:
            neighbours += [(p, q, P + a, Q + b, t) for a, b in moves]
        neighbours += [(p, q, P, Q, u) for u in range(len(trends)) if u != t]
        for key in neighbours:
            if 0 <= key[0] <= max_p and 0 <= key[1] <= max_q and 0 <= key[2] <= max_P and 0 <= key[3] <= max_Q:
                try_fit(key)
        new = best_key()
        if new == current:
            break
        current = new
    if not fits:
        errors = "; ".join(f"{r['order']}{r['seasonal_order']}: {r['error']}" for r in table[:5])
        raise RuntimeError(f"every candidate order failed to fit ({errors})")
    return fits[current][1], table
