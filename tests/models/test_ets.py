"""ETS: R's class rules, the filter and bands against statsmodels and closed forms, the automatic
choice on series whose structure is plain, the sanity fallback, no look-ahead, determinism."""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from fanlab.models import ets
from fanlab.models.ets import ETSFitError, ETSForecaster, ETSParams, Spec, candidates, ets_filter, fit_class

PROBS = np.array([0.025, 0.1, 0.5, 0.9, 0.975])


def _local_level(n=300, alpha=0.3, sigma=1.0, seed=0, level=50.0):
    """ETS(A,N,N): y_t = l_{t-1} + e_t, l_t = l_{t-1} + alpha e_t."""
    e = np.random.default_rng(seed).normal(0, sigma, n)
    y, lev = np.empty(n), level
    for t in range(n):
        y[t] = lev + e[t]
        lev += alpha * e[t]
    return y


def _seasonal(n=96, m=12, seed=1, trend=0.0):
    t = np.arange(n)
    rng = np.random.default_rng(seed)
    return 100 + trend * t + 15 * np.sin(2 * np.pi * t / m) + rng.normal(0, 1.5, n)


def _sm_results(y, fit):
    """statsmodels' ETSResults for the same class, parameters and initial states as `fit`."""
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    sp = fit.spec
    model = ETSModel(pd.Series(y), error="add" if sp.error == "A" else "mul", trend="add" if sp.trend == "A" else None,
                     damped_trend=sp.damped, seasonal={"N": None, "A": "add", "M": "mul"}[sp.season],
                     seasonal_periods=len(fit.s0) or None)
    values = {"smoothing_level": fit.alpha, "smoothing_trend": fit.beta, "smoothing_seasonal": fit.gamma,
              "damping_trend": fit.phi, "initial_level": fit.l0, "initial_trend": fit.b0,
              **{f"initial_seasonal.{j}": v for j, v in enumerate(fit.s0[::-1])}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.smooth(np.array([values[n] for n in model.param_names]))


# ---------------------------------------------------------------- R's rules for the candidates

def test_candidates_follow_rs_rules():
    y = _seasonal()
    specs, m, _ = candidates(y, 12, ETSParams())
    labels = {s.label for s in specs}
    assert m == 12 and len(specs) == 15  # 2 x 3 x 3 with damping, less A-error x M-season (3)
    assert not any(s.error == "A" and s.season == "M" for s in specs)
    assert not any(s.damped and s.trend == "N" for s in specs)
    assert {"ETS(M,Ad,M)", "ETS(A,A,A)", "ETS(A,N,N)"} <= labels
    # not strictly positive: no multiplicative part at all
    specs, _, _ = candidates(y - 200, 12, ETSParams())
    assert all(s.error == "A" and s.season != "M" for s in specs) and len(specs) == 6
    # no period, or one longer than 24: non-seasonal only (the long one with a note)
    assert all(s.season == "N" for s in candidates(y, None, ETSParams())[0])
    specs, m, notes = candidates(np.abs(y) + np.arange(y.size), 52, ETSParams())
    assert m == 1 and all(s.season == "N" for s in specs) and "no seasonal" in notes[0]
    # too short for the seasonal classes: R's "np >= n - 1" rule drops them
    specs, _, notes = candidates(y[:14], 12, ETSParams())
    assert all(s.season == "N" for s in specs) and any("too few points" in n for n in notes)
    # a fixed class, a fixed damping
    assert [s.label for s in candidates(y, 12, ETSParams(model="MAM", damped=True))[0]] == ["ETS(M,Ad,M)"]
    assert {s.label for s in candidates(y, None, ETSParams(model="AZN", damped=False))[0]} == {"ETS(A,N,N)",
                                                                                              "ETS(A,A,N)"}


def test_params_and_data_that_r_refuses():
    with pytest.raises(ValueError, match="additive error with multiplicative season"):
        ETSParams(model="ANM")
    with pytest.raises(ValueError, match="needs a trend"):
        ETSParams(model="ANN", damped=True)
    with pytest.raises(ValueError):
        ETSParams(model="AMN")  # multiplicative trends are not offered
    with pytest.raises(ETSFitError, match="strictly positive"):
        candidates(np.arange(20.0) - 5, None, ETSParams(model="MNN"))
    with pytest.raises(ETSFitError, match="asks for a season"):
        candidates(np.arange(1.0, 30.0), None, ETSParams(model="ANA"))
    with pytest.raises(ETSFitError, match="constant"):
        ETSForecaster({}).fit(np.full(40, 3.0), 30)


# ---------------------------------------------------------------- the filter and the bands

@pytest.mark.parametrize("spec", [Spec("A", "N", False, "N"), Spec("A", "A", True, "A"), Spec("M", "A", False, "N"),
                                  Spec("M", "N", False, "A"), Spec("M", "A", True, "M")],
                         ids=lambda s: s.label)
def test_filter_matches_statsmodels(spec):
    """One-step means of our recursions equal statsmodels' fitted values at the same parameters
    (this pins the parametrisation and the order of the initial seasonal states)."""
    y = _seasonal(trend=0.3)
    fit = fit_class(y, spec, 12)
    _, mu = ets_filter(fit, y)
    np.testing.assert_allclose(mu, _sm_results(y, fit).fittedvalues.to_numpy(), rtol=1e-7)
    assert fit.llf == pytest.approx(_sm_results(y, fit).llf, rel=1e-9)


@pytest.mark.parametrize("spec", [Spec("A", "A", True, "A"), Spec("A", "A", False, "N"), Spec("A", "N", False, "A")],
                         ids=lambda s: s.label)
def test_analytic_band_is_statsmodels_get_prediction(spec):
    """The linear class's h-step variance equals statsmodels' (which divides the residual sum of
    squares by n, ours by n - p as R's ets)."""
    y = _seasonal(trend=0.3)
    n = y.size
    fit = fit_class(y, spec, 12)
    f = ETSForecaster({"model": spec.error + spec.trend + spec.season, "damped": spec.damped}, period=12).fit(y, n)
    assert f.info_["model"] == spec.label
    fc = f.predict(y, np.array([n - 1]), 30, PROBS)
    pred = _sm_results(y, f.fit_).get_prediction(start=n, end=n + 29)
    np.testing.assert_allclose(fc.mean[0], pred.predicted_mean, rtol=1e-8)
    np.testing.assert_allclose(fc.sd[0] ** 2 * (n - f.fit_.k) / n, pred.var_pred_mean, rtol=1e-8)
    assert fit.spec == spec


def test_ses_band_is_sigma2_one_plus_h_minus_one_alpha2():
    """Simple exponential smoothing's h-step variance is sigma^2 (1 + (h - 1) alpha^2); sigma^2 is
    the residual sum of squares over n - 2 (alpha and the initial level)."""
    y = _local_level()
    f = ETSForecaster({"model": "ANN"}).fit(y, 250)
    a, s2 = f.info_["params"]["alpha"], f.info_["sigma2"]
    assert 0.15 < a < 0.5 and 0.7 < s2 < 1.4  # near the truth (0.3, 1)
    _, mu = ets_filter(f.fit_, y[:250])
    assert s2 == pytest.approx(np.sum((y[:250] - mu) ** 2) / 248, rel=1e-12)
    fc = f.predict(y, np.array([249, 260]), 20, PROBS)
    h = np.arange(1, 21)
    sd = np.sqrt(s2 * (1 + (h - 1) * a ** 2))
    for i, p in enumerate(PROBS):
        np.testing.assert_allclose(fc.quantiles[:, i, :], fc.mean + norm.ppf(p) * sd, rtol=1e-10)
    assert np.all(fc.mean[0] == fc.mean[0, 0])  # a flat forecast from the level
    assert fc.samples is None


def test_multiplicative_error_one_step_band_is_mu_times_one_plus_sigma_z():
    """ETS(M,N,N): y_{t+1} = l_t (1 + e), e ~ N(0, sigma^2), so the simulated one-step quantiles
    are l_t (1 + sigma z_p) up to Monte Carlo error; the mean is the zero-error path."""
    y = np.exp(_local_level(sigma=0.02, level=3.0) / 5 + 1)
    f = ETSForecaster({"model": "MNN", "samples": 20000}).fit(y, 250, seed=4)
    fc = f.predict(y, np.array([249]), 5, PROBS)
    assert fc.samples.shape == (1, 20000, 5) and f.info_["intervals"].startswith("simulated")
    level = ets_filter(f.fit_, y[:250])[0][0][-1]
    sigma = np.sqrt(f.info_["sigma2"])
    np.testing.assert_allclose(fc.mean[0], level, rtol=1e-12)
    np.testing.assert_allclose(fc.quantiles[0, :, 0], level * (1 + sigma * norm.ppf(PROBS)), rtol=3 * sigma * 0.05)
    width = fc.quantiles[0, 3] - fc.quantiles[0, 1]
    assert np.all(np.diff(width) > 0)  # bands widen with h


# ---------------------------------------------------------------- the automatic choice

def test_chooses_trend_on_a_trended_series_and_season_on_a_seasonal_one():
    t = np.arange(80)
    trended = 50 + 2.0 * t + np.random.default_rng(2).normal(0, 1.0, t.size)
    f = ETSForecaster({}).fit(trended, 80)
    assert f.info_["trend"] == "A", f.info_["model"]
    assert f.info_["season"] == "N"
    seasonal = _seasonal(n=60, m=4)
    g = ETSForecaster({}, period=4).fit(seasonal, 60)
    assert g.info_["season"] in ("A", "M") and g.info_["trend"] == "N", g.info_["model"]
    noise = 100 + np.random.default_rng(3).normal(0, 1.0, 80)
    h = ETSForecaster({}, period=4).fit(noise, 80)
    assert h.info_["trend"] == "N" and h.info_["season"] == "N", h.info_["model"]
    table = h.info_["selection"]["candidates"]
    assert len(table) == 15 and min(r["aicc"] for r in table if r.get("aicc")) == pytest.approx(h.info_["aicc"])


def test_insane_best_fit_falls_back_to_the_next_with_a_warning(monkeypatch):
    real = ets.fit_class

    def broken_ann(y, spec, m):
        fit = real(y, spec, m)
        if spec.label == "ETS(A,N,N)":  # the best by far, but with no variance
            return ets.Fit(**{**fit.__dict__, "llf": fit.llf + 1e3, "sigma2": 0.0})
        return fit

    monkeypatch.setattr(ets, "fit_class", broken_ann)
    y = _local_level()
    with pytest.warns(RuntimeWarning, match="ETS\\(A,N,N\\) was not sane"):
        f = ETSForecaster({"model": "AZN"}).fit(y, 250)
    assert f.info_["model"] != "ETS(A,N,N)" and "not sane" in f.info_["warnings"][0]
    with pytest.raises(ETSFitError, match="no sane ETS model"):
        ETSForecaster({"model": "ANN"}).fit(y, 250)


# ---------------------------------------------------------------- contract: causal, deterministic

def test_simulated_class_looks_nothing_ahead_and_is_deterministic():
    y = _seasonal(n=160, trend=0.2)
    params = {"model": "MNM", "samples": 200}
    origins = np.array([119, 130, 141])
    f = ETSForecaster(params, period=12).fit(y, 120, seed=7)
    fc = f.predict(y, origins, 12, PROBS)
    again = ETSForecaster(params, period=12).fit(y, 120, seed=7).predict(y, origins, 12, PROBS)
    np.testing.assert_array_equal(fc.quantiles, again.quantiles)
    other = ETSForecaster(params, period=12).fit(y, 120, seed=8).predict(y, origins, 12, PROBS)
    assert not np.array_equal(fc.quantiles, other.quantiles)
    # one origin alone gives what it gives among others (its draws are its own)
    alone = f.predict(y, origins[1:2], 12, PROBS)
    np.testing.assert_array_equal(alone.quantiles[0], fc.quantiles[1])
    for k, t in enumerate(origins):
        y2 = y.copy()
        y2[t + 1:] *= np.random.default_rng(k).uniform(0.5, 2.0, y.size - t - 1)
        fc2 = ETSForecaster(params, period=12).fit(y2, 120, seed=7).predict(y2, origins, 12, PROBS)
        np.testing.assert_array_equal(fc2.quantiles[: k + 1], fc.quantiles[: k + 1])
        np.testing.assert_array_equal(fc2.mean[: k + 1], fc.mean[: k + 1])
    # the fit store pickles fits: a round trip forecasts the same
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(f)).predict(y, origins, 12, PROBS).quantiles, fc.quantiles)


