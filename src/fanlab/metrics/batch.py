"""The scoring of cells: every cell metric of many cells at once, stacked along a leading axis.

Scored one at a time, a cell costs about a hundred small numpy calls; on short horizons (M3:
one origin, 6 to 18 steps) those calls were the whole time of a run's aggregation.
`score_stack` takes n cells of the same shape (origins K, steps H, probabilities) stacked along
a leading axis (y (n, K, H), quantiles (n, K, Q, H), ...) and computes every metric once for the
n cells, each reduction along the same axis of the same memory layout as for one cell, so a
cell's numbers do not depend on what it is stacked with, to the bit. It is the only scoring of
a cell: `cell_records` and `cell_metrics` (one cell) are a stack of one.
`tests/metrics/test_batch.py` checks it against a plain one-cell-at-a-time reference
(`tests/metrics/reference_cell.py`) on varied cells: horizons, origins, NaN and degenerate
bands, dead steps, joint laws, no scale.

A cell's scores are `Records`: its values and a `Layout` (metric, level and size of each record,
h of each value) that every cell of the same structure shares (a scale or none, dead steps at a
level or none, a joint law or none), so a batch holds and sends one layout per structure, and the
main process sorts a layout's rows once (`Layout.sorted_rows`), not every cell's.
"""

from __future__ import annotations

import sys

import numpy as np

from fanlab.metrics import scores
from fanlab.metrics.aggregate import STEP_METRICS, _tidy, band_index
from fanlab.metrics.frames import frame_arrays
from fanlab.schema import ID_COLS


