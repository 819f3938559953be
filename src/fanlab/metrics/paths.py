"""Proper scores for whole forecast paths: energy and variogram scores over the H-step vector.

Per-step scores (CRPS, interval scores) cannot tell a forecaster with the right marginals but
the wrong dependence between steps from the truth; these can.

- Energy score (Gneiting & Raftery 2007), per origin, y the realised path (H,):
  ES = E||X - y|| - 1/2 E||X - X'||, X, X' independent paths of the forecast law.
  From S sample paths: ``estimator="nrg"`` divides the pairwise sum by S^2 (scoringrules'
  default), ``"fair"`` by S (S - 1) (unbiased for the law the samples come from); both cost
  S^2 H per origin. ``"circperm"`` pairs each path with the one S // 2 further on (cyclically)
  instead of with all others: S H per origin, unbiased, noisier (scoringrules' akr_circperm).
- Variogram score of order p (Scheuerer & Hamill 2015):
  VS_p = sum_{i,j} w_ij (|y_i - y_j|^p - E|X_i - X_j|^p)^2, over all ordered pairs
  (scoringrules' convention; w = 1 by default). From samples the expectation is the sample
  mean. For a Gaussian law it is exact: X_i - X_j ~ N(mu, s^2) and
  E|N(mu, s^2)|^p = s^p 2^(p/2) Gamma((p+1)/2) / sqrt(pi) 1F1(-p/2; 1/2; -mu^2 / (2 s^2)).
- Gaussian laws (mean (K, H), covariance (K, H, H)): the energy score from n seeded draws of
  the law, E||X - y|| over n draws and E||X - X'|| = E||N(0, 2 Sigma)|| over the same draws
  scaled by sqrt 2 (no pairwise sum: O(n H) per origin), with its Monte Carlo standard error.
- Climatology paths: the training series' blocks of H consecutive values, the paths of a
  forecaster that learnt nothing about the present; skill reads a score against them.

All functions are pure numpy; axes: origins K, paths S, steps H.
"""

from __future__ import annotations

import numpy as np
from scipy.special import gamma as gamma_fn, hyp1f1


