"""ARIMA forecaster: analytic sd vs psi weights, causality, order selection, transforms, failures."""

import itertools
import json
import warnings

import numpy as np
import pytest
from scipy.special import inv_boxcox
from scipy.stats import binom, boxcox, norm
from statsmodels.tsa.arima.model import ARIMA
from statsmodels.tsa.arima_process import arma2ma, arma_generate_sample

from fanlab.data.series import Series
from fanlab.data.splits import Split
from fanlab.models.arima import ARIMAFitError, ARIMAForecaster
from fanlab.models.arima_params import ARIMAParams, fourier_terms
from fanlab.models.arima_select import n_diffs, n_seasonal_diffs
from fanlab.context import BuildContext
from fanlab.registry import build_method

PROBS = np.array([0.025, 0.1, 0.5, 0.9, 0.975])


def arma(n, ar=(0.5, -0.2), ma=(0.3,), seed=0, sigma=1.0):
    rng = np.random.default_rng(seed)
    return arma_generate_sample(np.r_[1, -np.asarray(ar)], np.r_[1, ma], n, scale=sigma,
                                distrvs=rng.standard_normal, burnin=300)


def fit(y, train_end=400, **params):
    return ARIMAForecaster(ARIMAParams(**params)).fit(y, train_end, seed=0)


# --- analytic intervals -------------------------------------------------------------------


@pytest.mark.parametrize("case", ["arma21", "arima110"])
def test_sd_matches_psi_weights_of_fitted_params(case):
    horizon = 60
    if case == "arma21":
        y, order = arma(800, seed=1), (2, 0, 1)
    else:
        y, order = np.cumsum(arma(800, ar=(0.6,), ma=(), seed=2)), (1, 1, 0)
    f = fit(y, 600, order=list(order), trend="n")
    prm = f.info_["params"]
    ar = np.array([prm[f"ar.L{i}"] for i in range(1, order[0] + 1)])
    ma = np.array([prm[f"ma.L{i}"] for i in range(1, order[2] + 1)])
    ar_poly = np.r_[1.0, -ar]
    for _ in range(order[1]):
        ar_poly = np.convolve(ar_poly, [1.0, -1.0])  # (1 - B)^d folded into the AR side
    psi = arma2ma(ar_poly, np.r_[1.0, ma], lags=horizon)
    # the band's variance is R's (residual sum of squares over n* - k + 1, forecast::Arima),
    # recomputed here from statsmodels' standardised residuals
    res = f.results_
    burn = res.loglikelihood_burn
    e = res.filter_results.standardized_forecasts_error[0, burn:] * np.sqrt(prm["sigma2"])
    sigma2_r = np.sum(e**2) / (e.size - len(res.params) + 1)
    assert f.info_["band_sigma2"] == pytest.approx(sigma2_r, rel=1e-9)
    assert 1.0 < sigma2_r / prm["sigma2"] < 1.02  # a few parameters on 600 points
    fc = f.predict(y, np.array([700, 739]), horizon, PROBS)
    for k in range(2):
        np.testing.assert_allclose(fc.sd[k], np.sqrt(sigma2_r * np.cumsum(psi**2)), rtol=1e-6)
    # variance: mle is statsmodels' sigma2 as it is
    mle = fit(y, 600, order=list(order), trend="n", variance="mle").predict(y, np.array([700]), horizon, PROBS)
    np.testing.assert_allclose(mle.sd[0], np.sqrt(prm["sigma2"] * np.cumsum(psi**2)), rtol=1e-6)
    # Gaussian quantiles at exactly the requested probabilities
    np.testing.assert_allclose(fc.quantile(0.975), fc.mean + norm.ppf(0.975) * fc.sd, rtol=1e-12)


