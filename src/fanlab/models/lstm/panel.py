"""Global networks: one LSTM (or deep ensemble) trained on the windows of every series of a panel.

`GlobalNetwork` wraps an unfitted `LSTMForecaster` or `LSTMEnsemble` and gives it the panel
contract of `fanlab.engine.cells` (``fit(ys, train_ends, seed)``, ``predict(ys, origins, H, probs)``).

Fitting. Each series i is scaled by its own training block, exactly as the local network
scales its one series (`scaling`: global = the block's mean and sd; last_value = each
window's last value and the sd of the block's first differences; window = each window's own
mean and sd), so series of any size share one network. Windows of ``context + H`` points are
cut from each series' training block ``ys[i][:train_ends[i]]`` alone: no window straddles two
series, and no test or calibration block is read. Early stopping watches held-out SERIES, not
a tail in time: `val_frac` of the series that have at least one window (at least one, evenly
spread, the same for every seed) give their windows to validation only. Short panels (M3's
yearly series have 8 to 35 training points) have no room for a validation tail of H points in
time, and held-out series test what a global model is for: forecasting series it has not seen.
Series too short for one window still get forecasts (they need `context` points before an
origin); they just teach nothing.

Prediction. Series i is forecast from its own values up to each origin, mapped back with its own
scale, with the random streams of its prediction (dropout masks, sampled paths) seeded from
the fit seed and i, so series that share an origin index do not share draws.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from fanlab.forecast import Forecast
from fanlab.models.lstm.forecaster import NetworkForecaster
from fanlab.models.lstm.training import train_block_scale


def validation_series(n: int, frac: float) -> np.ndarray:
    """Indices (ascending) of the `frac` share of n series held out for early stopping: at
    least one and at most n - 1, evenly spread."""
    if n < 2:
        raise ValueError(f"a global network needs at least 2 series with a training window, got {n}")
    k = int(min(max(round(frac * n), 1), n - 1))
    return np.unique(np.floor((np.arange(k) + 0.5) * n / k).astype(np.int64))


def series_seeds(seeds: list[int], i: int) -> list[int]:
    """Prediction seeds of series i: one per member, from the member's fit seed and i."""
    return [int(np.random.SeedSequence([int(s), int(i), 7]).generate_state(1, np.uint64)[0] >> 1) for s in seeds]


class GlobalNetwork:
    """A network of `model`'s settings fitted across every series of a panel (see module notes).

    Parameters
    ----------
    model : LSTMForecaster or LSTMEnsemble
        Unfitted; its params and horizon are the global network's.
    """

    def __init__(self, model: NetworkForecaster):
        self.model = model
        self.name = model.name

    def fit(self, ys: list[np.ndarray], train_ends: list[int], seed: int) -> "GlobalNetwork":
        """Train on the windows of ``ys[i][:train_ends[i]]`` of every series; returns self."""
        m, p = self.model, self.model.params
        C, H = p.context, m.horizon
        ys = [np.asarray(y, dtype=float) for y in ys]
        if len(ys) != len(train_ends):
            raise ValueError(f"{len(ys)} series but {len(train_ends)} train_ends")
        # "auto" is last_value for a global network: one network serves series of every kind, and
        # a per-series unit-root decision would hand it windows scaled two ways
        kind = "last_value" if p.scaling == "auto" else p.scaling
        self.loc_scales_ = [(kind, *train_block_scale(y[:te], kind)) if te > 1 else (kind, 0.0, 1.0)
                            for y, te in zip(ys, train_ends)]
        taught = [i for i, te in enumerate(train_ends) if te >= C + H]
        if len(taught) < 2:
            raise ValueError(f"only {len(taught)} series have a training block of at least context + H = {C + H} "
                             "points; a global network needs 2 (lower context or horizon)")
        held = set(int(taught[j]) for j in validation_series(len(taught), p.val_frac))
        train_w, val_w = [], []
        for i in taught:
            y = ys[i][: train_ends[i]]  # nothing past this series' training block is read
            w = self._series(i).scaled_windows(y, np.arange(C - 1, train_ends[i] - H, dtype=np.int64))
            (val_w if i in held else train_w).append(w)
        m.fit_windows(torch.cat(train_w), torch.cat(val_w), seed)
        self.val_series_ = sorted(held)
        self.n_windows_ = (int(sum(w.shape[0] for w in train_w)), int(sum(w.shape[0] for w in val_w)))
        self.info_ = {**m.info(), "n_series": len(ys), "n_taught": len(taught),
                      "n_validation_series": len(held), "train_windows": self.n_windows_[0],
                      "validation_windows": self.n_windows_[1]}
        return self

    def _series(self, i: int):
        """The wrapped model as series i sees it: its own (location, scale) and prediction seeds,
        on a shallow copy (the wrapped model's state is never swapped)."""
        seeds = getattr(self.model, "seeds_", None)
        return self.model.for_series(self.loc_scales_[i], None if seeds is None else series_seeds(seeds, i))

    def predict_series(self, i: int, y: np.ndarray, origins: np.ndarray, horizon: int,
                       probs: np.ndarray) -> Forecast:
        """Series i's forecast from its own values `y` (the local Forecaster's predict)."""
        if not hasattr(self, "loc_scales_"):
            raise RuntimeError(f"{self.name}: call fit before predict")
        return self._series(i).predict(y, origins, horizon, probs)

    def predict(self, ys, origins, horizon: int, probs: np.ndarray) -> list[Forecast | None]:
        """One forecast per series, series i from ``ys[i][: t + 1]`` at each of its origins t.
        A series that cannot be forecast (fewer than `context` points before an origin) gets
        None and a warning naming it; the other series are forecast."""
        out, short, c = [], [], self.model.params.context
        for i, (y, o) in enumerate(zip(ys, origins)):
            if np.size(o) and int(np.min(o)) < c - 1:
                out.append(None)
                short.append(i)
            else:
                out.append(self.predict_series(i, y, o, horizon, probs))
        if short:
            warnings.warn(f"{len(short)} series not forecast, fewer than context={c} "
                          f"points before an origin (series index {', '.join(map(str, short[:10]))}"
                          f"{', ...' if len(short) > 10 else ''})")
        return out

    def adopt_predict_params(self, other: "GlobalNetwork") -> None:
        """Take `other`'s prediction-only settings (a stored fit shared by arms differing in them)."""
        adopt = getattr(self.model, "adopt_predict_params", None)
        if adopt is not None:
            adopt(other.model)
