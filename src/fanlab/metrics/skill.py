"""Skill against references, and calibration conditional on the state at the origin.

Coverage alone cannot tell a forecaster that learnt the dynamics from one that learnt
nothing: the training block's marginal (climatology) covers its nominal level too on a
stationary series. These functions read a method against two references, the climatology
(the "learnt nothing" line) and, where the truth is known, the oracle.

Pure functions on arrays; (K, H) = K origins by H steps, matched origin by origin between a
method and its reference (the same series, seed and origins).
"""

from __future__ import annotations

import numpy as np


def _mean0(a: np.ndarray) -> np.ndarray:
    return np.asarray(a, dtype=float).mean(axis=0)


def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den elementwise, NaN where den is 0 or not finite (no reference to read against)."""
    num = np.asarray(num, dtype=float)
    den = np.asarray(den, dtype=float)
    ok = np.isfinite(den) & (den != 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(ok, num / np.where(ok, den, 1.0), np.nan)


def skill(score: np.ndarray, ref_score: np.ndarray) -> np.ndarray:
    """Skill score 1 - score / ref_score of mean (negatively oriented) scores, elementwise.

    1: perfect, 0: no better than the reference, < 0: worse. NaN where the reference score is
    0 or not finite.
    """
    return 1.0 - ratio(score, ref_score)


def crps_skill(crps: np.ndarray, crps_ref: np.ndarray) -> np.ndarray:
    """CRPS skill per step: 1 - mean_k CRPS / mean_k CRPS_ref; crps (K, H) -> (H,).

    The means are taken first (a skill score of the mean score, as the CRPSS is defined),
    never a mean of per-origin ratios, which a near-zero reference CRPS would dominate.
    """
    return skill(_mean0(crps), _mean0(crps_ref))


def crps_excess(crps: np.ndarray, crps_oracle: np.ndarray) -> np.ndarray:
    """Mean CRPS above the oracle's per step, (K, H) -> (H,); >= 0 in expectation."""
    return _mean0(crps) - _mean0(crps_oracle)


def width_ratio(width: np.ndarray, width_ref: np.ndarray) -> np.ndarray:
    """Mean interval width over the reference's, per step; (K, H) -> (H,). 1: as sharp as it."""
    return ratio(_mean0(width), _mean0(width_ref))


def mae_ratio(abs_err: np.ndarray, abs_err_ref: np.ndarray) -> np.ndarray:
    """MAE over the reference's MAE per step, from absolute errors (K, H) -> (H,)."""
    return ratio(_mean0(abs_err), _mean0(abs_err_ref))


def state_bins(state: np.ndarray, n_bins: int = 3, rtol: float = 1e-6) -> np.ndarray:
    """Bin index 0 .. n_bins - 1 of each value by the empirical quantiles of `state`.

    state (N,) or (K, H), binned along axis 0 (each column on its own). Interior edges are
    the j / n_bins quantiles; a value equal to an edge goes to the lower bin. Ties across an
    edge leave a bin empty rather than split equal states. NaN states get -1, and so does a
    whole column whose states are equal to within a relative `rtol` (a state that does not
    vary, such as the oracle's spread on a linear Gaussian process, has no bins to compare).
    """
    state = np.asarray(state, dtype=float)
    if n_bins < 2:
        raise ValueError(f"n_bins must be >= 2, got {n_bins}")
    cols = state.reshape(state.shape[0], -1)
    out = np.full(cols.shape, -1, dtype=np.int64)
    for j in range(cols.shape[1]):
        col = cols[:, j]
        ok = np.isfinite(col)
        if not ok.any():
            continue
        v = col[ok]
        if v.max() - v.min() <= rtol * max(abs(v.max()), abs(v.min())):
            continue
        edges = np.quantile(col[ok], np.arange(1, n_bins) / n_bins)
        out[ok, j] = np.searchsorted(edges, col[ok], side="left")
    return out.reshape(state.shape)


def conditional_coverage(hits: np.ndarray, bins: np.ndarray, n_bins: int = 3) -> np.ndarray:
    """Coverage within each state bin: mean of the hits whose bin is b, for b = 0 .. n_bins - 1.

    hits (K, H) bool or 0/1; bins (K, H) or (K,) (one bin per origin, broadcast over H) from
    `state_bins`. Returns (n_bins,), NaN for an empty bin. A marginally calibrated forecaster
    that ignores the state (climatology on GARCH) covers too much in calm bins and too little
    in volatile ones; a conditionally calibrated one covers the nominal level in every bin.
    """
    hits = np.asarray(hits, dtype=float)
    bins = np.asarray(bins)
    if bins.ndim == 1:
        bins = np.broadcast_to(bins[:, None], hits.shape)
    if bins.shape != hits.shape:
        raise ValueError(f"bins must be (K,) or (K, H) = {hits.shape}, got {bins.shape}")
    out = np.full(n_bins, np.nan)
    for b in range(n_bins):
        sel = bins == b
        if sel.any():
            out[b] = hits[sel].mean()
    return out


def recent_volatility(y: np.ndarray, origins: np.ndarray, window: int = 20) -> np.ndarray:
    """The state of a series at each origin t without an oracle: the standard deviation of its
    last `window` first differences, from ``y[: t + 1]`` only; (K,). NaN before `window` + 1
    points exist."""
    y = np.asarray(y, dtype=float)
    origins = np.asarray(origins, dtype=np.int64)
    out = np.full(origins.shape, np.nan)
    d = np.diff(y)
    for i, t in enumerate(origins):
        if t >= window:
            out[i] = d[t - window: t].std()
    return out