def _check(obs: np.ndarray, samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(obs, dtype=float)
    x = np.asarray(samples, dtype=float)
    if x.ndim != 3 or y.shape != (x.shape[0], x.shape[2]):
        raise ValueError(f"need obs (K, H) and samples (K, S, H), got {y.shape} and {x.shape}")
    return y, x


def energy_score(obs: np.ndarray, samples: np.ndarray, estimator: str = "fair") -> np.ndarray:
    """Energy score per origin from sample paths.

    Parameters
    ----------
    obs : (K, H)
    samples : (K, S, H)
    estimator : "fair" (pairwise mean over S (S - 1)), "nrg" (over S^2) or "circperm" (S pairs)

    Returns
    -------
    (K,)
    """
    y, x = _check(obs, samples)
    K, S, H = x.shape
    if estimator not in ("fair", "nrg", "circperm"):
        raise ValueError(f"estimator must be 'fair', 'nrg' or 'circperm', got {estimator!r}")
    if estimator == "fair" and S < 2:
        raise ValueError("the fair energy score needs at least 2 sample paths")
    e1 = np.linalg.norm(x - y[:, None, :], axis=2).mean(axis=1)
    if estimator == "circperm":
        return e1 - 0.5 * np.linalg.norm(x - np.roll(x, S // 2, axis=1), axis=2).mean(axis=1)
    e2 = np.array([_pair_sum(x[k]) for k in range(K)])
    e2 /= S * (S - 1) if estimator == "fair" else S * S
    return e1 - 0.5 * e2


def _pair_sum(x: np.ndarray) -> float:
    """sum_{s != s'} ||x_s - x_s'|| of paths x (S, H), by the Gram route."""
    xc = x - x.mean(axis=0)  # centring keeps the Gram route accurate
    sq = np.einsum("sh,sh->s", xc, xc)
    d2 = sq[:, None] + sq[None, :] - 2.0 * (xc @ xc.T)
    np.fill_diagonal(d2, 0.0)
    return float(np.sqrt(np.clip(d2, 0.0, None)).sum())


def energy_score_shared(obs: np.ndarray, paths: np.ndarray) -> np.ndarray:
    """Fair energy score (K,) at K origins (obs (K, H)) of one set of paths (S, H) that every
    origin shares (climatology's blocks): the pairwise term is computed once."""
    y = np.asarray(obs, dtype=float)
    x = np.asarray(paths, dtype=float)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1] or x.shape[0] < 2:
        raise ValueError(f"need obs (K, H) and at least 2 paths (S, H), got {y.shape} and {x.shape}")
    S = x.shape[0]
    e1 = np.linalg.norm(x[None, :, :] - y[:, None, :], axis=2).mean(axis=1)
    return e1 - 0.5 * _pair_sum(x) / (S * (S - 1))


def variogram_score(obs: np.ndarray, samples: np.ndarray, p: float = 0.5,
                    weights: np.ndarray | None = None) -> np.ndarray:
    """Variogram score of order p per origin from sample paths (the sample-mean plug-in).

    Parameters
    ----------
    obs : (K, H)
    samples : (K, S, H)
    p : float
    weights : (H, H) or (K, H, H) or None (all ones)

    Returns
    -------
    (K,)
    """
    y, x = _check(obs, samples)
    K, S, H = x.shape
    if weights is None:  # symmetric terms, zero diagonal: the pairs i < j, twice
        i, j = np.triu_indices(H, 1)
        vy = np.abs(y[:, i] - y[:, j]) ** p  # (K, P)
        chunk = max(1, 2_000_000 // max(i.size, 1))  # paths per block, bounding memory
        vx = np.empty((K, i.size))
        for k in range(K):
            acc = np.zeros(i.size)
            for s0 in range(0, S, chunk):
                xs = x[k, s0 : s0 + chunk]
                acc += (np.abs(xs[:, i] - xs[:, j]) ** p).sum(axis=0)
            vx[k] = acc / S
        return 2.0 * np.sum((vy - vx) ** 2, axis=-1)
    vy = np.abs(y[:, :, None] - y[:, None, :]) ** p  # (K, H, H)
    vx = np.empty((K, H, H))
    chunk = max(1, 2_000_000 // (H * H))  # paths per block, bounding memory
    for k in range(K):
        acc = np.zeros((H, H))
        for s0 in range(0, S, chunk):
            xs = x[k, s0 : s0 + chunk]
            acc += (np.abs(xs[:, :, None] - xs[:, None, :]) ** p).sum(axis=0)
        vx[k] = acc / S
    w = np.asarray(weights, dtype=float)
    return np.sum(w * (vy - vx) ** 2, axis=(-2, -1))


def abs_moment_normal(mu: np.ndarray, s: np.ndarray, p: float) -> np.ndarray:
    """E|Z|^p for Z ~ N(mu, s^2), elementwise (s = 0 gives |mu|^p)."""
    mu, s = np.broadcast_arrays(np.asarray(mu, dtype=float), np.asarray(s, dtype=float))
    shape = mu.shape
    out = np.abs(mu).ravel() ** p
    mu, s = mu.ravel(), s.ravel()
    live = s > 0
    sl, ml = s[live], mu[live]
    out[live] = (sl ** p * 2 ** (p / 2) * gamma_fn((p + 1) / 2) / np.sqrt(np.pi)
                 * hyp1f1(-p / 2, 0.5, -ml ** 2 / (2 * sl ** 2)))
    return out.reshape(shape)


def variogram_score_gaussian(obs: np.ndarray, mean: np.ndarray, cov: np.ndarray, p: float = 0.5,
                             weights: np.ndarray | None = None) -> np.ndarray:
    """Exact variogram score of order p of Gaussian path laws, (K,).

    obs, mean (K, H); cov (K, H, H) or (H, H)."""
    y = np.asarray(obs, dtype=float)
    m = np.asarray(mean, dtype=float)
    K, H = m.shape
    c = np.broadcast_to(np.asarray(cov, dtype=float), (K, H, H))
    v = np.diagonal(c, axis1=1, axis2=2)
    if weights is None:  # symmetric terms, zero diagonal: the pairs i < j, twice
        i, j = np.triu_indices(H, 1)
        var_d = np.clip(v[:, i] + v[:, j] - 2.0 * c[:, i, j], 0.0, None)  # Var(X_i - X_j)
        vx = abs_moment_normal(m[:, i] - m[:, j], np.sqrt(var_d), p)
        vy = np.abs(y[:, i] - y[:, j]) ** p
        return 2.0 * np.sum((vy - vx) ** 2, axis=-1)
    var_d = np.clip(v[:, :, None] + v[:, None, :] - 2.0 * c, 0.0, None)
    mu_d = m[:, :, None] - m[:, None, :]
    vx = abs_moment_normal(mu_d, np.sqrt(var_d), p)
    vy = np.abs(y[:, :, None] - y[:, None, :]) ** p
    w = np.asarray(weights, dtype=float)
    return np.sum(w * (vy - vx) ** 2, axis=(-2, -1))


def gaussian_paths(mean: np.ndarray, cov: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """n seeded draws (K, n, H) of each origin's Gaussian path law (the same standard-normal
    draws for every origin)."""
    m = np.asarray(mean, dtype=float)
    K, H = m.shape
    c = np.broadcast_to(np.asarray(cov, dtype=float), (K, H, H))
    eps = np.random.default_rng(seed).standard_normal((n, H))
    out = np.empty((K, n, H))
    for k in range(K):
        out[k] = m[k] + eps @ psd_factor(c[k]).T
    return out


def psd_factor(cov: np.ndarray) -> np.ndarray:
    """A square root F (H, H) with F F' = cov, also for a singular cov (eigen route)."""
    try:
        return np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        w, v = np.linalg.eigh(cov)
        return v * np.sqrt(np.clip(w, 0.0, None))


def energy_score_gaussian(obs: np.ndarray, mean: np.ndarray, cov: np.ndarray, n_draws: int = 20000,
                          seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Energy score of Gaussian path laws from n_draws draws each, and its Monte Carlo standard
    error; both (K,).

    E||X - y|| is the mean of ||mean - y + D_s|| and E||X - X'|| that of sqrt(2) ||D_s||, with
    D_s ~ N(0, Sigma) the same draws (X - X' ~ N(0, 2 Sigma))."""
    y = np.asarray(obs, dtype=float)
    m = np.asarray(mean, dtype=float)
    K, H = m.shape
    c = np.broadcast_to(np.asarray(cov, dtype=float), (K, H, H))
    eps = np.random.default_rng(seed).standard_normal((n_draws, H))
    es, se = np.empty(K), np.empty(K)
    for k in range(K):
        d = eps @ psd_factor(c[k]).T
        term = np.linalg.norm(m[k] - y[k] + d, axis=1) - 0.5 * np.sqrt(2.0) * np.linalg.norm(d, axis=1)
        es[k] = term.mean()
        se[k] = term.std(ddof=1) / np.sqrt(n_draws)
    return es, se


def climatology_paths(y: np.ndarray, train_end: int, horizon: int, n_paths: int | None = None) -> np.ndarray:
    """Blocks y[i : i + H] of the training series y[:train_end], (S, H).

    Every block (S = train_end - H + 1) or n_paths of them evenly spaced (the first and the
    last included). Broadcast to (K, S, H) to score them at K origins."""
    x = np.asarray(y, dtype=float)[:train_end]
    total = x.size - horizon + 1
    if total < 1:
        raise ValueError(f"a training block of {x.size} points has no block of {horizon} steps")
    starts = np.arange(total)
    if n_paths is not None and n_paths < total:
        starts = np.unique(np.round(np.linspace(0, total - 1, n_paths)).astype(int))
    return x[starts[:, None] + np.arange(horizon)]
