"""Conformal PID control (Angelopoulos, Candes & Tibshirani 2023) per level and horizon step.

ACI (`fanlab.intervals.aci`) moves the miss rate a_t and reads a quantile of a pool of past
scores; once a_t < 1 / (n + 1) the band is infinite. PID control instead tracks the score
quantile q_t itself, so a band is finite unless the integral term saturates:

    q_t = P_t + I_t,
    P_{t+1} = P_t + eta (err_t - a)                                  (quantile tracking)
    I_t = K_I tan(S_t log(n_t + 1) / (C_sat (n_t + 1))),  S_t = sum of revealed (err - a)
                                                         (error integration, saturating)

with n_t the number of revealed errors, tan taken as +-inf once its argument reaches +-pi/2
(the band becomes (-inf, inf), or empty at -inf, until coverage recovers), and
eta = lr * B_t, K_I = ki * B_t scaled by B_t, the range (max - min) of the scores revealed so
far for that (level, step): the gains are in units of the score, as the paper's
proportional learning rate is. The paper's third term, a scorecaster (a forecast of the next
score), is not implemented here: fanlab's base forecaster already is the forecast of y.

Delayed feedback, as in ACI: the band issued at origin t for step h is judged only when
y[t + h] arrives, so at origin t the (level, h) controller has seen the errors of origins
t' <= t - h from the first test origin T0 = cal_end - 1 on; its state starts at T0 with
P = the split-conformal quantile of the calibration scores whose targets are observed by T0
(the largest score when the rank exceeds the pool, 0 with no score) and I = 0.

Scores: absolute and normalized (band ref -+ q s, an empty band at q < 0) and cqr (band
[lo - q, hi + q], collapsed to its midpoint where q < -(hi - lo) / 2). The signed score needs
two one-sided controllers and is refused.

Defaults follow R's conformalForecast (lr 0.1, K_I the size of the scores, C_sat about 2 / pi).
Measured around auto ARIMA (H = 100, stride 10, the article's level break with 3 seeds and
sunspots; 95% coverage, share of infinite bands, median width):

    level_break  ACI (gamma 0.005)   0.881  23.6%   5.8
                 PID (defaults)      0.958  13.6%  17.3
                 PID ki: 0           0.941   0%     8.7
    sunspots     ACI (gamma 0.005)   0.932  61.7%   inf
                 PID (defaults)      0.955  22.0%  1566
                 PID ki: 0           0.950   0%     821

With feedback h steps late, a run of misses lasts at least h origins, so at long steps the
integral term saturates (infinite bands) and the tracker overshoots (wide bands); quantile
tracking alone (ki: 0) reaches the level without infinite bands. lr 0.02 under-covers
(0.846, 0.899).
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from fanlab.intervals.ranks import conformal_rank, symmetric_band


class PIDParams(BaseModel):
    """Gains of conformal PID control (method: pid of the `conformal` wrapper)."""

    model_config = ConfigDict(extra="forbid")
    lr: float = Field(0.1, gt=0.0, description="quantile-tracking step, times the range of the scores seen")
    ki: float = Field(1.0, ge=0.0, description="integral gain, times the range of the scores seen; 0: "
                                               "quantile tracking only")
    csat: float = Field(2.0 / math.pi, gt=0.0, description="saturation constant C_sat: the integral term "
                        "is infinite once the excess miss count reaches (pi / 2) C_sat (n + 1) / log(n + 1)")


def saturation(s: np.ndarray, n: np.ndarray, csat: float) -> np.ndarray:
    """tan(s log(n + 1) / (csat (n + 1))), +-inf where the argument reaches +-pi/2; 0 at n = 0."""
    arg = np.asarray(s, dtype=float) * np.log(np.asarray(n) + 1.0) / (csat * (np.asarray(n) + 1.0))
    out = np.tan(np.clip(arg, -1.5, 1.5))
    return np.where(arg >= math.pi / 2, np.inf, np.where(arg <= -math.pi / 2, -np.inf, out))


def pid_bands(timeline: np.ndarray, t0: int, origins: np.ndarray, scores: np.ndarray, mean: np.ndarray,
              references: tuple, levels: np.ndarray, *, score: str, params: PIDParams):
    """PID bands from arrays, with the inputs of `fanlab.intervals.aci.aci_bands`.

    `timeline` (M,): the calibration grid, then every origin from `t0` to the last of `origins`;
    `scores` (M, H), or (M, L, H) for ``score='cqr'``, NaN where the target is not observed by
    the last origin; `mean` (M, H); `references` (ref_lo, ref_hi, scale, centre) over the
    timeline. Returns mean (K, H), lower and upper (K, L, H), centre (K, H), q (K, L, H) (the
    quantile each band used) and a list of warning strings.
    """
    if score == "signed":
        raise ValueError("conformal method 'pid' takes scores absolute, normalized or cqr, not signed")
    H, L, K = scores.shape[-1], levels.size, origins.size
    t_max = int(origins.max()) if K else t0
    M = timeline.size
    i0 = int(np.searchsorted(timeline, t0))
    sc = scores if score == "cqr" else np.broadcast_to(scores[:, None, :], (M, L, H))  # (M, L, H)
    hs = np.arange(1, H + 1)
    a = (1.0 - levels)[:, None]  # (L, 1)

    # start: split quantile of the calibration scores observed by t0, their range
    known = (timeline[:, None] + hs[None, :]) <= t0  # (M, H)
    known &= np.arange(M)[:, None] < i0
    p_term = np.zeros((L, H))
    lo_seen, hi_seen = np.full((L, H), np.inf), np.full((L, H), -np.inf)
    for j in range(H):
        pool = sc[known[:, j], :, j]  # (n, L)
        if pool.shape[0]:
            srt = np.sort(pool, axis=0)
            k = np.clip(conformal_rank(pool.shape[0], a[:, 0]), 1, pool.shape[0])
            p_term[:, j] = srt[k - 1, np.arange(L)]
            lo_seen[:, j], hi_seen[:, j] = srt[0], srt[-1]
    s_sum = np.zeros((L, H))
    n_rev = np.zeros((L, H))

    ref_lo, ref_hi, scale, center_ref = references
    ring_q = np.zeros((H + 1, L, H))
    need = np.zeros(t_max - t0 + 1, dtype=bool)
    need[origins - t0] = True
    slot = np.cumsum(need) - 1
    n_out = int(need.sum())
    out_lo, out_hi = np.empty((n_out, L, H)), np.empty((n_out, L, H))
    out_c, out_q = np.empty((n_out, H)), np.empty((n_out, L, H))
    pos_of = {int(t): i for i, t in enumerate(timeline)}
    n_empty = np.zeros(L, dtype=np.int64)

    for t in range(t0, t_max + 1):
        u = t - t0
        # scores whose target y[t] just arrived: origin t - h at step h (any origin of the timeline)
        for j in range(H):
            i = pos_of.get(t - hs[j])
            if i is None:
                continue
            s_new = sc[i, :, j]  # (L,)
            lo_seen[:, j] = np.minimum(lo_seen[:, j], s_new)
            hi_seen[:, j] = np.maximum(hi_seen[:, j], s_new)
            if t - hs[j] >= t0:  # a band of the online phase is judged
                q_used = ring_q[(t - hs[j]) % (H + 1), :, j]
                err = (s_new > q_used).astype(float)
                rng_ = np.where(np.isfinite(hi_seen[:, j] - lo_seen[:, j]), hi_seen[:, j] - lo_seen[:, j], 0.0)
                p_term[:, j] += params.lr * rng_ * (err - a[:, 0])
                s_sum[:, j] += err - a[:, 0]
                n_rev[:, j] += 1
        span = np.where(np.isfinite(hi_seen - lo_seen), hi_seen - lo_seen, 0.0)
        i_term = params.ki * span * saturation(s_sum, n_rev, params.csat) if params.ki > 0 else 0.0
        with np.errstate(invalid="ignore"):
            q = p_term + i_term  # (L, H); +-inf when saturated
        q = np.where(np.isnan(q), 0.0, q)
        ring_q[t % (H + 1)] = q
        if not need[u]:
            continue
        iu = i0 + u
        center = center_ref[iu]
        if score == "cqr":
            lo, hi = ref_lo[iu] - q, ref_hi[iu] + q  # (L, H)
            cross = lo > hi
            mid = (ref_lo[iu] + ref_hi[iu]) / 2.0
            lo, hi = np.where(cross, mid, lo), np.where(cross, mid, hi)
        else:
            cross = q < 0
            lo, hi = symmetric_band(ref_lo[iu], ref_hi[iu], None if scale is None else scale[iu], np.maximum(q, 0.0))
            lo, hi = np.broadcast_to(lo, (L, H)).copy(), np.broadcast_to(hi, (L, H)).copy()
        n_empty += cross.sum(axis=1)
        s = slot[u]
        out_lo[s], out_hi[s], out_c[s], out_q[s] = lo, hi, center, q

    pick = slot[origins - t0]
    lo, hi, center, q_out = out_lo[pick], out_hi[pick], out_c[pick], out_q[pick]
    notes = []
    for i, lv in enumerate(levels):
        n_inf = int(np.sum(np.isposinf(hi[:, i])))
        if n_inf:
            notes.append(f"pid: level {lv:g}: {n_inf} of {K * H} bands infinite (integral term saturated)")
        if n_empty[i]:
            notes.append(f"pid: level {lv:g}: {int(n_empty[i])} bands of zero width (q_t below the base band)")
    return mean[i0:][origins - t0], lo, hi, center, q_out, notes
