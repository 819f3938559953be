"""A forecast's joint law, read into its cell's frame: the simultaneous band and the path scores.

A `Forecast` may carry the law of whole paths y[t + 1 .. t + H] (`Forecast.joint`): a path
covariance (Gaussian) or sample paths. Neither is written to a results file (K x H x H floats
per cell); `path_columns` reads what the scores need into the cell's frame instead, so scores
are recomputed from the files as the other metrics are. Per row (origin, step):

- ``sim_lo_<l>``, ``sim_hi_<l>`` per level l: the simultaneous band from the method's own law
  (`fanlab.intervals.paths`), mean +- c_l sd_h with c_l the l-quantile of max_h |X_h - mean_h| / sd_h:
  from `SIM_DRAWS` seeded draws of a Gaussian law (the same standard-normal draws at every
  origin and in every cell), or from the sample paths, centred on the point forecast;
- ``energy``, ``variogram`` (per origin, repeated on its rows): the energy score (Gaussian:
  `SIM_DRAWS` seeded draws, the same draws as the band; samples: the fair estimator) and the
  variogram score of order `VS_ORDER` (Gaussian: exact; samples: the plug-in), both over the
  H-step vector; sample paths are thinned evenly to at most `SCORE_PATHS` (`VS_PATHS`) for them;
- ``energy_clim`` (per origin): the fair energy score of climatology's paths, the blocks of H
  consecutive values (at most `CLIM_PATHS`, evenly spaced) of the series observed up to the
  first origin (its training and calibration blocks in a cell: what a forecaster that learnt
  nothing of the present could know), which `energy_skill` reads against. The first origin,
  not the training block's end, so that a config's cell and `fanlab.evaluate`, which see the
  same series and origins, write the same bytes.

Without a joint law (marginals only) the band and the scores are NaN: no simultaneous band and
no path score, never one made up from the marginals.
"""

from __future__ import annotations

import numpy as np

from fanlab.forecast import Forecast
from fanlab.intervals.paths import max_quantiles, path_targets, sample_band
from fanlab.metrics.paths import (climatology_paths, energy_score, energy_score_shared, psd_factor,
                                  variogram_score, variogram_score_gaussian)
from fanlab.schema import level_cols

#: Draws of a Gaussian path law per origin (band and energy score): c_0.95's 95% Monte Carlo
#: interval is about +-2% of c at H = 100; the energy score's Monte Carlo sd is well under 1%.
SIM_DRAWS = 2000
#: At most this many sample paths enter the energy score (S^2 H work per origin; the fair
#: estimator is unbiased at any S) and the variogram score (S H^2 work; its plug-in's bias, the
#: Monte Carlo variance of the mean over paths, shrinks as 1 / S).
SCORE_PATHS = 200
VS_PATHS = 100
#: At most this many climatology blocks (evenly spaced over the training block).
CLIM_PATHS = 500
#: Order p of the variogram score (Scheuerer and Hamill's choice).
VS_ORDER = 0.5
#: Seed of the Gaussian draws: every cell draws the same standard normals.
SEED = 0

#: Per-origin columns of a cell's frame.
ORIGIN_COLS = ("energy", "variogram", "energy_clim")


def sim_cols(level: float) -> tuple[str, str]:
    """The simultaneous band's columns of `level`: ('sim_lo_0.95', 'sim_hi_0.95')."""
    lo, hi = level_cols(level)
    return f"sim_{lo}", f"sim_{hi}"


def central_levels(probs: np.ndarray) -> list[float]:
    """Levels l whose probabilities (1 - l) / 2 and (1 + l) / 2 are both in `probs` (Q,)."""
    ps = {round(float(p), 6) for p in np.asarray(probs)}
    return sorted({round(1.0 - 2.0 * p, 6) for p in ps if p < 0.5 and round(1.0 - p, 6) in ps})


