"""Adaptive conformal inference (Gibbs and Candes, 2021) per level and horizon step.

For a level l (target miss rate a = 1 - l) and step h, the wrapper keeps a running miss rate
a_t(l, h) and issues at origin t the conformal band at level 1 - a_t from the pool of scores
known at t. The update a_{t+1} = a_t + gamma (a - err_t) needs err_t, the miss of the band
issued at origin t, which is known only when y[t + h] is observed. So at origin t:

- the pool for step h holds the scores s_{t'}(h) of origins t' with t' + h <= t (optionally
  only the latest `aci_window` of them);
- a_t(l, h) = a + gamma * sum over t' in [T0, t - h] of (a - err_{t'}(l, h)), with
  T0 = cal_end - 1 the first test origin: every error used is of an origin whose step-h
  target y[t' + h] is already observed at t. The sum is built in time order, one revealed
  error per step, so the band at origin t' itself used only errors revealed before t'.

The recursion starts at T0 with a_T0 = a and a pool of the calibration scores; origins in
the calibration block lie on the `cal_stride` grid from train_end - 1, but (unlike split
conformal) also include those whose later targets fall past cal_end, since a step-h score is
usable as soon as its own target is observed. From T0 on, every origin is scored and
updated, since ACI updates every step. All base forecasts come from one batched
``base.predict`` over these origins, each of which may use only y[: t' + 1]; so ACI scores
its calibration block from the series given to `predict` (the same values as at fit when the
caller passes the same series), not from the copy kept at fit.

a_t leaves [0, 1] by design. When (n + 1)(1 - a_t) > n, i.e. a_t < 1 / (n + 1), the rank
exceeds the pool and the band is (-inf, inf) (a sure cover, which pushes a_t back up). When
a_t >= 1 the band is empty; it is returned with zero width at the centre (a sure miss, which
pushes a_t back down). Both are counted in ``info["warnings"]``.

Order statistics of each pool are answered by a Fenwick tree over the ranks of that row's
scores, vectorised over rows, so a step costs O(rows * log M) rather than a sort.
"""

from __future__ import annotations

import numpy as np

from fanlab.intervals.ranks import conformal_rank, symmetric_band


class OrderTree:
    """Multisets of a fixed universe of values per row, with k-th smallest queries.

    Parameters
    ----------
    values : (R, M)
        Row r's possible members in sequence order; NaN members must never be inserted.
    """

    def __init__(self, values: np.ndarray):
        R, M = values.shape
        order = np.argsort(values, axis=1, kind="stable")
        self.sorted = np.take_along_axis(values, order, axis=1)
        self.rank = np.empty((R, M), dtype=np.int64)
        np.put_along_axis(self.rank, order, np.broadcast_to(np.arange(M), (R, M)), axis=1)
        self.M = M
        self.tree = np.zeros((R, M + 1), dtype=np.int64)
        self.count = np.zeros(R, dtype=np.int64)
        self._top = 1 << (M.bit_length() - 1) if M else 0

    def build(self, lo: np.ndarray, hi: np.ndarray) -> None:
        """Set row r to hold members lo[r] <= j < hi[r] (sequence indices), (R,) each."""
        R, M = self.rank.shape
        j = np.arange(M)
        present = ((j >= lo[:, None]) & (j < hi[:, None])).astype(np.int64)
        counts = np.zeros((R, M + 1), dtype=np.int64)
        np.put_along_axis(counts[:, 1:], self.rank, present, axis=1)
        csum = np.cumsum(counts, axis=1)
        i = np.arange(1, M + 1)
        self.tree[:, 1:] = csum[:, i] - csum[:, i - (i & -i)]
        self.count = present.sum(axis=1)

    def add(self, rows: np.ndarray, seq: np.ndarray, delta: int) -> None:
        """Insert (delta=1) or remove (-1) member seq[i] of row rows[i]; rows must be unique."""
        if rows.size == 0:
            return
        self.count[rows] += delta
        i = self.rank[rows, seq] + 1
        while rows.size:
            self.tree[rows, i] += delta
            i = i + (i & -i)
            keep = i <= self.M
            rows, i = rows[keep], i[keep]

    def kth(self, rows: np.ndarray, k: np.ndarray) -> np.ndarray:
        """k-th smallest member (1 <= k <= count) of each row in `rows`; rows may repeat."""
        pos = np.zeros(rows.shape, dtype=np.int64)
        rem = np.asarray(k, dtype=np.int64).copy()
        step = self._top
        while step:
            nxt = pos + step
            val = self.tree[rows, np.minimum(nxt, self.M)]
            go = (nxt <= self.M) & (val < rem)
            pos = np.where(go, nxt, pos)
            rem = np.where(go, rem - val, rem)
            step >>= 1
        return self.sorted[rows, pos]


