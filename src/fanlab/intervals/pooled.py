"""Conformal bands calibrated on scores pooled over the series of a panel (`pool: series`).

Each series keeps its own base forecaster, fitted on its own training block, and its own
calibration origins (targets inside its calibration block, e.g. ``holdout_cal`` points just
before a competition's test block). The scores of every series, each divided by its series'
scale s_i (the training block's seasonal-naive MAE, as MASE; 1 with ``pool_scale: none`` or for
the normalized score, which is scale-free already), form one calibration set; series i's band
at step h is its base mean +- s_i Q_h with Q_h the conformal quantile of the pooled step-h
scores. With n pooled scores per step the split band needs n >= 1/a - 1 (19 at 95%), so a
competition whose series have one calibration origin each calibrates on the whole panel.

The base may itself be global (``scope: global`` LSTM): it is fitted once on every series'
training block, and each series' member forecasts through a view of it (`SeriesView`).

Exchangeability is then across series (CF-RNN's setting: calibration sequences apart from the
test sequences), not across time; no series' test block enters another series' band.
"""

from __future__ import annotations

import numpy as np

from fanlab.forecast import Forecast
from fanlab.intervals.conformal import ConformalForecaster, ConformalParams
from fanlab.context import PanelContext
from fanlab.metrics.evaluate import series_scale
from fanlab.registry import build_method, build_panel_method, is_panel, register_panel


def calibration_members(n: int, share: float | None) -> np.ndarray:
    """Indices of the series that only calibrate: `share` of `n`, evenly spread (none for None)."""
    if share is None:
        return np.empty(0, dtype=np.int64)
    i = np.arange(n)
    return np.flatnonzero(np.floor((i + 1) * share) > np.floor(i * share))


class SeriesView:
    """Series i of a global base, as a local Forecaster: `fit` learns nothing (the global fit,
    done first by `PooledConformal.fit`, does), `predict` forecasts series i."""

    def __init__(self, net, i: int):
        self.net, self.i = net, int(i)
        self.name = net.name

    def fit(self, y: np.ndarray, train_end: int, seed: int) -> "SeriesView":
        return self

    def predict(self, y: np.ndarray, origins: np.ndarray, horizon: int, probs: np.ndarray) -> Forecast:
        return self.net.predict_series(self.i, y, origins, horizon, probs)


class PooledConformal:
    """Split or Bonferroni conformal bands around per-series bases, calibrated across series.

    `cal_idx`: series that only calibrate (their base forecasts their own test block, whose
    scores join the pool; they get no forecast). Without them, each series calibrates on its
    own calibration block and all are forecast.
    """

    def __init__(self, members: list[ConformalForecaster], periods: list[int | None], scale: str = "naive",
                 cal_idx: np.ndarray | None = None, test_origins: list[np.ndarray] | None = None,
                 panel_base=None):
        self.members = members
        self.panel_base = panel_base  # a global base: fitted on every series first, members view it
        self.periods = periods
        self.scale = scale
        self.cal_idx = set(int(i) for i in (cal_idx if cal_idx is not None else []))
        self.test_origins = test_origins
        if self.cal_idx and len(self.cal_idx) == len(members):
            raise ValueError("cal_series leaves no series to forecast")

    def _scale(self, m, y, te, period) -> float:
        if self.scale != "naive" or m.score == "normalized":
            return 1.0
        s = series_scale(np.asarray(y, dtype=float)[:te], period)[0]
        if s is None:
            raise ValueError("pool_scale naive: a series' training block has no naive error (constant); "
                             "use pool_scale: none")
        return float(s)

    def fit(self, ys: list[np.ndarray], train_ends: list[int], seed: int) -> "PooledConformal":
        if self.panel_base is not None:  # one global fit on every training block; members read it
            self.panel_base.fit(ys, train_ends, seed)
        scales, parts, self.failed_ = [], [], {}
        for i, (m, y, te, period) in enumerate(zip(self.members, ys, train_ends, self.periods)):
            try:
                scales.append(self._fit_member(i, m, y, te, period, seed, parts))
            except Exception as exc:  # one series' base fails: it leaves the pool and gets no forecast
                scales.append(np.nan)
                self.failed_[i] = f"{type(exc).__name__}: {exc}"
        if not parts:
            raise ValueError(f"every series failed; first: {next(iter(self.failed_.values()), '')}")
        pooled = np.concatenate(parts, axis=0)
        for i, (m, s) in enumerate(zip(self.members, scales)):
            if i not in self.cal_idx and i not in self.failed_:
                m.adopt_scores(pooled * s)
        self.scales_ = np.array(scales)
        warns = [f"series {i}: base failed, left out of the pool and not forecast ({msg[:160]})"
                 for i, msg in list(self.failed_.items())[:10]]
        self.info_ = {"n_series": len(self.members), "n_calibration_series": len(self.cal_idx),
                      "n_failed_series": len(self.failed_), "n_cal_pooled": int(pooled.shape[0]),
                      "scale": self.scale, "warnings": warns}
        return self

    def _fit_member(self, i, m, y, te, period, seed, parts) -> float:
        """Fit member i; append its scaled scores to `parts` (if it calibrates); its scale."""
        s = self._scale(m, y, te, period)
        if i in self.cal_idx:  # a calibration series: the scores of its own test block
            m.fit(y, te, seed, own_scores=False)
            o = self.test_origins[i]
            fc = m.base_.predict(y, o, m.horizon, m._base_probs(np.empty(0)))
            targets = np.asarray(y, dtype=float)[o[:, None] + np.arange(1, m.horizon + 1)]
            parts.append(m._scores(targets, fc) / s)
        elif self.cal_idx:  # a test series: calibrated by the calibration series only
            m.fit(y, te, seed, own_scores=False)
        else:
            m.fit(y, te, seed)
            parts.append(m.scores_ / s)
        return s

    def predict(self, ys, origins, horizon: int, probs: np.ndarray) -> list[Forecast | None]:
        """One forecast per series; None for a calibration series."""
        return [None if i in self.cal_idx or i in self.failed_ else m.predict(y, o, horizon, probs)
                for i, (m, y, o) in enumerate(zip(self.members, ys, origins))]


@register_panel("conformal", when=lambda p: p.pool == "series")
def build_pooled_conformal(params: ConformalParams, ctx: PanelContext) -> PooledConformal:
    """Conformal around per-series bases with scores pooled over the panel's series."""
    members = []
    name, bparams = params.base["name"], params.base.get("params")
    panel_base = build_panel_method(name, bparams, ctx) if is_panel(name, bparams) else None
    for i in range(len(ctx.series)):
        mctx = ctx.member(i)
        base = SeriesView(panel_base, i) if panel_base is not None else build_method(name, bparams, mctx)
        members.append(ConformalForecaster(base, cal_end=mctx.split.cal_end, horizon=ctx.horizon,
                                           method=params.method, score=params.score,
                                           cal_stride=params.cal_stride))
    test_origins = [sp.test_origins(ctx.horizon, ctx.stride) for sp in ctx.splits]
    return PooledConformal(members, [s.period for s in ctx.series], params.pool_scale,
                           calibration_members(len(ctx.series), params.cal_series), test_origins, panel_base)