def path_columns(fc: Forecast, y: np.ndarray, levels, train_end: int | None = None) -> dict[str, np.ndarray]:
    """The path columns of a forecast's frame (rows ordered by origin, then h), each (K * H,).

    fc: the checked forecast; y (N,): the series it is scored against; levels: the levels of
    the simultaneous bands; train_end: where climatology's paths end (None: after the first
    origin).
    """
    K, H = fc.mean.shape
    lv = np.asarray(sorted(levels), dtype=float)
    yt = path_targets(y, fc.origins, H)
    lower = np.full((K, lv.size, H), np.nan)
    upper = np.full((K, lv.size, H), np.nan)
    energy, variogram = np.full(K, np.nan), np.full(K, np.nan)
    with np.errstate(invalid="ignore", over="ignore"):
        if K and fc.joint == "gaussian":
            c, energy = gaussian_law_scores(yt, fc.mean, fc.cov, lv)
            sd = np.sqrt(np.clip(np.diagonal(fc.cov, axis1=1, axis2=2), 0.0, None))
            half = c[:, :, None] * sd[:, None, :]
            lower, upper = fc.mean[:, None, :] - half, fc.mean[:, None, :] + half
            variogram = variogram_score_gaussian(yt, fc.mean, fc.cov, VS_ORDER)
        elif K and fc.joint == "samples":
            band = sample_band(fc.samples, lv, center=fc.mean)
            lower, upper = band.lower, band.upper
            x = thin(fc.samples, SCORE_PATHS)
            if x.shape[1] >= 2:
                energy = energy_score(yt, x, "fair")
            variogram = variogram_score(yt, thin(fc.samples, VS_PATHS), VS_ORDER)
    cols = {}
    for j, level in enumerate(lv):
        lo_c, hi_c = sim_cols(float(level))
        cols[lo_c], cols[hi_c] = lower[:, j].ravel(), upper[:, j].ravel()
    cols["energy"] = np.repeat(energy, H)
    cols["variogram"] = np.repeat(variogram, H)
    cols["energy_clim"] = np.repeat(climatology_energy(y, yt, fc.origins, H, train_end), H)
    return cols


def thin(samples: np.ndarray, n: int) -> np.ndarray:
    """At most n of the S paths (K, S, H), evenly spaced (the first and the last kept)."""
    S = samples.shape[1]
    if S <= n:
        return samples
    return samples[:, np.unique(np.round(np.linspace(0, S - 1, n)).astype(int))]


def gaussian_law_scores(obs: np.ndarray, mean: np.ndarray, cov: np.ndarray, levels: np.ndarray,
                        n_draws: int = SIM_DRAWS, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """Band multipliers c (K, L) and energy scores (K,) of Gaussian path laws from one set of draws.

    D = eps F' (n_draws, H) with F F' = cov: c_l is the l-quantile of max_h |D_h| / sd_h over the
    steps with positive variance (as `fanlab.intervals.paths.gaussian_band`), and the energy
    score the mean of ||mean - y + D|| - ||D|| / sqrt 2 (as
    `fanlab.metrics.paths.energy_score_gaussian`). An origin whose covariance equals the
    previous one's (a filter that has converged) reuses its draws: O(n H) instead of O(n H^2).
    """
    K, H = mean.shape
    eps = np.random.default_rng(seed).standard_normal((n_draws, H))
    c, es = np.empty((K, levels.size)), np.empty(K)
    prev, d, norm_d, c_k = None, None, None, None
    for k in range(K):
        if prev is None or not np.allclose(cov[k], prev, rtol=1e-10, atol=0.0):
            prev = cov[k]
            d = eps @ psd_factor(cov[k]).T
            norm_d = np.linalg.norm(d, axis=1)
            sd = np.sqrt(np.clip(np.diagonal(cov[k]), 0.0, None))
            live = sd > 0
            c_k = (max_quantiles(np.abs(d[:, live] / sd[live]).max(axis=1), levels)[0] if live.any()
                   else np.zeros(levels.size))
        c[k] = c_k
        es[k] = np.mean(np.linalg.norm(mean[k] - obs[k] + d, axis=1) - np.sqrt(0.5) * norm_d)
    return c, es


def climatology_energy(y: np.ndarray, obs: np.ndarray, origins: np.ndarray, horizon: int,
                       train_end: int | None) -> np.ndarray:
    """Energy score (K,) of climatology's paths at each origin; NaN where the training block
    holds fewer than two blocks of H steps."""
    end = int(origins.min()) + 1 if train_end is None else int(train_end)
    if origins.size == 0 or end - horizon + 1 < 2:
        return np.full(origins.size, np.nan)
    return energy_score_shared(obs, climatology_paths(y, end, horizon, CLIM_PATHS))


def frame_paths(frame, k: int, h: int) -> dict:
    """The path arrays of a cell's table (rows sorted by origin, h): 'sim' {level: (lo, hi)}
    each (K, H), and 'energy', 'variogram', 'energy_clim' (K,) (NaN where a column is absent,
    e.g. a cell file written before paths were scored)."""
    out = {"sim": {}}
    for col in ORIGIN_COLS:
        out[col] = frame[col].to_numpy()[::h] if col in frame else np.full(k, np.nan)
    for col in frame.columns:
        if str(col).startswith("sim_lo_"):
            level = float(str(col)[len("sim_lo_"):])
            lo_c, hi_c = sim_cols(level)
            out["sim"][level] = (frame[lo_c].to_numpy().reshape(k, h), frame[hi_c].to_numpy().reshape(k, h))
    return out


def has_law(paths: dict) -> bool:
    """Whether a cell's forecast had a joint law (its path scores are not all NaN)."""
    return bool(np.isfinite(paths["energy"]).any() or np.isfinite(paths["variogram"]).any())
