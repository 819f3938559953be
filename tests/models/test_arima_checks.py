"""No degenerate ARIMA fit forecasts: the checks of fanlab.models.arima_checks and what the
forecaster does when one fires (drop a search candidate, refit a fixed order, fail the cell)."""

import warnings

import numpy as np
import pytest
from statsmodels.tsa.arima.model import ARIMA
from statsmodels.tsa.arima_process import arma_generate_sample

from fanlab.data.panels import CompetitionParams, load_competition
from fanlab.models import arima_checks as checks
from fanlab.models.arima import ARIMAForecaster, DegenerateFitError

PROBS = np.array([0.025, 0.5, 0.975])


def ar1(n=300, seed=0):
    rng = np.random.default_rng(seed)
    return arma_generate_sample([1, -0.7], [1], n, distrvs=rng.standard_normal, burnin=200)


def quiet_fit(y, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ARIMA(y, **kw).fit(cov_type="none")


def m3_monthly(name):
    s = load_competition("m3", CompetitionParams(subset="monthly", series=[name]))[0]
    return s.values, int(s.meta["n_train"])


def test_a_sane_fit_has_no_problems_and_its_likelihood_is_the_exact_one():
    y = ar1()
    res = quiet_fit(y, order=(1, 0, 0), trend="c")
    assert checks.problems(res, y, 0, 0, 0, check_roots=True) == []
    # stationary start: the filter's likelihood is exact, so the two agree to rounding
    assert checks.exact_loglike(res, y, 0, 0, 0) == pytest.approx(res.llf, abs=1e-8)
    z = np.cumsum(y)
    res1 = quiet_fit(z, order=(1, 1, 0), trend="t")
    assert checks.problems(res1, z, 1, 0, 0) == []
    assert abs(checks.exact_loglike(res1, z, 1, 0, 0) - res1.llf) < 1.0  # approximate diffuse start


def test_a_broken_likelihood_is_caught():
    # fault injection: the same fit reporting a log-likelihood 300 units too good (what the
    # issue saw: AIC 29 where the same orders with a drift scored 1179)
    y = ar1()
    res = quiet_fit(y, order=(1, 0, 0), trend="c")

    class Broken:
        def __getattr__(self, name):
            return getattr(res, name)
        llf = res.llf + 300.0

    found = checks.problems(Broken(), y, 0, 0, 0)
    assert len(found) == 1 and found[0].startswith("broken likelihood")


def test_a_variance_inconsistent_with_the_residuals_is_caught():
    y = ar1()
    model = ARIMA(y, order=(1, 0, 0), trend="c")
    good = quiet_fit(y, order=(1, 0, 0), trend="c")
    params = np.array(good.params)
    params[-1] *= 1e-3  # sigma2 a thousandth of the residuals' variance: bands 30x too narrow
    bad = model.filter(params)
    found = checks.problems(bad, y, 0, 0, 0)
    assert any("inconsistent with the residuals" in f for f in found)
    params[-1] = 0.0
    assert checks.problems(model.filter(params), y, 0, 0, 0)[0].startswith("innovation variance")


def test_a_root_on_the_unit_circle_fails_the_search_rule_only():
    # a real M3 monthly series where the seasonal MA root lands on the unit circle (|root| =
    # 1.00005): R's auto.arima refuses such a candidate; a user's fixed order may keep it
    y, n = m3_monthly("N1404")
    z = y[:n]
    res = quiet_fit(z, order=(1, 1, 1), seasonal_order=(0, 1, 1, 12), trend="n")
    assert checks.min_root(res) < checks.MIN_ROOT
    assert any("root of modulus" in f for f in checks.problems(res, z, 1, 1, 12, check_roots=True))
    assert checks.problems(res, z, 1, 1, 12) == []


@pytest.mark.parametrize("approximation", [False, True])
def test_the_search_drops_a_broken_candidate_and_the_band_is_sane(approximation):
    y = ar1(400, seed=3)
    params = {"order": "auto", "approximation": approximation}
    clean = ARIMAForecaster(params).fit(y, 400)
    chosen = (tuple(clean.order_), clean.trend_)

    class Injected(ARIMAForecaster):
        """The chosen model's likelihood breaks (300 units too good, sigma2 tiny)."""

        def _fit_one(self, z, x, order, sorder, start_params=None, trend="default", approx=False, check=None):
            res, conv, warns = super()._fit_one(z, x, order, sorder, start_params, trend, approx, check=None)
            t = self.trend_ if trend == "default" else trend
            if (tuple(order), t) == chosen:
                params = np.array(res.params)
                params[-1] *= 1e-8
                res = res.model.filter(params)
            if check is not None:
                found = checks.problems(res, z, order[1], sorder[1], sorder[3], check_roots=check == "search")
                if found:
                    raise DegenerateFitError(f"ARIMA{tuple(order)} is degenerate: {'; '.join(found)}")
            return res, conv, warns

    f = Injected(params).fit(y, 400)
    assert (tuple(f.order_), f.trend_) != chosen
    if approximation:  # the CSS search cannot see it; the exact refit of the chosen order does
        assert any("is degenerate" in w for w in f.info_["warnings"])
    else:
        assert f.info_["selection"]["n_degenerate"] >= 1
        assert any("degenerate candidate" in w for w in f.info_["warnings"])
    fc = f.predict(y, np.array([399]), 10, PROBS)
    assert np.all(fc.sd > 0.5) and np.all(np.isfinite(fc.sd))  # the AR(1)'s innovation sd is 1


def test_a_fixed_order_is_refitted_from_zero_starts_then_refused():
    y = ar1(300, seed=4)
    calls = []

    class FirstBroken(ARIMAForecaster):
        def _fit_one(self, z, x, order, sorder, start_params=None, trend="default", approx=False, check=None):
            calls.append(start_params)
            if start_params is None and check is not None:
                raise DegenerateFitError("injected: broken likelihood")
            return super()._fit_one(z, x, order, sorder, start_params, trend, approx, check)

    f = FirstBroken({"order": [1, 0, 0]}).fit(y, 300)
    assert calls == [None, "zeros"]
    assert any("refitted from zero AR / MA start values" in w for w in f.info_["warnings"])

    class AlwaysBroken(ARIMAForecaster):
        def _fit_one(self, *a, check=None, **kw):
            raise DegenerateFitError("injected: broken likelihood")

    with pytest.raises(DegenerateFitError, match="zero AR / MA start values"):
        AlwaysBroken({"order": [1, 0, 0]}).fit(y, 300)


def test_a_zero_width_band_fails_the_forecast_with_its_origin_and_step():
    y = ar1(300, seed=5)
    f = ARIMAForecaster({"order": [1, 0, 0]}).fit(y, 200)
    f.var_scale_ = 0.0  # as if the variance had collapsed
    with pytest.raises(DegenerateFitError, match=r"no sane band at origin 210, step 1"):
        f.predict(y, np.array([210, 220]), 5, PROBS)


def test_a_candidate_refused_by_the_root_rule_is_counted_not_warned(monkeypatch):
    y = ar1(400, seed=3)
    params = {"order": "auto", "approximation": False}
    clean = ARIMAForecaster(params).fit(y, 400)
    chosen = tuple(clean.order_)
    real_min_root = checks.min_root
    # the chosen order's fit gets a root on the unit circle (as N1404's seasonal MA above)
    monkeypatch.setattr(checks, "min_root",
                        lambda res: 1.0001 if tuple(res.model.order) == chosen else real_min_root(res))
    f = ARIMAForecaster(params).fit(y, 400)
    assert tuple(f.order_) != chosen
    assert f.info_["selection"]["n_root_refused"] >= 1 and f.info_["selection"]["n_degenerate"] == 0
    assert not any("degenerate" in w or "root" in w for w in f.info_["warnings"])
