"""Sanity checks of a fitted ARIMA model, before it forecasts anything.

A statsmodels fit can return finite numbers that are no model: a likelihood that has broken
down (the innovation variances F_t of the Kalman filter fall below the innovation variance
sigma2, which no ARIMA model allows, so the log-likelihood and the AIC come out hundreds of
units too good), a variance of zero (bands of zero width), or roots on the unit circle (R's
auto.arima refuses candidates with a root of modulus below 1.01: their likelihood surface is
flat and their bands unreliable). `problems` lists what is wrong with a fit; an empty list
means it may forecast. `r_sigma2` is the innovation variance as R's `forecast::Arima` reports
it (the residuals' sum of squares over the residual degrees of freedom), which its intervals
use.

The checks, each a property every sane Gaussian ARIMA fit has:

- finite parameters and log-likelihood;
- sigma2 > 0 and not negligible against the series' own scale (a relative 1e-6 of the
  standard deviation of the differenced training series: below it every band is a point);
- F_t >= sigma2 for every t after the diffuse burn-in: y_t carries the new shock e_t with
  coefficient one, so its one-step variance cannot be below the shock's;
- the log-likelihood agrees with the exact likelihood of the same parameters computed without
  the state space filter (`exact_loglike`), within `LLF_TOL_ABS` + `LLF_TOL_REL` |llf|;
- mean(v_t^2 / F_t) within [1/4, 4] of one: at the maximum of the likelihood in sigma2 it is
  exactly one, so a fit far from it is not a maximum of its own likelihood;
- (search candidates only, as R) no AR or MA root of modulus below `MIN_ROOT`.
"""

from __future__ import annotations

import numpy as np

#: auto.arima's refusal threshold for AR and MA roots (forecast's myarima: 1 + 1e-2).
MIN_ROOT = 1.01
#: sigma's floor relative to the differenced training series' standard deviation.
MIN_RELATIVE_SIGMA = 1e-6
#: mean(v^2 / F) of a maximum-likelihood fit is one; outside [1 / r, r] the fit is not one.
VARIANCE_RATIO = 4.0
#: statsmodels' likelihood of an integrated model starts from an approximately diffuse state, so
#: it differs from the exact likelihood of the differenced series by a few units (0.1-4 on M3
#: monthly fits); a broken one differs by hundreds.
LLF_TOL_ABS, LLF_TOL_REL = 10.0, 0.02


def innovations(res) -> tuple[np.ndarray, np.ndarray]:
    """One-step forecast errors v_t and their variances F_t after the diffuse burn-in, (n,) each."""
    fr = res.filter_results
    burn = int(res.loglikelihood_burn)
    v = np.asarray(fr.forecasts_error[0], dtype=float)[burn:]
    F = np.asarray(fr.forecasts_error_cov[0, 0], dtype=float)[burn:]
    keep = np.isfinite(v)  # missing observations give no innovation
    return v[keep], F[keep]


def sigma2_of(res) -> float:
    names = list(res.model.param_names)
    if "sigma2" in names:
        return float(np.asarray(res.params)[names.index("sigma2")])
    return float(res.scale)


def min_root(res) -> float:
    """Smallest modulus of the AR and MA roots of the reduced (seasonal x non-seasonal)
    polynomials; inf for a model without either."""
    roots = np.concatenate([np.atleast_1d(res.arroots), np.atleast_1d(res.maroots)])
    roots = roots[np.isfinite(roots)]
    return float(np.min(np.abs(roots))) if roots.size else np.inf


