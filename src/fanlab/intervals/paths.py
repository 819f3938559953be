"""Simultaneous bands for whole forecast paths, from a method's own joint law.

A per-step band at level l holds each y[t + h] with probability l; the whole path y[t + 1 ..
t + H] it holds far less often (the oracle's own per-step 95% band holds a 100-step ARMA path
almost never). The simultaneous band mean_h +- c sd_h holds the whole path with probability l
when c is the l-quantile of

    M = max_h |Y_h - mean_h| / sd_h

under the method's law. Two sources of that law:

- Gaussian (ARIMA, Kalman oracles; `fanlab.data.statespace_paths`): mean (K, H) and path
  covariance (K, H, H). M's quantile has no closed form; it is simulated from n_draws
  standard-normal paths with the origin's correlation (the same seeded draws for every origin,
  so origins with one correlation matrix share one c). The Monte Carlo error of c is reported
  as a distribution-free 95% interval from the order statistics around rank n_draws * l.
- Sample paths (K, S, H) (recursive networks, ensembles, Monte Carlo oracles): standardise
  each path by the per-step sample mean and sd, take M per path, and use its
  ceil((S + 1) l)-th smallest value (the conformal rank: a new path exchangeable with the S
  samples lies inside with probability >= l); (-inf, inf) when that rank exceeds S.

A band that is monotone in each step (mean +- c sd) holds the same paths after an increasing
transform, so a Gaussian band of a log / Box-Cox ARIMA maps back through the inverse.

`path_inside` says which origins' whole paths the band holds; the share of them is the path
coverage. Its binomial reading needs independent origins: windows that do not overlap
(origins H or more apart) are independent under the true model, since each window's errors
are functions of its own innovations only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fanlab.metrics.paths import psd_factor

#: normal quantile of the two-sided 95% interval reported for the Monte Carlo error of c
_Z95 = 1.959963984540054


@dataclass(frozen=True)
class SimultaneousBand:
    """A band that holds whole paths; L levels, K origins, H steps.

    Attributes
    ----------
    levels : (L,)
    lower, upper : (K, L, H)
    c : (K, L)
        Multiplier of the per-step sd (inf where the level cannot be reached).
    c_interval : (K, L, 2) or None
        95% Monte Carlo interval of c (Gaussian bands), from the order statistics.
    n_draws : int
        Draws (Gaussian) or sample paths (samples) behind c.
    """

    levels: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    c: np.ndarray
    c_interval: np.ndarray | None
    n_draws: int

    @property
    def width(self) -> np.ndarray:
        """Band width (K, L, H)."""
        return self.upper - self.lower


def _levels(levels) -> np.ndarray:
    lv = np.atleast_1d(np.asarray(levels, dtype=float))
    if np.any((lv <= 0) | (lv >= 1)):
        raise ValueError(f"levels must lie in (0, 1), got {lv}")
    return lv


def max_quantiles(maxima: np.ndarray, levels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """l-quantiles (L,) of simulated maxima (n,) with their 95% order-statistic intervals (L, 2).

    The quantile is the ceil(n l)-th smallest; the interval runs between the order statistics
    at ranks n l -+ 1.96 sqrt(n l (1 - l)) (binomial count below the true quantile)."""
    srt = np.sort(maxima)
    n = srt.size
    k = np.clip(np.ceil(n * levels).astype(int), 1, n)
    half = _Z95 * np.sqrt(n * levels * (1 - levels))
    k_lo = np.clip(np.floor(n * levels - half).astype(int), 1, n)
    k_hi = np.clip(np.ceil(n * levels + half).astype(int), 1, n)
    return srt[k - 1], np.stack([srt[k_lo - 1], srt[k_hi - 1]], axis=-1)


def gaussian_band(mean: np.ndarray, cov: np.ndarray, levels, n_draws: int = 20000,
                  seed: int = 0) -> SimultaneousBand:
    """Simultaneous band of a Gaussian path law.

    Parameters
    ----------
    mean : (K, H)
    cov : (K, H, H) or (H, H)
        Path covariance per origin (or one for all). Steps with zero variance are exact: they
        do not enter the maximum and the band is the mean there.
    levels : float or (L,)
    n_draws : int
        Simulated paths behind each c; 20,000 puts c's 95% Monte Carlo interval within about
        +-0.5% of c at l = 0.95 and H = 100.
    seed : int

    Returns
    -------
    SimultaneousBand with lower, upper (K, L, H).
    """
    mean = np.asarray(mean, dtype=float)
    K, H = mean.shape
    cov = np.broadcast_to(np.asarray(cov, dtype=float), (K, H, H))
    lv = _levels(levels)
    L = lv.size
    sd = np.sqrt(np.clip(np.diagonal(cov, axis1=1, axis2=2), 0.0, None))  # (K, H)
    eps = np.random.default_rng(seed).standard_normal((n_draws, H))
    c = np.empty((K, L))
    c_int = np.empty((K, L, 2))
    last_corr, last = None, None
    for k in range(K):
        live = sd[k] > 0
        inv = np.where(live, 1.0 / np.where(live, sd[k], 1.0), 0.0)
        corr = cov[k] * inv[:, None] * inv[None, :]
        if last_corr is not None and np.allclose(corr, last_corr, rtol=0.0, atol=1e-10):
            c[k], c_int[k] = last  # same correlation: the same draws give the same c
            continue
        if not live.any():
            last = (np.zeros(L), np.zeros((L, 2)))
        else:
            f = psd_factor(corr[np.ix_(live, live)])
            maxima = np.abs(eps[:, : f.shape[0]] @ f.T).max(axis=1)
            last = max_quantiles(maxima, lv)
        last_corr = corr
        c[k], c_int[k] = last
    half = c[:, :, None] * sd[:, None, :]
    return SimultaneousBand(lv, mean[:, None, :] - half, mean[:, None, :] + half, c, c_int, n_draws)


def sample_band(samples: np.ndarray, levels, center: np.ndarray | None = None) -> SimultaneousBand:
    """Simultaneous band from sample paths.

    Parameters
    ----------
    samples : (K, S, H)
    levels : float or (L,)
    center : (K, H) or None
        Centre of the band (e.g. the method's point forecast); None: the sample mean.

    Returns
    -------
    SimultaneousBand: centre +- c sd_h with sd_h the per-step sample sd (ddof 1) and c the
    ceil((S + 1) l)-th smallest standardised maximum; c_interval is None.
    """
    x = np.asarray(samples, dtype=float)
    K, S, H = x.shape
    lv = _levels(levels)
    m = x.mean(axis=1) if center is None else np.asarray(center, dtype=float)
    sd = x.std(axis=1, ddof=1)  # (K, H)
    live = sd > 0
    dev = np.abs(x - m[:, None, :]) / np.where(live, sd, 1.0)[:, None, :]
    dev = np.where(live[:, None, :], dev, 0.0)
    maxima = np.sort(dev.max(axis=2), axis=1)  # (K, S)
    k = np.ceil((S + 1) * lv).astype(int)  # (L,)
    c = np.where(k <= S, maxima[:, np.minimum(k, S) - 1], np.inf)  # (K, L)
    half = np.where(np.isinf(c)[:, :, None], np.inf, c[:, :, None] * sd[:, None, :])
    return SimultaneousBand(lv, m[:, None, :] - half, m[:, None, :] + half, c, None, S)


def per_step_band(mean: np.ndarray, sd: np.ndarray, levels) -> tuple[np.ndarray, np.ndarray]:
    """The Gaussian per-step band mean +- z_{(1+l)/2} sd, lower and upper (K, L, H): the reference
    whose path coverage the simultaneous band repairs."""
    from scipy.stats import norm

    z = norm.ppf((1 + _levels(levels)) / 2)
    half = z[None, :, None] * np.asarray(sd)[:, None, :]
    return mean[:, None, :] - half, mean[:, None, :] + half


def path_inside(targets: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Whether each whole path lies in the band: targets (K, H), lower/upper (K, L, H) or (K, H);
    returns (K, L) or (K,) booleans. A NaN target (not observed) counts as inside."""
    t = np.asarray(targets, dtype=float)
    if np.ndim(lower) == 3:
        t = t[:, None, :]
    out = (t < lower) | (t > upper)
    return ~np.any(out, axis=-1)


def path_targets(y: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
    """y[t + 1 .. t + H] per origin (K, H); NaN past the end of the series."""
    y = np.asarray(y, dtype=float)
    idx = np.asarray(origins)[:, None] + np.arange(1, horizon + 1)
    return np.where(idx < y.size, y[np.minimum(idx, y.size - 1)], np.nan)


def binomial_tolerance(n: int, level: float, z: float = 3.0) -> float:
    """z binomial standard errors of a coverage share of n independent paths at level l."""
    return float(z * np.sqrt(level * (1 - level) / n))
