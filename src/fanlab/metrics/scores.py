"""Per-cell scores of interval and distributional forecasts.

Every function is pure: arrays in, arrays out. Unless stated otherwise arrays are (K, H) with
K forecast origins and H horizon steps, and scores are elementwise (one value per cell);
averaging over origins, series or seeds is left to the caller, except for the point-error
summaries (`mae`, `rmse`, `mase`, `msis`) that average over origins and return (H,).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm

from fanlab.errors import DataError
from fanlab.forecast import Forecast

_INV_SQRT_PI = 1.0 / np.sqrt(np.pi)


def _alpha(level: float) -> float:
    level = float(level)
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    return 1.0 - level


def _check_quantiles(quantiles: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    quantiles = np.asarray(quantiles, dtype=float)
    probs = np.asarray(probs, dtype=float)
    if probs.ndim != 1 or quantiles.ndim != 3 or quantiles.shape[1] != probs.shape[0]:
        raise ValueError(
            f"quantiles must be (K, Q, H) with Q = len(probs) = {probs.shape}, got {quantiles.shape}"
        )
    if np.any(np.diff(probs) <= 0) or np.any((probs <= 0) | (probs >= 1)):
        raise ValueError("probs must be strictly increasing values in (0, 1)")
    return quantiles, probs


# --- intervals ----------------------------------------------------------------------------


def hits(y: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Whether each observation lies in its interval, bounds included; bool (K, H)."""
    y = np.asarray(y, dtype=float)
    return (np.asarray(lo) <= y) & (y <= np.asarray(hi))


