"""Conformal prediction intervals around any fanlab forecaster.

`ConformalForecaster` wraps a base forecaster (built from a nested method spec) and replaces
its predictive quantiles with conformal bands, step by step over the horizon.

Data use
--------
``fit(y, train_end, seed)`` fits the base on ``y[:train_end]`` only (the base receives the
truncated series, so the calibration block cannot leak into it), then forecasts every
calibration origin (targets all inside [train_end, cal_end), every `cal_stride` steps) from
``y[:cal_end]`` and stores the per-(origin, step) residual material: base mean, targets,
spread and the scores that do not depend on the level. The CQR score depends on the level,
which is known only at predict time, so it is computed lazily in `predict` from the copy of
``y[:cal_end]`` kept at fit (never from the series given to `predict`). Split and Bonferroni
bands therefore never read the test block; the joint method stores the scale s_h and the
normalised per-step scores of its ranked origins at fit. Forecast origins must be >= cal_end - 1, so the
whole calibration block precedes every origin.

Scores (per horizon step h, e = y[t + h] - base mean)
-----------------------------------------------------
absolute    |e|; band mean +- Q.
signed      e; upper end mean + e_(k), lower end mean + e_(n + 1 - k) with
            k = ceil((n + 1)(1 - a / 2)): two one-sided conformal bounds at a / 2 each, so the
            band may be asymmetric. Its p = 0.5 value is the conformal median
            mean + e_(ceil((n + 1) / 2)) (a bias correction), which keeps the bands nested.
normalized  |e| / s with s the base's own spread, the width q_0.75 - q_0.25 of its central
            0.5 interval (every `Forecast` has quantiles; for a Gaussian base s = 1.349 sd, a
            constant the conformal quantile absorbs). Band mean +- Q s.
cqr         conformalised quantile regression: for level l with base interval [lo, hi],
            score max(lo - y, y - hi); band [lo - Q, hi + Q] (Q < 0 shrinks the base band).
            Its p = 0.5 value is the base median.

Methods
-------
split       Q is the k-th smallest of the n calibration scores at step h with
            k = ceil((n + 1)(1 - a)), the finite-sample (n + 1) correction. If k > n the band
            is (-inf, inf) and ``info["warnings"]`` says so; nothing is clipped.
bonferroni  split at a / H per step (H = the forecast horizon), so the whole path is covered
            jointly with probability >= 1 - a (CF-RNN).
joint       a simultaneous band from the maximum over the horizon of per-step normalised
            scores (below); covers the whole path jointly with probability >= 1 - a and
            needs only m >= 1 / a - 1 ranked origins (19 at 95%), where Bonferroni needs
            n >= H / a - 1 (1,999 at 95% and H = 100).
aci         adaptive conformal inference per (level, step); see `fanlab.intervals.aci`.
pid         conformal PID control per (level, step), gains in ``pid``; see `fanlab.intervals.pid`.

The joint method
----------------
The n calibration origins (in time order) are cut in two: the earliest
n_s = floor(scale_frac * n) (clipped to [1, n - 1]; default scale_frac 0.3) estimate the
per-step scale, the latest m = n - n_s are ranked.

- Per-step score r_ih: |e_ih| (absolute) or |e_ih| / spread_ih (normalized: the base's own
  0.25-0.75 spread at that origin and step, as for split).
- Per-step scale s_h = the mean of r_ih over the n_s scale origins (a mean absolute
  residual, divided by the base's spread for normalized). It puts the steps on a common
  scale, so early steps with small errors are not swamped by late ones.
- Max-score of a ranked origin: M_i = max over h <= H' of r_ih / s_h, H' the horizon asked
  at predict (<= the calibrated H; a shorter path is ranked on its own steps, not on H).
  A step with s_h = 0 gives r / s = 0 where r = 0 and +inf otherwise.
- Level l (a = 1 - l): Q_l = the k-th smallest of the m max-scores, k = ceil((m + 1) l);
  band mean +- Q_l s_h (absolute) or mean +- Q_l s_h spread_th (normalized). If k > m the
  band is (-inf, inf) and ``info["warnings"]`` says so, exactly as for split.
  ``info["n_scale"]`` and ``info["n_rank"]`` give n_s and m.

Exchangeability: s_h is a function of the scale origins only, so, given them, the score map
(path -> M) is fixed and treats the m ranked origins and the test origin alike; whenever
those m + 1 residual paths are exchangeable given the scale part (e.g. independent
sequences, or non-overlapping windows of a series whose base residuals are i.i.d. paths,
such as a correct AR forecaster with ``cal_stride >= H``), P(path inside the band) >= l,
and = k / (m + 1) for continuous scores (tests/intervals/test_joint_slow.py measures it).
Estimating s_h from the very scores that are ranked would treat the test origin
asymmetrically (its path does not enter s_h), so it is not done; the price is n_s fewer
ranked origins. Measured (10,000 independent AR(1) series, true-model base, H = 100,
n = 300, cal_stride = H): joint coverage 0.947 / 0.801 / 0.504 at 0.95 / 0.8 / 0.5 against
the exact k / (m + 1) = 0.953 / 0.801 / 0.502, while ranking on the same scores that set
s_h gave 0.941 / 0.786 / 0.479, below its own k / (n + 1) = 0.950 / 0.801 / 0.502.

With the default ``cal_stride = 1`` the windows overlap and neighbouring paths share
targets (including the last scale paths and the first ranked ones), so, as for every method
here, exchangeability holds only approximately, and for whole paths the approximation can
be poor: 300 overlapping windows of a 399-point calibration block hold only about four
disjoint H = 100 paths, and in the same study with cal_stride = 1 the 95% band was finite
but covered 0.83 of paths (0.73 at 0.8, 0.51 at 0.5). For the guarantee use independent
paths (cal_stride >= H on a long calibration block). ``signed`` and ``cqr``
are refused with joint: a max over steps of a signed or level-specific score has no single
symmetric reference to scale.

Every requested probability p gets the central level |2p - 1| (p < 0.5: lower end, p > 0.5:
upper end, p = 0.5: the centre), so reliability curves work for conformal too. Split,
Bonferroni and joint bands of the absolute, signed and normalized scores are nested by
construction (k grows with the level; the joint centre is the base mean); CQR and ACI levels are calibrated separately and may cross, so the
quantiles are sorted along Q (a monotone rearrangement, which never lowers interval
coverage) and ``info["rearranged"]`` records the fraction of (origin, step) cells it changed.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from fanlab.context import BuildContext
from fanlab.data.splits import Split
from fanlab.forecast import PROB_DECIMALS, Forecast, check_origins, level_probs
from fanlab.intervals.aci import aci_bands
from fanlab.intervals.pid import PIDParams, pid_bands
from fanlab.intervals.ranks import (
    conformal_rank, joint_split, normalise_steps, order_stat, split_levels, symmetric_band)
from fanlab.models.base import Forecaster
from fanlab.registry import build_method, is_panel, register_method, validate_method_spec

Method = Literal["split", "bonferroni", "joint", "aci", "pid"]
Score = Literal["absolute", "signed", "normalized", "cqr"]

#: the base's central 0.5 interval: the spread that scales the normalized score
_SPREAD_PROBS = (0.25, 0.75)


class ConformalParams(BaseModel):
    """Parameters of the `conformal` wrapper."""

    model_config = ConfigDict(extra="forbid")

    base: dict = Field(description="method spec {name, params} of the wrapped forecaster")
    method: Method = "split"
    score: Score = "absolute"
    cal_stride: int = Field(1, ge=1, description="steps between calibration origins")
    gamma: float = Field(0.005, gt=0.0, le=1.0, description="ACI step size")
    aci_window: int | None = Field(
        None, ge=1, description="ACI: use only the latest scores per step (None: all since the calibration start)"
    )
    pid: PIDParams = Field(default_factory=PIDParams, description="method pid: the controller's gains")
    scale_frac: float = Field(
        0.3, gt=0.0, lt=1.0,
        description="joint: share of the calibration origins (the earliest) that estimate the per-step scale; the rest are ranked",
    )
    pool: Literal["time", "series"] = Field(
        "time", description="time: each series calibrates on its own calibration block; series: the scores of "
                            "every series of the dataset are pooled (each divided by its series' scale, "
                            "`pool_scale`), one band per series from the pooled quantile (split, bonferroni)")
    cal_series: float | None = Field(
        None, gt=0.0, lt=1.0,
        description="pool: series: this share of the series (evenly spread) only calibrates: each gives its "
                    "test-block scores and gets no forecast; the others are forecast (CF-RNN's calibration "
                    "sequences apart from the test sequences). None: every series calibrates on its own "
                    "calibration block and is forecast")
    pool_scale: Literal["naive", "none"] = Field(
        "naive", description="pool: series: divide each series' scores by its training block's (seasonal) naive "
                             "MAE (as MASE), so series of different size pool; none: raw scores")

    @model_validator(mode="after")
    def _check_joint_score(self):
        check_method_score(self.method, self.score)
        if self.cal_series is not None and self.pool != "series":
            raise ValueError("cal_series needs pool: series")
        if self.pool != "series" and is_panel(self.base["name"], self.base.get("params")):
            raise ValueError(f"base '{self.base['name']}' is global (fitted across the series of a dataset): "
                             "conformal around it needs pool: series")
        if self.pool == "series" and (self.method not in ("split", "bonferroni") or self.score == "cqr"):
            raise ValueError(f"pool: series supports methods split and bonferroni with scores absolute, signed "
                             f"or normalized (got method '{self.method}', score '{self.score}')")
        return self

    @field_validator("base", mode="before")
    @classmethod
    def _check_base(cls, spec):
        spec = validate_method_spec(spec)
        if spec["name"] == "conformal":
            raise ValueError("conformal cannot wrap conformal")
        return spec


JOINT_SCORES = ("absolute", "normalized")


def check_method_score(method: str, score: str) -> None:
    """Refuse method/score pairs that make no sense (joint takes absolute or normalized, pid no signed)."""
    if method == "pid" and score == "signed":
        raise ValueError("conformal method 'pid' takes scores absolute, normalized or cqr, not signed")
    if method == "joint" and score not in JOINT_SCORES:
        raise ValueError(
            f"conformal method 'joint' needs score 'absolute' or 'normalized', got '{score}': "
            f"the max over steps of a signed or level-specific (cqr) score has no symmetric scale"
        )


class ConformalForecaster:
    """Conformal bands around a base forecaster; see the module docstring.

    Parameters
    ----------
    base : Forecaster
        Unfitted base; `fit` fits it on the training block.
    cal_end : int
        End of the calibration block [train_end, cal_end).
    horizon : int
        Steps calibrated (H); `predict` accepts any horizon <= H.
    method, score, cal_stride, gamma, aci_window, scale_frac, pid
        As in `ConformalParams`.
    """

    name = "conformal"

    def __init__(self, base: Forecaster, cal_end: int, horizon: int, method: Method = "split",
                 score: Score = "absolute", cal_stride: int = 1, gamma: float = 0.005,
                 aci_window: int | None = None, scale_frac: float = 0.3, pid: PIDParams | dict | None = None):
        check_method_score(method, score)
        if not 0.0 < scale_frac < 1.0:
            raise ValueError(f"scale_frac must lie in (0, 1), got {scale_frac}")
        self.base = base
        self.scale_frac = scale_frac
        self.cal_end = cal_end
        self.horizon = horizon
        self.method = method
        self.score = score
        self.cal_stride = cal_stride
        self.gamma = gamma
        self.aci_window = aci_window
        self.pid = pid

    # ------------------------------------------------------------------ fit
    def fit(self, y: np.ndarray, train_end: int, seed: int, own_scores: bool = True) -> "ConformalForecaster":
        """Fit the base on ``y[:train_end]`` and score the calibration origins.
        `own_scores` False: no calibration of its own (scores come later by `adopt_scores`)."""
        y = np.asarray(y, dtype=float)
        H, cal_end = int(self.horizon), int(self.cal_end)
        if not 0 < train_end <= cal_end <= len(y):
            raise ValueError(f"need 0 < train_end={train_end} <= cal_end={cal_end} <= len(y)={len(y)}")
        origins = Split(len(y), train_end, cal_end, len(y)).cal_origins(H, self.cal_stride)
        if not own_scores:
            origins = origins[:0]
        elif origins.size == 0:
            raise ValueError(
                f"cannot calibrate: calibration block has {cal_end - train_end} points but the "
                f"horizon is {H}; conformal needs a calibration block of at least {H} points"
            )
        self.base_ = self.base.fit(y[:train_end].copy(), train_end, seed)
        self.train_end_ = int(train_end)
        self.y_cal_ = y[:cal_end].copy()
        self.cal_origins_ = origins
        if not own_scores:
            self.scores_, self.n_cal_, self.cal_spread_ = np.empty((0, H)), 0, None
            return self
        fc = self.base_.predict(self.y_cal_, origins, H, self._base_probs(np.empty(0)))
        self.cal_targets_ = self.y_cal_[origins[:, None] + np.arange(1, H + 1)]  # (n, H)
        self.cal_mean_ = fc.mean
        self.cal_spread_ = _spread(fc) if self.score == "normalized" else None
        if self.cal_spread_ is not None and not np.all(self.cal_spread_ > 0):
            raise ValueError("score 'normalized' needs a base whose 0.25-0.75 spread is positive")
        self.scores_ = None if self.score == "cqr" else self._scores(self.cal_targets_, fc)
        self.n_cal_ = int(origins.size)
        if self.method == "joint":
            n_s = joint_split(origins.size, self.scale_frac)
            self.joint_n_scale_ = n_s
            self.joint_scale_ = self.scores_[:n_s].mean(axis=0)  # s_h, (H,)
            self.joint_norm_ = normalise_steps(self.scores_[n_s:], self.joint_scale_)  # (m, H)
        return self

    def adopt_scores(self, scores: np.ndarray) -> None:
        """Calibrate on `scores` (n, H) instead of this series' own (pooled calibration; split
        and bonferroni only)."""
        self._check_fitted()
        if self.method not in ("split", "bonferroni") or self.score == "cqr":
            raise ValueError("adopt_scores needs method split or bonferroni and a score other than cqr")
        scores = np.asarray(scores, dtype=float)
        if scores.ndim != 2 or scores.shape[1] != self.scores_.shape[1]:
            raise ValueError(f"scores must be (n, {self.scores_.shape[1]}), got {scores.shape}")
        self.scores_, self.n_cal_ = scores, int(scores.shape[0])

    def joint_scores(self, horizon: int | None = None) -> np.ndarray:
        """Max-scores (m,) of the ranked calibration origins over the first `horizon` steps."""
        self._check_fitted()
        if self.method != "joint":
            raise ValueError("joint_scores needs method='joint'")
        H = self.horizon if horizon is None else int(horizon)
        norm = self.joint_norm_[:, :H]
        return norm.max(axis=1) if norm.shape[0] else np.empty(0)

    def _base_probs(self, levels: np.ndarray) -> np.ndarray:
        ps = {0.5}
        if self.score == "normalized":
            ps.update(_SPREAD_PROBS)
        if self.score == "cqr":
            for lv in levels:
                ps.update(level_probs(float(lv)))
        return np.array(sorted(ps))

    def _scores(self, targets: np.ndarray, fc: Forecast, levels: np.ndarray | None = None) -> np.ndarray:
        """Scores (n, H); for cqr (n, L, H) at `levels`."""
        e = targets - fc.mean
        if self.score == "absolute":
            return np.abs(e)
        if self.score == "signed":
            return e
        if self.score == "normalized":
            return np.abs(e) / _spread(fc)
        lo, hi = _base_bands(fc, levels)
        return np.maximum(lo - targets[:, None, :], targets[:, None, :] - hi)

    def calibration_scores(self, levels=None) -> np.ndarray:
        """Calibration scores: (n, H), or (n, L, H) for cqr at `levels` (L,)."""
        self._check_fitted()
        if self.score != "cqr":
            return self.scores_
        levels = np.atleast_1d(np.asarray(levels, dtype=float))
        fc = self.base_.predict(self.y_cal_, self.cal_origins_, self.horizon, self._base_probs(levels))
        return self._scores(self.cal_targets_, fc, levels)

    # -------------------------------------------------------------- predict
    def predict(self, y: np.ndarray, origins: np.ndarray, horizon: int, probs: np.ndarray) -> Forecast:
        return self._predict(y, origins, horizon, probs)[0]

    def aci_path(self, y, origins, horizon, probs) -> tuple[Forecast, np.ndarray, np.ndarray]:
        """ACI forecast plus the miss-rate path: alpha (K, L, H) at the origins, levels (L,)."""
        if self.method != "aci":
            raise ValueError("aci_path needs method='aci'")
        fc, alpha, levels = self._predict(y, origins, horizon, probs)
        return fc, alpha, levels

    def _predict(self, y, origins, horizon, probs):
        self._check_fitted()
        y = np.asarray(y, dtype=float)
        origins = check_origins(y, origins, horizon)
        if horizon > self.horizon:
            raise ValueError(f"horizon {horizon} exceeds the calibrated horizon {self.horizon}")
        if origins.size and origins.min() < self.cal_end - 1:
            raise ValueError(
                f"origin {origins.min()} precedes the end of the calibration block "
                f"(cal_end={self.cal_end}); conformal origins must be >= {self.cal_end - 1}"
            )
        probs = np.round(np.asarray(probs, dtype=float), PROB_DECIMALS)
        levels, index, side = split_levels(probs)
        info = {"base": getattr(self.base_, "name", type(self.base_).__name__), "method": self.method,
                "score": self.score, "n_cal": int(self.n_cal_), "warnings": []}
        alpha = None
        if self.method in ("aci", "pid"):
            mean, lo, hi, center, alpha, notes, base_info = self._aci(y, origins, horizon, levels)
            info["warnings"].extend(notes)
        else:
            fc = self.base_.predict(y, origins, horizon, self._base_probs(levels))
            mean, base_info = fc.mean, fc.info
            if self.method == "joint":
                info["n_scale"] = int(self.joint_n_scale_)
                info["n_rank"] = int(self.joint_norm_.shape[0])
                lo, hi, center = self._joint_bands(fc, levels, horizon, info["warnings"])
            else:
                lo, hi, center = self._split_bands(fc, levels, horizon, info["warnings"])
        if base_info:
            info["base_info"] = dict(base_info)
        q = np.empty((origins.size, probs.size, horizon))
        for j, (i, s) in enumerate(zip(index, side)):
            q[:, j] = center if s == 0 else (lo[:, i] if s < 0 else hi[:, i])
        q_sorted = np.sort(q, axis=1)
        changed = np.any(q_sorted != q, axis=1)
        info["rearranged"] = float(changed.mean()) if changed.size else 0.0
        return Forecast(origins=origins, mean=mean, probs=probs, quantiles=q_sorted, info=info), alpha, levels

    def _split_bands(self, fc: Forecast, levels: np.ndarray, horizon: int, warnings: list):
        """Split / Bonferroni bands: lower, upper (K, L, H) and centre (K, H)."""
        n = self.n_cal_
        alpha = 1.0 - levels
        if self.method == "bonferroni":
            alpha = alpha / horizon
        signed = self.score == "signed"
        k = conformal_rank(n, alpha / 2.0 if signed else alpha)  # (L,)
        for lv, kk in zip(levels, k):
            if kk > n:
                warnings.append(
                    f"{self.method} conformal: level {lv:g} needs the {kk}-th smallest of {n} "
                    f"calibration scores per step; band set to (-inf, inf)"
                )
        scores = self.calibration_scores(levels)[:, ..., :horizon]
        if self.score == "cqr":  # one score set per level
            srt = np.sort(scores, axis=0)  # (n, L, H)
            Q = np.stack([order_stat(srt[:, i], kk) for i, kk in enumerate(k)])
        else:
            srt = np.sort(scores, axis=0)
            Q = order_stat(srt, k[:, None])  # (L, H)
        ref_lo, ref_hi, scale, center = self.band_reference(fc, levels)
        if signed:
            q_lo = order_stat(srt, (n + 1 - k)[:, None])
            q_lo = np.where(np.isinf(Q), -np.inf, q_lo)
            center = fc.mean + order_stat(srt, conformal_rank(n, np.array([0.5]))[:, None])
            lo, hi = ref_lo + q_lo[None], ref_hi + Q[None]
        else:
            lo, hi = symmetric_band(ref_lo, ref_hi, scale, Q[None])
        return lo, hi, center

    def _joint_bands(self, fc: Forecast, levels: np.ndarray, horizon: int, warnings: list):
        """Joint (max-score) bands: lower, upper (K, L, H) and centre (K, H)."""
        M = np.sort(self.joint_scores(horizon))  # (m,)
        m = M.size
        k = conformal_rank(m, 1.0 - levels)  # (L,)
        for lv, kk in zip(levels, k):
            if kk > m:
                warnings.append(
                    f"joint conformal: level {lv:g} needs the {kk}-th smallest of {m} calibration "
                    f"max-scores (n = {self.cal_origins_.size} origins, {self.joint_n_scale_} of them "
                    f"estimate the per-step scale); band set to (-inf, inf)"
                )
        Ql = order_stat(M[:, None], k[:, None])[:, 0]  # (L,)
        if np.any(np.isposinf(Ql) & (k <= m)):
            warnings.append("joint conformal: an infinite max-score (a step whose calibration "
                            "scale is 0 saw a nonzero error) made a band (-inf, inf)")
        s_h = self.joint_scale_[:horizon]
        inf = np.isposinf(Ql)
        Q = np.where(inf, 0.0, Ql)[:, None] * s_h[None]  # (L, H); inf * 0 never formed
        Q = np.where(inf[:, None], np.inf, Q)
        ref_lo, ref_hi, scale, center = self.band_reference(fc, levels)
        lo, hi = symmetric_band(ref_lo, ref_hi, scale, Q[None])
        return lo, hi, center

    def _aci(self, y: np.ndarray, origins: np.ndarray, horizon: int, levels: np.ndarray):
        """ACI's inputs as arrays (see `fanlab.intervals.aci`): the timeline of origins from the
        calibration grid to the last test origin, one batched base forecast over it, its scores
        (targets past the last origin masked) and band references; then the online bands."""
        t0 = self.cal_end - 1
        t_max = int(origins.max()) if origins.size else t0
        grid = np.arange(self.train_end_ - 1, t0, self.cal_stride)
        timeline = np.concatenate([grid, np.arange(t0, t_max + 1)])
        fc = self.base_.predict(y, timeline, horizon, self._base_probs(levels))
        # targets observed by t_max only, so nothing later can enter a pool (or the tree's ranks)
        tgt = timeline[:, None] + np.arange(1, horizon + 1)
        targets = np.where(tgt <= t_max, y[np.minimum(tgt, len(y) - 1)], np.nan)
        scores = self._scores(targets, fc, levels)
        ref_lo, ref_hi, scale, center = self.band_reference(fc, levels)
        if self.method == "pid":
            out = pid_bands(timeline, t0, origins, scores, fc.mean, (ref_lo, ref_hi, scale, center), levels,
                            score=self.score, params=PIDParams.model_validate(self.pid or {}))
        else:
            out = aci_bands(y, timeline, t0, origins, scores, fc.mean, (ref_lo, ref_hi, scale, center), levels,
                            score=self.score, gamma=self.gamma, window=self.aci_window)
        return (*out, fc.info)

    def band_reference(self, fc: Forecast, levels: np.ndarray):
        """What the score offsets are added to: ref_lo, ref_hi (K, L|1, H), scale (K, 1, H) and
        the centre (K, H) used for p = 0.5."""
        mean = fc.mean
        if self.score == "cqr":
            lo, hi = _base_bands(fc, levels)
            return lo, hi, None, fc.quantile(0.5)
        scale = _spread(fc)[:, None, :] if self.score == "normalized" else None
        return mean[:, None, :], mean[:, None, :], scale, mean

    def _check_fitted(self) -> None:
        if not hasattr(self, "base_"):
            raise RuntimeError("ConformalForecaster is not fitted; call fit first")


def _spread(fc: Forecast) -> np.ndarray:
    """Width of the base's central 0.5 interval, (K, H)."""
    return fc.quantile(_SPREAD_PROBS[1]) - fc.quantile(_SPREAD_PROBS[0])