@pytest.mark.parametrize("spec", [Spec("A", "A", True, "A"), Spec("A", "N", False, "N")], ids=lambda s: s.label)
def test_linear_path_covariance_is_that_of_simulated_paths(spec):
    """The linear class's whole-path covariance (Forecast.cov) has the h-step variance on its
    diagonal and matches the covariance of paths simulated from the same fit's equations."""
    y = _seasonal(trend=0.3)
    n = y.size
    f = ETSForecaster({"model": spec.error + spec.trend + spec.season, "damped": spec.damped}, period=12).fit(y, n)
    fc = f.predict(y, np.array([n - 1]), 24, PROBS)
    cov = fc.cov[0]
    assert fc.joint == "gaussian" and cov.shape == (24, 24)
    np.testing.assert_allclose(np.diag(cov), fc.sd[0] ** 2, rtol=1e-10)
    states = ets._states_at(ets_filter(f.fit_, y)[0], np.array([n - 1]), len(f.fit_.s0))
    eps = np.random.default_rng(5).standard_normal((1, 40_000, 24)) * np.sqrt(f.fit_.sigma2)
    paths = ets.forecast_paths(f.fit_, *states, 24, eps)[0]
    emp = np.cov(paths, rowvar=False)
    scale = np.sqrt(np.outer(np.diag(cov), np.diag(cov)))
    # correlations agree within Monte-Carlo error (about 1 / sqrt(40,000) = 0.005)
    assert np.max(np.abs(emp - cov) / scale) < 0.03
    assert cov[0, 5] != 0.0 or spec.trend == "N" and f.fit_.alpha == 0.0
