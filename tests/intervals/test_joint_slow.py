"""Joint (max-score) conformal: whole-path coverage at H = 100 (run with ``-m slow``).

Each replication draws a new Gaussian AR(1) series, fits the wrapper and forecasts the whole
H-step path from one origin (the first test origin), so hits are independent across
replications. The base is the true AR(1) forecaster (known phi and level), so the residual
path of origin t is a fixed linear map of the innovations in (t, t + H].

- Exchangeable: calibration origins every H steps (``cal_stride = H``) have disjoint
  innovation windows, and so does the test origin: the n + 1 residual paths are i.i.d.
  Given the scale origins, the ranked and the test max-scores are i.i.d. and continuous, so
  the joint coverage is exactly k / (m + 1); the hit count is checked against the exact
  binomial band of that value (`binomial_band`, family-wise false alarm FALSE_ALARM over
  the levels). Bonferroni, with the same n = 300, is infinite at 95%.
- Headline-like: ``cal_stride = 1`` and n = 300 overlapping windows (not exchangeable);
  the band must be finite at 95% (Bonferroni's is not); coverage is printed, not checked.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import lfilter

from fanlab.intervals.conformal import ConformalForecaster
from fanlab.intervals.ranks import conformal_rank, joint_split
from fanlab.metrics.calibration import binomial_band

from .toys import GaussianAR1

pytestmark = pytest.mark.slow

FALSE_ALARM = 0.001
REPS = 10000
H, N_CAL, PHI = 100, 300, 0.6
LEVELS = np.array([0.5, 0.8, 0.95])
PROBS = np.array([0.025, 0.1, 0.25, 0.5, 0.75, 0.9, 0.975])


def _ar1(rng, n):
    e = rng.normal(size=n)
    e[0] /= np.sqrt(1 - PHI**2)  # stationary start
    return lfilter([1.0], [1.0, -PHI], e)


def _run(stride, seed, train=50):
    """Per replication: joint hits (REPS, L), band widths and Bonferroni's, same series."""
    rng = np.random.default_rng(seed)
    cal_end = train + (N_CAL - 1) * stride + H  # exactly N_CAL calibration origins
    origin = cal_end - 1
    base = GaussianAR1(phi=PHI, mu=0.0, sd_factor=0.5)
    hits = np.empty((REPS, LEVELS.size), dtype=bool)
    width = np.empty((REPS, LEVELS.size, H))
    b_width = np.empty((REPS, LEVELS.size, H))
    b_hits = np.empty((REPS, LEVELS.size), dtype=bool)
    same_hits = np.empty((REPS, LEVELS.size), dtype=bool)  # s_h from the ranked scores too
    for r in range(REPS):
        y = _ar1(rng, cal_end + H)
        tgt = y[origin + 1: origin + 1 + H]
        cf = ConformalForecaster(base, cal_end, H, method="joint", cal_stride=stride).fit(y, train, r)
        assert cf.cal_origins_.size == N_CAL
        fc = cf.predict(y, np.array([origin]), H, PROBS)
        bf = ConformalForecaster(base, cal_end, H, method="bonferroni", cal_stride=stride).fit(y, train, r)
        fb = bf.predict(y, np.array([origin]), H, PROBS)
        # the asymmetric variant: scale and rank on all n scores (not what `joint` does)
        s_all = cf.scores_.mean(axis=0)
        m_all = np.sort((cf.scores_ / s_all).max(axis=1))
        e_test = np.abs(tgt - fc.mean[0])
        for i, lv in enumerate(LEVELS):
            lo, hi = fc.interval(lv)
            hits[r, i] = np.all((tgt >= lo[0]) & (tgt <= hi[0]))
            width[r, i] = hi[0] - lo[0]
            lo, hi = fb.interval(lv)
            b_hits[r, i] = np.all((tgt >= lo[0]) & (tgt <= hi[0]))
            b_width[r, i] = hi[0] - lo[0]
            k = conformal_rank(N_CAL, 1 - lv)
            same_hits[r, i] = k <= N_CAL and np.all(e_test <= m_all[k - 1] * s_all)
    return hits, width, b_hits, b_width, same_hits


def _report(name, hits, width, b_hits, b_width, same_hits):
    for i, lv in enumerate(LEVELS):
        w, bw = width[:, i].mean(axis=1), b_width[:, i].mean(axis=1)
        ratio = f"{np.mean(w / bw):.3f}" if np.isfinite(bw).all() else "bonferroni infinite"
        print(f"\n{name} level {lv}: joint coverage {hits[:, i].mean():.4f} (same-sample scale "
              f"{same_hits[:, i].mean():.4f}), mean width {w.mean():.3f} (h=1 {width[:, i, 0].mean():.3f}, "
              f"h=100 {width[:, i, -1].mean():.3f}), finite in {np.isfinite(w).mean():.3f} of reps; "
              f"bonferroni joint coverage {b_hits[:, i].mean():.4f}, finite in {np.isfinite(bw).mean():.3f}, "
              f"width ratio joint/bonferroni {ratio}")


def test_joint_coverage_exchangeable_paths_h100():
    hits, width, b_hits, b_width, same_hits = _run(stride=H, seed=11)
    _report("exchangeable (stride H)", hits, width, b_hits, b_width, same_hits)
    m = N_CAL - joint_split(N_CAL, 0.3)
    for i, lv in enumerate(LEVELS):
        exact = conformal_rank(m, 1 - lv) / (m + 1)  # k / (m + 1) >= lv
        lo, hi = binomial_band(float(exact), REPS, FALSE_ALARM, n_tests=LEVELS.size)
        cov = hits[:, i].mean()
        print(f"\nlevel {lv}: m = {m}, exact coverage {exact:.4f}, binomial band [{lo:.4f}, {hi:.4f}], "
              f"measured {cov:.4f}")
        assert exact >= lv
        assert lo <= cov <= hi
        assert np.isfinite(width[:, i]).all()
    i95, i50 = list(LEVELS).index(0.95), list(LEVELS).index(0.5)
    assert np.isinf(b_width[:, i95]).all()  # n = 300 < H / a - 1 = 1999
    assert np.isfinite(b_width[:, i50]).all()
    assert np.mean(width[:, i50].mean(axis=1) / b_width[:, i50].mean(axis=1)) < 1.0


def test_joint_finite_at_headline_size_overlapping_windows():
    hits, width, b_hits, b_width, same_hits = _run(stride=1, seed=12, train=200)
    _report("overlapping (stride 1)", hits, width, b_hits, b_width, same_hits)
    i95 = list(LEVELS).index(0.95)
    assert np.isfinite(width[:, i95]).all()
    assert np.isinf(b_width[:, i95]).all()
