"""Stepwise auto ARIMA (Hyndman & Khandakar): search mechanics, true orders, seasonal default."""

import collections
import types

import numpy as np
import pytest
from statsmodels.tsa.arima_process import arma_generate_sample

from fanlab.models import arima_select as sel
from fanlab.models.arima import ARIMAForecaster


def arma(n, ar=(), ma=(), seed=0):
    rng = np.random.default_rng(seed)
    return arma_generate_sample(np.r_[1, -np.asarray(ar)], np.r_[1, ma], n, distrvs=rng.standard_normal, burnin=300)


def seasonal_series(n=240, period=12, theta=0.5, phi=0.5, seed=3):
    """(1 - phi B)(1 - B^s) y = (1 + theta B^s) e: a seasonal unit root with a seasonal MA."""
    rng = np.random.default_rng(seed)
    e = rng.standard_normal(n + period)
    w = e[period:] + theta * e[:-period]  # seasonal MA(1)
    u = np.zeros(n)
    for t in range(n):
        u[t] = (phi * u[t - 1] if t else 0.0) + w[t]
    y = np.zeros(n)
    for t in range(n):
        y[t] = (y[t - period] if t >= period else 0.0) + u[t]
    return 10.0 + y


class CountingForecaster(ARIMAForecaster):
    """Records every (order, seasonal order, trend) actually fitted."""

    def _fit_one(self, z, x, order, sorder, start_params=None, trend="default", approx=False, **kw):
        self.calls = getattr(self, "calls", []) + [(tuple(order), tuple(sorder), trend)]
        return super()._fit_one(z, x, order, sorder, start_params, trend, approx, **kw)


# --- mechanics on a fake criterion surface (no fitting) -----------------------------------


def fake_fit(surface, converged=lambda o, so, t: True):
    calls = []

    def fit_one(order, sorder, trend):
        calls.append((order, sorder, trend))
        aic = surface(order, sorder, trend)
        if aic is None:
            raise ValueError("boom")
        res = types.SimpleNamespace(aic=aic, aicc=aic, bic=aic)
        return res, converged(order, sorder, trend), []

    return fit_one, calls


def test_stepwise_descends_to_the_minimum_of_a_convex_surface_fitting_each_model_once():
    # minimum at p=4, q=1, P=0, Q=2, trend 'n'; the start models are far from it
    surface = lambda o, so, t: (o[0] - 4) ** 2 + (o[2] - 1) ** 2 + so[0] ** 2 + (so[2] - 2) ** 2 + (t == "t")
    fit_one, calls = fake_fit(surface)
    best, table = sel.stepwise_search(fit_one, "aic", d=1, max_p=5, max_q=5, seasonal=(2, 2, 0, 12),
                                      trends=["n", "t"])
    assert best[3:] == ((4, 1, 1), (0, 0, 2, 12), "n")
    assert len(calls) == len(set(calls)) == len(table)  # the cache: nothing fitted twice
    assert len(table) < 6 * 6 * 3 * 3 * 2
    # the start models of auto.arima come first, with the drift, then the null model without
    assert calls[:5] == [((2, 1, 2), (1, 0, 1, 12), "t"), ((0, 1, 0), (0, 0, 0, 12), "t"),
                         ((1, 1, 0), (1, 0, 0, 12), "t"), ((0, 1, 1), (0, 0, 1, 12), "t"),
                         ((0, 1, 0), (0, 0, 0, 12), "n")]
    # every fitted order is inside the grid's bounds
    assert all(o[0] <= 5 and o[2] <= 5 and so[0] <= 2 and so[2] <= 2 for o, so, _ in calls)


def test_stepwise_prefers_converged_fits_and_survives_failures():
    surface = lambda o, so, t: None if o == (2, 0, 2) else float(o[0] + o[2])  # (2, 0, 2) fails
    fit_one, calls = fake_fit(surface, converged=lambda o, so, t: o != (0, 0, 0))
    best, table = sel.stepwise_search(fit_one, "aic", d=0, max_p=3, max_q=3)
    # (0, 0, 0) has the lowest criterion but did not converge; the next best converged wins
    assert best[3] in {(1, 0, 0), (0, 0, 1)} and best[1] is True
    assert sum(r["error"] is not None for r in table) == 1
    assert len(calls) == len(set(calls))
    with pytest.raises(RuntimeError, match="every candidate order failed"):
        sel.stepwise_search(fake_fit(lambda o, so, t: None)[0], "aic", d=0, max_p=2, max_q=2)


# --- real fits ------------------------------------------------------------------------------


