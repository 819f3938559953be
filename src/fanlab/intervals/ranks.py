"""The finite-sample conformal rank and the symmetric band: shared by split, joint and ACI."""

from __future__ import annotations

import numpy as np

#: tolerance on (n + 1)(1 - alpha) before the ceiling, so that e.g. 0.95 * 20 = 19 exactly
_RANK_EPS = 1e-9


def conformal_rank(n, alpha) -> np.ndarray:
    """1-based rank k = ceil((n + 1)(1 - alpha)) of the finite-sample conformal quantile.

    `n` and `alpha` broadcast. k > n means the band is infinite; k <= 0 (alpha >= 1) means
    an empty (zero-width) band.
    """
    x = (np.asarray(n, dtype=float) + 1.0) * (1.0 - np.asarray(alpha, dtype=float))
    return np.ceil(x - _RANK_EPS * np.maximum(1.0, np.abs(x))).astype(np.int64)


def symmetric_band(ref_lo, ref_hi, scale, Q):
    """[ref_lo - Q s, ref_hi + Q s], infinite where Q is +inf (whatever s is)."""
    off = Q if scale is None else Q * scale
    inf = np.broadcast_to(np.isposinf(Q), np.broadcast_shapes(np.shape(ref_lo), np.shape(off)))
    lo = np.where(inf, -np.inf, ref_lo - np.where(inf, 0.0, off))
    hi = np.where(inf, np.inf, ref_hi + np.where(inf, 0.0, off))
    return lo, hi