def joint_hits(y: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Whether all H steps of each origin lie in their intervals; bool (K,)."""
    return hits(y, lo, hi).all(axis=-1)


def coverage(y: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Fraction of origins whose observation lies in the interval, per step; (H,)."""
    return hits(y, lo, hi).mean(axis=0)


def width(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Interval width hi - lo; (K, H)."""
    return np.asarray(hi, dtype=float) - np.asarray(lo, dtype=float)


def interval_score(y: np.ndarray, lo: np.ndarray, hi: np.ndarray, level: float) -> np.ndarray:
    """Winkler (interval) score of the central `level` interval; (K, H).

    width + (2 / alpha) * distance from the interval when the observation falls outside,
    with alpha = 1 - level. It is proper for the (alpha/2, 1 - alpha/2) quantiles, is never
    below the width, and equals ``scoringrules.interval_score(y, lo, hi, alpha)``.
    """
    y = np.asarray(y, dtype=float)
    lo = np.asarray(lo, dtype=float)
    hi = np.asarray(hi, dtype=float)
    penalty = 2.0 / _alpha(level)
    below = np.maximum(lo - y, 0.0)
    above = np.maximum(y - hi, 0.0)
    return (hi - lo) + penalty * (below + above)


# --- CRPS -----------------------------------------------------------------------------------


def crps_gaussian(y: np.ndarray, mean: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """Closed-form CRPS of a Normal(mean, sd) predictive; (K, H).

    sd = 0 is allowed and gives the CRPS of a point mass, |y - mean|.
    """
    y = np.asarray(y, dtype=float)
    mean = np.asarray(mean, dtype=float)
    sd = np.asarray(sd, dtype=float)
    if np.any(sd < 0):
        raise ValueError("sd must be non-negative")
    err = y - mean
    safe_sd = np.where(sd > 0, sd, 1.0)
    # sd * [z (2 Phi(z) - 1) + 2 phi(z) - 1/sqrt(pi)] with z = err / sd, written so that a
    # tiny sd (z overflowing to +-inf) still gives |err| instead of inf * 0.
    with np.errstate(over="ignore"):
        z = err / safe_sd
        value = err * (2.0 * norm.cdf(z) - 1.0) + safe_sd * (2.0 * norm.pdf(z) - _INV_SQRT_PI)
    return np.where(sd > 0, value, np.abs(err))


def crps_samples(y: np.ndarray, samples: np.ndarray) -> np.ndarray:
    """CRPS of the empirical distribution of samples (K, S, H); returns (K, H).

    Uses scoringrules' quantile-decomposition estimator, which equals
    E|X - y| - E|X - X'| / 2 under the empirical distribution of the S samples (not the
    "fair" small-ensemble correction).
    """
    import scoringrules as sr  # here, not at the top: importing it compiles numba kernels (seconds in every process)

    samples = np.asarray(samples, dtype=float)
    if samples.ndim != 3:
        raise ValueError(f"samples must be (K, S, H), got shape {samples.shape}")
    return np.asarray(sr.crps_ensemble(np.asarray(y, dtype=float), samples, m_axis=1, estimator="qd"))


def quadrature_weights(probs: np.ndarray) -> np.ndarray:
    """Midpoint-rule weights (Q,) of quantile probabilities over [0, 1]; they sum to 1.

    Each probability stands for the span from the midpoint with its lower neighbour to the
    midpoint with its upper one, the outermost ones reaching 0 and 1. On an evenly spaced
    grid p_q = (q - 1/2) / Q every weight is 1 / Q.
    """
    probs = np.asarray(probs, dtype=float)
    edges = np.concatenate([[0.0], (probs[1:] + probs[:-1]) / 2.0, [1.0]])
    return np.diff(edges)


def crps_quantiles(y: np.ndarray, quantiles: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """CRPS approximated from quantiles (K, Q, H) at probs (Q,); returns (K, H).

    Uses CRPS = 2 * integral over tau in (0, 1) of the pinball loss at tau, discretised by
    the midpoint rule (`quadrature_weights`). On an evenly spaced grid (q - 1/2) / Q this
    is exactly ``scoringrules.crps_quantile``; on uneven grids (levels plus a fine grid)
    it weights each quantile by the probability span it represents instead of equally.

    Bias: the tails beyond the outermost quantiles are not resolved. For a correct standard
    normal forecast (expected CRPS 1/sqrt(pi) = 0.5642) the expected approximation is
    0.5665 (+0.4%) on the 39-point grid 0.025, 0.05, ..., 0.975, 0.5654 (+0.2%) on 19
    evenly spaced midpoints, 0.5005 (-11%) on {0.025, 0.1, 0.5, 0.9, 0.975} and 0.530
    (-6%) on {0.1, 0.5, 0.9}. Compare methods only on the same grid.
    """
    quantiles, probs = _check_quantiles(quantiles, probs)
    w = quadrature_weights(probs)
    loss = _pinball_cells(np.asarray(y, dtype=float), quantiles, probs)  # (K, Q, H)
    return 2.0 * np.einsum("q,kqh->kh", w, loss)


def crps(y: np.ndarray, forecast: Forecast) -> np.ndarray:
    """CRPS of a `Forecast`, using its richest representation; (K, H).

    Gaussian (sd present) -> closed form; sample based -> empirical CRPS of the samples;
    otherwise the quantile approximation of `crps_quantiles`.
    """
    if forecast.sd is not None:
        return crps_gaussian(y, forecast.mean, forecast.sd)
    if forecast.samples is not None:
        return crps_samples(y, forecast.samples)
    return crps_quantiles(y, forecast.quantiles, forecast.probs)


# --- quantile scores ------------------------------------------------------------------------


def _pinball_cells(y: np.ndarray, quantiles: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Pinball loss at each probability; y (K, H), quantiles (K, Q, H) -> (K, Q, H)."""
    diff = y[:, None, :] - quantiles
    tau = probs[None, :, None]
    return np.maximum(tau * diff, (tau - 1.0) * diff)


def pinball(y: np.ndarray, quantiles: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Pinball (quantile) loss averaged with equal weight over the Q probabilities; (K, H).

    At probability tau the loss is tau * (y - q) if y >= q, else (1 - tau) * (q - y).
    """
    quantiles, probs = _check_quantiles(quantiles, probs)
    return _pinball_cells(np.asarray(y, dtype=float), quantiles, probs).mean(axis=1)


# --- PIT ------------------------------------------------------------------------------------


def pit_quantiles(y: np.ndarray, quantiles: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """PIT from quantiles alone, by linear interpolation of the quantile function; (K, H).

    Between two quantiles the CDF is taken as linear. Tail rule: an observation below the
    lowest quantile gets p_1 / 2 and one above the highest gets (1 + p_Q) / 2, the centres
    of the tail masses the forecast leaves unresolved. So a PIT histogram whose bin edges
    are among the forecast probabilities (e.g. 10 bins on the 0.025 grid) counts exactly
    the same cells as the true PIT would. An observation equal to a run of tied quantiles
    gets the midpoint of their probabilities.
    """
    quantiles, probs = _check_quantiles(quantiles, probs)
    y = np.asarray(y, dtype=float)[:, None, :]
    n_below = (quantiles < y).sum(axis=1)  # (K, H), 0..Q
    n_at_or_below = (quantiles <= y).sum(axis=1)
    q_count = probs.shape[0]

    # Interpolate inside (q[j-1], q[j]] where j = n_below; clipped indices keep the gathers
    # valid in the tail cells, which are overwritten below.
    j = np.clip(n_below, 1, q_count - 1)
    q_lo = np.take_along_axis(quantiles, (j - 1)[:, None, :], axis=1)[:, 0, :]
    q_hi = np.take_along_axis(quantiles, j[:, None, :], axis=1)[:, 0, :]
    span = np.where(q_hi > q_lo, q_hi - q_lo, 1.0)
    frac = np.clip((y[:, 0, :] - q_lo) / span, 0.0, 1.0)
    out = probs[j - 1] + (probs[j] - probs[j - 1]) * frac

    tied = n_at_or_below > n_below
    tie_value = (probs[np.minimum(n_below, q_count - 1)] + probs[np.maximum(n_at_or_below - 1, 0)]) / 2
    out = np.where(tied, tie_value, out)
    out = np.where(~tied & (n_below == 0), probs[0] / 2.0, out)
    out = np.where(~tied & (n_below == q_count), (1.0 + probs[-1]) / 2.0, out)
    return out


def pit_samples(y: np.ndarray, samples: np.ndarray) -> np.ndarray:
    """PIT from samples (K, S, H): fraction of samples below y, ties counted half; (K, H)."""
    samples = np.asarray(samples, dtype=float)
    y = np.asarray(y, dtype=float)[:, None, :]
    below = (samples < y).sum(axis=1)
    equal = (samples == y).sum(axis=1)
    return (below + 0.5 * equal) / samples.shape[1]


def pit_gaussian(y: np.ndarray, mean: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """PIT of a Normal(mean, sd) predictive; sd = 0 gives 0, 1/2 or 1; (K, H)."""
    y = np.asarray(y, dtype=float)
    mean = np.asarray(mean, dtype=float)
    sd = np.asarray(sd, dtype=float)
    with np.errstate(over="ignore"):
        z = (y - mean) / np.where(sd > 0, sd, 1.0)
    point_mass = np.where(y > mean, 1.0, np.where(y < mean, 0.0, 0.5))
    return np.where(sd > 0, norm.cdf(z), point_mass)


def pit(y: np.ndarray, forecast: Forecast) -> np.ndarray:
    """Probability integral transform F(y) of a `Forecast`; (K, H).

    Gaussian -> normal CDF; samples -> `pit_samples`; quantiles only -> `pit_quantiles`.
    """
    if forecast.sd is not None:
        return pit_gaussian(y, forecast.mean, forecast.sd)
    if forecast.samples is not None:
        return pit_samples(y, forecast.samples)
    return pit_quantiles(y, forecast.quantiles, forecast.probs)


# --- point errors, scaled ------------------------------------------------------------------


def mae(y: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Mean absolute error over origins; (H,)."""
    return np.abs(np.asarray(y, dtype=float) - np.asarray(mean, dtype=float)).mean(axis=0)


def rmse(y: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Root mean squared error over origins; (H,)."""
    err = np.asarray(y, dtype=float) - np.asarray(mean, dtype=float)
    return np.sqrt((err**2).mean(axis=0))


def naive_scale(y_train: np.ndarray, m: int = 1) -> float:
    """In-sample mean |y_t - y_{t-m}| of the training block (T,): MASE and MSIS denominator.

    Raises `DataError` if the block has no more than m points, holds non-finite values, or
    is m-periodic (the scale is 0), since a scaled score would then be undefined.
    """
    y_train = np.asarray(y_train, dtype=float)
    if y_train.ndim != 1:
        raise ValueError(f"y_train must be (T,), got shape {y_train.shape}")
    if m < 1:
        raise ValueError(f"m must be >= 1, got {m}")
    if y_train.shape[0] <= m:
        raise DataError(f"training block of {y_train.shape[0]} points is too short for a lag-{m} naive scale")
    if not np.all(np.isfinite(y_train)):
        raise DataError("training block holds non-finite values; the naive scale is undefined")
    scale = float(np.abs(y_train[m:] - y_train[:-m]).mean())
    if scale == 0.0:
        raise DataError(f"lag-{m} naive scale of the training block is 0; scaled scores are undefined")
    return scale


def mase(y: np.ndarray, mean: np.ndarray, scale: float) -> np.ndarray:
    """Mean absolute scaled error per step, MAE / `naive_scale`; (H,)."""
    return mae(y, mean) / float(scale)


def msis(y: np.ndarray, lo: np.ndarray, hi: np.ndarray, level: float, scale: float) -> np.ndarray:
    """Mean scaled interval score per step: mean over origins of the interval score / scale; (H,)."""
    return interval_score(y, lo, hi, level).mean(axis=0) / float(scale)
