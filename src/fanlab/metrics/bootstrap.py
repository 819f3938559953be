"""Confidence intervals for coverage by a stratified moving-block bootstrap over origins.

Hits of rolling origins are dependent: two origins less than H steps apart share future
values, so their windows overlap. Resampling origins one by one (iid bootstrap) then makes
intervals too narrow. The moving-block bootstrap resamples runs of `block` consecutive
origins, keeping the dependence within a run. Series and seeds are independent, so each
group (one series under one seed) is resampled on its own and the groups are pooled.

Caveat on block length: with blocks as long as the dependence (the default), the bootstrap
variance weights lag k by (1 - k / block) (Bartlett weights), so for overlapping windows it
still misses part of the long-run variance; intervals are somewhat narrow, not wildly so.
Measured on means of 10-step overlapping windows, 3 groups of 200 origins, 500 datasets:
nominal 95% intervals covered 87% with block 10 and 50% with the iid bootstrap (block 1).
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np


def default_block(horizon: int, stride: int) -> int:
    """Block length ceil(horizon / stride), at least 1.

    Origins `stride` steps apart share future values while they are closer than `horizon`
    steps, so hits are dependent up to horizon / stride origins apart.
    """
    if horizon < 1 or stride < 1:
        raise ValueError(f"horizon and stride must be >= 1, got {horizon}, {stride}")
    return max(1, math.ceil(horizon / stride))


def block_indices(k: int, block: int, reps: int, rng: np.random.Generator) -> np.ndarray:
    """Moving-block resample indices of k origins; int (reps, k).

    Each replicate draws ceil(k / block) block starts uniformly in [0, k - block], lays the
    blocks end to end without wrap-around and truncates to k origins. This is
    `arch.bootstrap.MovingBlockBootstrap`'s sampler drawn for all replicates at once: with
    the same generator it returns the same indices as `reps` calls of its
    `update_indices` (tested), at a fraction of the cost of the Python loop. A group
    shorter than the block is one block.
    """
    block = min(block, k)
    n_blocks = -(-k // block)
    starts = rng.integers(k - block + 1, size=(reps, n_blocks), dtype=np.int64)
    return (starts[:, :, None] + np.arange(block)).reshape(reps, -1)[:, :k]


def _block_counts(k: int, block: int, reps: int, rng: np.random.Generator) -> np.ndarray:
    """How often each of k origins is drawn in each replicate; int (reps, k)."""
    idx = block_indices(k, block, reps, rng)
    flat = idx + k * np.arange(reps)[:, None]
    return np.bincount(flat.ravel(), minlength=reps * k).reshape(reps, k)


def block_bootstrap_replicates(
    groups: Sequence[np.ndarray], reps: int = 1000, block: int | None = None, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Pooled mean and its bootstrap replicates.

    Parameters
    ----------
    groups : list of (K_g, ...) arrays
        Per-origin values of one series/seed each (e.g. (K_g, H) hit indicators or (K_g,)
        joint hits); trailing shapes must agree. Empty groups are skipped.
    reps : int
        Number of bootstrap replicates.
    block : int or None
        Block length in origins; None means 1 (iid). Groups with K_g < block use K_g.
    seed : int
        Seed of the one generator that draws all groups' indices, in order.

    Returns
    -------
    mean : (...)
        Mean over all origins of all groups (each group weighted by K_g).
    replicates : (reps, ...)
        The same statistic on each resample; origins are resampled within each group.
    """
    arrays = [np.asarray(g, dtype=float) for g in groups]
    arrays = [a for a in arrays if a.shape[0] > 0]
    if not arrays:
        raise ValueError("need at least one group with at least one origin")
    trailing = arrays[0].shape[1:]
    if any(a.shape[1:] != trailing for a in arrays):
        raise ValueError(f"groups disagree in trailing shape: {[a.shape for a in arrays]}")
    if reps < 1:
        raise ValueError(f"reps must be >= 1, got {reps}")
    block = 1 if block is None else int(block)
    if block < 1:
        raise ValueError(f"block must be >= 1, got {block}")

    rng = np.random.default_rng(seed)
    total = sum(a.shape[0] for a in arrays)
    sums = np.zeros((reps, int(np.prod(trailing, dtype=int))))
    for a in arrays:
        counts = _block_counts(a.shape[0], block, reps, rng)
        # A replicate's sum over its resampled origins is counts @ values; one matmul per
        # group instead of materialising (reps, K_g, ...) gathered copies.
        sums += counts @ a.reshape(a.shape[0], -1)
    mean = sum(a.sum(axis=0) for a in arrays) / total
    return mean, (sums / total).reshape((reps,) + trailing)


def block_bootstrap_mean(
    groups: Sequence[np.ndarray],
    reps: int = 1000,
    block: int | None = None,
    seed: int = 0,
    ci: float = 0.95,
) -> tuple[np.ndarray | float, np.ndarray | float, np.ndarray | float]:
    """Pooled mean over origins with a percentile bootstrap confidence interval.

    Stratified moving-block bootstrap: see `block_bootstrap_replicates` for `groups`,
    `block` (None -> iid, pass `default_block(horizon, stride)` for rolling origins) and
    `seed`. Deterministic for a given seed.

    Returns
    -------
    mean, lo, hi : arrays of the groups' trailing shape, e.g. (H,), or floats for (K_g,)
        The pooled mean and the (1 - ci) / 2, (1 + ci) / 2 percentiles of the replicates.
    """
    if not 0.0 < ci < 1.0:
        raise ValueError(f"ci must lie in (0, 1), got {ci}")
    mean, boot = block_bootstrap_replicates(groups, reps=reps, block=block, seed=seed)
    lo, hi = np.quantile(boot, [(1.0 - ci) / 2.0, (1.0 + ci) / 2.0], axis=0)
    if mean.ndim == 0:
        return float(mean), float(lo), float(hi)
    return mean, lo, hi