@pytest.mark.parametrize("spec", [
    dict(order=[2, 0, 1], trend="c", fourier=[dict(period=24, k=2)]),
    dict(order=[1, 1, 1], seasonal_order=[1, 0, 0, 12], trend="t"),
])
def test_fit_once_equals_per_origin_get_forecast(spec):
    y = arma(600, seed=4) + 0.5 * np.sin(2 * np.pi * np.arange(600) / 24)
    if spec["order"][1]:
        y = np.cumsum(y)
    f = fit(y, 400, **spec)
    horizon, origins = 30, np.array([399, 450, 569])
    fc = f.predict(y, origins, horizon, PROBS)
    x = fourier_terms(len(y), f.params.fourier)
    for k, t in enumerate(origins):
        xt = None if x is None else x[: t + 1]
        xf = None if x is None else x[t + 1 : t + 1 + horizon]
        ref = f.results_.apply(y[: t + 1], exog=xt).get_forecast(horizon, exog=xf)
        np.testing.assert_allclose(fc.mean[k], ref.predicted_mean, rtol=1e-8, atol=1e-8)
        # the band's variance is R's (residual sum of squares over its degrees of freedom)
        np.testing.assert_allclose(fc.sd[k], np.sqrt(ref.var_pred_mean * f.var_scale_), rtol=1e-8)
    assert f.var_scale_ * f.info_["sigma2"] == pytest.approx(f.info_["band_sigma2"], rel=1e-12)
    info = json.loads(json.dumps(fc.info))  # plain JSON types only
    assert info["order"] == spec["order"] and info["converged"] is True
    assert info["aic"] == pytest.approx(float(f.results_.aic))


def test_refit_at_first_origin_matches_fit_once_and_moves_later():
    y = arma(700, seed=5)
    once = fit(y, 400, order=[2, 0, 1])
    refit = fit(y, 400, order=[2, 0, 1], refit=True)
    origins = np.array([399, 599])
    a, b = once.predict(y, origins, 20, PROBS), refit.predict(y, origins, 20, PROBS)
    # same data y[:400], started at the optimum: the refit lands on the same estimate
    np.testing.assert_allclose(b.sd[0], a.sd[0], rtol=1e-4)
    np.testing.assert_allclose(b.mean[0], a.mean[0], atol=1e-4)
    # 200 more points move the estimate: sigma changes by more than the tolerance above
    assert abs(b.sd[1, 0] / a.sd[1, 0] - 1) > 1e-3
    assert b.info["n_refits"] == 2


# --- no look-ahead ------------------------------------------------------------------------

LOOKAHEAD_SPECS = {
    "fixed": dict(order=[2, 0, 1]),
    "auto": dict(order="auto", grid=dict(max_p=2, max_q=1)),
    "log": dict(order=[1, 0, 0], transform="log"),
    "boxcox": dict(order=[1, 0, 0], transform="boxcox"),
    "fourier": dict(order=[1, 0, 0], fourier=[dict(period=24, k=3)]),
    "seasonal": dict(order=[1, 0, 0], seasonal_order=[1, 0, 0, 12]),
    "refit": dict(order=[1, 0, 0], refit=True),
}