def test_stepwise_finds_the_true_arma11_with_fewer_fits_than_the_36_candidate_grid():
    y = arma(600, ar=(0.6,), ma=(0.4,), seed=1)
    grid = {"max_p": 5, "max_q": 5, "max_order": 10}
    # approximation: false, the exact search (the default would rank by CSS above 150 points)
    step = CountingForecaster({"order": "auto", "grid": grid, "trend": "c", "approximation": False}).fit(y, 600)
    full = ARIMAForecaster({"order": "auto", "grid": grid, "search": "grid", "trend": "c"}).fit(y, 600)
    s_sel, g_sel = step.info_["selection"], full.info_["selection"]
    assert s_sel["search"] == "stepwise" and g_sel["search"] == "grid"
    assert g_sel["n_candidates"] == 36
    assert s_sel["n_candidates"] < 36
    assert len(step.calls) == len(set(step.calls)) == s_sel["n_candidates"]
    assert tuple(step.order_) == (1, 0, 1) == tuple(full.order_)
    assert step.info_["aic"] == pytest.approx(full.info_["aic"], rel=1e-9)


def test_stepwise_bic_finds_the_true_ar2_and_aic_is_never_below_the_grid_minimum():
    # stepwise visits a subset of the grid, so its optimum cannot beat the grid's; it is a local
    # search, so it may stop above it (here AIC: stepwise (2, 0, 2), grid (2, 0, 0), 0.8 apart)
    y = arma(600, ar=(1.0, -0.5), seed=2)
    grid = {"max_p": 3, "max_q": 3, "criterion": "aic"}
    step = ARIMAForecaster({"order": "auto", "grid": {**grid, "criterion": "bic"}, "approximation": False}).fit(y, 600)
    assert tuple(step.order_) == (2, 0, 0)
    step_aic = ARIMAForecaster({"order": "auto", "grid": grid, "approximation": False}).fit(y, 600)
    full_aic = ARIMAForecaster({"order": "auto", "grid": grid, "search": "grid"}).fit(y, 600)
    assert step_aic.info_["aic"] >= full_aic.info_["aic"] - 1e-6
    assert step_aic.info_["aic"] - full_aic.info_["aic"] < 2.0  # within one parameter's penalty
    fitted = {(tuple(r["order"]), tuple(r["seasonal_order"])) for r in step_aic.info_["selection"]["table"]}
    grid_set = {(tuple(r["order"]), tuple(r["seasonal_order"])) for r in full_aic.info_["selection"]["table"]}
    assert fitted <= grid_set


def test_drift_toggle_fits_nothing_twice():
    rng = np.random.default_rng(11)
    y = np.cumsum(0.5 + rng.normal(size=500))
    f = CountingForecaster({"order": "auto", "grid": {"max_p": 2, "max_q": 2}, "approximation": False}).fit(y, 500)
    assert f.info_["order"][1] == 1 and f.info_["trend"] == "t"
    assert len(f.calls) == len(set(f.calls)) == f.info_["selection"]["n_candidates"]
    assert {c[2] for c in f.calls} == {"n", "t"}


def test_seasonal_default_picks_D1_and_a_seasonal_order():
    y = seasonal_series()
    # (1 - 0.5 B)(1 - B^12) y = (1 + 0.5 B^12) e, n = 240 (20 years)
    grid = {"max_p": 1, "max_q": 1, "max_P": 1, "max_Q": 1}
    f = CountingForecaster({"order": "auto", "grid": grid}, period=12).fit(y, y.size)
    s = f.info_["selection"]
    assert s["D"] == 1 and s["seasonal_test"] == "strength" and s["seasonal_period"] == 12
    P, D, Q, m = f.info_["seasonal_order"]
    assert D == 1 and m == 12 and P + Q > 0
    assert f.info_["seasonal_order"] == [0, 1, 1, 12] and f.info_["order"] == [1, 0, 0]  # the true model
    assert len(f.calls) == len(set(f.calls))
    # grid.seasonal: false keeps it non-seasonal
    g = ARIMAForecaster({"order": "auto", "grid": {"max_p": 1, "max_q": 1, "seasonal": False}}, period=12).fit(y, y.size)
    assert g.info_["seasonal_order"] == [0, 0, 0, 0] and g.info_["selection"]["seasonal_period"] is None


def test_long_period_stays_non_seasonal():
    y = arma(300, ar=(0.5,), seed=4)
    f = ARIMAForecaster({"order": "auto", "grid": {"max_p": 1, "max_q": 1}}, period=52).fit(y, 300)
    assert f.info_["selection"]["seasonal_period"] is None
    assert all(r["seasonal_order"] == [0, 0, 0, 0] for r in f.info_["selection"]["table"])


