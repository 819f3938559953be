"""Synthetic processes: registration, seeding, parameter checks, simulated moments.

Moment checks compare long simulations with known answers; every tolerance is a band
computed from the sampling distribution with false-alarm rate ALPHA (Bonferroni across the
checks of one test), never a tuned constant.
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest
from pydantic import ValidationError
from scipy import stats

from fanlab import registry
from fanlab.data.splits import make_split
from fanlab.data.synthetic import series_rng
from fanlab.models.base import Forecaster

NAMES = ["arma", "arima", "seasonal", "break", "student_t", "garch", "setar"]
MONTE_CARLO = {"student_t", "garch", "setar"}
ALPHA = 1e-3


def build(name: str, seed: int = 0, **params):
    return registry.build_dataset(name, {"n": 300, "burn_in": 100, **params}, seed)


def z_band(n_checks: int = 1) -> float:
    """Two-sided normal quantile for false-alarm ALPHA shared by `n_checks` checks."""
    return float(stats.norm.ppf(1.0 - ALPHA / (2 * n_checks)))


def assert_binomial(count: int, n: int, p: float, n_checks: int, what: str) -> None:
    """`count` ~ Binomial(n, p): accept inside the exact two-sided band."""
    a = ALPHA / (2 * n_checks)
    lo, hi = stats.binom.ppf(a, n, p), stats.binom.isf(a, n, p)
    assert lo <= count <= hi, f"{what}: {count} of {n}, expected in [{lo:.0f}, {hi:.0f}] (p={p})"


# ------------------------------------------------------------------ registry and seeding
def test_every_process_is_registered_with_common_params():
    for name in NAMES:
        entry = registry.get("dataset", name)
        assert entry.summary and not entry.summary.endswith(":")
        defaults = entry.params()
        assert (defaults.n, defaults.n_series, defaults.burn_in) == (2000, 1, 500)
        assert (getattr(defaults, "n_paths", None) == 1000) == (name in MONTE_CARLO)


@pytest.mark.parametrize("name", NAMES)
def test_replications_are_named_and_carry_an_oracle(name):
    series = build(name, n_series=3)
    assert [s.name for s in series] == [f"{name}_{i}" for i in range(3)]
    for i, s in enumerate(series):
        assert len(s) == 300 and s.meta["replication"] == i and s.meta["params"]["n"] == 300
        first, second = s.oracle(), s.oracle()
        assert first is not second and isinstance(first, Forecaster)


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_bytes_other_seed_or_replication_differs(name):
    a = build(name, seed=3, n_series=2)
    b = build(name, seed=3, n_series=2)
    c = build(name, seed=4, n_series=2)
    for sa, sb, sc in zip(a, b, c):
        assert sa.values.tobytes() == sb.values.tobytes()
        assert not np.allclose(sa.values, sc.values)
    assert not np.allclose(a[0].values, a[1].values)


def test_stream_is_seed_replication_and_dataset_name():
    expected = np.random.default_rng(np.random.SeedSequence([7, 2, zlib.crc32(b"garch")])).standard_normal(4)
    np.testing.assert_array_equal(series_rng(7, 2, "garch").standard_normal(4), expected)
    assert not np.allclose(series_rng(7, 2, "setar").standard_normal(4), expected)


def test_seasonal_sets_period_and_break_falls_in_the_test_block():
    (s,) = build("seasonal", period=7)
    assert s.period == 7 and s.periods == (7,)
    (s,) = registry.build_dataset("break", {}, seed=0)
    split = make_split(len(s), 0.6, 0.2, 0.2, horizon=100)
    assert s.meta["break_index"] == 1800 and split.cal_end < 1800 < split.test_end


# ------------------------------------------------------------------ parameter errors
@pytest.mark.parametrize(
    "name, params, key, says",
    [
        ("arma", {"ar": [1.2]}, "ar", "stationary"),
        ("arma", {"ar": [0.5, 0.6]}, "ar", "stationary"),
        ("arma", {"ma": [1.5]}, "ma", "invertible"),
        ("arima", {"ma": [-1.0]}, "ma", "invertible"),
        ("seasonal", {"ar": [-1.0]}, "ar", "stationary"),
        ("break", {"ma": [0.2, 1.1]}, "ma", "invertible"),
        ("student_t", {"ar": [0.3, 0.8]}, "ar", "stationary"),
        ("garch", {"alpha": 0.2, "beta": 0.8}, "beta", "alpha + beta"),
        ("setar", {"ar_low": [0.6, -0.5]}, "ar_low", "ar_low"),
        ("setar", {"ar_high": [1.0]}, "ar_high", "ar_high"),
    ],
)
def test_unstable_parameters_are_refused_naming_the_key(name, params, key, says):
    with pytest.raises(ValidationError) as info:
        registry.parse_params("dataset", name, params)
    err = info.value.errors()[0]
    assert err["loc"] == (key,)
    assert says in err["msg"]


@pytest.mark.parametrize(
    "name, params, key",
    [
        ("student_t", {"df": 2.0}, "df"),
        ("garch", {"omega": 0.0}, "omega"),
        ("break", {"break_at": 1.0}, "break_at"),
        ("seasonal", {"period": 1}, "period"),
        ("arma", {"sigma": -1.0}, "sigma"),
        ("arma", {"n_paths": 50}, "n_paths"),  # exact oracles have no paths
    ],
)
def test_out_of_range_or_unknown_keys_are_refused(name, params, key):
    with pytest.raises(ValidationError) as info:
        registry.parse_params("dataset", name, params)
    assert info.value.errors()[0]["loc"] == (key,)


def test_stationary_edge_cases_are_accepted():
    registry.parse_params("dataset", "arma", {"ar": [0.99], "ma": [-0.99]})
    registry.parse_params("dataset", "garch", {"alpha": 0.2, "beta": 0.79})


# ------------------------------------------------------------------ simulated moments
def test_ar1_mean_variance_and_autocorrelation():
    phi, sigma, mean, n = 0.8, 1.5, 2.0, 100_000
    (s,) = registry.build_dataset("arma", {"n": n, "ar": [phi], "ma": [], "sigma": sigma, "mean": mean}, 5)
    y = s.values
    g0 = sigma**2 / (1 - phi**2)
    z = z_band(3)
    # Bartlett: n Var(ybar) -> sigma^2 / (1 - phi)^2, n Var(g0_hat) -> 2 g0^2 (1 + phi^2) / (1 - phi^2),
    # n Var(r1) -> 1 - phi^2
    assert abs(y.mean() - mean) < z * sigma / (1 - phi) / np.sqrt(n)
    assert abs(y.var() - g0) < z * np.sqrt(2 * g0**2 * (1 + phi**2) / (1 - phi**2) / n)
    d = y - y.mean()
    r1 = (d[1:] @ d[:-1]) / (d @ d)
    assert abs(r1 - phi) < z * np.sqrt((1 - phi**2) / n)


def test_ma1_sign_convention():
    theta, n = 0.8, 100_000
    (s,) = registry.build_dataset("arma", {"n": n, "ar": [], "ma": [theta]}, 6)
    d = s.values - s.values.mean()
    r1 = (d[1:] @ d[:-1]) / (d @ d)
    rho = theta / (1 + theta**2)
    # Bartlett for an MA(1): n Var(r1) -> 1 - 3 rho^2 + 4 rho^4
    assert abs(r1 - rho) < z_band() * np.sqrt((1 - 3 * rho**2 + 4 * rho**4) / n)


def test_arima_differences_have_the_drift_as_mean():
    drift, phi, theta, n = 0.3, 0.5, 0.4, 100_000
    (s,) = registry.build_dataset("arima", {"n": n, "ar": [phi], "ma": [theta], "drift": drift}, 7)
    dy = np.diff(s.values)
    long_run_sd = (1 + theta) / (1 - phi)  # sigma = 1
    assert abs(dy.mean() - drift) < z_band() * long_run_sd / np.sqrt(dy.size)


def test_seasonal_phase_means_follow_the_cycle():
    period, amp, mean, phi, n = 12, 3.0, 1.0, 0.5, 120_000
    (s,) = registry.build_dataset(
        "seasonal", {"n": n, "period": period, "amplitude": amp, "mean": mean, "ar": [phi]}, 8
    )
    g0 = 1.0 / (1 - phi**2)
    # every period-th value of an AR(1) is an AR(1) with coefficient phi^period
    c = phi**period
    m = n // period
    for k in range(period):
        phase_mean = s.values[k::period].mean()
        sd = np.sqrt(g0 * (1 + c) / (1 - c) / m)
        assert abs(phase_mean - (mean + amp * np.sin(2 * np.pi * k / period))) < z_band(period) * sd


def test_student_t_innovations_have_variance_sigma2_and_t_tails():
    phi, sigma, df, n = 0.6, 2.0, 5.0, 50_000
    (s,) = registry.build_dataset("student_t", {"n": n, "ar": [phi], "ma": [], "sigma": sigma, "df": df}, 9)
    e = s.values[1:] - phi * s.values[:-1]
    u = e / (sigma * np.sqrt((df - 2) / df))  # standard t_df if e has variance sigma^2
    qs = [0.005, 0.05, 0.5, 0.95, 0.995]
    for q in qs:
        assert_binomial(int(np.sum(u <= stats.t.ppf(q, df))), u.size, q, len(qs), f"t quantile {q}")


def _garch_filter(x, phi, omega, alpha, beta):
    """Independent scalar recursion: eps_t and sigma_t^2 for t >= 1."""
    eps = x[1:] - phi * x[:-1]
    s2 = np.empty_like(eps)
    s2[0] = omega / (1 - alpha - beta)
    for t in range(1, eps.size):
        s2[t] = omega + alpha * eps[t - 1] ** 2 + beta * s2[t - 1]
    return eps, s2


def test_garch_standardised_errors_are_standard_normal():
    p = {"phi": 0.4, "omega": 0.1, "alpha": 0.15, "beta": 0.75, "mean": 1.0}
    (s,) = registry.build_dataset("garch", {"n": 50_000, **p}, 10)
    eps, s2 = _garch_filter(s.values - p["mean"], p["phi"], p["omega"], p["alpha"], p["beta"])
    z = (eps / np.sqrt(s2))[200:]  # the filter's start is forgotten like beta^t
    qs = [0.005, 0.05, 0.5, 0.95, 0.995]
    for q in qs:
        assert_binomial(int(np.sum(z <= stats.norm.ppf(q))), z.size, q, len(qs), f"normal quantile {q}")


def test_garch_unconditional_variance_over_replications():
    omega, alpha, beta = 0.05, 0.1, 0.85
    series = registry.build_dataset("garch", {"n": 1000, "n_series": 200}, 11)
    per_series = np.array([np.mean(_garch_filter(s.values, 0.5, omega, alpha, beta)[0] ** 2) for s in series])
    # replications are iid: a t interval for E[eps^2] = omega / (1 - alpha - beta)
    half = stats.t.ppf(1 - ALPHA / 2, per_series.size - 1) * per_series.std(ddof=1) / np.sqrt(per_series.size)
    assert abs(per_series.mean() - omega / (1 - alpha - beta)) < half


def test_setar_residuals_follow_the_regime_equations():
    p = {"threshold": 0.5, "delay": 2, "ar_low": [0.5, 0.2], "ar_high": [-0.4],
         "const_low": 0.3, "const_high": -0.2, "sigma": 0.7}
    (s,) = registry.build_dataset("setar", {"n": 50_000, **p}, 12)
    y = s.values
    t = np.arange(2, y.size)
    low = y[t - 2] <= 0.5
    fit = np.where(low, 0.3 + 0.5 * y[t - 1] + 0.2 * y[t - 2], -0.2 - 0.4 * y[t - 1])
    z = (y[t] - fit) / 0.7
    assert 0.05 < low.mean() < 0.95  # both regimes are exercised
    qs = [0.005, 0.05, 0.5, 0.95, 0.995]
    for q in qs:
        assert_binomial(int(np.sum(z <= stats.norm.ppf(q))), z.size, q, len(qs), f"normal quantile {q}")


def test_break_changes_level_and_innovation_variance_at_the_break():
    phi, shift, sigma, after, n = 0.6, 3.0, 1.0, 2.0, 40_000
    (s,) = registry.build_dataset(
        "break",
        {"n": n, "ar": [phi], "shift": shift, "sigma": sigma, "sigma_after": after, "break_at": 0.5},
        13,
    )
    b = s.meta["break_index"]
    assert b == n // 2
    x = s.values - shift * (np.arange(n) >= b)
    e = x[1:] - phi * x[:-1]  # e[t - 1] is the innovation of y[t]
    before, past = e[: b - 1] / sigma, e[b - 1:] / after
    for u in (before, past):  # sum of squares of iid N(0, 1) is chi-square
        lo, hi = stats.chi2.ppf(ALPHA / 4, u.size), stats.chi2.isf(ALPHA / 4, u.size)
        assert lo < np.sum(u**2) < hi


@pytest.mark.parametrize("name", NAMES)
def test_oracles_pickle_for_worker_processes(name):
    import pickle

    (s,) = build(name, n_paths=50) if name in MONTE_CARLO else build(name)
    copy = pickle.loads(pickle.dumps(s.oracle))
    origins = np.array([200, 250])
    a = s.oracle().fit(s.values, 180, 0).predict(s.values, origins, 30, np.array([0.1, 0.5, 0.9]))
    b = copy().fit(s.values, 180, 0).predict(s.values, origins, 30, np.array([0.1, 0.5, 0.9]))
    np.testing.assert_array_equal(a.quantiles, b.quantiles)