def aci_bands(y: np.ndarray, timeline: np.ndarray, t0: int, origins: np.ndarray, scores: np.ndarray,
              mean: np.ndarray, references: tuple, levels: np.ndarray, *, score: str, gamma: float,
              window: int | None):
    """ACI bands from arrays (the conformal wrapper's `_aci` builds them).

    `timeline` (M,): the calibration grid, then every origin from `t0` (the first test origin)
    to the last of `origins`; `scores` (M, H), or (M, L, H) for ``score='cqr'``, NaN where the
    target is not observed by the last origin; `mean` (M, H) the base forecast's; `references`
    (ref_lo, ref_hi, scale, centre) of `band_reference` over the timeline. Returns mean (K, H),
    lower and upper (K, L, H), centre (K, H), alpha (K, L, H) (the miss rate a_t each band
    used) and a list of warning strings.
    """
    H, L, K = scores.shape[-1], levels.size, origins.size
    t_max = int(origins.max()) if K else t0
    M = timeline.size
    i0 = int(np.searchsorted(timeline, t0))
    signed = score == "signed"
    if score == "cqr":  # one pool per (level, step)
        rows = scores.transpose(1, 2, 0).reshape(L * H, M)
        row_h = np.tile(np.arange(1, H + 1), L)
        row_of = np.arange(L * H).reshape(L, H)
    else:
        rows = scores.T
        row_h = np.arange(1, H + 1)
        row_of = np.broadcast_to(np.arange(H), (L, H))
    ref_lo, ref_hi, scale, center_ref = references
    online = slice(i0, M)
    ref_lo, ref_hi, center_ref, mean = ref_lo[online], ref_hi[online], center_ref[online], mean[online]
    scale = None if scale is None else scale[online]

    tree = OrderTree(rows)
    hi_ptr = np.searchsorted(timeline, t0 - row_h, side="right")
    lo_ptr = np.maximum(hi_ptr - window, 0) if window else np.zeros_like(hi_ptr)
    tree.build(lo_ptr, hi_ptr)

    target = (1.0 - levels)[:, None]  # (L, 1)
    alpha = np.repeat(target, H, axis=1)  # (L, H)
    hs = np.arange(1, H + 1)
    ring_lo, ring_hi = np.empty((H + 1, L, H)), np.empty((H + 1, L, H))
    need = np.zeros(t_max - t0 + 1, dtype=bool)
    need[origins - t0] = True
    slot = np.cumsum(need) - 1
    n_out = int(need.sum())
    out_lo, out_hi = np.empty((n_out, L, H)), np.empty((n_out, L, H))
    out_c, out_a = np.empty((n_out, H)), np.empty((n_out, L, H))

    for t in range(t0, t_max + 1):
        u = t - t0
        if u > 0:
            jh = np.flatnonzero(t - hs >= t0)  # steps whose band at origin t - h is now judged
            if jh.size:
                src = (t - hs[jh]) % (H + 1)
                err = (y[t] < ring_lo[src, :, jh]) | (y[t] > ring_hi[src, :, jh])  # (n, L)
                alpha[:, jh] += gamma * (target - err.T)
            # the score of origin t - h at step h has just been observed
            cand = np.flatnonzero(hi_ptr < M)
            cand = cand[timeline[hi_ptr[cand]] == t - row_h[cand]]
            tree.add(cand, hi_ptr[cand], 1)
            hi_ptr[cand] += 1
            if window:
                over = cand[hi_ptr[cand] - lo_ptr[cand] > window]
                tree.add(over, lo_ptr[over], -1)
                lo_ptr[over] += 1
        n = tree.count[row_of]  # (L, H)
        k = conformal_rank(n, alpha / 2.0 if signed else alpha)
        collapse = alpha >= 1.0
        inf = (k > n) & ~collapse
        ok = ~inf & ~collapse
        q_hi = np.zeros((L, H))
        q_hi[ok] = tree.kth(row_of[ok], k[ok])
        if signed:
            nh = tree.count[:H]
            center = mean[u] + tree.kth(np.arange(H), conformal_rank(nh, 0.5))
            q_lo = np.zeros((L, H))
            q_lo[ok] = tree.kth(row_of[ok], n[ok] + 1 - k[ok])
            lo, hi = mean[u] + q_lo, mean[u] + q_hi
        else:
            center = center_ref[u]
            lo, hi = symmetric_band(ref_lo[u], ref_hi[u], None if scale is None else scale[u], q_hi)
            lo, hi = np.broadcast_to(lo, (L, H)).copy(), np.broadcast_to(hi, (L, H)).copy()
        lo[inf], hi[inf] = -np.inf, np.inf
        c = np.broadcast_to(center, (L, H))
        lo[collapse], hi[collapse] = c[collapse], c[collapse]
        ring_lo[t % (H + 1)], ring_hi[t % (H + 1)] = lo, hi
        if need[u]:
            s = slot[u]
            out_lo[s], out_hi[s], out_c[s], out_a[s] = lo, hi, center, alpha

    pick = slot[origins - t0]
    lo, hi, center, alpha_out = out_lo[pick], out_hi[pick], out_c[pick], out_a[pick]
    notes = []
    for i, lv in enumerate(levels):
        n_inf = int(np.sum(np.isposinf(hi[:, i]) & np.isneginf(lo[:, i])))
        n_zero = int(np.sum(alpha_out[:, i] >= 1.0))
        if n_inf:
            notes.append(f"aci: level {lv:g}: {n_inf} of {K * H} bands infinite (a_t < 1/(n+1))")
        if n_zero:
            notes.append(f"aci: level {lv:g}: {n_zero} of {K * H} bands of zero width (a_t >= 1)")
    return mean[origins - t0], lo, hi, center, alpha_out, notes
