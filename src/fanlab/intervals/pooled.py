"""Conformal bands calibrated on scores pooled over the series of a panel (`pool: series`).

Each series keeps its own base forecaster, fitted on its own training block, and its own
calibration origins (targets inside its calibration block, e.g. ``holdout_cal`` points just
before a competition's test block). The scores of every series, each divided by its series'
scale s_i (the training block's seasonal-naive MAE, as MASE; 1 with ``pool_scale: none`` or for
the normalized score, which is scale-free already), form one calibration set; series i's band
at step h is its base mean +- s_i Q_h with Q_h the conformal quantile of the pooled step-h
scores. With n pooled scores per step the split band needs n >= 1/a - 1 (19 at 95%), so a
competition whose series have one calibration origin each calibrates on the whole panel.

Exchangeability is then across series (CF-RNN's setting: calibration sequences apart from the
test sequences), not across time; no series' test block enters another series' band.
"""

from __future__ import annotations

import numpy as np

from fanlab.forecast import Forecast
from fanlab.intervals.conformal import ConformalForecaster, ConformalParams
from fanlab.panel import PanelContext, series_scale
from fanlab.registry import build_method, register_panel


class PooledConformal:
    """Split or Bonferroni conformal bands around per-series bases, calibrated across series."""

    name = "conformal"

    def __init__(self, members: list[ConformalForecaster], periods: list[int | None], scale: str = "naive"):
        self.members = members
        self.periods = periods
        self.scale = scale

    def fit(self, ys: list[np.ndarray], train_ends: list[int], seed: int) -> "PooledConformal":
        scales, parts = [], []
        for m, y, te, period in zip(self.members, ys, train_ends, self.periods):
            m.fit(y, te, seed)
            s = 1.0
            if self.scale == "naive" and m.score != "normalized":
                s = series_scale(np.asarray(y, dtype=float)[:te], period)
                if s is None:
                    raise ValueError("pool_scale naive: a series' training block has no naive error "
                                     "(constant); use pool_scale: none")
            scales.append(float(s))
            parts.append(m.scores_ / s)
        pooled = np.concatenate(parts, axis=0)
        for m, s in zip(self.members, scales):
            m.adopt_scores(pooled * s)
        self.scales_ = np.array(scales)
        self.info_ = {"n_series": len(self.members), "n_cal_pooled": int(pooled.shape[0]),
                      "scale": self.scale}
        return self

    def predict(self, ys, origins, horizon: int, probs: np.ndarray) -> list[Forecast]:
        return [m.predict(y, o, horizon, probs) for m, y, o in zip(self.members, ys, origins)]


@register_panel("conformal", when=lambda p: p.pool == "series")
def build_pooled_conformal(params: ConformalParams, ctx: PanelContext) -> PooledConformal:
    """Conformal around per-series bases with scores pooled over the panel's series."""
    members = []
    for i in range(len(ctx.series)):
        mctx = ctx.member(i)
        base = build_method(params.base["name"], params.base.get("params"), mctx)
        members.append(ConformalForecaster(base, cal_end=mctx.split.cal_end, horizon=ctx.horizon,
                                           method=params.method, score=params.score,
                                           cal_stride=params.cal_stride))
    return PooledConformal(members, [s.period for s in ctx.series], params.pool_scale)
