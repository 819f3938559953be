"""Statistical checks of conformal coverage (run with ``-m slow``; they print their numbers).

Each replication draws a new series, fits the wrapper and forecasts from one origin (the first
test origin), so hits are independent across replications. A check fails when a hit count
falls outside a binomial (or, for ACI, a normal) limit at a stated false-alarm rate, split
by Bonferroni over the steps and levels it tests.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binom, norm

from fanlab.intervals.conformal import ConformalForecaster
from fanlab.intervals.ranks import conformal_rank

from .toys import GaussianAR1

pytestmark = pytest.mark.slow

FALSE_ALARM = 0.001  # per test function, split over the (level, step) cells it checks
REPS = 2000
H = 10
TRAIN, CAL = 100, 200  # n = CAL - H + 1 = 191 calibration origins
LEVELS = np.array([0.8, 0.9])
PROBS = np.array([0.05, 0.1, 0.5, 0.9, 0.95])


def _series(rng, n, phi):
    e = rng.normal(size=n)
    if phi == 0.0:
        return 3.0 + e
    y = np.empty(n)
    y[0] = e[0] / np.sqrt(1 - phi**2)
    for t in range(1, n):
        y[t] = phi * y[t - 1] + e[t]
    return y


def _hits(method, score, phi, seed):
    """Hits (REPS, L, H) of the first test origin over independent replications."""
    rng = np.random.default_rng(seed)
    base = GaussianAR1(phi=phi, sd_factor=0.5, mu=0.0 if phi else None)
    origin = TRAIN + CAL - 1
    out = np.empty((REPS, LEVELS.size, H), dtype=bool)
    for r in range(REPS):
        y = _series(rng, TRAIN + CAL + H, phi)
        cf = ConformalForecaster(base, TRAIN + CAL, H, method=method, score=score).fit(y, TRAIN, r)
        fc = cf.predict(y, np.array([origin]), H, PROBS)
        tgt = y[origin + 1: origin + 1 + H]
        for i, lv in enumerate(LEVELS):
            lo, hi = fc.interval(lv)
            out[r, i] = (tgt >= lo[0]) & (tgt <= hi[0])
    return out


@pytest.mark.parametrize("score", ["absolute", "signed", "normalized", "cqr"])
def test_split_per_step_coverage_iid(score):
    hits = _hits("split", score, 0.0, seed=1)
    n = CAL - H + 1
    cells = LEVELS.size * H
    for i, lv in enumerate(LEVELS):
        k = conformal_rank(n, (1 - lv) / 2 if score == "signed" else 1 - lv)
        # exact coverage of continuous exchangeable scores: k/(n+1); signed: two tails
        exact = (2 * k - n - 1) / (n + 1) if score == "signed" else k / (n + 1)
        low = binom.ppf(FALSE_ALARM / (2 * cells), REPS, lv)
        high = binom.isf(FALSE_ALARM / (2 * cells), REPS, exact)
        counts = hits[:, i].sum(axis=0)
        print(f"\nsplit {score} level {lv}: per-step coverage {np.round(counts / REPS, 3).tolist()} "
              f"(exact {exact:.3f}, limits [{low / REPS:.3f}, {high / REPS:.3f}])")
        assert np.all(counts >= low)
        assert np.all(counts <= high)


def test_split_per_step_coverage_stationary_ar1():
    # the base mean is the true conditional mean; scores are identically distributed but
    # dependent across origins, so only the lower limit is checked
    hits = _hits("split", "absolute", 0.6, seed=2)
    low = binom.ppf(FALSE_ALARM / (LEVELS.size * H), REPS, LEVELS)
    for i, lv in enumerate(LEVELS):
        counts = hits[:, i].sum(axis=0)
        print(f"\nsplit AR(1) level {lv}: per-step {np.round(counts / REPS, 3).tolist()} "
              f"(limit {low[i] / REPS:.3f})")
        assert np.all(counts >= low[i])


def test_bonferroni_joint_coverage_iid_and_split_joint_for_contrast():
    bonf = _hits("bonferroni", "absolute", 0.0, seed=3).all(axis=2).sum(axis=0)  # (L,)
    split = _hits("split", "absolute", 0.0, seed=3).all(axis=2).sum(axis=0)
    low = binom.ppf(FALSE_ALARM / LEVELS.size, REPS, LEVELS)
    print(f"\njoint coverage over {H} steps: bonferroni {bonf / REPS} split {split / REPS} "
          f"(limit {low / REPS})")
    assert np.all(bonf >= low)
    assert np.all(split < low)  # per-step calibration does not cover whole paths


# ------------------------------------------------------------------- level break and ACI
BREAK_REPS, BH, SHIFT = 100, 5, 3.0
B_TRAIN, B_CAL, B_PRE, B_POST = 200, 200, 200, 400
GAMMA, BLEVEL = 0.005, 0.9


def _break_hits(method, seed, window=None):
    """Hits (reps, origins, BH) with a level shift of SHIFT sds after B_PRE test steps."""
    rng = np.random.default_rng(seed)
    cal_end = B_TRAIN + B_CAL
    brk = cal_end + B_PRE
    n = brk + B_POST + BH
    origins = np.arange(cal_end - 1, n - BH)
    out = np.empty((BREAK_REPS, origins.size, BH), dtype=bool)
    for r in range(BREAK_REPS):
        y = rng.normal(size=n)
        y[brk:] += SHIFT
        cf = ConformalForecaster(GaussianAR1(sd_factor=0.5), cal_end, BH, method=method, gamma=GAMMA,
                                 aci_window=window).fit(y, B_TRAIN, r)
        lo, hi = cf.predict(y, origins, BH, PROBS).interval(BLEVEL)
        tgt = y[origins[:, None] + np.arange(1, BH + 1)]
        out[r] = (tgt >= lo) & (tgt <= hi)
    return out, origins - (brk - 1)  # steps since the break: s >= 0 has every target after it


def _recovery_step(curve, level, slack=0.025, span=25):
    """First s whose next `span` steps average at least level - slack (replication mean)."""
    roll = np.convolve(curve, np.ones(span) / span, mode="valid")
    ok = np.flatnonzero(roll >= level - slack)
    return int(ok[0]) if ok.size else None


def test_level_break_split_undercovers_aci_recovers():
    a = 1 - BLEVEL
    # consecutive revealed misses that take a_t from a to 0 (then the band is infinite), plus
    # the reveal delay of the longest step: the documented recovery horizon
    recover = BH + int(np.ceil(a / (GAMMA * (1 - a))))
    split, s = _break_hits("split", seed=5)
    aci, _ = _break_hits("aci", seed=5)
    aci_w, _ = _break_hits("aci", seed=5, window=100)
    z = norm.isf(FALSE_ALARM / 2)
    pre, post = s < -BH, s >= 0
    late = s >= recover
    for name, hits in (("split", split), ("aci", aci), ("aci window=100", aci_w)):
        curve = hits[:, post].mean(axis=(0, 2))
        print(f"\n{name}: pre-break {hits[:, pre].mean():.3f}, first {recover} post-break steps "
              f"{hits[:, post & ~late].mean():.3f}, after {recover} steps {hits[:, late].mean():.3f}, "
              f"recovery step {_recovery_step(curve, BLEVEL)}, coverage by 10-step block "
              f"{np.round(curve[:100].reshape(10, 10).mean(axis=1), 2).tolist()}")
    per_rep = lambda h, m: h[:, m].mean(axis=(1, 2))  # (reps,): replications are independent
    sp, ac = per_rep(split, late), per_rep(aci, late)
    se_sp, se_ac = sp.std(ddof=1) / np.sqrt(BREAK_REPS), ac.std(ddof=1) / np.sqrt(BREAK_REPS)
    assert sp.mean() + z * se_sp < BLEVEL  # split stays below nominal after the break
    assert ac.mean() + z * se_ac >= BLEVEL  # ACI is back at nominal within `recover` steps
    assert per_rep(aci, pre).mean() + z * per_rep(aci, pre).std(ddof=1) / np.sqrt(BREAK_REPS) >= BLEVEL
