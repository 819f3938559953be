"""Conformal PID control: plain-loop reference, long-run coverage, a level break, saturation."""

from __future__ import annotations

import math

import numpy as np
import pytest

import fanlab  # noqa: F401  (registers the methods a spec may name)
from fanlab.intervals.conformal import ConformalForecaster, ConformalParams
from fanlab.intervals.pid import PIDParams, saturation

from .toys import GaussianAR1, ar1_series

PROBS = np.array([0.05, 0.5, 0.95])


def _reference_q(cf, y, t_max, H, level, params):
    """Plain loops per step over time with lists: P, S, n, the score range, judged with delay h."""
    a, t0 = 1.0 - level, cf.cal_end - 1
    grid = list(range(cf.train_end_ - 1, t0, cf.cal_stride)) + list(range(t0, t_max + 1))
    mean = {o: cf.base_.predict(y, np.array([o]), H, PROBS).mean[0] for o in grid}
    q_of = {}
    for h in range(1, H + 1):
        score = {o: abs(y[o + h] - mean[o][h - 1]) for o in grid if o + h <= t_max}
        pool = sorted(score[o] for o in grid if o < t0 and o + h <= t0)
        k = min(max(math.ceil(round((len(pool) + 1) * (1 - a), 9)), 1), len(pool))
        p, s, n = pool[k - 1], 0.0, 0
        seen = list(pool)
        for t in range(t0, t_max + 1):
            if t - h in score:
                seen.append(score[t - h])
                if t - h >= t0:
                    err = float(score[t - h] > q_of[(t - h, h)])
                    p += params.lr * (max(seen) - min(seen)) * (err - a)
                    s += err - a
                    n += 1
            arg = s * math.log(n + 1) / (params.csat * (n + 1))
            integ = math.inf if arg >= math.pi / 2 else (-math.inf if arg <= -math.pi / 2 else math.tan(arg))
            q_of[(t, h)] = p + params.ki * (max(seen) - min(seen)) * integ
    return q_of


