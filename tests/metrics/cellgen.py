"""Varied cells' `frame_arrays` for the tests of the batched scoring paths: origins, steps,
bands that are points or infinite, dead steps, NaN targets, joint laws or none, no scale."""

from __future__ import annotations

import numpy as np

from fanlab.forecast import FINE_LEVELS, probs_for_levels

LEVELS = [0.8, 0.95]
ALL_LEVELS = sorted(set(LEVELS) | set(FINE_LEVELS))
PROBS = probs_for_levels(ALL_LEVELS)

#: What a cell may be made of (`cell`): the ways it departs from a plain Gaussian-ish forecast.
KINDS = ("plain", "point", "infinite", "dead_h1", "nan_y", "law", "law_inf", "law_some_nan", "tied")


def cell(rng: np.random.Generator, k: int, h: int, kind: str = "plain", sim_levels=(0.8, 0.95)) -> dict:
    """One cell's arrays as `frame_arrays` gives them, values with no short binary expansion
    (so that a sum in another order would round differently)."""
    q_n = PROBS.size
    y = rng.standard_normal((k, h)) * 3.7 + 10.0 / 3.0
    mean = y + rng.standard_normal((k, h)) / 7.0
    spread = np.exp(rng.standard_normal((k, 1, h)) / 3.0) * np.linspace(0.5, 2.5, h)
    z = np.sort(rng.standard_normal((k, q_n, 1)), axis=1)
    q = mean[:, None, :] + z * spread
    if kind == "point":
        q = np.repeat(mean[:, None, :], q_n, axis=1)
    elif kind == "infinite":
        q[:, 0, :], q[:, -1, :] = -np.inf, np.inf
        q[:, 1:-1, :] = -np.inf
        q[:, q_n // 2:, :] = np.inf
    elif kind == "dead_h1":
        q[:, :, 0] = mean[:, None, 0]
    elif kind == "nan_y":
        y[rng.integers(k), rng.integers(h)] = np.nan
    elif kind == "tied":  # many widths of exactly zero, some steps, some origins
        q[:, :, rng.integers(h)] = np.round(q[:, :, rng.integers(h)])
    crps = np.abs(rng.standard_normal((k, h))) / 3.0
    energy, variogram, clim = (np.full(k, np.nan) for _ in range(3))
    sim = {}
    for level in sim_levels:
        lo = mean - (1.0 + level) * spread[:, 0, :]
        hi = mean + (1.0 + level) * spread[:, 0, :]
        sim[level] = (np.full((k, h), np.nan), np.full((k, h), np.nan))
        if kind.startswith("law"):
            sim[level] = (lo, hi)
    if kind.startswith("law"):
        energy = np.abs(rng.standard_normal(k)) / 3.0
        variogram = np.abs(rng.standard_normal(k)) / 7.0
        clim = energy * 1.1
        if kind == "law_inf":
            sim[0.95] = (np.full((k, h), -np.inf), np.full((k, h), np.inf))
        if kind == "law_some_nan":
            variogram[0] = np.nan
    return {
        "origins": np.arange(100, 100 + 3 * k, 3, dtype=np.int64), "y": y, "mean": mean,
        "pit": rng.uniform(size=(k, h)), "crps": crps, "probs": PROBS, "state": rng.uniform(size=k),
        "quantiles": np.ascontiguousarray(q),
        "paths": {"energy": energy, "variogram": variogram, "energy_clim": clim, "sim": sim},
    }


def cells(seed: int, n: int, shapes, kinds=KINDS) -> tuple[list[dict], list]:
    """n cells of the given (K, H) shapes and kinds, some without a scale."""
    rng = np.random.default_rng(seed)
    arrays, scales = [], []
    for i in range(n):
        k, h = shapes[i % len(shapes)]
        arrays.append(cell(rng, k, h, kinds[rng.integers(len(kinds))]))
        scales.append(None if rng.uniform() < 0.2 else float(np.exp(rng.standard_normal())))
    return arrays, scales


def same_bits(a, b) -> bool:
    """Equal to the bit (NaN payloads and signs of zero included)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.dtype.kind == "f":
        return np.array_equal(a.view(np.uint64 if a.itemsize == 8 else np.uint32),
                              b.view(np.uint64 if b.itemsize == 8 else np.uint32))
    return np.array_equal(a, b)
