"""Small forecasters with known behaviour, for testing the conformal wrapper.

Each follows the `Forecaster` contract: `fit` learns only from y[:train_end], `predict` uses
only y[: t + 1] for origin t.
"""

from __future__ import annotations

import numpy as np

from fanlab.forecast import gaussian_forecast


class GaussianAR1:
    """Gaussian forecaster of an AR(1) around a level, with a deliberately wrong sd.

    The AR coefficient `phi` and innovation sd `sigma` are given; the level is learnt as the
    training mean unless `mu` is given. The reported sd is `sd_factor` times the true
    conditional sd, so its own intervals are too narrow for sd_factor < 1. `scale_of`
    (optional) multiplies the sd at origin t by scale_of(t): a heteroscedastic base.
    """

    name = "toy_ar1"

    def __init__(self, phi=0.0, sigma=1.0, sd_factor=0.5, mu=None, scale_of=None):
        self.phi = phi
        self.sigma = sigma
        self.sd_factor = sd_factor
        self.mu = mu
        self.scale_of = scale_of

    def fit(self, y, train_end, seed):
        y = np.asarray(y, dtype=float)
        self.level_ = float(self.mu) if self.mu is not None else float(np.mean(y[:train_end]))
        self.fit_len_ = int(train_end)
        return self

    def predict(self, y, origins, horizon, probs):
        y = np.asarray(y, dtype=float)
        origins = np.asarray(origins, dtype=np.int64)
        hs = np.arange(1, horizon + 1)
        decay = self.phi ** hs  # (H,)
        mean = self.level_ + decay[None, :] * (y[origins] - self.level_)[:, None]
        if abs(self.phi) < 1:
            var = self.sigma**2 * (1 - self.phi ** (2 * hs)) / (1 - self.phi**2)
        else:
            var = self.sigma**2 * hs
        sd = np.broadcast_to(self.sd_factor * np.sqrt(var), mean.shape).copy()
        if self.scale_of is not None:
            sd *= np.array([self.scale_of(int(t)) for t in origins])[:, None]
        return gaussian_forecast(origins, mean, sd, probs)


def ar1_series(n: int, phi: float = 0.7, seed: int = 0, shift_at: int | None = None,
               shift: float = 0.0) -> np.ndarray:
    """A stationary Gaussian AR(1) path (n,), optionally with a level shift from `shift_at` on."""
    rng = np.random.default_rng(seed)
    e = rng.normal(size=n)
    y = np.empty(n)
    y[0] = e[0] / np.sqrt(1 - phi**2)
    for t in range(1, n):
        y[t] = phi * y[t - 1] + e[t]
    if shift_at is not None:
        y[shift_at:] += shift
    return y