@pytest.mark.parametrize("lr, ki, stride", [(0.1, 1.0, 1), (0.3, 0.5, 3), (0.05, 0.0, 2)])
def test_pid_matches_plain_loop_reference(lr, ki, stride):
    H, y = 3, ar1_series(300, 0.7, 5)
    params = PIDParams(lr=lr, ki=ki)
    cf = ConformalForecaster(GaussianAR1(phi=0.7, sd_factor=0.6), cal_end=120, horizon=H, method="pid",
                             pid=params, cal_stride=stride).fit(y, 60, 0)
    t_max = 296
    origins = np.arange(119, t_max + 1)
    fc = cf.predict(y, origins, H, PROBS)
    ref = _reference_q(cf, y, t_max, H, 0.9, params)
    q = np.array([[ref[(t, h)] for h in range(1, H + 1)] for t in origins])
    lo, hi = fc.interval(0.9)
    qe = np.maximum(q, 0.0)
    np.testing.assert_allclose(hi - fc.mean, qe, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(fc.mean - lo, qe, rtol=1e-10, atol=1e-10)


def test_pid_long_run_miscoverage_converges_on_iid_scores():
    # i.i.d. N(0, 1) series, a base whose own band is far too narrow: PID's miss rate over a
    # long test block is the target, per step, with delayed feedback (h = 1, 5)
    n, H, level = 6000, 5, 0.9
    y = np.random.default_rng(2).standard_normal(n)
    base = GaussianAR1(phi=0.0, sd_factor=0.3, mu=0.0)
    cf = ConformalForecaster(base, cal_end=500, horizon=H, method="pid").fit(y, 300, 0)
    origins = np.arange(499, n - H)
    fc = cf.predict(y, origins, H, PROBS)
    lo, hi = fc.interval(level)
    tgt = y[origins[:, None] + np.arange(1, H + 1)]
    miss = (tgt < lo) | (tgt > hi)
    # the integral term bounds the excess miss count; allow 3 binomial sds of slack
    tol = 3 * math.sqrt(0.1 * 0.9 / origins.size)
    np.testing.assert_allclose(miss.mean(axis=0), 1 - level, atol=tol)
    assert np.all(np.isfinite(hi))
    # the band settles near the true 90% quantile of |N(0, 1)|, 1.645
    assert abs(np.median(hi[-2000:] - fc.mean[-2000:]) - 1.645) < 0.15


def _recovery(cover: np.ndarray) -> list[int]:
    """Per step, the first origin that starts 10 origins with at least 8 covered (len if none)."""
    out = []
    for j in range(cover.shape[1]):
        ok = np.convolve(cover[:, j], np.ones(10), "valid") >= 8
        out.append(int(np.argmax(ok)) if ok.any() else cover.shape[0])
    return out


def test_pid_recovers_from_a_level_break_faster_than_a_fixed_quantile_and_aci():
    # a jump of 6 innovation sds 100 origins into the test block; the base keeps its level.
    # Measured: PID covers again 3-4 origins after the break (0.80 of the first 50), ACI with
    # gamma 0.005 after 12-13 (0.62), ACI with gamma 0.05 at once but with 16% infinite bands
    H, level, cal_end, brk, n = 3, 0.9, 300, 400, 900
    y = ar1_series(n, 0.0, 11, brk, 6.0)
    base = GaussianAR1(phi=0.0, sd_factor=0.5)
    origins = np.arange(cal_end - 1, n - H)
    tgt = y[origins[:, None] + np.arange(1, H + 1)]
    post = origins >= brk - 1
    cover, inf = {}, {}
    for name, kw in (("split", {}), ("pid", {"method": "pid"}), ("aci", {"method": "aci", "gamma": 0.005}),
                     ("aci_fast", {"method": "aci", "gamma": 0.05})):
        fc = ConformalForecaster(base, cal_end, H, **kw).fit(y, 150, 0).predict(y, origins, H, PROBS)
        lo, hi = fc.interval(level)
        cover[name] = ((tgt >= lo) & (tgt <= hi))[post]
        inf[name] = np.isinf(hi[post]).mean()
    assert cover["split"].mean() < 0.05  # a fixed quantile never recovers
    assert max(_recovery(cover["pid"])) <= 6 < min(_recovery(cover["aci"]))
    assert cover["pid"][:50].mean() > cover["aci"][:50].mean() + 0.1
    assert cover["pid"][50:].mean() >= level - 0.03
    assert inf["pid"] == 0.0 and inf["aci_fast"] > 0.05


def test_saturation_and_params():
    np.testing.assert_allclose(saturation(np.array([0.0, 1.0]), np.array([0, 9]), 1.0),
                               [0.0, math.tan(math.log(10) / 10)])
    s = saturation(np.array([100.0, -100.0]), np.array([10, 10]), 1.0)
    assert s[0] == np.inf and s[1] == -np.inf
    with pytest.raises(ValueError, match="pid"):
        ConformalForecaster(GaussianAR1(), cal_end=10, horizon=2, method="pid", score="signed")
    p = ConformalParams.model_validate({"base": {"name": "naive"}, "method": "pid", "pid": {"lr": 0.2}})
    assert p.pid.lr == 0.2 and p.pid.ki == 1.0
    with pytest.raises(ValueError):
        ConformalParams.model_validate({"base": {"name": "naive"}, "method": "pid", "pid": {"lr": 0}})


@pytest.mark.parametrize("score", ["normalized", "cqr"])
def test_pid_other_scores_cover_on_ar1(score):
    n, H, level = 3000, 4, 0.8
    y = ar1_series(n, 0.7, 3)
    cf = ConformalForecaster(GaussianAR1(phi=0.7, sd_factor=0.5), cal_end=600, horizon=H, method="pid",
                             score=score).fit(y, 300, 0)
    origins = np.arange(599, n - H)
    fc = cf.predict(y, origins, H, np.array([0.1, 0.5, 0.9]))
    lo, hi = fc.interval(level)
    tgt = y[origins[:, None] + np.arange(1, H + 1)]
    cov = ((tgt >= lo) & (tgt <= hi)).mean(axis=0)
    np.testing.assert_allclose(cov, level, atol=3 * math.sqrt(0.16 / origins.size) + 0.01)