def problems(res, z: np.ndarray, d: int, D: int, s: int, *, check_roots: bool = False) -> list[str]:
    """What makes the fit `res` of `z` (the training block on the model's scale) unusable.

    Parameters
    ----------
    res : statsmodels ARIMAResults
    z : (N,) the series the model was fitted to
    d, D, s : the differencing of the model (to scale the variance floor)
    check_roots : also refuse AR / MA roots of modulus below `MIN_ROOT` (a search candidate)

    Returns
    -------
    list of str, empty when the fit is sane
    """
    out: list[str] = []
    params = np.asarray(res.params, dtype=float)
    if not (np.all(np.isfinite(params)) and np.isfinite(res.llf)):
        return ["non-finite parameters or log-likelihood"]
    sigma2 = sigma2_of(res)
    w = np.asarray(z, dtype=float)
    for _ in range(D):
        w = w[s:] - w[:-s]
    for _ in range(d):
        w = np.diff(w)
    w = w[np.isfinite(w)]
    spread = float(np.std(w)) if w.size > 1 else 0.0
    if not sigma2 > 0:
        return [f"innovation variance sigma2 = {sigma2:.3g} is not positive"]
    if spread > 0 and np.sqrt(sigma2) < MIN_RELATIVE_SIGMA * spread:
        out.append(f"innovation sd {np.sqrt(sigma2):.3g} is negligible against the differenced series' "
                   f"sd {spread:.3g}: every band would be a point")
    v, F = innovations(res)
    if v.size == 0:
        return out + ["the filter gave no innovations after its burn-in"]
    if not np.all(np.isfinite(F)) or np.min(F) < sigma2 * (1 - 1e-6):
        out.append(f"broken likelihood: one-step variance F_t falls to {np.nanmin(F) / sigma2:.3g} x sigma2 "
                   "(an ARIMA model has F_t >= sigma2)")
    else:
        ratio = float(np.mean(v**2 / F))
        if not 1 / VARIANCE_RATIO <= ratio <= VARIANCE_RATIO:
            out.append(f"sigma2 = {sigma2:.4g} is inconsistent with the residuals (mean v^2 / F = {ratio:.3g}, "
                       "1 at a likelihood maximum)")
    exact = exact_loglike(res, z, d, D, s)
    if exact is not None and abs(exact - float(res.llf)) > LLF_TOL_ABS + LLF_TOL_REL * abs(exact):
        out.append(f"broken likelihood: statsmodels' log-likelihood {float(res.llf):.6g} against {exact:.6g} "
                   "for the same parameters by the innovations algorithm on the differenced series")
    root = root_problem(res) if check_roots else None
    return out + [root] if root else out


def root_problem(res) -> str | None:
    """R's root rule: what is wrong with a fit whose AR or MA root lies within `MIN_ROOT`, else None."""
    r = min_root(res)
    if r < MIN_ROOT:
        return f"a root of modulus {r:.4f} < {MIN_ROOT} (on the edge of stationarity or invertibility)"
    return None


def exact_loglike(res, z: np.ndarray, d: int, D: int, s: int) -> float | None:
    """The Gaussian log-likelihood of the fit's parameters computed independently of the state
    space filter: the regression part (trend, exogenous terms) removed, the errors differenced
    d and D times, and the exact ARMA likelihood of what remains by the innovations algorithm
    (statsmodels' `arma_loglike`) with the reduced AR and MA polynomials. None where the
    series has missing values."""
    from statsmodels.tsa.innovations.arma_innovations import arma_loglike

    model = res.model
    params = np.asarray(res.params, dtype=float)
    k = 0 if model.exog is None else model.exog.shape[1]
    w = np.asarray(z, dtype=float) - (model.exog @ params[:k] if k else 0.0)
    for _ in range(D):
        w = w[s:] - w[:-s]
    for _ in range(d):
        w = np.diff(w)
    if w.size < 2 or not np.all(np.isfinite(w)):
        return None
    ar = -np.asarray(res.polynomial_reduced_ar, dtype=float)[1:]
    ma = np.asarray(res.polynomial_reduced_ma, dtype=float)[1:]
    try:
        with np.errstate(all="ignore"):
            value = float(arma_loglike(w, ar_params=ar if ar.size else None, ma_params=ma if ma.size else None,
                                       sigma2=sigma2_of(res)))
    except Exception:  # the recursion itself failed (e.g. a non-stationary AR): nothing to compare
        return None
    return value if np.isfinite(value) else None


def r_sigma2(res) -> float:
    """R's innovation variance: sum of squared standardised residuals after the diffuse burn-in
    over (n* - k + 1), n* the differenced length and k the estimated coefficients plus one
    (forecast::Arima and auto.arima: ``sum(residuals^2) / (nstar - npar + 1)``)."""
    v, F = innovations(res)
    sigma2 = sigma2_of(res)
    npar = len(res.params)  # statsmodels counts sigma2 among them, R's npar adds it as one
    nstar = v.size
    dof = nstar - npar + 1
    if dof < 1:
        return sigma2
    return sigma2 * float(np.sum(v**2 / F)) / dof
