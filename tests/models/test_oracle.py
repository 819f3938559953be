"""Oracles: no look-ahead, exact answers for the Gaussian ones, known moments for Monte Carlo.

Exact oracles are checked against independent computations (psi weights, statsmodels'
`get_forecast` on y[: t + 1] with the true parameters, closed forms). Monte Carlo oracles are
checked where the answer is known: the one-step law, conditional means and variances, a
noiseless skeleton. Slow tests check interval coverage at every h over independent series
against exact binomial bands (false alarm 1e-3, Bonferroni over the 100 steps).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from fanlab import registry
from fanlab.data.series import Series
from fanlab.data.splits import make_split
from fanlab.data.synthetic import GarchOracle, SetarOracle
from fanlab.forecast import probs_for_levels
from fanlab.context import BuildContext
from fanlab.data.oracles import KalmanOracle
from fanlab.models.oracle import Oracle

NAMES = ["arma", "arima", "seasonal", "break", "student_t", "garch", "setar"]
MONTE_CARLO = {"student_t", "garch", "setar"}
PROBS = probs_for_levels([0.5, 0.95])
ALPHA = 1e-3


def one(name: str, seed: int = 0, **params) -> Series:
    params = {"n": 400, "burn_in": 200, **params}
    if name in MONTE_CARLO:
        params.setdefault("n_paths", 200)
    return registry.build_dataset(name, params, seed)[0]


def z_band(n_checks: int) -> float:
    return float(stats.norm.ppf(1.0 - ALPHA / (2 * n_checks)))


# ------------------------------------------------------------------ contract
@pytest.mark.parametrize("name", NAMES)
def test_no_look_ahead(name):
    s = one(name)
    y = s.values
    fc = s.oracle().fit(y, 240, seed=1)
    origins, horizon = np.array([239, 300, 350]), 40  # break at 360: the last origin crosses it
    full = fc.predict(y, origins, horizon, PROBS)
    rng = np.random.default_rng(0)
    for k, t in enumerate(origins):
        future = y.copy()
        future[t + 1:] = 5.0 + 10.0 * rng.standard_normal(y.size - t - 1)
        f = fc.predict(future, np.array([t]), horizon, PROBS)
        np.testing.assert_allclose(f.quantiles[0], full.quantiles[k], rtol=0, atol=1e-12)
        np.testing.assert_allclose(f.mean[0], full.mean[k], rtol=0, atol=1e-12)
        # ...while the last observed value does move it (the check is not vacuous)
        present = y.copy()
        present[t] += 1.0
        assert not np.allclose(fc.predict(present, np.array([t]), horizon, PROBS).mean[0], full.mean[k])


def test_method_oracle_builds_from_the_series_and_overrides_n_paths():
    s = one("garch")
    split = make_split(len(s), 0.6, 0.2, 0.2, horizon=30)
    ctx = BuildContext(series=s, split=split, horizon=30, stride=10)
    f = registry.build_method("oracle", {"n_paths": 50}, ctx).fit(s.values, split.train_end, 0).predict(
        s.values, split.test_origins(30, 10), 30, PROBS)
    assert f.samples.shape == (split.test_origins(30, 10).size, 50, 30)
    s = one("arma")
    f = Oracle(s, n_paths=50).fit(s.values, 240, 0).predict(s.values, np.array([300]), 30, PROBS)
    direct = s.oracle().predict(s.values, np.array([300]), 30, PROBS)
    np.testing.assert_array_equal(f.sd, direct.sd)


def test_real_series_has_no_oracle():
    s = Series(name="co2", values=np.arange(400.0))
    ctx = BuildContext(series=s, split=make_split(400, 0.6, 0.2, 0.2, horizon=30), horizon=30, stride=10)
    with pytest.raises(ValueError, match="no oracle"):
        registry.build_method("oracle", {}, ctx)
    with pytest.raises(ValueError, match="no oracle"):
        Oracle(s).fit(s.values, 240, 0)


def test_monte_carlo_is_deterministic_and_per_origin():
    s = one("garch")
    y, origins = s.values, np.array([250, 300])
    a = s.oracle().fit(y, 240, 3).predict(y, origins, 20, PROBS)
    b = s.oracle().fit(y, 240, 3).predict(y, origins[1:], 20, PROBS)
    c = s.oracle().fit(y, 240, 4).predict(y, origins, 20, PROBS)
    np.testing.assert_array_equal(a.samples[1], b.samples[0])
    assert not np.allclose(a.samples, c.samples)
    other = registry.build_dataset("garch", {"n": 400, "burn_in": 200, "n_series": 2, "n_paths": 200}, 0)[1]
    d = other.oracle().fit(y, 240, 3).predict(y, origins, 20, PROBS)  # same data, own stream
    assert not np.allclose(a.samples, d.samples)


# ------------------------------------------------------------------ exact Gaussian oracles
def test_arma21_sd_is_sigma_times_root_cumulative_psi_squares():
    from statsmodels.tsa.arima_process import arma2ma

    ar, ma, sigma = [0.5, -0.2], [0.3], 1.3
    s = one("arma", n=600, ar=ar, ma=ma, sigma=sigma)
    f = s.oracle().predict(s.values, np.array([300, 450, 499]), 100, PROBS)
    psi = arma2ma(np.r_[1.0, -np.array(ar)], np.r_[1.0, ma], lags=100)
    expected = sigma * np.sqrt(np.cumsum(psi**2))
    np.testing.assert_allclose(f.sd, np.broadcast_to(expected, f.sd.shape), rtol=1e-9)
    z = stats.norm.ppf(0.975)
    np.testing.assert_allclose(f.interval(0.95)[1], f.mean + z * expected, rtol=1e-9)


def test_arma21_matches_statsmodels_get_forecast_with_true_params():
    from statsmodels.tsa.arima.model import ARIMA

    s = one("arma", n=600, ar=[0.5, -0.2], ma=[0.3], sigma=1.3, mean=5.0)
    origins = np.array([5, 300, 499])
    f = s.oracle().predict(s.values, origins, 100, PROBS)
    for k, t in enumerate(origins):  # the oracle is the exact conditional law at any origin
        ref = ARIMA(s.values[: t + 1], order=(2, 0, 1), trend="c")
        g = ref.filter(np.array([5.0, 0.5, -0.2, 0.3, 1.69])).get_forecast(100)
        np.testing.assert_allclose(f.mean[k], g.predicted_mean, rtol=0, atol=1e-8)
        np.testing.assert_allclose(f.sd[k], g.se_mean, rtol=0, atol=1e-8)


def test_arima_with_drift_matches_statsmodels_get_forecast():
    from statsmodels.tsa.arima.model import ARIMA

    s = one("arima", n=600, ar=[0.5], ma=[0.3], sigma=1.3, drift=0.2)
    origins = np.array([50, 300, 499])
    f = s.oracle().predict(s.values, origins, 100, PROBS)
    for k, t in enumerate(origins):
        # regression on a time trend with ARIMA(1,1,1) errors: the trend slope is the drift
        ref = ARIMA(s.values[: t + 1], order=(1, 1, 1), trend="t").filter(np.array([0.2, 0.5, 0.3, 1.69]))
        g = ref.get_forecast(100)
        np.testing.assert_allclose(f.mean[k], g.predicted_mean, rtol=0, atol=1e-8)
        np.testing.assert_allclose(f.sd[k], g.se_mean, rtol=0, atol=1e-8)


def test_seasonal_matches_sarimax_with_the_cycle_as_regressor():
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    s = one("seasonal", n=600, period=7, amplitude=3.0, mean=1.0, ar=[0.6], ma=[0.2])
    origins, horizon = np.array([50, 300, 499]), 100
    f = s.oracle().predict(s.values, origins, horizon, PROBS)
    t_all = np.arange(600 + horizon)
    exog = np.c_[np.ones(t_all.size), np.sin(2 * np.pi * t_all / 7)]
    for k, t in enumerate(origins):
        ref = SARIMAX(s.values[: t + 1], exog=exog[: t + 1], order=(1, 0, 1), trend="n")
        future = exog[t + 1: t + 1 + horizon]
        g = ref.filter(np.array([1.0, 3.0, 0.6, 0.2, 1.0])).get_forecast(horizon, exog=future)
        np.testing.assert_allclose(f.mean[k], g.predicted_mean, rtol=0, atol=1e-8)
        np.testing.assert_allclose(f.sd[k], g.se_mean, rtol=0, atol=1e-8)


@pytest.mark.parametrize("sigma_after", [2.0, None])
def test_break_ar1_closed_form(sigma_after):
    phi, mean, shift, sigma, n, horizon = 0.7, 1.0, 3.0, 1.0, 400, 60
    s = one("break", n=n, ar=[phi], mean=mean, shift=shift, sigma=sigma, sigma_after=sigma_after)
    b = s.meta["break_index"]
    after = sigma if sigma_after is None else sigma_after
    origins = np.array([250, b - 30, b - 1, b, b + 10])
    f = s.oracle().predict(s.values, origins, horizon, PROBS)
    level = lambda t: mean + shift * (t >= b)  # noqa: E731
    for k, t in enumerate(origins):
        h = np.arange(1, horizon + 1)
        mu = level(t + h) + phi**h * (s.values[t] - level(t))
        # Var = sum_{j<h} phi^(2j) sd(t + h - j)^2, the sd of the innovation at that time
        sd_at = lambda u: after if u >= b else sigma  # noqa: E731
        var = [sum(phi ** (2 * j) * sd_at(t + hh - j) ** 2 for j in range(hh)) for hh in h]
        np.testing.assert_allclose(f.mean[k], mu, rtol=0, atol=1e-10)
        np.testing.assert_allclose(f.sd[k], np.sqrt(var), rtol=1e-10)


# ------------------------------------------------------------------ Monte Carlo oracles
def test_student_t_one_step_is_the_scaled_t():
    phi, mean, sigma, df = 0.6, 1.0, 2.0, 5.0
    s = one("student_t", ar=[phi], ma=[], mean=mean, sigma=sigma, df=df, n_paths=5000)
    origins = np.array([300, 399])
    f = s.oracle().fit(s.values, 240, 0).predict(s.values, origins, 5, PROBS)
    for k, t in enumerate(origins):
        law = stats.t(df, loc=mean + phi * (s.values[t] - mean), scale=sigma * np.sqrt((df - 2) / df))
        assert stats.kstest(f.samples[k, :, 0], law.cdf).pvalue > ALPHA / origins.size


def test_student_t_arma_moments_match_linear_theory():
    from statsmodels.tsa.arima_process import arma2ma

    ar, ma, sigma, df, mean, horizon, paths = [0.6], [0.4], 1.5, 10.0, 2.0, 30, 4000
    s = one("student_t", n=600, ar=ar, ma=ma, sigma=sigma, df=df, mean=mean, n_paths=paths)
    origins = np.array([400, 599])  # MA innovations recovered to ~0.4^400: exact in floats
    f = s.oracle().fit(s.values, 240, 0).predict(s.values, origins, horizon, PROBS)
    exact_mean, _ = KalmanOracle(ar, ma, sigma, deterministic=lambda t: mean + 0.0 * t).moments(
        s.values, origins, horizon)
    psi = arma2ma(np.r_[1.0, -np.array(ar)], np.r_[1.0, ma], lags=horizon)
    var = sigma**2 * np.cumsum(psi**2)
    # fourth cumulant of the h-step sum: kappa4(e) * sum psi^4, kappa4(e) = 6 sigma^4 / (df - 4)
    kappa4 = 6 * sigma**4 / (df - 4) * np.cumsum(psi**4)
    z = z_band(2 * origins.size * horizon)
    mc_mean = f.samples.mean(axis=1)
    mc_var = f.samples.var(axis=1, ddof=1)
    assert np.all(np.abs(mc_mean - exact_mean) < z * np.sqrt(var / paths))
    assert np.all(np.abs(mc_var - var) < z * np.sqrt((2 * var**2 + kappa4) / paths))


def test_garch_one_step_law_and_conditional_moments():
    mean, phi, omega, alpha, beta = 1.0, 0.5, 0.1, 0.15, 0.75
    s = one("garch", n=600, mean=mean, phi=phi, omega=omega, alpha=alpha, beta=beta, n_paths=20_000)
    y, origins, horizon = s.values, np.array([400, 599]), 30
    f = s.oracle().fit(y, 240, 0).predict(y, origins, horizon, PROBS)
    # independent scalar filter of sigma^2_{t+1}, started at the unconditional variance
    bar = omega / (1 - alpha - beta)
    s2 = [bar]
    for t in range(1, y.size):
        eps = (y[t] - mean) - phi * (y[t - 1] - mean)
        s2.append(omega + alpha * eps**2 + beta * s2[-1])
    checks = [1, 2, 5, 10, 30]
    z = z_band(origins.size * (horizon + len(checks)))
    for k, t in enumerate(origins):
        loc = mean + phi * (y[t] - mean)
        one_step = stats.norm(loc, np.sqrt(s2[t]))
        assert stats.kstest(f.samples[k, :, 0], one_step.cdf).pvalue > ALPHA / origins.size
        h = np.arange(1, horizon + 1)
        # E_t sigma^2_{t+j} = bar + (alpha + beta)^(j-1) (sigma^2_{t+1} - bar);
        # Var_t y_{t+h} = sum_{j=1..h} phi^(2(h-j)) E_t sigma^2_{t+j}
        es2 = bar + (alpha + beta) ** (h - 1) * (s2[t] - bar)
        var = np.array([np.sum(phi ** (2 * (hh - np.arange(1, hh + 1))) * es2[:hh]) for hh in h])
        paths = f.samples[k]
        exact_mean = mean + phi**h * (y[t] - mean)
        assert np.all(np.abs(paths.mean(axis=0) - exact_mean) < z * np.sqrt(var / paths.shape[0]))
        for hh in checks:
            d2 = (paths[:, hh - 1] - paths[:, hh - 1].mean()) ** 2
            assert abs(d2.mean() - var[hh - 1]) < z * d2.std() / np.sqrt(d2.size)


def test_setar_noiseless_skeleton_with_delay_two():
    kw = dict(threshold=0.2, delay=2, ar_low=[0.5, 0.3], ar_high=[-0.6], const_low=1.0, const_high=-0.5)
    fc = SetarOracle(**kw, sigma=1e-9, n_paths=20).fit(None, 0, 0)
    y = np.random.default_rng(1).normal(size=50)
    origins, horizon = np.array([10, 30, 49]), 25
    f = fc.predict(y, origins, horizon, PROBS)
    for k, t in enumerate(origins):
        path = list(y[: t + 1])
        for _ in range(horizon):
            if path[-2] <= 0.2:
                path.append(1.0 + 0.5 * path[-1] + 0.3 * path[-2])
            else:
                path.append(-0.5 - 0.6 * path[-1])
        np.testing.assert_allclose(f.mean[k], path[t + 1:], rtol=0, atol=1e-6)


def test_setar_with_equal_regimes_is_a_gaussian_ar1():
    phi, c, sigma, paths = 0.7, 0.5, 1.5, 5000
    fc = SetarOracle(threshold=0.0, delay=1, ar_low=[phi], ar_high=[phi], const_low=c, const_high=c,
                     sigma=sigma, n_paths=paths).fit(None, 0, 2)
    y = np.array([0.3, -1.0, 2.5])
    f = fc.predict(y, np.array([2]), 20, PROBS)
    hs = [1, 5, 20]
    for h in hs:
        mu = c * sum(phi**j for j in range(h)) + phi**h * 2.5
        sd = sigma * math.sqrt(sum(phi ** (2 * j) for j in range(h)))
        assert stats.kstest(f.samples[0, :, h - 1], stats.norm(mu, sd).cdf).pvalue > ALPHA / len(hs)


def test_garch_oracle_variance_filter_matches_a_scalar_loop():
    fc = GarchOracle(mean=0.5, phi=0.3, omega=0.2, alpha=0.2, beta=0.6)
    y = np.random.default_rng(3).normal(size=30)
    s2 = [0.2 / 0.2]
    for t in range(1, 30):
        s2.append(0.2 + 0.2 * ((y[t] - 0.5) - 0.3 * (y[t - 1] - 0.5)) ** 2 + 0.6 * s2[-1])
    np.testing.assert_allclose(fc.conditional_variance(y), s2, rtol=1e-12)


# ------------------------------------------------------------------ coverage (slow)
def coverage_counts(name: str, n_series: int, horizon: int, seed: int, **params) -> np.ndarray:
    """Hits of the oracle's 95% interval at each h, one origin per independent series; (H,)."""
    n = 150 + horizon
    series = registry.build_dataset(name, {"n": n, "n_series": n_series, **params}, seed)
    hits = np.zeros(horizon, dtype=np.int64)
    t = n - 1 - horizon
    for s in series:
        f = s.oracle().fit(s.values, t + 1, seed).predict(s.values, np.array([t]), horizon, PROBS)
        lo, hi = f.interval(0.95)
        target = s.values[t + 1:]
        hits += (lo[0] <= target) & (target <= hi[0])
    return hits


