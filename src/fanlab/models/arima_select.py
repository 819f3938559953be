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

Under ``approximation`` the stepwise candidates are fitted by `css_fit` (conditional sum of
squares on the differenced series, as auto.arima ranks them when approximating) and only the
chosen order by exact maximum likelihood.
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
                # forecast::ndiffs' bandwidth, trunc(3 sqrt(n) / 13) (it overrides urca's "short"
                # trunc(4 (n / 100)^(1/4)), which this used before): fewer lags on short series, so
                # the yearly M3 series are differenced as often as R differences them
                nlags = int(3 * np.sqrt(x.size) / 13)
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
    # as forecast::auto.arima: no seasonal difference for a series of at most two periods
    if max_D < 1 or period < 2 or x.size <= 2 * period or np.ptp(x) == 0:
        return 0
    if test == "ocsb":
        from pmdarima.arima import nsdiffs  # heavy import (scikit-learn), only when asked

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return int(nsdiffs(x, m=period, max_D=max_D, test="ocsb"))
    if test == "strength":
        from statsmodels.tsa.seasonal import STL

        D = 0
        while D < max_D and x.size > 2 * period:
            # seasonal window 11: forecast::mstl's first (7 + 4 i) on a series of one period
            fit = STL(x, period=period, seasonal=11, robust=False).fit()
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
                    trends: list | tuple = (None,), max_fits: int = 100, max_order: int | None = None):
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
    max_order : int or None
        Neighbours with p + q + P + Q above it are not fitted (auto.arima's max.order; the
        start models are fitted regardless, as there).

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
            if 0 <= key[0] <= max_p and 0 <= key[1] <= max_q and 0 <= key[2] <= max_P and 0 <= key[3] <= max_Q \
                    and (max_order is None or sum(key[:4]) <= max_order):
                try_fit(key)
        new = best_key()
        if new == current:
            break
        current = new
    if not fits:
        errors = "; ".join(f"{r['order']}{r['seasonal_order']}: {r['error']}" for r in table[:5])
        raise RuntimeError(f"every candidate order failed to fit ({errors})")
    return fits[current][1], table


# ---- conditional sum of squares (the search fits of `approximation`) --------------------------


def _expand(coefs, seasonal_coefs, s: int, sign: float) -> np.ndarray:
    """Coefficients of (1 + sign sum c_i B^i)(1 + sign sum C_j B^(js)) from power 0 upward."""
    a = np.zeros(len(coefs) + 1)
    a[0] = 1.0
    a[1:] = sign * np.asarray(coefs, dtype=float)
    if len(seasonal_coefs) == 0:
        return a
    b = np.zeros(len(seasonal_coefs) * s + 1)
    b[0] = 1.0
    b[s::s] = sign * np.asarray(seasonal_coefs, dtype=float)
    return np.convolve(a, b)


def difference(z: np.ndarray, d: int, D: int, s: int) -> np.ndarray:
    """(1 - B)^d (1 - B^s)^D z (shorter by d + D s)."""
    w = np.asarray(z, dtype=float)
    for _ in range(D):
        w = w[s:] - w[:-s]
    for _ in range(d):
        w = np.diff(w)
    return w


def _min_root(poly: np.ndarray) -> float:
    """Smallest modulus of the roots of the polynomial 1 + poly[1] B + ... (inf if constant)."""
    nz = np.flatnonzero(np.abs(poly) > 0)
    if nz[-1] == 0:
        return np.inf
    return float(np.min(np.abs(np.roots(poly[: nz[-1] + 1][::-1]))))