@pytest.mark.parametrize("name", list(LOOKAHEAD_SPECS))
def test_no_lookahead(name):
    spec = LOOKAHEAD_SPECS[name]
    y = np.exp(0.3 * arma(400, seed=6)) + 1.0  # positive, for the transforms
    train_end, horizon = 250, 25
    origins = np.array([249, 300, 374])
    fc = fit(y, train_end, **spec).predict(y, origins, horizon, PROBS)
    rng = np.random.default_rng(0)
    for k, t in enumerate(origins):
        y2 = y.copy()
        y2[t + 1 :] *= np.exp(rng.standard_normal(y.size - t - 1))  # keeps values positive
        fc2 = fit(y2, train_end, **spec).predict(y2, origins[k : k + 1], horizon, PROBS)
        np.testing.assert_allclose(fc2.quantiles[0], fc.quantiles[k], rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(fc2.mean[0], fc.mean[k], rtol=1e-10, atol=1e-10)


def test_origin_inside_training_block_is_refused():
    y = arma(300)
    with pytest.raises(ValueError, match="inside the training block"):
        fit(y, 200, order=[1, 0, 0]).predict(y, np.array([150]), 10, PROBS)


# --- order selection ----------------------------------------------------------------------


def test_auto_order_is_the_grid_argmin_and_bic_finds_the_true_ar2():
    y = arma(1000, ar=(0.6, -0.3), ma=(), seed=7)
    aic, bic = {}, {}
    for p, q in itertools.product(range(3), range(3)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = ARIMA(y, order=(p, 0, q)).fit(cov_type="none")
        aic[(p, q)], bic[(p, q)] = r.aic, r.bic
    grid = dict(max_p=2, max_q=2, criterion="aic")
    # trend "c" as statsmodels' default here (the default None also tries the mean off, as R)
    f_aic = fit(y, 1000, order="auto", grid=grid, search="grid", trend="c")
    f_bic = fit(y, 1000, order="auto", grid={**grid, "criterion": "bic"}, search="grid", trend="c")
    assert f_aic.info_["selection"]["n_candidates"] == 9
    assert f_aic.info_["selection"]["d"] == 0  # KPSS keeps the stationary series undifferenced
    best_aic = min(aic, key=aic.get)
    assert tuple(f_aic.order_) == (best_aic[0], 0, best_aic[1])
    assert f_aic.info_["aic"] == pytest.approx(aic[best_aic], rel=1e-9)
    assert min(bic, key=bic.get) == (2, 0)
    assert tuple(f_bic.order_) == (2, 0, 0)


@pytest.mark.parametrize("test", ["kpss", "adf"])
def test_unit_root_tests_choose_d(test):
    rng = np.random.default_rng(8)
    e = rng.standard_normal(500)
    assert n_diffs(np.cumsum(e), test=test)[0] == 1
    assert n_diffs(e, test=test)[0] == 0
    assert n_diffs(np.cumsum(np.cumsum(e)), test=test)[0] == 2


@pytest.mark.parametrize("test", ["ocsb", "strength"])
def test_seasonal_differencing_choice(test):
    rng = np.random.default_rng(9)
    e = rng.standard_normal(480)
    seasonal_rw = np.zeros(480)
    for t in range(480):  # y_t = y_{t-12} + e_t: a seasonal unit root
        seasonal_rw[t] = (seasonal_rw[t - 12] if t >= 12 else 0.0) + e[t]
    assert n_seasonal_diffs(seasonal_rw, 12, test=test) == 1
    assert n_seasonal_diffs(e, 12, test=test) == 0


# --- transforms ---------------------------------------------------------------------------


def test_log_quantiles_are_exp_of_gaussian_quantiles():
    y = np.exp(0.5 * arma(500, seed=10))
    f_log = fit(y, 400, order=[2, 0, 1], transform="log")
    f_z = fit(np.log(y), 400, order=[2, 0, 1])
    origins = np.array([399, 450])
    a, b = f_log.predict(y, origins, 30, PROBS), f_z.predict(np.log(y), origins, 30, PROBS)
    assert a.sd is None
    np.testing.assert_allclose(a.quantiles, np.exp(b.quantiles), rtol=1e-9)
    np.testing.assert_allclose(a.mean, np.exp(b.mean), rtol=1e-9)  # the median
    np.testing.assert_allclose(a.mean, a.quantile(0.5), rtol=1e-12)
    adj = fit(y, 400, order=[2, 0, 1], transform="log", bias_adjust=True).predict(y, origins, 30, PROBS)
    np.testing.assert_allclose(adj.mean, np.exp(b.mean + b.sd**2 / 2), rtol=1e-9)  # log-normal mean


def test_boxcox_lambda_from_training_block_and_exact_back_transform():
    y = np.exp(0.5 * arma(500, seed=11)) + 2.0
    f = fit(y, 400, order=[1, 0, 0], transform="boxcox")
    lam = boxcox(y[:400])[1]
    assert f.info_["boxcox_lambda"] == pytest.approx(lam, rel=1e-9)
    z = boxcox(y, lam)
    b = fit(z, 400, order=[1, 0, 0]).predict(z, np.array([420]), 15, PROBS)
    a = f.predict(y, np.array([420]), 15, PROBS)
    np.testing.assert_allclose(a.quantiles, inv_boxcox(b.quantiles, lam), rtol=1e-7)


def test_transform_rejects_non_positive_training_values():
    y = arma(300)
    with pytest.raises(ValueError, match="positive values"):
        fit(y, 200, order=[1, 0, 0], transform="log")


# --- failures and convergence policy ------------------------------------------------------


def test_nonconvergence_warns_by_default_and_raises_when_strict():
    y = arma(400, seed=12)
    f = fit(y, 300, order=[2, 0, 1], maxiter=1)
    assert f.info_["converged"] is False
    assert any("ConvergenceWarning" in w for w in f.info_["warnings"])
    fc = f.predict(y, np.array([299]), 5, PROBS)
    assert fc.info["converged"] is False
    with pytest.raises(ARIMAFitError, match=r"\(2, 0, 1\).*did not converge"):
        fit(y, 300, order=[2, 0, 1], maxiter=1, strict=True)


def test_failing_fit_names_order_and_reason():
    y = np.cumsum(arma(300))
    # a constant is wiped out by differencing; statsmodels refuses the specification
    with pytest.raises(ARIMAFitError, match=r"ARIMA\(1, 1, 0\).*trend=c.*ValueError"):
        fit(y, 200, order=[1, 1, 0], trend="c")


def test_seasonal_period_auto_from_series():
    y = arma(300)
    series = Series("s", y, period=12)
    ctx = BuildContext(series=series, split=Split(300, 200, 200, 300), horizon=10, stride=1)
    f = build_method("arima", {"order": [1, 0, 0], "seasonal_order": [1, 0, 0, "auto"]}, ctx).fit(y, 200, 0)
    assert f.seasonal_order_ == (1, 0, 0, 12) and f.info_["seasonal_order"] == [1, 0, 0, 12]
    with pytest.raises(ValueError, match="no period"):
        fit(y, 200, order=[1, 0, 0], seasonal_order=[1, 0, 0, "auto"])


# --- coverage over replications -----------------------------------------------------------


@pytest.mark.slow
def test_coverage_95_true_order_arma21():
    """95% coverage at h = 1, 10, 50, 100 over R independent series, one origin each.

    Tolerance: exact binomial acceptance region, two-sided false-alarm 1% Bonferroni over the 4
    steps (independent series make the hits independent Bernoulli draws), plus a slack for
    parameter uncertainty. Estimated parameters inflate the h-step error variance by O(k / n)
    (k = 5 estimated parameters incl. constant and sigma^2, n = 500), which lowers the expected
    coverage by about 2 phi(z) z * k / (2 n) = 0.0011; the slack is three times that.
    """
    reps, n_train, horizon, steps = 1000, 500, 100, [1, 10, 50, 100]
    hits = np.zeros((reps, len(steps)), dtype=bool)
    for r in range(reps):
        y = arma(n_train + horizon, seed=10_000 + r)
        fc = fit(y, n_train, order=[2, 0, 1]).predict(y, np.array([n_train - 1]), horizon, np.array([0.025, 0.975]))
        lo_q, hi_q = fc.interval(0.95)
        idx = np.array(steps) - 1
        target = y[n_train - 1 + np.array(steps)]
        hits[r] = (lo_q[0, idx] <= target) & (target <= hi_q[0, idx])
    cover = hits.mean(axis=0)
    alpha = 0.01 / len(steps)  # two-sided false-alarm 1%, Bonferroni over the steps
    lo_n, hi_n = binom.ppf(alpha / 2, reps, 0.95), binom.isf(alpha / 2, reps, 0.95)
    zc = norm.ppf(0.975)
    slack = 3 * 2 * norm.pdf(zc) * zc * 5 / (2 * n_train)
    lo, hi = lo_n / reps - slack, hi_n / reps + slack
    print(f"\ncoverage at h={steps}: {np.round(cover, 4).tolist()} (accept [{lo:.4f}, {hi:.4f}])")
    assert np.all((cover >= lo) & (cover <= hi)), (cover, lo, hi)


def test_auto_order_adds_a_drift_to_a_trending_random_walk():
    # y_t = y_{t-1} + 0.5 + e_t: one difference leaves a mean of 0.5 that only a drift term carries
    from fanlab.models.arima import ARIMAForecaster

    rng = np.random.default_rng(11)
    y = np.cumsum(0.5 + rng.normal(size=700))
    model = ARIMAForecaster({"order": "auto", "grid": {"max_p": 1, "max_q": 1}}).fit(y, 500)
    assert model.info_["order"][1] == 1 and model.info_["trend"] == "t"
    drift = model.info_["params"]["x1"] if "x1" in model.info_["params"] else None
    assert drift is not None and abs(drift - 0.5) < 3 * 1 / np.sqrt(500)
    fc = model.predict(y, np.array([599]), 100, np.array([0.5]))
    # far out, the mean keeps climbing by the drift per step instead of levelling off
    slope = fc.mean[0, -1] - fc.mean[0, -2]
    assert abs(slope - drift) < 0.05 and fc.mean[0, -1] > y[599] + 40


# --- sigma2 concentrated out of the likelihood -------------------------------------------------


@pytest.mark.parametrize("order,sorder,trend", [((1, 0, 1), (0, 0, 0, 0), "c"), ((0, 1, 1), (1, 0, 0, 4), "t")])
def test_concentrated_fit_is_handed_on_as_the_full_model_at_its_maximum(order, sorder, trend):
    from fanlab.models.arima_fit import ml_fit

    y = arma(300, ar=(0.6,), ma=(0.3,), seed=11)
    z = y if order[1] == 0 else np.cumsum(y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = ml_fit(z, None, order, sorder, trend, None, None)
        plain = ARIMA(z, order=order, seasonal_order=sorder, trend=trend).fit(cov_type="none")
    # the full model (sigma2 a parameter): applying it to new data re-estimates nothing
    assert not res.model.concentrate_scale and res.model.param_names[-1] == "sigma2"
    assert res.llf == pytest.approx(res.model.loglike(res.params), abs=1e-9)
    assert res.mle_retvals["converged"]
    # sigma2 is at its maximum given the coefficients: mean(v^2 / F) = 1 over the innovations
    v = res.filter_results.forecasts_error[0][res.loglikelihood_burn:]
    F = res.filter_results.forecasts_error_cov[0, 0][res.loglikelihood_burn:]
    assert np.mean(v**2 / F) == pytest.approx(1.0, rel=1e-6)
    # the same maximum as the unconcentrated optimiser's (to its tolerance), never a worse one
    assert res.llf >= plain.llf - 1e-3 and res.llf - plain.llf < 0.05
    assert res.aicc == pytest.approx(plain.aicc - 2 * (res.llf - plain.llf), abs=1e-9)


def test_concentrated_fit_falls_back_to_the_full_model_where_it_raises(monkeypatch):
    from statsmodels.tsa.arima import model as sm_arima

    from fanlab.models.arima_fit import ml_fit

    real_fit = sm_arima.ARIMA.fit

    def failing(self, *a, **kw):
        if self.concentrate_scale:
            raise np.linalg.LinAlgError("LU decomposition error.")
        return real_fit(self, *a, **kw)

    monkeypatch.setattr(sm_arima.ARIMA, "fit", failing)
    y = arma(200, ar=(0.6,), ma=(), seed=12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = ml_fit(y, None, (1, 0, 0), (0, 0, 0, 0), "c", "zeros", None)
    assert not res.model.concentrate_scale and np.isfinite(res.llf)
    assert res.params[-1] > 0.5  # the innovation variance is 1