@pytest.mark.slow
def test_gaussian_arma_oracle_coverage_at_every_h():
    n_series, horizon = 10_000, 100
    hits = coverage_counts("arma", n_series, horizon, seed=2024, ar=[0.5, -0.2], ma=[0.3])
    a = ALPHA / (2 * horizon)  # two-sided, Bonferroni over the steps
    lo, hi = stats.binom.ppf(a, n_series, 0.95), stats.binom.isf(a, n_series, 0.95)
    cov = hits / n_series
    print(f"\narma(2,1) oracle 95% coverage over {n_series} series: "
          f"min {cov.min():.4f} (h={cov.argmin() + 1}) "
          f"max {cov.max():.4f} (h={cov.argmax() + 1}) mean {cov.mean():.4f}; band [{lo / n_series:.4f}, "
          f"{hi / n_series:.4f}]")
    assert np.all((lo <= hits) & (hits <= hi))


def mc_coverage_range(n_paths: int, level: float) -> tuple[float, float]:
    """Bounds on P(lo <= Y <= hi) when lo, hi are np.quantile (linear) of n_paths draws
    exchangeable with Y: the interval lies between order statistics, P(Y < X_(j)) = j/(S+1)."""
    k = math.floor((1 - level) / 2 * (n_paths - 1)) + 1  # lo between X_(k) and X_(k+1), 1-based
    m = math.floor((1 + level) / 2 * (n_paths - 1)) + 1  # hi between X_(m) and X_(m+1)
    return (m - k - 1) / (n_paths + 1), (m + 1 - k) / (n_paths + 1)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(MONTE_CARLO))
def test_monte_carlo_oracle_coverage_at_every_h(name):
    n_series, horizon, n_paths = 5000, 100, 1000
    hits = coverage_counts(name, n_series, horizon, seed=7, n_paths=n_paths)
    # each series has its own Monte Carlo stream, so hits at one h are iid Bernoulli(p) with p
    # inside the order-statistic range: the band is the union of the binomial bands over it
    p_lo, p_hi = mc_coverage_range(n_paths, 0.95)
    a = ALPHA / (2 * horizon)
    lo, hi = stats.binom.ppf(a, n_series, p_lo), stats.binom.isf(a, n_series, p_hi)
    cov = hits / n_series
    print(f"\n{name} oracle 95% coverage over {n_series} series: h=1 {cov[0]:.4f}, h=10 {cov[9]:.4f}, "
          f"h=100 {cov[99]:.4f}; min {cov.min():.4f} (h={cov.argmin() + 1}) max {cov.max():.4f} "
          f"(h={cov.argmax() + 1}); MC coverage in [{p_lo:.4f}, {p_hi:.4f}]; band [{lo / n_series:.4f}, "
          f"{hi / n_series:.4f}]")
    assert np.all((lo <= hits) & (hits <= hi))