class Layout:
    """The records of a cell's scores without their values: h per value (int32), level per
    record, metric names per record, sizes per record (as `pack_records` packs them)."""

    __slots__ = ("h", "level", "names", "sizes", "_sorted")

    def __init__(self, h: np.ndarray, level: np.ndarray, names: tuple, sizes: np.ndarray):
        self.h, self.level, self.names, self.sizes = h, level, names, sizes
        self._sorted = None

    def __reduce__(self):  # the cached order stays behind
        return Layout, (self.h, self.level, self.names, self.sizes)

    @property
    def key(self) -> tuple:
        return self.names, self.sizes.tobytes(), self.level.tobytes(), self.h.tobytes()

    def packed(self, values: np.ndarray) -> tuple:
        """`pack_records`' tuple of a cell with this layout."""
        return self.h, self.level, self.names, self.sizes, values

    def sorted_rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(order, h, level, metric): the permutation of a cell's values into metrics.parquet's
        order within a cell (metric, level, h, stable: as `DataFrame.sort_values` sorts the
        whole table, whose other keys are one cell's), and the h (int64), level and metric
        name (object) of each value in that order. Computed once per structure (equal layouts
        of other batches share it)."""
        if self._sorted is None:
            key = self.key
            if key not in _SORTED_ROWS:
                import pandas as pd

                level = np.repeat(self.level, self.sizes)
                metric = np.repeat(np.array(self.names, dtype=object), self.sizes)
                h = self.h.astype(np.int64)
                frame = pd.DataFrame({"metric": pd.array(metric, dtype="str"), "level": level, "h": h})
                order = frame.sort_values(["metric", "level", "h"], kind="stable").index.to_numpy()
                _SORTED_ROWS[key] = (order, h[order], level[order], metric[order])
            self._sorted = _SORTED_ROWS[key]
        return self._sorted


_SORTED_ROWS: dict[tuple, tuple] = {}


class Records:
    """One cell's scores: its values (float64) in the order of its `Layout`."""

    __slots__ = ("layout", "values")

    def __init__(self, layout: Layout, values: np.ndarray):
        self.layout, self.values = layout, values

    def __reduce__(self):
        return Records, (self.layout, self.values)

    def packed(self) -> tuple:
        return self.layout.packed(self.values)

    def rows(self) -> list[tuple]:
        """The cell's `_rows` records: (h (int64), level, metric, values) per record."""
        lay = self.layout
        cut = np.cumsum(lay.sizes)[:-1]
        return [(h.astype(np.int64), float(lv), name, v) for h, lv, name, v in
                zip(np.split(lay.h, cut), lay.level, lay.names, np.split(self.values, cut))]


def pack_many(records: list[Records]) -> tuple:
    """Many cells' Records, compactly (one value matrix per layout): (layouts, each cell's
    layout, each cell's row in its layout's matrix, the matrices). Cell i is
    Records(layouts[which[i]], values[which[i]][row[i]])."""
    layouts: list[Layout] = []
    index: dict[int, int] = {}
    which, row = np.empty(len(records), dtype=np.int64), np.empty(len(records), dtype=np.int64)
    members: list[list[np.ndarray]] = []
    for i, rec in enumerate(records):
        j = index.get(id(rec.layout))
        if j is None:
            j = index[id(rec.layout)] = len(layouts)
            layouts.append(rec.layout)
            members.append([])
        which[i], row[i] = j, len(members[j])
        members[j].append(rec.values)
    return layouts, which, row, [np.stack(m) for m in members]


# --- stacks --------------------------------------------------------------------------------

#: The (K, H) and (K, Q, H) arrays of `frame_arrays` that a stack holds with a leading axis.
_STACKED = ("y", "mean", "pit", "crps", "quantiles", "origins", "state")


def shape_key(arr: dict) -> tuple:
    """Cells with equal keys stack: the same origins count, steps, probabilities and joint-law
    columns."""
    k, h = arr["y"].shape
    return k, h, arr["probs"].tobytes(), tuple(sorted(arr["paths"]["sim"]))


def stack_arrays(arrays: list[dict]) -> dict:
    """One stack (each array with a leading axis of len(arrays)) of cells of one `shape_key`."""
    st = {k: np.stack([a[k] for a in arrays]) for k in _STACKED}
    st["probs"] = arrays[0]["probs"]
    paths = [a["paths"] for a in arrays]
    st["paths"] = {c: np.stack([p[c] for p in paths]) for c in ("energy", "variogram", "energy_clim")}
    st["paths"]["sim"] = {lv: (np.stack([p["sim"][lv][0] for p in paths]), np.stack([p["sim"][lv][1] for p in paths]))
                          for lv in paths[0]["sim"]}
    return st


def cell_view(st: dict, c: int) -> dict:
    """Cell c of a stack as `frame_arrays` gives it (views)."""
    arr = {k: st[k][c] for k in _STACKED}
    arr["probs"] = st["probs"]
    p = st["paths"]
    arr["paths"] = {c2: p[c2][c] for c2 in ("energy", "variogram", "energy_clim")}
    arr["paths"]["sim"] = {lv: (lo[c], hi[c]) for lv, (lo, hi) in p["sim"].items()}
    return arr


def score_arrays(arrays: list[dict], scales: list, levels: list[float], all_levels: list[float]) -> list[Records]:
    """Each cell's `Records` (`frame_arrays` each), its cells stacked by `shape_key`."""
    groups: dict[tuple, list[int]] = {}
    for i, arr in enumerate(arrays):
        groups.setdefault(shape_key(arr), []).append(i)
    out: list = [None] * len(arrays)
    for idx in groups.values():
        recs = score_stack(stack_arrays([arrays[i] for i in idx]), [scales[i] for i in idx], levels, all_levels)
        for i, r in zip(idx, recs):
            out[i] = r
    return out


# --- scoring ---------------------------------------------------------------------------------


def score_stack(st: dict, scales: list, levels: list[float], all_levels: list[float]) -> list[Records]:
    """`cell_records` of each cell of a stack (`stack_arrays`) as `Records`; scales: each cell's
    naive scale or None."""
    y, q, probs = st["y"], st["quantiles"], st["probs"]
    n, K, H = y.shape
    has_scale = np.array([s is not None for s in scales], dtype=bool)
    s = np.array([np.nan if v is None else float(v) for v in scales], dtype=float)[:, None]
    blocks: list[tuple] = []  # (metric, level, h0, values (n, size), present (n,) or None)
    emp = np.empty((n, len(all_levels)))

    def add(metric, values, level=np.nan, h0=False, present=None):
        values = np.asarray(values, dtype=float).reshape(n, -1)
        blocks.append((metric, float(level), h0, values, present))

    with np.errstate(invalid="ignore", over="ignore"):
        for li, level in enumerate(all_levels):
            i, j = band_index(probs, level)
            lo, hi = q[:, :, i, :], q[:, :, j, :]
            w = scores.width(lo, hi)
            zero, inf = w == 0, np.isinf(w)
            degenerate = zero.all(axis=(1, 2)) | inf.all(axis=(1, 2))
            cov = scores.hits(y, lo, hi).mean(axis=1)
            cov[degenerate] = np.nan
            dead = zero.all(axis=1)  # (n, H), all False where a cell's band is dead everywhere
            dead[dead.all(axis=1)] = False
            some = dead.any(axis=1)
            emp[:, li] = cov.mean(axis=1)
            if some.any():
                cov[dead] = np.nan
                for c in np.flatnonzero(some):
                    emp[c, li] = float(cov[c][~dead[c]].mean())
            add("coverage", cov, level)
            add("width", w.mean(axis=1), level)
            add("width_median", w[:, 0, :].copy() if K == 1 else np.median(w, axis=1), level)
            config = level in levels
            if config:
                add("zero_width_share", zero.mean(axis=(1, 2)), level, True)
                add("inf_share", inf.mean(axis=(1, 2)), level, True)
            isc = scores.interval_score(y, lo, hi, level).mean(axis=1)  # the band as forecast
            add("interval_score", isc, level)
            if config:
                jlo, jhi = (np.where(dead[:, None, :], -np.inf, lo), np.where(dead[:, None, :], np.inf, hi)) \
                    if some.any() else (lo, hi)
                joint = scores.joint_hits(y, jlo, jhi).mean(axis=1)
                add("joint_coverage", np.where(degenerate, np.nan, joint), level, True)
                add("interval_steps", (~dead).sum(axis=1), level, True, some)
                add("msis", isc / s, level, present=has_scale)
        for m in STEP_METRICS:
            _step_metric(add, m, st, s, scales, has_scale)
        _path_blocks(add, st, levels)
        nominal = np.array(all_levels)
        cal = np.abs(nominal - emp).mean(axis=1)
        add("calibration_error", np.where(np.isnan(emp).any(axis=1), np.nan, cal), h0=True)
    return _records(blocks, n)


def _step_metric(add, m, st: dict, s: np.ndarray, scales: list, has_scale: np.ndarray) -> None:
    """A `StepMetric`'s block: its `batch` of the stack, else its `stat` per cell."""
    if m.batch is not None:
        add(m.name, m.batch(st, s), present=has_scale if m.scaled else None)
        return
    n, _, H = st["y"].shape
    values, present = np.full((n, H), np.nan), np.zeros(n, dtype=bool)
    for c in range(n):
        v = m.stat(cell_view(st, c), scales[c])
        if v is not None:
            values[c], present[c] = v, True
    add(m.name, values, present=present)


def _path_blocks(add, st: dict, levels: list[float]) -> None:
    """`_path_rows` of a stack: only cells with a joint law have them."""
    paths, y = st["paths"], st["y"]
    law = np.isfinite(paths["energy"]).any(axis=1) | np.isfinite(paths["variogram"]).any(axis=1)  # `has_law`
    if not law.any():
        return
    for level in levels:
        if level not in paths["sim"]:
            continue
        lo, hi = paths["sim"][level]
        w = scores.width(lo, hi)
        hits = scores.joint_hits(y, lo, hi).astype(float).mean(axis=1)
        add("sim_path_coverage", np.where(np.isinf(w).all(axis=(1, 2)), np.nan, hits), level, True, law)
        add("sim_width", w.mean(axis=1), level, present=law)
    for name, col in (("energy_score", "energy"), ("variogram_score", "variogram"), ("energy_clim", "energy_clim")):
        add(name, paths[col].mean(axis=1), h0=True, present=law)


def _records(blocks: list[tuple], n: int) -> list[Records]:
    """Each cell's Records from the blocks present for it; one Layout per structure."""
    optional = [b for b in blocks if b[4] is not None]
    if optional:
        keys, which = np.unique(np.stack([b[4] for b in optional], axis=1), axis=0, return_inverse=True)
        which = np.asarray(which).ravel()
    else:
        keys, which = np.zeros((1, 0), dtype=bool), np.zeros(n, dtype=np.int64)
    out: list = [None] * n
    for u, key in enumerate(keys):
        cells = np.flatnonzero(which == u)
        present = dict(zip(map(id, optional), key))
        used = [b for b in blocks if b[4] is None or present[id(b)]]
        sizes = np.array([b[3].shape[1] for b in used], dtype=np.int64)
        h = np.concatenate([np.zeros(1, np.int32) if b[2] else np.arange(1, b[3].shape[1] + 1, dtype=np.int32)
                            for b in used])
        layout = Layout(h, np.array([b[1] for b in used], dtype=float), tuple(sys.intern(b[0]) for b in used), sizes)
        values = np.concatenate([b[3][cells] for b in used], axis=1)
        for r, c in enumerate(cells):
            out[c] = Records(layout, values[r])
    return out


# --- one cell ----------------------------------------------------------------------------------

def score_one(arr: dict, scale: float | None, levels: list[float], all_levels: list[float]) -> Records:
    """One cell's `Records` from its `frame_arrays`: `score_stack` on a stack of this cell alone."""
    return score_stack(stack_arrays([arr]), [scale], levels, all_levels)[0]


def cell_records(arr: dict, levels: list[float], all_levels: list[float], scale: float | None) -> list[tuple]:
    """One cell's metric records (`fanlab.metrics.aggregate._rows` form) from its `frame_arrays`."""
    return score_one(arr, scale, levels, all_levels).rows()


def cell_metrics(frame, levels: list[float], all_levels: list[float], scale: float | None,
                 arr: dict | None = None):
    """Tidy scores of one cell (a `cell_frame`).

    Per (h, level) for every level in `all_levels`: coverage, width, interval_score; per level
    of `levels`: msis (per h) and joint_coverage (h = 0). Per h: crps, pinball, mae, rmse,
    mase, scaled_crps (these two where the series has a naive scale). Per cell: calibration_error
    (h = 0) over the fine grid. `arr` is `frame_arrays(frame)` where the caller already has it.
    """
    arr = frame_arrays(frame) if arr is None else arr
    first = frame.iloc[0]
    return _tidy({c: first[c] for c in ID_COLS}, cell_records(arr, levels, all_levels, scale))