def css_fit(z: np.ndarray, order, seasonal_order, mean: bool, maxiter: int = 50, presample: str = "zero",
            min_root: float = 1.0, _problem: bool = False):
    """ARIMA(p, d, q)(P, D, Q)s by (conditional) sum of squares: the search fits of `approximation`.

    The series is differenced d and D times; with `mean` the differenced series w has a constant
    mean mu (an intercept when d + D = 0, a drift when d + D = 1). The residuals solve
    theta(B) Theta(B^s) e_t = phi(B) Phi(B^s) (w_t - mu) with e_t = 0 before the first one, and
    the estimate minimises sum e_t^2 by Levenberg-Marquardt (MINPACK) with the exact Jacobian
    (the same filters applied to the derivative polynomials), from zero ARMA coefficients and
    mu = mean(w). The coefficients are optimised through statsmodels' map onto the stationary
    (AR) and invertible (MA) region of each polynomial, as its exact fits are, so an AR estimate
    near a unit root stays a valid candidate instead of an explosive one.

    presample : {"zero", "conditional"}
        "zero" (default): the values before w_0 are taken at the mean, so residuals run over all
        n = len(w) values for every candidate and their sums of squares compare like for like.
        "conditional": R's CSS, residuals from t = p + P s on only (conditioning on the first
        p + P s values). On the M3 sample of benchmarks/arima_m3.py the conditional form picked
        the exact search's order far less often: with P = 2 on 50 monthly points it compares
        sums over 26 values against sums over 50.
    min_root : float
        A fit with an AR or MA root of modulus below this is refused (ValueError), as auto.arima
        refuses such candidates (it uses 1.01).

    The criterion values are those of the Gaussian likelihood at the estimates with
    sigma2 = sum e_t^2 / (number of residuals), n (log(2 pi sigma2) + 1) + penalty, over the n
    differenced values with k = coefficients + 1 (sigma2) parameters: comparable between the
    candidates of one d, D, not with exact-likelihood AICs.

    Returns
    -------
    types.SimpleNamespace with aic, aicc, bic, llf, params (mu first when `mean`, then ar, ma,
    sar, sma, sigma2; statsmodels' signs), sigma2, converged, nfev. With `_problem` (for tests):
    (residuals(theta), jacobian(theta), k) on the standardised series instead.
    """
    import types

    from scipy.optimize import least_squares
    from scipy.signal import lfilter
    from statsmodels.tsa.statespace.tools import constrain_stationary_univariate

    p, d, q = (int(v) for v in order)
    P, D, Q, s = (int(v) for v in seasonal_order)
    if P == 0 and Q == 0:
        s = max(s, 1)
    w = difference(z, d, D, s)
    n = w.size
    ncond = p + P * s
    k = int(mean) + p + q + P + Q
    if n - (0 if presample == "zero" else ncond) < max(k + 2, 3):
        raise ValueError(f"too few values for CSS: {n} differenced, {ncond} conditioned on, {k} coefficients")
    mu0 = float(np.mean(w)) if mean else 0.0
    # scale the series so the optimiser's tolerances mean the same on any data
    scale = float(np.std(w)) or 1.0

    i0 = int(mean)

    def split(theta):
        return (theta[0] if mean else 0.0, theta[i0 : i0 + p], theta[i0 + p : i0 + p + q],
                theta[i0 + p + q : i0 + p + q + P], theta[i0 + p + q + P :])

    def unpack(theta):
        mu, ar, ma, sar, sma = split(theta)
        return mu, _expand(ar, sar, s, -1.0), _expand(ma, sma, s, 1.0)

    ws = (w - mu0) / scale
    # presample "zero": the values before the first one are at the mean (deviation 0), so every
    # candidate's residuals cover all n differenced values; "conditional": R's CSS, residuals
    # from t = p + P s on only
    pad = ncond if presample == "zero" else 0
    on = np.r_[np.zeros(pad), np.ones(n)]

    def deviations(mu):
        return np.r_[np.zeros(pad), ws - mu]

    def residuals(theta):
        mu, a, b = unpack(theta)
        u = deviations(mu)
        # the AR side for t >= ncond (valid part of the convolution), then 1 / MA with e_t = 0 before
        ar_side = np.convolve(u, a, mode="valid") if a.size > 1 else u
        return lfilter([1.0], b, ar_side) if b.size > 1 else ar_side

    def lag_matrix(v, width):
        # row t (t = 0..v.size - width): v[t + width - 1], v[t + width - 2], ..., v[t]
        return np.lib.stride_tricks.sliding_window_view(v, width)[:, ::-1]

    def jacobian(theta):
        # d e / d theta by one filter: an AR-side coefficient c moves the AR side by
        # (d a / d c)(B) u, an MA-side one moves b(B) e by -(d b / d c)(B) e; both then / b(B)
        mu, ar, ma, sar, sma = split(theta)
        sar_poly, sma_poly = _expand([], sar, s, -1.0), _expand([], sma, s, 1.0)
        ar_poly, ma_poly = _expand(ar, [], s, -1.0), _expand(ma, [], s, 1.0)
        a, b = np.convolve(ar_poly, sar_poly), np.convolve(ma_poly, sma_poly)
        e = residuals(theta)
        cols = []
        if mean:
            cols.append(-(lag_matrix(on, a.size) @ a)[:, None])
        if p + P:
            # rows: d a / d phi_j = -B^j Phi(B^s), d a / d Phi_j = -phi(B) B^(js), as coefficient vectors
            da = np.zeros((a.size, p + P))
            for j in range(1, p + 1):
                da[j : j + sar_poly.size, j - 1] = -sar_poly
            for j in range(1, P + 1):
                da[j * s : j * s + ar_poly.size, p + j - 1] = -ar_poly
            cols.append(lag_matrix(deviations(mu), a.size) @ da)
        if q + Q:
            db = np.zeros((b.size, q + Q))
            for j in range(1, q + 1):
                db[j : j + sma_poly.size, j - 1] = sma_poly
            for j in range(1, Q + 1):
                db[j * s : j * s + ma_poly.size, q + j - 1] = ma_poly
            # e_t = 0 before the first residual
            cols.append(-(lag_matrix(np.r_[np.zeros(b.size - 1), e], b.size) @ db))
        m = np.hstack(cols)  # columns mu, ar, sar, ma, sma: to the order of theta (mu, ar, ma, sar, sma)
        i = int(mean)
        m = m[:, np.r_[0:i + p, i + p + P:i + p + P + q, i + p:i + p + P, i + p + P + q:k]]
        jac = lfilter([1.0], b, m, axis=0) if b.size > 1 else m
        return np.where(np.isfinite(jac), np.clip(jac, -1e8, 1e8), 0.0)

    if _problem:
        return residuals, jacobian, k
    # the optimiser works on unconstrained values mapped into the stationary (AR) and invertible
    # (MA) regions of each polynomial, as statsmodels' SARIMAX does for its exact fits
    groups = [(i0, p, 1.0), (i0 + p, q, -1.0), (i0 + p + q, P, 1.0), (i0 + p + q + P, Q, -1.0)]
    groups = [(g0, m, sign) for g0, m, sign in groups if m]

    def constrain(x):
        theta = np.array(x, dtype=float)
        for g0, m, sign in groups:
            theta[g0 : g0 + m] = sign * constrain_stationary_univariate(x[g0 : g0 + m])
        return theta

    def constrain_jac(x, theta):  # d theta / d x, block diagonal, by forward differences
        t = np.eye(k)
        for g0, m, sign in groups:
            for j in range(m):
                xj = np.array(x[g0 : g0 + m], dtype=float)
                h = 1e-7 * max(1.0, abs(xj[j]))
                xj[j] += h
                t[g0 : g0 + m, g0 + j] = (sign * constrain_stationary_univariate(xj) - theta[g0 : g0 + m]) / h
        return t

    def f_x(x):  # a huge finite value where the MA filter explodes keeps LM going
        e = residuals(constrain(x))
        return np.where(np.isfinite(e), np.clip(e, -1e8, 1e8), 1e8)

    def jac_x(x):
        theta = constrain(x)
        return jacobian(theta) @ constrain_jac(x, theta)

    x0 = np.zeros(k)
    if k:
        opt = least_squares(f_x, x0, jac=jac_x, method="lm", xtol=1e-4, ftol=1e-4, max_nfev=maxiter)
        theta, converged, nfev = constrain(opt.x), bool(opt.status > 0), int(opt.nfev)
    else:
        theta, converged, nfev = x0, True, 1
    e = residuals(theta)
    sigma2 = float(np.dot(e, e) / e.size) * scale**2
    if not np.isfinite(sigma2) or sigma2 <= 0:
        raise ValueError("non-finite or zero CSS residual variance")
    _, a, b = unpack(theta)
    if _min_root(a) < min_root or _min_root(b) < min_root:
        raise ValueError(f"CSS estimate has an AR or MA root inside |z| < {min_root}")
    npar = k + 1
    llf = -0.5 * n * (np.log(2 * np.pi * sigma2) + 1.0)
    aic = -2.0 * llf + 2.0 * npar
    aicc = aic + 2.0 * npar * (npar + 1) / (n - npar - 1) if n - npar - 1 > 0 else np.inf
    bic = -2.0 * llf + np.log(n) * npar
    params = np.r_[theta, sigma2]
    if mean:
        params[0] = mu0 + scale * theta[0]
    return types.SimpleNamespace(aic=aic, aicc=aicc, bic=bic, llf=llf, params=params, sigma2=sigma2,
                                 converged=converged, nfev=nfev, mle_retvals={"converged": converged})
