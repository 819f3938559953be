"""Deep ensembles (Lakshminarayanan et al. 2017) of Gaussian-head LSTMs.

M members differ only in their seeds (initialisation, batch order, dropout masks); member m
uses seed ``member_seeds(seed, M)[m]`` and is the network a single `LSTMForecaster` with
``head="gaussian"`` would fit from that seed. The members are trained together, as one
network with a member axis (one optimiser, one pass over the batches, each member's LSTM a
kernel call of its own; see `network.py`), and each member early-stops on its own: once its
patience has run out it is no longer computed (`training.train_criteria`), so it trains
exactly as long as the single model of its seed.

The predictive distribution is the equal-weight MIXTURE of the members' predictives, not an
average of their quantiles (which would be too narrow whenever the members disagree):

- direct strategy: each member gives N(mu_m, sd_m^2) per step; the mixture's quantiles are
  found by bisection on its CDF, vectorised over (K, Q, H), bracketed by the smallest and
  largest member quantile at the same probability (the mixture CDF there is <= p and >= p);
  mean = the average of the member means; no `sd` (a mixture is not Gaussian), no samples.
- recursive strategy: each member draws ceil(S / M) sample paths (each step drawn from its
  head and fed back); the pooled M * ceil(S / M) paths are samples of the mixture.
- ``epistemic_only: true``: only the spread of the member means, as samples (K, M, H):
  the members' mean forecasts (recursive: their mean-fed paths). This is the part of the
  uncertainty an ensemble adds; with M = 5 its quantiles are those of five points.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import ndtr, ndtri

from fanlab.forecast import Forecast, sample_forecast
from fanlab.models.lstm.forecaster import NetworkForecaster
from fanlab.models.lstm.params import EnsembleParams
from fanlab.models.lstm.heads import GaussianHead, Head
from fanlab.models.lstm.training import member_seeds


def mixture_quantiles(mean: np.ndarray, sd: np.ndarray, probs: np.ndarray, tol: float = 1e-10,
                      max_iter: int = 200) -> np.ndarray:
    """Quantiles of equal-weight Gaussian mixtures.

    Parameters
    ----------
    mean, sd : (M, K, H)
        Member means and standard deviations (sd > 0).
    probs : (Q,)
        Probabilities in (0, 1).

    Returns
    -------
    (K, Q, H)
        x with mean_m Phi((x - mean_m) / sd_m) = p, to within `tol` times the members' scale.
    """
    probs = np.asarray(probs, dtype=float)
    mu, s = mean[:, :, None, :], sd[:, :, None, :]  # (M, K, 1, H)
    p = probs[None, :, None]  # (1, Q, 1)
    member_q = mu + ndtri(probs)[None, None, :, None] * s  # (M, K, Q, H)
    lo, hi = member_q.min(axis=0), member_q.max(axis=0)
    stop = tol * np.maximum(sd.max(axis=0), 1e-300)[:, None, :]  # (K, 1, H)
    for _ in range(max_iter):
        if np.all(hi - lo <= stop):
            break
        mid = 0.5 * (lo + hi)
        below = ndtr((mid[None] - mu) / s).mean(axis=0) < p
        lo = np.where(below, mid, lo)
        hi = np.where(below, hi, mid)
    return 0.5 * (lo + hi)


class LSTMEnsemble(NetworkForecaster):
    """Deep ensemble of M Gaussian-head LSTMs; predictive = the mixture of the members.

    Parameters
    ----------
    horizon : int
        H, the number of steps the members are trained to forecast.
    params : EnsembleParams, optional
        All settings; keyword `overrides` replace single fields.
    """

    name = "lstm_ensemble"
    params_model = EnsembleParams

    def _head(self) -> Head:
        return GaussianHead(variance=self.params.variance, min_variance=self.params.min_variance)

    def fit(self, y: np.ndarray, train_end: int, seed: int) -> "LSTMEnsemble":
        """Train the M members together on ``y[:train_end]``; returns self."""
        self._fit_members(y, train_end, self._member_seeds(seed))
        return self

    def _member_seeds(self, seed: int) -> list[int]:
        return member_seeds(seed, self.params.members)

    def member_forecasts(self, y: np.ndarray, origins: np.ndarray, horizon: int) -> tuple[np.ndarray, np.ndarray]:
        """Each member's Gaussian forecast (direct strategy): mean, sd, each (M, K, H)."""
        if self.params.strategy != "direct":
            raise ValueError("member Gaussians exist for the direct strategy only")
        y, origins, x, tf = self._prepare(y, origins, horizon)
        (mean, var), _ = self._chunks(x, origins, horizon, 1, False, "mean", self.seeds_)
        return self._units(tf, mean), self._units(tf, var.sqrt(), shift=False)

    def predict(self, y: np.ndarray, origins: np.ndarray, horizon: int, probs: np.ndarray) -> Forecast:
        """Mixture forecast H steps from each origin, using only ``y[t - context + 1 : t + 1]``."""
        y, origins, x, tf = self._prepare(y, origins, horizon)
        p, probs, k = self.params, np.asarray(probs, dtype=float), len(origins)
        info = {**self._info(), "members": p.members}
        m = p.members
        if p.strategy == "direct":
            (mean, var), _ = self._chunks(x, origins, horizon, 1, False, "mean", self.seeds_)
            mean_u = self._units(tf, mean)  # (M, K, H)
            if p.epistemic_only:
                return sample_forecast(origins, np.moveaxis(mean_u, 0, 1), probs, info=info)
            sd_u = self._units(tf, var.sqrt(), shift=False)
            q = mixture_quantiles(mean_u, sd_u, probs)
            return Forecast(origins=origins, mean=mean_u.mean(axis=0), probs=probs, quantiles=q, info=info)
        reps = 1 if p.epistemic_only else math.ceil(p.samples / m)
        feed = "mean" if p.epistemic_only else "sample"
        paths, _ = self._chunks(x, origins, horizon, reps, False, feed, self.seeds_)
        # (M, K * reps, H) -> (K, M * reps, H): pool every member's paths per origin
        pooled = self._units(tf, paths).reshape(m, k, reps, horizon).transpose(1, 0, 2, 3).reshape(k, m * reps, horizon)
        return sample_forecast(origins, pooled, probs, info=info)