def _base_bands(fc: Forecast, levels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Base interval ends at each level, each (K, L, H)."""
    lo = np.stack([fc.quantile(level_probs(float(lv))[0]) for lv in levels], axis=1)
    hi = np.stack([fc.quantile(level_probs(float(lv))[1]) for lv in levels], axis=1)
    return lo, hi


def _conformal_cost(params: dict) -> float:
    """A conformal cell fits and predicts its base once more over the calibration block."""
    from fanlab import registry

    base = params.get("base") or {}
    try:
        return 1.2 * registry.get("method", base.get("name", "")).cell_cost(base.get("params") or {}) + 0.5
    except registry.UnknownName:
        return 1.7


@register_method("conformal", params=ConformalParams, cost=_conformal_cost)
def build_conformal(params: ConformalParams, ctx: BuildContext) -> ConformalForecaster:
    """Conformal intervals (split, bonferroni, joint, aci, pid) around any base forecaster."""
    base = build_method(params.base["name"], params.base.get("params"), ctx)
    return ConformalForecaster(
        base, cal_end=ctx.split.cal_end, horizon=ctx.horizon, method=params.method,
        score=params.score, cal_stride=params.cal_stride, gamma=params.gamma,
        aci_window=params.aci_window, scale_frac=params.scale_frac, pid=params.pid,
    )
