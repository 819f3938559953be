"""Split / Bonferroni conformal: known answers, data use, params and factory."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from fanlab import registry
from fanlab.data.series import Series
from fanlab.data.splits import Split
from fanlab.intervals.conformal import ConformalForecaster, ConformalParams
from fanlab.intervals.ranks import conformal_quantile, conformal_rank
from fanlab.context import BuildContext

from .toys import GaussianAR1, ar1_series

PROBS = np.array([0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95])
INF = np.inf


# ---------------------------------------------------------------- the (n+1) rule
@pytest.mark.parametrize(
    "n, alpha, k",
    [
        (5, 0.2, 5),  # 6 * 0.8 = 4.8 -> 5
        (5, 0.5, 3),  # 6 * 0.5 = 3
        (5, 0.34, 4),  # 6 * 0.66 = 3.96 -> 4
        (5, 0.1, 6),  # 5.4 -> 6 > n: infinite
        (9, 0.1, 9),  # exactly 9 in exact arithmetic, 9.000000000000002 in floats
        (19, 0.05, 19),
        (99, 0.01, 99),
        (98, 0.01, 99),  # 99 * 0.99 = 98.01 -> 99 > n
        (10, 1.0, 0),
    ],
)
def test_conformal_rank_hand_values(n, alpha, k):
    assert conformal_rank(n, alpha) == k


def test_conformal_quantile_known_values_with_ties_and_infinity():
    s = np.array([[3.0], [1.0], [2.0], [5.0], [4.0]])
    got = conformal_quantile(s, [0.5, 0.34, 0.2, 0.1])[:, 0]
    np.testing.assert_array_equal(got, [3.0, 4.0, 5.0, INF])
    ties = np.array([1.0, 1.0, 2.0, 2.0, 2.0, 3.0])[:, None]  # n = 6
    # k = ceil(7 (1 - a)): a=0.75 -> 2, 0.6 -> 3, 0.5 -> 4, 0.3 -> 5, 0.15 -> 6, 0.1 -> 7 > 6
    got = conformal_quantile(ties, [0.75, 0.6, 0.5, 0.3, 0.15, 0.1])[:, 0]
    np.testing.assert_array_equal(got, [1.0, 2.0, 2.0, 2.0, 3.0, INF])


# ------------------------------------------------------- known answers through the wrapper
def _fixed_series():
    # train = zeros (the toy learns level 0); calibration targets y[5:10] give residuals
    # 3, -1, 2, -5, 4 at h=1 from origins 4..8; the test block follows
    y = np.zeros(16)
    y[5:10] = [3.0, -1.0, 2.0, -5.0, 4.0]
    y[10:] = [0.5, -0.5, 1.0, -1.0, 0.0, 2.0]
    return y


def _wrap(base=None, cal_end=10, horizon=1, **kw):
    return ConformalForecaster(base or GaussianAR1(), cal_end=cal_end, horizon=horizon, **kw)


def test_split_absolute_known_band_and_infinite_warning():
    cf = _wrap().fit(_fixed_series(), train_end=5, seed=0)
    np.testing.assert_array_equal(cf.scores_[:, 0], [3, 1, 2, 5, 4])
    fc = cf.predict(_fixed_series(), np.array([9, 12]), 1, PROBS)
    # n = 5: level 0.5 -> k=3 -> 3; level 0.8 -> k=5 -> 5; level 0.9 -> k=6 > 5 -> infinite
    np.testing.assert_array_equal(fc.quantiles[0, :, 0], [-INF, -5, -3, 0, 3, 5, INF])
    np.testing.assert_array_equal(fc.mean, 0.0)
    assert fc.sd is None and fc.samples is None
    assert len(fc.info["warnings"]) == 1 and "level 0.9" in fc.info["warnings"][0]
    assert "6-th smallest of 5" in fc.info["warnings"][0]


def test_split_signed_known_asymmetric_band():
    cf = _wrap(score="signed").fit(_fixed_series(), 5, 0)
    fc = cf.predict(_fixed_series(), np.array([9]), 1, PROBS)
    # sorted residuals -5, -1, 2, 3, 4; upper end at p: e_(ceil(6p)); lower at p: e_(6 - ceil(6(1-p)))
    # p=.75 -> e_(5)=4, p=.25 -> e_(1)=-5, p=.5 -> e_(3)=2, p=.9/.95 -> k=6: +inf, p=.1/.05: -inf
    np.testing.assert_array_equal(fc.quantiles[0, :, 0], [-INF, -INF, -5, 2, 4, INF, INF])


def test_split_cqr_on_symmetric_gaussian_base_equals_absolute():
    # base band at level l is +-z_l sd, so max(lo - y, y - hi) = |y| - z_l sd and the CQR band
    # [lo - Q, hi + Q] is +- the k-th smallest |y|, the absolute answer
    cf = _wrap(score="cqr").fit(_fixed_series(), 5, 0)
    fc = cf.predict(_fixed_series(), np.array([9]), 1, PROBS)
    np.testing.assert_allclose(fc.quantiles[0, :, 0], [-INF, -5, -3, 0, 3, 5, INF], atol=1e-12)


def test_split_normalized_scales_by_base_spread():
    # base sd is 1 at even origins, 2 at odd ones; targets 3, -2, 2, -10, 4 from origins 4..8
    # give |e| / sd = 3, 1, 2, 5, 4 (times the constant 1 / 1.349 of the 0.25-0.75 spread)
    y = _fixed_series()
    y[5:10] = [3.0, -2.0, 2.0, -10.0, 4.0]
    base = GaussianAR1(sd_factor=1.0, scale_of=lambda t: 1.0 + t % 2)
    cf = _wrap(base, score="normalized").fit(y, 5, 0)
    fc = cf.predict(y, np.array([9, 10]), 1, np.array([0.1, 0.25, 0.5, 0.75, 0.9]))
    np.testing.assert_allclose(fc.quantiles[0, :, 0], [-10, -6, 0, 6, 10])  # odd origin: sd 2
    np.testing.assert_allclose(fc.quantiles[1, :, 0], [-5, -3, 0, 3, 5])


def test_bonferroni_uses_alpha_over_horizon():
    y = _fixed_series()
    # H=2: origins 4..7 (n=4); |e| at h=1: 3,1,2,5 and at h=2: 1,2,5,4
    split = _wrap(horizon=2).fit(y, 5, 0).predict(y, np.array([9]), 2, np.array([0.25, 0.5, 0.75]))
    bonf = _wrap(horizon=2, method="bonferroni").fit(y, 5, 0)
    fb = bonf.predict(y, np.array([9]), 2, np.array([0.25, 0.5, 0.75]))
    # level 0.5: split k = ceil(5 * 0.5) = 3 -> (3, 4); bonferroni a = 0.25, k = ceil(3.75) = 4 -> (5, 5)
    np.testing.assert_array_equal(split.quantiles[0, 2], [3, 4])
    np.testing.assert_array_equal(fb.quantiles[0, 2], [5, 5])
    np.testing.assert_array_equal(fb.quantiles[0, 0], [-5, -5])


# --------------------------------------------------------------------------- shape rules
@pytest.mark.parametrize("score", ["absolute", "signed", "normalized", "cqr"])
@pytest.mark.parametrize("method", ["split", "bonferroni", "aci"])
def test_quantiles_nested_and_finite_where_calibration_suffices(method, score):
    rng = np.random.default_rng(3)
    y = rng.normal(size=260)
    cf = _wrap(GaussianAR1(sd_factor=0.7), cal_end=160, horizon=4, method=method, score=score)
    cf.fit(y, 60, 0)
    probs = np.round(np.arange(0.05, 0.96, 0.05), 2)
    fc = cf.predict(y, np.arange(159, 250, 7), 4, probs)
    assert fc.quantiles.shape == (13, probs.size, 4)
    assert np.all(np.diff(fc.quantiles, axis=1) >= 0)
    if method != "aci":  # n = 97: finite inside the outer level (signed bonferroni needs k=98 there)
        assert np.isfinite(fc.quantiles[:, 1:-1]).all()
    if score in ("absolute", "normalized") and method != "aci":
        assert fc.info["rearranged"] == 0.0  # nested by construction


def test_calibration_shorter_than_horizon_raises_naming_both():
    y = np.zeros(50)
    with pytest.raises(ValueError, match=r"calibration block has 4 points but the horizon is 5"):
        _wrap(cal_end=24, horizon=5).fit(y, 20, 0)
    _wrap(cal_end=25, horizon=5).fit(y, 20, 0)  # exactly H points: one origin


def test_origins_before_calibration_end_and_long_horizon_rejected():
    y = _fixed_series()
    cf = _wrap().fit(y, 5, 0)
    with pytest.raises(ValueError, match="precedes the end of the calibration block"):
        cf.predict(y, np.array([8]), 1, PROBS)
    with pytest.raises(ValueError, match="exceeds the calibrated horizon"):
        cf.predict(y, np.array([9]), 2, PROBS)


# ------------------------------------------------------------------------------ data use
SCORES = ["absolute", "signed", "normalized", "cqr"]


def _ar1(n=300, phi=0.7, seed=0):
    return ar1_series(n, phi, seed) + 5.0


def test_calibration_block_never_trains_the_base():
    y = _ar1()
    y2 = y.copy()
    y2[100:180] += np.random.default_rng(1).normal(0, 3, size=80)
    a = _wrap(GaussianAR1(phi=0.7), cal_end=180, horizon=5).fit(y, 100, 0)
    b = _wrap(GaussianAR1(phi=0.7), cal_end=180, horizon=5).fit(y2, 100, 0)
    assert vars(a.base_) == vars(b.base_)
    assert a.base_.fit_len_ == 100
    assert not np.array_equal(a.scores_, b.scores_)  # the perturbation did reach calibration


@pytest.mark.parametrize("score", SCORES)
def test_test_block_never_calibrates(score):
    y = _ar1()
    y2 = y.copy()
    y2[180:] = np.random.default_rng(2).normal(50, 10, size=120)
    a = _wrap(GaussianAR1(phi=0.7), cal_end=180, horizon=5, score=score).fit(y, 100, 0)
    b = _wrap(GaussianAR1(phi=0.7), cal_end=180, horizon=5, score=score).fit(y2, 100, 0)
    levels = np.array([0.5, 0.9])
    np.testing.assert_array_equal(a.calibration_scores(levels), b.calibration_scores(levels))


@pytest.mark.parametrize("score", SCORES)
@pytest.mark.parametrize("method", ["split", "bonferroni", "aci"])
def test_no_look_ahead_in_predict(method, score):
    y = _ar1(n=260)
    cf = _wrap(GaussianAR1(phi=0.7), cal_end=150, horizon=5, method=method, score=score,
               aci_window=40 if method == "aci" else None, gamma=0.05)
    cf.fit(y, 80, 0)
    rng = np.random.default_rng(4)
    for t in (149, 150, 163, 201, 254):
        y2 = y.copy()
        y2[t + 1:] += rng.normal(0, 5, size=len(y) - t - 1)
        f1 = cf.predict(y, np.array([t]), 5, PROBS)
        f2 = cf.predict(y2, np.array([t]), 5, PROBS)
        np.testing.assert_array_equal(f1.quantiles, f2.quantiles)
        np.testing.assert_array_equal(f1.mean, f2.mean)


# -------------------------------------------------------------------- params and factory
def _ctx(n=200, train_end=80, cal_end=150, horizon=5):
    series = Series("s", np.zeros(n))
    return BuildContext(series=series, split=Split(n, train_end, cal_end, n), horizon=horizon, stride=1)


@pytest.fixture
def toy_registered(monkeypatch):
    registry.entries("method")  # load the plugins first, so the toy is removed afterwards
    entry = registry.Entry("method", "toy_ar1", lambda p, ctx: GaussianAR1(), registry.NoParams, "toy")
    monkeypatch.setitem(registry._REGISTRY["method"], "toy_ar1", entry)


def test_params_validate_the_nested_spec(toy_registered):
    p = ConformalParams(base={"name": "toy_ar1"}, method="aci", score="cqr")
    assert (p.cal_stride, p.gamma, p.aci_window) == (1, 0.005, None)
    with pytest.raises(ValidationError, match="unknown method 'nope'"):
        ConformalParams(base={"name": "nope"})
    with pytest.raises(ValidationError, match="toy_ar1.params"):
        ConformalParams(base={"name": "toy_ar1", "params": {"x": 1}})
    with pytest.raises(ValidationError, match="cannot wrap conformal"):
        ConformalParams(base={"name": "conformal", "params": {"base": {"name": "toy_ar1"}}})
    with pytest.raises(ValidationError):
        ConformalParams(base={"name": "toy_ar1"}, method="jackknife")
    with pytest.raises(ValidationError):
        ConformalParams(base={"name": "toy_ar1"}, alpha=0.1)
    with pytest.raises(ValidationError):
        ConformalParams(base={"name": "toy_ar1"}, cal_stride=0)


def test_factory_reads_split_and_horizon(toy_registered):
    cf = registry.build_method(
        "conformal", {"base": {"name": "toy_ar1"}, "method": "bonferroni", "cal_stride": 3}, _ctx()
    )
    assert isinstance(cf, ConformalForecaster) and isinstance(cf.base, GaussianAR1)
    assert (cf.cal_end, cf.horizon, cf.method, cf.cal_stride) == (150, 5, "bonferroni", 3)
    cf.fit(_ar1(n=200), 80, 0)
    np.testing.assert_array_equal(cf.cal_origins_, Split(200, 80, 150, 200).cal_origins(5, 3))
    assert cf.cal_origins_.max() + 5 <= 149


# ------------------------------------------------------------------ a real lab forecaster
def test_wrapping_naive_known_band_and_no_look_ahead():
    pytest.importorskip("fanlab.models.naive")
    y = np.cumsum(np.random.default_rng(8).normal(size=300))  # a random walk: naive is right
    ctx = _ctx(n=300, train_end=100, cal_end=200, horizon=4)
    cf = registry.build_method("conformal", {"base": {"name": "naive"}}, ctx).fit(y, 100, 0)
    origins = np.arange(199, 296, 8)
    fc = cf.predict(y, origins, 4, PROBS)
    np.testing.assert_array_equal(fc.mean, np.repeat(y[origins][:, None], 4, axis=1))
    cal = np.arange(99, 196)  # n = 97 origins, targets up to y[199]
    hs = np.arange(1, 5)
    srt = np.sort(np.abs(y[cal[:, None] + hs] - y[cal][:, None]), axis=0)
    # k = ceil(98 l): l=0.5 -> 49, 0.8 -> 79 (78.4), 0.9 -> 89 (88.2)
    for level, k in ((0.5, 49), (0.8, 79), (0.9, 89)):
        lo, hi = fc.interval(level)
        np.testing.assert_allclose(hi - fc.mean, np.broadcast_to(srt[k - 1], hi.shape), atol=1e-12)
        np.testing.assert_allclose(fc.mean - lo, np.broadcast_to(srt[k - 1], lo.shape), atol=1e-12)
    aci = registry.build_method("conformal", {"base": {"name": "naive"}, "method": "aci"}, ctx).fit(y, 100, 0)
    y2 = y.copy()
    y2[231:] += 10.0
    np.testing.assert_array_equal(aci.predict(y, np.array([230]), 4, PROBS).quantiles,
                                  aci.predict(y2, np.array([230]), 4, PROBS).quantiles)