def test_approximation_ranks_loosely_then_fits_the_chosen_order_exactly():
    y = seasonal_series(n=150)
    exact = ARIMAForecaster({"order": "auto"}, period=12).fit(y, 150)
    approx = ARIMAForecaster({"order": "auto", "approximation": True}, period=12).fit(y, 150)
    order, sorder = tuple(approx.info_["order"]), tuple(approx.info_["seasonal_order"])
    # the final model is an exact fit of the order it chose: the same likelihood as fitting it directly
    direct = ARIMAForecaster({"order": list(order), "seasonal_order": list(sorder),
                              "trend": approx.info_["trend"]}, period=12).fit(y, 150)
    assert approx.info_["llf"] == pytest.approx(direct.info_["llf"], abs=1e-6)
    # the search fits were loose: their criterion values differ from exact ones of the same models
    assert approx.info_["selection"]["table"] != exact.info_["selection"]["table"]
    assert sorder[1] == exact.info_["seasonal_order"][1]  # the seasonal difference is a test, not a fit


# --- approximation: CSS search fits -----------------------------------------------------------


@pytest.mark.parametrize("presample", ["zero", "conditional"])
@pytest.mark.parametrize("order, sorder, mean", [((2, 0, 1), (1, 0, 1, 12), True), ((1, 1, 2), (2, 1, 1, 12), False),
                                                 ((0, 0, 2), (0, 0, 2, 4), True), ((3, 0, 0), (0, 0, 0, 0), True)])
def test_css_jacobian_matches_finite_differences(order, sorder, mean, presample):
    rng = np.random.default_rng(0)
    z = np.cumsum(rng.normal(size=120)) + 3 * np.sin(np.arange(120) * 2 * np.pi / 12)
    residuals, jacobian, k = sel.css_fit(z, order, sorder, mean, presample=presample, _problem=True)
    theta = 0.2 * rng.normal(size=k)
    h = 1e-6
    numeric = np.column_stack([(residuals(theta + h * np.eye(k)[i]) - residuals(theta - h * np.eye(k)[i])) / (2 * h)
                               for i in range(k)])
    np.testing.assert_allclose(jacobian(theta), numeric, atol=1e-7)


def test_css_estimates_a_seasonal_arma_near_the_truth():
    y = seasonal_series(n=480, theta=0.5, phi=0.5, seed=5)  # (1 - 0.5 B)(1 - B^12) y = (1 + 0.5 B^12) e
    fit = sel.css_fit(y, (1, 0, 0), (0, 1, 1, 12), mean=False)
    ar, sma, sigma2 = fit.params
    assert ar == pytest.approx(0.5, abs=0.1) and sma == pytest.approx(0.5, abs=0.15)
    assert sigma2 == pytest.approx(1.0, rel=0.2) and fit.converged
    # a near-unit-root AR stays a stationary candidate (the optimiser works inside the region)
    walk = np.cumsum(np.random.default_rng(1).normal(size=200))
    near = sel.css_fit(walk, (1, 0, 0), (0, 0, 0, 0), mean=True)
    assert 0.8 < near.params[1] < 1.0


def test_approximation_fits_only_the_chosen_order_exactly():
    y = seasonal_series(n=150)
    f = CountingForecaster({"order": "auto", "approximation": True}, period=12).fit(y, 150)
    # every search candidate was a CSS fit: the one statsmodels fit is the chosen order's
    assert f.calls == [(tuple(f.order_), tuple(f.seasonal_order_), f.trend_)]
    assert f.info_["selection"]["n_candidates"] > 1 and f.info_["converged"]


def test_approximation_falls_back_to_the_next_candidate_when_the_exact_fit_fails():
    from fanlab.models.arima import ARIMAFitError

    y = seasonal_series(n=150)
    chosen = ARIMAForecaster({"order": "auto", "approximation": True}, period=12).fit(y, 150)
    bad = (tuple(chosen.order_), tuple(chosen.seasonal_order_))

    class Failing(CountingForecaster):
        def _fit_one(self, z, x, order, sorder, start_params=None, trend="default", approx=False, **kw):
            if (tuple(order), tuple(sorder)) == bad:
                raise ARIMAFitError("boom")
            return super()._fit_one(z, x, order, sorder, start_params, trend, approx, **kw)

    f = Failing({"order": "auto", "approximation": True}, period=12).fit(y, 150)
    assert (tuple(f.order_), tuple(f.seasonal_order_)) != bad
    assert any("boom" in w for w in f.info_["warnings"])
