"""Pooled rows: the cells of one dataset and method pooled over series and seeds.

`pooled_records` reads the cells' `Records` (`fanlab.metrics.batch`), as a run's aggregation
holds them, without building the cells' tidy frame. It pools the coverage (`_coverage_parts`),
whose hits are computed for all cells at once when the cells stack (the same origins and
steps, one cell per independent unit: the sums of 0/1 hits are exact in any order, and every
other reduction is the one the cell-by-cell loop makes), and averages the other per-h metrics
over cells with pandas' compensated sum in pandas' order (`_grouped_mean`).
`tests/metrics/reference_cell.py` keeps the plain tidy-frame computation (pandas' grouped mean)
the tests hold it to, to the bit.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fanlab.metrics import bootstrap, joint, scores, skill
from fanlab.metrics.aggregate import _interval, _rows, _tidy, band_degenerate, band_index, dead_steps, sim_hits
from fanlab.schema import POOLED_SEED, POOLED_SERIES

#: Cell rows of a joint law (`_path_rows`).
PATH_METRICS = ("sim_path_coverage", "sim_width", "energy_score", "variogram_score", "energy_clim")
#: Cell rows that the pooled rows do not average (coverage is pooled over origins instead).
NOT_AVERAGED = ("coverage", "joint_coverage", "zero_width_share", "inf_share", "interval_steps", "sim_path_coverage")


def pooled_records(ids: dict, names: list[str], arrays: list[dict], records: list, levels: list[float],
                   all_levels: list[float], reps: int, block: int, seed: int, ci: float) -> pd.DataFrame:
    """Pooled rows for one (dataset, method) over its cells (series x seeds), from the cells'
    `frame_arrays` and metric `Records` (no tidy frame of the cells). ids: dataset and method;
    names: each cell's series.

    Coverage pools the hits of every origin of every cell. Cells that share the same data (a
    real series run with several seeds) are not independent: their hits are first averaged
    origin by origin into one unit, so extra seeds of one real series cannot narrow the
    interval. The confidence interval on the coverage then depends on how many independent
    units (series, replications) there are:

    - two or more: a t interval on the units' own coverages (between-replication variance,
      G - 1 degrees of freedom). Origins within a series are dependent (overlapping windows
      share targets), replications are not, so this is honest even with few origins.
    - one: a moving-block bootstrap over its origins (blocks of `block` origins). This is the
      only option on a single series and it is too narrow: in our measurements it covered the
      truth in 67-83% of draws at a nominal 95% (see the README). NaN where
      the series has fewer than two blocks of origins.

    Other per-h metrics are the mean over cells.
    """
    ids = {"dataset": ids["dataset"], "series": POOLED_SERIES, "method": ids["method"], "seed": POOLED_SEED}
    parts, n_law = _coverage_parts(ids, names, arrays, levels, all_levels, reps, block, seed, ci)
    drop = NOT_AVERAGED + (PATH_METRICS if 0 < n_law < len(arrays) else ())
    keys, values, present = _cell_values(records, drop)
    if not keys:
        return _tidy(ids, parts)
    h, level, metric = zip(*keys)
    agg = pd.DataFrame({"h": np.array(h, dtype=np.int64), "level": np.array(level, dtype=float),
                        "metric": pd.array(np.array(metric, dtype=object), dtype="str"), "value": _grouped_mean(values)})
    agg = agg.sort_values(["h", "level", "metric"], kind="stable", ignore_index=True)  # as groupby sorts its keys
    for i, (key, val) in enumerate(ids.items()):
        agg.insert(i, key, val)
    es, ec = (_column(keys, values, present, (0, None, name)) for name in ("energy_score", "energy_clim"))
    return pd.concat([_tidy(ids, parts + _energy_skill(ids, es, ec, len(arrays))), agg], ignore_index=True)


def _cell_values(records: list, drop: tuple) -> tuple[list[tuple], np.ndarray, np.ndarray]:
    """The averaged rows' keys (h, level, metric) in order of first appearance (level None for
    NaN: one group, as pandas groups NaN), each cell's value of each key (cells x keys, NaN
    where the cell has no such row) and where a cell has the row."""
    keys: dict[tuple, int] = {}
    per_layout: dict[tuple, tuple] = {}  # one entry per structure: equal layouts of other batches share it
    rows: dict[tuple, list[int]] = {}
    key_of: dict[int, tuple] = {}
    for r, rec in enumerate(records):
        lay = rec.layout
        lk = key_of.get(id(lay))
        if lk is None:
            lk = key_of[id(lay)] = lay.key
        rows.setdefault(lk, []).append(r)
        if lk in per_layout:
            continue
        level = np.repeat(lay.level, lay.sizes)
        metric = np.repeat(np.array(lay.names, dtype=object), lay.sizes)
        where = np.flatnonzero(~np.isin(metric, drop) & ~((metric == "width_median") & (lay.h == 0)))
        cols = [keys.setdefault((int(lay.h[v]), None if np.isnan(level[v]) else float(level[v]), metric[v]), len(keys))
                for v in where]
        per_layout[lk] = (where, np.array(cols, dtype=np.int64))
    values = np.full((len(records), len(keys)), np.nan)
    present = np.zeros(values.shape, dtype=bool)
    for lid, rs in rows.items():
        where, cols = per_layout[lid]
        values[np.ix_(rs, cols)] = np.stack([records[r].values[where] for r in rs])
        present[np.ix_(rs, cols)] = True
    keys_out = [(h, np.nan if lv is None else lv, m) for h, lv, m in keys]
    return keys_out, values, present


def _column(keys: list[tuple], values: np.ndarray, present: np.ndarray, key: tuple) -> np.ndarray:
    """The values of one (h, NaN level, metric) row of the cells that have it, in cell order."""
    for c, (h, lv, m) in enumerate(keys):
        if (h, m) == (key[0], key[2]) and np.isnan(lv):
            return values[present[:, c], c]
    return np.empty(0)


def _grouped_mean(values: np.ndarray) -> np.ndarray:
    """Per column, the mean of its non-NaN values as pandas' grouped mean computes it: a
    Kahan-compensated sum over the rows in order (a compensation that turns NaN, as after an
    infinite value, is reset to 0), divided by the count; NaN where a column has no value."""
    total = np.zeros(values.shape[1])
    comp = np.zeros(values.shape[1])
    count = np.zeros(values.shape[1], dtype=np.int64)
    with np.errstate(invalid="ignore", over="ignore"):
        for row in values:
            ok = ~np.isnan(row)
            y = row - comp
            t = total + y
            c = t - total - y
            c[np.isnan(c)] = 0.0
            total = np.where(ok, t, total)
            comp = np.where(ok, c, comp)
            count += ok
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _coverage_parts(ids: dict, names: list[str], arrays: list[dict], levels: list[float], all_levels: list[float],
                    reps: int, block: int, seed: int, ci: float) -> tuple[list[tuple], int]:
    """The pooled coverage records (and n_units, n_origins, path_cells) of `pooled_records`,
    and how many cells have a joint law."""
    units = _independent_units(names, arrays)
    between = len(units) >= 2
    has_ci = between or len(arrays[units[0][0]]["origins"]) >= 2 * block
    stack = _stack(arrays) if between and len(units) == len(arrays) else None
    laws = [joint.has_law(a["paths"]) for a in arrays]

    def interval(groups):
        """(mean, lo, hi) of the pooled mean of per-origin values, groups (K_g, ...)."""
        if between:
            return _between_units_ci(groups, ci)
        mean, lo, hi = bootstrap.block_bootstrap_mean(groups, reps=reps, block=block, seed=seed, ci=ci)
        if not has_ci:
            lo, hi = np.full_like(np.asarray(mean, dtype=float), np.nan), np.full_like(np.asarray(mean, dtype=float), np.nan)
        return mean, lo, hi

    parts = []
    with np.errstate(invalid="ignore", over="ignore"):
        for level in all_levels:
            if stack is not None:  # one cell per unit, all of one shape: the units' hits stacked
                hit_groups, joint_groups, all_w, dead = _stacked_hits(stack, level)
                total = hit_groups.shape[0] * hit_groups.shape[1]
                by_h = np.cumsum(hit_groups.sum(axis=1), axis=0)[-1] / total
                over_h = hit_groups[:, :, ~dead].mean(axis=2) if dead.any() else hit_groups.mean(axis=2)
            else:
                hit_groups, joint_groups, all_w, dead = _unit_hits(arrays, units, level)
                total = sum(g.shape[0] for g in hit_groups)
                by_h = sum(g.sum(axis=0) for g in hit_groups) / total
                over_h = [g[:, ~dead].mean(axis=1) if dead.any() else g.mean(axis=1) for g in hit_groups]
            if level not in levels:
                # fine grid: the reliability curve needs the pooled point estimate only
                parts.append(_rows(ids, "coverage", by_h[~dead].mean() if dead.any() else by_h.mean(), level,
                                   h0=True))
                continue
            parts += [_rows(ids, "zero_width_share", float(np.mean(all_w == 0)), level, h0=True),
                      _rows(ids, "inf_share", float(np.mean(np.isinf(all_w))), level, h0=True),
                      _rows(ids, "width_median", float(np.median(all_w)), level, h0=True)]
            mean, lo_ci, hi_ci = interval(hit_groups)
            parts += [_rows(ids, "coverage", mean, level), _rows(ids, "coverage_lo", lo_ci, level),
                      _rows(ids, "coverage_hi", hi_ci, level)]
            # over all steps: mean over h of each origin's hits, bootstrapped the same way
            m0, l0, u0 = interval(over_h)
            if dead.any():
                parts.append(_rows(ids, "interval_steps", float((~dead).sum()), level, h0=True))
            jm, jl, jh = interval(joint_groups)
            parts += [_rows(ids, "coverage", m0, level, h0=True), _rows(ids, "coverage_lo", l0, level, h0=True),
                      _rows(ids, "coverage_hi", u0, level, h0=True)]
            parts += [_rows(ids, "joint_coverage", jm, level, h0=True),
                      _rows(ids, "joint_coverage_lo", jl, level, h0=True),
                      _rows(ids, "joint_coverage_hi", jh, level, h0=True)]
            sim = [sim_hits(arr, level) for arr in arrays] if all(laws) else [None]
            if all(hit is not None for hit in sim):  # every cell has a joint law: its band's path coverage
                groups = np.stack(sim) if stack is not None else [_unit_mean(sim, m) for m in units]
                sm, sl, sh = interval(groups)
                parts += [_rows(ids, "sim_path_coverage", sm, level, h0=True),
                          _rows(ids, "sim_path_coverage_lo", sl, level, h0=True),
                          _rows(ids, "sim_path_coverage_hi", sh, level, h0=True)]
    parts.append(_rows(ids, "n_units", float(len(units)), h0=True))
    # origins of independent units: seeds of one real series count once
    parts.append(_rows(ids, "n_origins", float(sum(arrays[m[0]]["y"].shape[0] for m in units)), h0=True))
    n_law = sum(laws)
    if n_law:
        parts.append(_rows(ids, "path_cells", float(n_law), h0=True))
    return parts, n_law


def _unit_hits(arrays: list[dict], units: list[list[int]], level: float):
    """Per unit, its hits (K, H) and joint hits (K,) at `level`, cell by cell; the widths of all
    cells (concatenated) and the steps without an interval in any cell."""
    cell_hits, cell_joint, widths = [], [], []
    for arr in arrays:
        lo, hi = _interval(arr, level)
        widths.append(scores.width(lo, hi))
        cell_hits.append(scores.hits(arr["y"], lo, hi).astype(float))
        cell_joint.append(scores.joint_hits(arr["y"], lo, hi).astype(float))
    all_w = np.concatenate(widths)
    if band_degenerate(all_w):  # no interval: coverage n/a, never 0 or 1
        cell_hits = [np.full_like(c, np.nan) for c in cell_hits]
        cell_joint = [np.full_like(c, np.nan) for c in cell_joint]
    dead = dead_steps(all_w)
    if dead.any():  # no interval at these steps in any cell: n/a there, joint over the rest
        for c in cell_hits:
            c[:, dead] = np.nan
        cell_joint = [np.all(c[:, ~dead] == 1.0, axis=1).astype(float) for c in cell_hits]
    return [_unit_mean(cell_hits, m) for m in units], [_unit_mean(cell_joint, m) for m in units], all_w, dead


def _stack(arrays: list[dict]) -> tuple | None:
    """(y (N, K, H), quantiles (N, K, Q, H), probs) of cells of one shape and grid; None if not."""
    first = arrays[0]
    shape, probs = first["quantiles"].shape, first["probs"]
    if any(a["quantiles"].shape != shape or not np.array_equal(a["probs"], probs) for a in arrays):
        return None
    return np.stack([a["y"] for a in arrays]), np.stack([a["quantiles"] for a in arrays]), probs


def _stacked_hits(stack: tuple, level: float):
    """`_unit_hits` of stacked cells (one per unit): hits (N, K, H), joint hits (N, K)."""
    y, q, probs = stack
    i, j = band_index(probs, level)
    lo, hi = q[:, :, i, :], q[:, :, j, :]
    all_w = scores.width(lo, hi).reshape(-1, y.shape[2])  # np.concatenate of the cells' widths
    hit = scores.hits(y, lo, hi)
    hits, joint_hits = hit.astype(float), hit.all(axis=-1).astype(float)
    if band_degenerate(all_w):
        hits[:], joint_hits[:] = np.nan, np.nan
    dead = dead_steps(all_w)
    if dead.any():
        hits[:, :, dead] = np.nan
        joint_hits = np.all(hits[:, :, ~dead] == 1.0, axis=2).astype(float)
    return hits, joint_hits, all_w, dead


def _energy_skill(ids: dict, es: np.ndarray, ec: np.ndarray, n_cells: int) -> list[tuple]:
    """1 - energy score / climatology paths' energy score, each the mean over cells (h = 0);
    only where every cell had a joint law. es, ec: the cells' rows' values, in order."""
    if es.size != n_cells or ec.size != n_cells or np.isnan(es).any() or np.isnan(ec).any():
        return []
    return [_rows(ids, "energy_skill", skill.skill(float(es.mean()), float(ec.mean())), h0=True)]


def _unit_mean(values: list[np.ndarray], members: list[int]) -> np.ndarray:
    """The mean over a unit's cells of their values, origin by origin; a unit of one cell is its
    values (the very numbers np.mean gives, x / 1, without the cost of a mean per unit)."""
    if len(members) == 1:
        return values[members[0]]
    return np.mean([values[i] for i in members], axis=0)


def _between_units_ci(groups: list[np.ndarray] | np.ndarray, ci: float):
    """Pooled mean of per-origin values and a t interval from the spread of the unit means.

    groups: G >= 2 arrays (K_g, ...) of independent units, or one array (G, K, ...) of units
    of one size (the same numbers: each unit summed over its origins, the units added in
    order). Returns (mean, lo, hi) with the trailing shape, clipped to [0, 1] (these are
    coverages).
    """
    from scipy.stats import t as student_t

    if isinstance(groups, np.ndarray):
        total = groups.shape[0] * groups.shape[1]
        mean = np.cumsum(groups.sum(axis=1), axis=0)[-1] / total
        unit_means = groups.mean(axis=1)  # (G, ...)
    else:
        total = sum(g.shape[0] for g in groups)
        mean = sum(g.sum(axis=0) for g in groups) / total
        unit_means = np.stack([g.mean(axis=0) for g in groups])  # (G, ...)
    g = unit_means.shape[0]
    half = student_t.ppf((1.0 + ci) / 2.0, g - 1) * unit_means.std(axis=0, ddof=1) / np.sqrt(g)
    lo, hi = np.clip(mean - half, 0.0, 1.0), np.clip(mean + half, 0.0, 1.0)
    if np.ndim(mean) == 0:
        return float(mean), float(lo), float(hi)
    return mean, lo, hi


def _independent_units(names: list[str], arrays: list[dict]) -> list[list[int]]:
    """Indices of cells grouped by identical data (series name, origins and realised values)."""
    units: dict[tuple, list[int]] = {}
    for i, (name, arr) in enumerate(zip(names, arrays)):
        key = (name, arr["origins"].tobytes(), arr["y"].tobytes())
        units.setdefault(key, []).append(i)
    return list(units.values())
