"""ACI: the order-statistic tree, a plain-loop reference, the delayed update, a level break."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fanlab.forecast import level_probs
from fanlab.intervals.aci import OrderTree
from fanlab.intervals.conformal import ConformalForecaster

from .toys import GaussianAR1, ar1_series


def test_order_tree_matches_sorting_under_inserts_and_removals():
    rng = np.random.default_rng(0)
    R, M = 4, 37
    values = rng.integers(0, 9, size=(R, M)).astype(float)  # many ties
    tree = OrderTree(values)
    lo, hi = np.array([0, 3, 10, 36]), np.array([5, 3, 20, 37])
    tree.build(lo, hi)
    for _ in range(60):
        for r in range(R):
            members = np.sort(values[r, lo[r]:hi[r]])
            assert tree.count[r] == members.size
            if members.size:
                k = np.arange(1, members.size + 1)
                np.testing.assert_array_equal(tree.kth(np.full(k.size, r), k), members)
        grow = np.flatnonzero((hi < M) & (rng.random(R) < 0.7))
        tree.add(grow, hi[grow], 1)
        hi[grow] += 1
        shrink = np.flatnonzero((lo < hi) & (rng.random(R) < 0.4))
        tree.add(shrink, lo[shrink], -1)
        lo[shrink] += 1


def _ar1(n, phi=0.7, seed=0, shift_at=None, shift=0.0):
    return ar1_series(n, phi, seed, shift_at, shift)


def _reference_bands(cf, y, t_max, H, level):
    """Plain loops over (h, t) with sorted lists; a_t = a + gamma * sum of revealed (a - err)."""
    a, t0 = 1.0 - level, cf.cal_end - 1
    pool_origins = list(range(cf.train_end_ - 1, t0, cf.cal_stride)) + list(range(t0, t_max + 1))
    plo, phi_ = level_probs(level)
    probs = np.array(sorted({plo, 0.25, 0.5, 0.75, phi_}))
    fcs = {o: cf.base_.predict(y, np.array([o]), H, probs) for o in pool_origins}

    def score(o, h):
        f = fcs[o]
        m = f.mean[0, h - 1]
        e = y[o + h] - m
        if cf.score == "absolute":
            return abs(e)
        if cf.score == "signed":
            return e
        return max(f.quantile(plo)[0, h - 1] - y[o + h], y[o + h] - f.quantile(phi_)[0, h - 1])

    out = {}
    for h in range(1, H + 1):
        errs = []
        for t in range(t0, t_max + 1):
            if t - h >= t0:
                lo_, hi_ = out[(t - h, h)][0], out[(t - h, h)][2]
                errs.append(0.0 if lo_ <= y[t] <= hi_ else 1.0)
            alpha = a + cf.gamma * sum(a - e for e in errs)
            pool = sorted(score(o, h) for o in pool_origins if o + h <= t)
            if cf.aci_window:
                pool = sorted([score(o, h) for o in pool_origins if o + h <= t][-cf.aci_window:])
            n, f = len(pool), fcs[t]
            m = f.mean[0, h - 1]
            centre = m + pool[math.ceil((n + 1) / 2) - 1] if cf.score == "signed" else (
                f.quantile(0.5)[0, h - 1] if cf.score == "cqr" else m)
            kk = math.ceil(round((n + 1) * (1 - (alpha / 2 if cf.score == "signed" else alpha)), 9))
            if alpha >= 1:
                band = (centre, centre)
            elif kk > n:
                band = (-np.inf, np.inf)
            elif cf.score == "absolute":
                band = (m - pool[kk - 1], m + pool[kk - 1])
            elif cf.score == "signed":
                band = (m + pool[n - kk], m + pool[kk - 1])
            else:
                band = (f.quantile(plo)[0, h - 1] - pool[kk - 1], f.quantile(phi_)[0, h - 1] + pool[kk - 1])
            out[(t, h)] = (band[0], centre, band[1])
    return out


@pytest.mark.parametrize(
    "score, level, gamma, window, stride",
    [
        ("absolute", 0.8, 0.047, None, 1),
        ("absolute", 0.2, 0.21, 15, 3),  # a_t leaves [0, 1] both ways
        ("signed", 0.8, 0.21, None, 2),
        ("cqr", 0.8, 0.047, 15, 1),
    ],
)
# gamma avoids steps that sum exactly to a_t = 1, where the two implementations' different
# summation orders would round to opposite sides of the (arbitrary) boundary
def test_aci_matches_plain_loop_reference(score, level, gamma, window, stride):
    H, y = 3, _ar1(220, seed=5)
    cf = ConformalForecaster(GaussianAR1(phi=0.7, sd_factor=0.6), cal_end=120, horizon=H, method="aci",
                             score=score, gamma=gamma, aci_window=window, cal_stride=stride).fit(y, 60, 0)
    t_max = 216
    origins = np.arange(119, t_max + 1)
    probs = np.array([*level_probs(level)[:1], 0.5, level_probs(level)[1]])
    fc, alpha, _ = cf.aci_path(y, origins, H, probs)
    ref = _reference_bands(cf, y, t_max, H, level)
    want = np.array([[sorted(ref[(t, h)]) for h in range(1, H + 1)] for t in origins])  # (K, H, 3)
    np.testing.assert_allclose(fc.quantiles, want.transpose(0, 2, 1), rtol=1e-12, atol=1e-12)
    if gamma == 0.21:  # the edge cases were exercised: empty bands at a = 0.8, infinite at 0.2
        if level == 0.2:
            assert np.any(alpha >= 1) and any("zero width" in w for w in fc.info["warnings"])
        else:
            assert np.any(alpha < 0) and np.isinf(fc.quantiles).any()
            assert any("infinite" in w for w in fc.info["warnings"])


def test_delayed_update_uses_error_of_origin_t_plus_1_minus_h():
    # a_{t+1} - a_t must equal gamma (a - err) of exactly the origin t + 1 - h, the one whose
    # step-h target y[t + 1] is observed at t + 1; zero before any such origin exists
    H, level, gamma = 4, 0.9, 0.01
    y = _ar1(400, seed=7)
    cf = ConformalForecaster(GaussianAR1(phi=0.7, sd_factor=0.5), cal_end=200, horizon=H, method="aci",
                             gamma=gamma).fit(y, 100, 0)
    origins = np.arange(199, 396)
    fc, alpha, _ = cf.aci_path(y, origins, H, np.array([0.05, 0.5, 0.95]))
    lo, hi = fc.interval(level)
    for j in range(H):
        h = j + 1
        miss = (y[origins + h] < lo[:, j]) | (y[origins + h] > hi[:, j])
        for i in range(origins.size - 1):
            src = i + 1 - h  # index of origin t + 1 - h
            want = gamma * ((1 - level) - miss[src]) if src >= 0 else 0.0
            assert alpha[i + 1, 0, j] - alpha[i, 0, j] == pytest.approx(want, abs=1e-12)
    assert miss.any() and not miss.all()


def test_level_break_split_misses_aci_runs_of_misses_bounded():
    # a jump of 8 innovation sds 100 steps into the test block: the split band (fixed width
    # about +-2.5) cannot cover; ACI misses in a row only until a_t falls below 1 / (n + 1):
    # a run starting with a_t = A lasts at most h + A / (gamma (1 - a)) origins
    H, level, gamma = 3, 0.9, 0.005
    cal_end, brk = 300, 400
    y = _ar1(800, phi=0.0, seed=11, shift_at=brk, shift=8.0)
    base = GaussianAR1(phi=0.0, sd_factor=0.5)
    origins = np.arange(cal_end - 1, 800 - H)
    post = origins >= brk - 1  # every target after the break
    probs = np.array([0.05, 0.5, 0.95])
    split = ConformalForecaster(base, cal_end, H).fit(y, 150, 0).predict(y, origins, H, probs)
    aci = ConformalForecaster(base, cal_end, H, method="aci", gamma=gamma).fit(y, 150, 0)
    fa, alpha, _ = aci.aci_path(y, origins, H, probs)
    tgt = y[origins[:, None] + np.arange(1, H + 1)]
    for fc, name in ((split, "split"), (fa, "aci")):
        lo, hi = fc.interval(level)
        hit = (tgt >= lo) & (tgt <= hi)
        if name == "split":
            assert not hit[post].any()
            continue
        A = alpha[post, 0].max(axis=0)  # (H,)
        for j in range(H):
            runs = np.diff(np.flatnonzero(np.diff(np.r_[1, hit[post, j].astype(int), 1]) != 0))[::2]
            bound = (j + 1) + A[j] / (gamma * level)
            assert runs.max() <= bound
        assert hit[post][-200:].mean() >= level  # recovered by the end
