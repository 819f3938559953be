"""Joint (max-score) conformal: a hand-computed band, nesting, small n, data use, params."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from fanlab import registry
from fanlab.data.series import Series
from fanlab.data.splits import Split
from fanlab.intervals.conformal import ConformalForecaster, ConformalParams
from fanlab.intervals.ranks import joint_split
from fanlab.context import BuildContext

from .toys import GaussianAR1, ar1_series

INF = np.inf
PROBS = np.array([0.05, 0.1, 0.2, 0.25, 0.5, 0.75, 0.8, 0.9, 0.95])  # levels 0.9, 0.8, 0.6, 0.5


def _hand_series():
    # train y[:5] = 0, so the toy (phi = 0) forecasts 0 at every step: residual = target.
    # H = 2, calibration block y[5:13] -> origins 4..10 (n = 7) with paths (y[t+1], y[t+2]):
    #   scale part (n_s = floor(0.3 * 7) = 2): (1, -1), (-1, 3) -> s = (1, 2)
    #   ranked (m = 5): (3, 2), (2, -5), (-5, 1), (1, 8), (8, 0.5)
    #   max(|e1| / 1, |e2| / 2) = 3, 2.5, 5, 4, 8 -> sorted 2.5, 3, 4, 5, 8
    y = np.zeros(16)
    y[5:13] = [1.0, -1.0, 3.0, 2.0, -5.0, 1.0, 8.0, 0.5]
    y[13:] = [0.3, -0.2, 0.1]
    return y


def _wrap(base=None, cal_end=13, horizon=2, method="joint", **kw):
    return ConformalForecaster(base or GaussianAR1(), cal_end=cal_end, horizon=horizon, method=method, **kw)


def test_joint_split_sizes():
    assert [joint_split(n, 0.3) for n in (1, 2, 3, 7, 10, 300)] == [1, 1, 1, 2, 3, 90]
    assert joint_split(10, 0.95) == 9  # always leaves one origin to rank


def test_joint_hand_computed_band():
    y = _hand_series()
    cf = _wrap().fit(y, train_end=5, seed=0)
    np.testing.assert_array_equal(cf.cal_origins_, np.arange(4, 11))
    np.testing.assert_array_equal(cf.joint_scale_, [1.0, 2.0])
    np.testing.assert_array_equal(cf.joint_scores(), [3.0, 2.5, 5.0, 4.0, 8.0])
    fc = cf.predict(y, np.array([12, 13]), 2, PROBS)
    # m = 5, k = ceil(6 l): l=0.5 -> 3 -> Q=4; 0.6 -> 4 -> 5; 0.8 -> 5 -> 8; 0.9 -> 6 > 5: infinite
    # band 0 +- Q s_h with s = (1, 2)
    for o in range(2):
        np.testing.assert_array_equal(fc.quantiles[o, :, 0], [-INF, -8, -5, -4, 0, 4, 5, 8, INF])
        np.testing.assert_array_equal(fc.quantiles[o, :, 1], [-INF, -16, -10, -8, 0, 8, 10, 16, INF])
    np.testing.assert_array_equal(fc.mean, 0.0)
    assert (fc.info["n_cal"], fc.info["n_scale"], fc.info["n_rank"]) == (7, 2, 5)
    assert len(fc.info["warnings"]) == 1
    w = fc.info["warnings"][0]
    assert "joint" in w and "level 0.9" in w and "6-th smallest of 5" in w
    assert fc.info["rearranged"] == 0.0


def test_joint_shorter_horizon_ranks_its_own_steps():
    y = _hand_series()
    cf = _wrap().fit(y, 5, 0)
    # h = 1 only: max-scores |e1| / 1 = 3, 2, 5, 1, 8 -> sorted 1, 2, 3, 5, 8
    np.testing.assert_array_equal(cf.joint_scores(1), [3.0, 2.0, 5.0, 1.0, 8.0])
    fc = cf.predict(y, np.array([12]), 1, np.array([0.25, 0.5, 0.75]))
    np.testing.assert_array_equal(fc.quantiles[0, :, 0], [-3, 0, 3])  # k = 3 of 5


def test_joint_normalized_scales_by_base_spread_times_s_h():
    rng = np.random.default_rng(0)
    y = rng.normal(size=140)
    base = GaussianAR1(sd_factor=1.0, scale_of=lambda t: 1.0 + t % 2)  # sd 1 even, 2 odd origins
    cf = _wrap(base, cal_end=100, horizon=3, score="normalized").fit(y, 40, 0)
    # by hand: residuals, spreads and the construction of the module docstring
    origins = np.arange(39, 97)
    level = y[:40].mean()
    e = np.abs(y[origins[:, None] + np.arange(1, 4)] - level)
    spread = 2 * 0.6744897501960817 * (1.0 + origins % 2)[:, None]
    r = e / spread
    n_s = int(np.floor(0.3 * origins.size))
    s_h = r[:n_s].mean(axis=0)
    M = np.sort((r[n_s:] / s_h).max(axis=1))
    m = M.size
    Q = M[int(np.ceil((m + 1) * 0.8)) - 1]
    fc = cf.predict(y, np.array([99, 100]), 3, np.array([0.1, 0.5, 0.9]))
    for j, sd in ((0, 2.0), (1, 1.0)):  # origin 99 is odd
        half = Q * s_h * 2 * 0.6744897501960817 * sd
        np.testing.assert_allclose(fc.quantiles[j, 0], fc.mean[j] - half, rtol=1e-9)
        np.testing.assert_allclose(fc.quantiles[j, 2], fc.mean[j] + half, rtol=1e-9)
        np.testing.assert_allclose(fc.quantiles[j, 1], fc.mean[j], rtol=0, atol=0)


def test_joint_normalized_with_constant_spread_equals_absolute():
    y = ar1_series(300, 0.7, seed=1)
    probs = np.round(np.arange(0.05, 0.96, 0.05), 2)
    a = _wrap(GaussianAR1(phi=0.7), cal_end=200, horizon=8).fit(y, 80, 0)
    b = _wrap(GaussianAR1(phi=0.7, sd_factor=1.0), cal_end=200, horizon=8, score="normalized").fit(y, 80, 0)
    np.testing.assert_allclose(b.predict(y, np.array([199, 230]), 8, probs).quantiles,
                               a.predict(y, np.array([199, 230]), 8, probs).quantiles, rtol=1e-9)


@pytest.mark.parametrize("score", ["absolute", "normalized"])
def test_joint_bands_nested_centred_and_finite(score):
    y = np.random.default_rng(3).normal(size=260)
    cf = _wrap(GaussianAR1(sd_factor=0.7), cal_end=160, horizon=4, score=score).fit(y, 60, 0)
    probs = np.round(np.arange(0.05, 0.96, 0.05), 2)
    fc = cf.predict(y, np.arange(159, 250, 7), 4, probs)
    assert fc.quantiles.shape == (13, probs.size, 4)
    assert np.isfinite(fc.quantiles).all()  # n = 97, m = 68 >= 1 / 0.1 - 1
    assert np.all(np.diff(fc.quantiles, axis=1) > 0)
    assert fc.info["rearranged"] == 0.0  # nested by construction, nothing sorted
    np.testing.assert_array_equal(fc.quantile(0.5), fc.mean)
    # symmetric about the mean, and the joint band contains the per-step split band
    np.testing.assert_allclose(fc.quantiles[:, ::-1] - fc.mean[:, None], fc.mean[:, None] - fc.quantiles,
                               rtol=1e-12, atol=1e-12)
    sp = _wrap(GaussianAR1(sd_factor=0.7), cal_end=160, horizon=4, score=score, method="split").fit(y, 60, 0)
    lo_s, hi_s = sp.predict(y, np.arange(159, 250, 7), 4, probs).interval(0.9)
    lo_j, hi_j = fc.interval(0.9)
    assert np.mean(hi_j - lo_j) > np.mean(hi_s - lo_s)


def test_joint_too_few_origins_gives_infinite_band_and_warning():
    y = np.random.default_rng(5).normal(size=60)
    # H = 3, cal block 12 points -> n = 10, n_s = 3, m = 7: level 0.9 needs k = ceil(7.2) = 8 > 7
    cf = _wrap(cal_end=32, horizon=3).fit(y, 20, 0)
    fc = cf.predict(y, np.array([31]), 3, np.array([0.05, 0.25, 0.5, 0.75, 0.95]))
    q = fc.quantiles[0]
    assert np.all(q[0] == -INF) and np.all(q[-1] == INF)
    assert np.isfinite(q[1:-1]).all()
    assert fc.info["n_rank"] == 7
    assert len(fc.info["warnings"]) == 1 and "8-th smallest of 7" in fc.info["warnings"][0]
    # a single calibration origin: nothing left to rank, every band infinite
    one = _wrap(cal_end=23, horizon=3).fit(y, 20, 0)
    assert one.cal_origins_.size == 1
    f1 = one.predict(y, np.array([22]), 3, np.array([0.25, 0.5, 0.75]))
    np.testing.assert_array_equal(f1.quantiles[0], [[-INF] * 3, f1.mean[0], [INF] * 3])
    assert "1-th smallest of 0" in f1.info["warnings"][0]


def test_joint_finite_where_bonferroni_is_infinite_at_h100():
    # the headline setting: ~300 calibration origins, H = 100, 95%
    y = ar1_series(700, 0.6, seed=2)
    H, train_end, cal_end = 100, 200, 599  # n = 300 origins
    probs = np.array([0.025, 0.25, 0.5, 0.75, 0.975])
    out = {}
    for method in ("joint", "bonferroni"):
        cf = _wrap(GaussianAR1(phi=0.6, mu=0.0), cal_end=cal_end, horizon=H, method=method).fit(y, train_end, 0)
        assert cf.cal_origins_.size == 300
        out[method] = cf.predict(y, np.array([cal_end - 1]), H, probs)
    lo, hi = out["joint"].interval(0.95)
    assert np.isfinite(lo).all() and np.isfinite(hi).all() and out["joint"].info["warnings"] == []
    lo, hi = out["bonferroni"].interval(0.95)
    assert np.isinf(lo).all() and np.isinf(hi).all()
    assert "301-th smallest of 300" in out["bonferroni"].info["warnings"][0]


def test_joint_test_block_never_calibrates_and_no_look_ahead():
    y = ar1_series(260, 0.7, seed=0) + 5.0
    kw = dict(cal_end=150, horizon=5)
    y2 = y.copy()
    y2[150:] = np.random.default_rng(2).normal(50, 10, size=110)
    for score in ("absolute", "normalized"):
        a = _wrap(GaussianAR1(phi=0.7), score=score, **kw).fit(y, 80, 0)
        b = _wrap(GaussianAR1(phi=0.7), score=score, **kw).fit(y2, 80, 0)
        np.testing.assert_array_equal(a.joint_scale_, b.joint_scale_)
        np.testing.assert_array_equal(a.joint_scores(), b.joint_scores())
        rng = np.random.default_rng(4)
        for t in (149, 150, 163, 201, 254):
            y3 = y.copy()
            y3[t + 1:] += rng.normal(0, 5, size=len(y) - t - 1)
            f1 = a.predict(y, np.array([t]), 5, PROBS)
            f2 = a.predict(y3, np.array([t]), 5, PROBS)
            np.testing.assert_array_equal(f1.quantiles, f2.quantiles)
            np.testing.assert_array_equal(f1.mean, f2.mean)


# -------------------------------------------------------------------- params and factory
@pytest.fixture
def toy_registered(monkeypatch):
    registry.entries("method")
    entry = registry.Entry("method", "toy_ar1", lambda p, ctx: GaussianAR1(), registry.NoParams, "toy")
    monkeypatch.setitem(registry._REGISTRY["method"], "toy_ar1", entry)


@pytest.mark.parametrize("score", ["signed", "cqr"])
def test_joint_refuses_signed_and_cqr(toy_registered, score):
    with pytest.raises(ValidationError, match="'joint' needs score 'absolute' or 'normalized'"):
        ConformalParams(base={"name": "toy_ar1"}, method="joint", score=score)
    with pytest.raises(ValueError, match="'joint' needs score"):
        _wrap(score=score)


def test_joint_params_and_factory(toy_registered):
    p = ConformalParams(base={"name": "toy_ar1"}, method="joint", score="normalized")
    assert p.scale_frac == 0.3
    for bad in (0.0, 1.0):
        with pytest.raises(ValidationError):
            ConformalParams(base={"name": "toy_ar1"}, method="joint", scale_frac=bad)
    ctx = BuildContext(series=Series("s", np.zeros(200)), split=Split(200, 80, 150, 200), horizon=5, stride=1)
    cf = registry.build_method("conformal", {"base": {"name": "toy_ar1"}, "method": "joint", "scale_frac": 0.5}, ctx)
    assert (cf.method, cf.scale_frac, cf.cal_end, cf.horizon) == ("joint", 0.5, 150, 5)
    cf.fit(ar1_series(200, 0.5, seed=1), 80, 0)
    assert cf.joint_n_scale_ == 33 and cf.joint_norm_.shape == (33, 5)  # n = 66
