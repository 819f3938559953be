"""Monotone value transforms (log, Box-Cox) for models fitted on a transformed scale.

A model that is Gaussian on the transformed scale z = g(y) gives exact quantiles of y by
mapping its Gaussian quantiles through the increasing inverse g^-1 (quantiles commute with
monotone maps). The mean does not commute: g^-1(mean_z) is the predictive median of y, and the
predictive mean needs a bias adjustment (exact for log, second-order for Box-Cox).
"""

from __future__ import annotations

import numpy as np

# Box-Cox with |lambda| below this is treated as the log, whose limit it is.
_LOG_EPS = 1e-8


class Transform:
    """Log or Box-Cox transform with its parameter learned from the training block only.

    Parameters
    ----------
    kind : {"log", "boxcox"}
    lam : float or None
        Box-Cox lambda; None estimates it by maximum likelihood (`scipy.stats.boxcox`) on the
        training values in `fit`. Ignored for "log".
    """

    def __init__(self, kind: str, lam: float | None = None):
        if kind not in ("log", "boxcox"):
            raise ValueError(f"unknown transform '{kind}' (valid: log, boxcox)")
        self.kind = kind
        self.lam = lam

    def fit(self, y_train: np.ndarray) -> "Transform":
        """Check positivity and estimate lambda (Box-Cox, if not given); sets `lam_`."""
        y_train = np.asarray(y_train, dtype=float)
        _check_positive(y_train, "training block")
        if self.kind == "log":
            self.lam_ = 0.0
        elif self.lam is not None:
            self.lam_ = float(self.lam)
        else:
            from scipy.stats import boxcox

            _, lam = boxcox(y_train)
            self.lam_ = float(lam)
        return self

    def forward(self, y: np.ndarray) -> np.ndarray:
        """z = g(y), elementwise (so causal); y must be > 0."""
        y = np.asarray(y, dtype=float)
        _check_positive(y[np.isfinite(y)], "series")
        if abs(self.lam_) < _LOG_EPS:
            return np.log(y)
        return (np.power(y, self.lam_) - 1.0) / self.lam_

    def inverse(self, z: np.ndarray) -> np.ndarray:
        """y = g^-1(z), elementwise and increasing.

        Outside the Box-Cox range (lambda z + 1 <= 0) the inverse is the range's limit: 0 for
        lambda > 0 and a huge finite value for lambda < 0, so far quantiles stay ordered.
        """
        z = np.asarray(z, dtype=float)
        if abs(self.lam_) < _LOG_EPS:
            return np.exp(z)
        base = self.lam_ * z + 1.0
        if self.lam_ > 0:
            return np.power(np.maximum(base, 0.0), 1.0 / self.lam_)
        return np.power(np.maximum(base, np.finfo(float).tiny), 1.0 / self.lam_)

    def mean(self, mean_z: np.ndarray, sd_z: np.ndarray) -> np.ndarray:
        """Bias-adjusted mean of y when z ~ N(mean_z, sd_z^2); shapes (K, H).

        Log: exp(mu + s^2 / 2), exact (log-normal). Box-Cox: the second-order Taylor expansion
        g^-1(mu) * (1 + s^2 (1 - lambda) / (2 (lambda mu + 1)^2)).
        """
        med = self.inverse(mean_z)
        if abs(self.lam_) < _LOG_EPS:
            return med * np.exp(0.5 * sd_z**2)
        base = np.maximum(self.lam_ * mean_z + 1.0, np.finfo(float).tiny)
        return med * (1.0 + sd_z**2 * (1.0 - self.lam_) / (2.0 * base**2))


def _check_positive(y: np.ndarray, where: str) -> None:
    bad = np.flatnonzero(y <= 0)
    if bad.size:
        raise ValueError(
            f"log/Box-Cox transform needs positive values; the {where} has {bad.size} value(s) <= 0, "
            f"first at position {bad[0]} ({y[bad[0]]:g})"
        )
