"""Conformal order statistics, shared by split, joint and ACI: the finite-sample rank and
quantile, per-step normalisation, the levels behind requested probabilities, the symmetric band."""

from __future__ import annotations

import numpy as np

from fanlab.forecast import PROB_DECIMALS

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


def joint_split(n: int, scale_frac: float) -> int:
    """Number n_s of (earliest) calibration origins that estimate the joint per-step scale."""
    if n < 2:
        return n
    return int(min(max(np.floor(scale_frac * n + _RANK_EPS), 1), n - 1))


def normalise_steps(scores: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """scores / scale per step (scale broadcast over rows), with 0 / 0 = 0 and x / 0 = inf."""
    scale = np.broadcast_to(scale, scores.shape)
    pos = scale > 0
    out = np.where(scores > 0, np.inf, 0.0)
    np.divide(scores, scale, out=out, where=pos)
    return out


def order_stat(sorted_scores: np.ndarray, k: np.ndarray) -> np.ndarray:
    """k-th smallest (1-based) of scores sorted along axis 0; +inf for k > n, -inf for k <= 0.

    sorted_scores (n, H); k broadcastable to (L, H); returns (L, H).
    """
    n, H = sorted_scores.shape
    k = np.asarray(k)
    k = np.broadcast_to(k, np.broadcast_shapes(k.shape, (H,)))
    idx = np.clip(k - 1, 0, max(n - 1, 0))
    h_idx = np.broadcast_to(np.arange(H), idx.shape)
    out = sorted_scores[idx, h_idx] if n else np.zeros(idx.shape)
    return np.where(k > n, np.inf, np.where(k <= 0, -np.inf, out))


def conformal_quantile(scores: np.ndarray, alpha) -> np.ndarray:
    """Finite-sample conformal quantile of scores (n, H) at miss rate alpha (L,) -> (L, H)."""
    scores = np.sort(np.asarray(scores, dtype=float), axis=0)
    alpha = np.atleast_1d(np.asarray(alpha, dtype=float))
    return order_stat(scores, conformal_rank(scores.shape[0], alpha)[:, None])


def split_levels(probs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Central levels behind requested probabilities.

    Returns levels (L,) > 0 sorted, level index (Q,) of each probability (-1 for p = 0.5) and
    side (Q,): -1 lower end, +1 upper end, 0 centre.
    """
    probs = np.round(np.asarray(probs, dtype=float), PROB_DECIMALS)
    lv = np.round(np.abs(2.0 * probs - 1.0), PROB_DECIMALS)
    levels = np.unique(lv[lv > 0])
    index = np.array([np.searchsorted(levels, v) if v > 0 else -1 for v in lv], dtype=np.int64)
    return levels, index, np.sign(probs - 0.5).astype(np.int64)
