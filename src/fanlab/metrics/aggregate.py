"""From forecasts to tidy scores.

`fanlab.metrics.frames` turns one cell's `Forecast` into a long table (one row per origin and
step) that keeps every quantile, and reads it back as arrays; `cell_metrics` scores one such
table; `pooled_metrics` pools the cells
of a dataset and method over series and seeds, with confidence intervals on the
coverage; `fanlab.metrics.summary` reads the pooled rows into summary.csv. Everything here is a function of the tables, so scores can be recomputed from the
files on disk.

Metric rows are tidy: (dataset, series, method, seed, h, level, metric, value). h = 0 means
"over all steps" (e.g. joint coverage); level is NaN for level-free metrics. Pooled rows have
series == "*" and seed == -1.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from fanlab.forecast import level_probs
from fanlab.metrics import bootstrap, calibration, joint, scores, skill
from fanlab.metrics.frames import frame_arrays
from fanlab.schema import ID_COLS, POOLED_SEED, POOLED_SERIES


def _interval(arr: dict, level: float) -> tuple[np.ndarray, np.ndarray]:
    # the positions of a level's probabilities, looked up once per grid of probabilities (the
    # lookup was most of a small cell's scoring time)
    key = (arr["probs"].tobytes(), level)
    if key not in _BAND_AT:
        lo_p, hi_p = level_probs(level)
        _BAND_AT[key] = calibration.prob_index(arr["probs"], lo_p), calibration.prob_index(arr["probs"], hi_p)
    i, j = _BAND_AT[key]
    q = arr["quantiles"]
    return q[:, i, :], q[:, j, :]


_BAND_AT: dict[tuple[bytes, float], tuple[int, int]] = {}


def band_degenerate(width: np.ndarray) -> bool:
    """Whether a band is no interval at all: zero width everywhere (a point forecast) or
    infinite everywhere. Its coverage (0 or 1 by construction) is then not a measurement."""
    width = np.asarray(width, dtype=float)
    return bool(np.all(width == 0) or np.all(np.isinf(width)))


def dead_steps(width: np.ndarray) -> np.ndarray:
    """Steps (H,) at which a band (K, H) has zero width at every origin: no interval there (a
    point forecast at that step, e.g. darts' ARIMA at h = 1), so its coverage at that step is
    n/a and the coverage over all steps spans the other steps. All False for a band that is no
    interval anywhere (`band_degenerate` covers it)."""
    dead = np.all(np.asarray(width) == 0, axis=0)
    return dead if not dead.all() else np.zeros_like(dead)


def _rows(ids: dict, metric: str, values: np.ndarray | float, level: float = np.nan, h0: bool = False) -> tuple:
    """One metric's rows (per h, or one row at h = 0), as a light record; `_tidy` makes the frame.

    `ids` is accepted for the call sites' readability; every record of one `_tidy` call shares them.
    """
    values = np.atleast_1d(np.asarray(values, dtype=float))
    hs = np.zeros(1, dtype=np.int64) if h0 else np.arange(1, values.size + 1, dtype=np.int64)
    return hs, float(level), metric, values


def pack_records(records: list[tuple]) -> tuple:
    """`_rows` records packed into five arrays (h, level per record, metric names, sizes,
    values): a tenth of the memory of the records, for the cells a dataset's aggregation holds."""
    sizes = np.array([r[3].size for r in records], dtype=np.int64)
    return (np.concatenate([r[0] for r in records]).astype(np.int32), np.array([r[1] for r in records], dtype=float),
            tuple(sys.intern(r[2]) for r in records), sizes, np.concatenate([r[3] for r in records]))


def tidy_cells(cells: list[tuple[dict, list[tuple] | tuple]]) -> pd.DataFrame:
    """The rows of many cells, (ids, `_rows` records or `pack_records` of them) each, as one
    tidy frame built in one go: the same frame as concatenating each cell's `_tidy` (the
    aggregation of a panel of thousands of cells builds one frame per dataset and method)."""
    if not cells:
        return pd.DataFrame()
    packed = [recs if isinstance(recs, tuple) else pack_records(recs) for _, recs in cells]
    sizes = [int(p[3].sum()) for p in packed]
    keys = list(cells[0][0])
    df = pd.DataFrame({
        **{k: np.repeat(np.array([ids[k] for ids, _ in cells], dtype=object), sizes) for k in keys},
        "h": np.concatenate([p[0] for p in packed]).astype(np.int64),
        "level": np.concatenate([np.repeat(p[1], p[3]) for p in packed]),
        "metric": pd.array(np.concatenate([np.repeat(np.array(p[2], dtype=object), p[3]) for p in packed]),
                           dtype="str"),
        "value": np.concatenate([p[4] for p in packed]),
    })
    for k in keys:  # the dtypes `_tidy`'s scalar columns get, so that both give the same bytes
        first = cells[0][0][k]
        df[k] = df[k].astype(np.int64) if isinstance(first, (int, np.integer)) else df[k].astype("str")
    return df


def _tidy(ids: dict, records: list[tuple]) -> pd.DataFrame:
    """One tidy frame (ids, h, level, metric, value) from `_rows` records, built in one go: a
    small DataFrame per metric cost 0.25 s per cell, most of the aggregation of a panel run."""
    sizes = [r[3].size for r in records]
    df = pd.DataFrame({
        "h": np.concatenate([r[0] for r in records]),
        "level": np.repeat(np.array([r[1] for r in records], dtype=float), sizes),
        "metric": pd.array(np.repeat(np.array([r[2] for r in records], dtype=object), sizes), dtype="str"),
        "value": np.concatenate([r[3] for r in records]),
    })
    for i, (key, val) in enumerate(ids.items()):
        df.insert(i, key, val)
    return df


@dataclass(frozen=True)
class StepMetric:
    """A score per step of a cell: `stat(arrays, scale)` gives its (H,) values from the cell's
    `frame_arrays` and naive scale (None: not computed for this cell, e.g. no scale). Pooled,
    it is the mean over cells; in summary.csv its mean over steps sits in the `summary` group's
    columns ("prob" after msis, "point" after the MAE ratios; None: metrics.parquet only).
    Adding such a metric is one entry in `STEP_METRICS`: the cell rows, the pooled rows, the
    summary column and `fanlab list metrics` follow from it."""

    name: str
    doc: str
    stat: Callable[[dict, float | None], np.ndarray | None]
    summary: str | None = None


STEP_METRICS: tuple[StepMetric, ...] = (
    StepMetric("crps", "continuous ranked probability score per h (closed form, samples or quantiles)",
               lambda a, s: a["crps"].mean(axis=0), "prob"),
    StepMetric("scaled_crps", "CRPS scaled by the in-sample (seasonal) naive MAE (as MASE), so series of any "
               "size average", lambda a, s: None if s is None else a["crps"].mean(axis=0) / s, "prob"),
    StepMetric("pinball", "mean pinball loss over all forecast probabilities per h",
               lambda a, s: scores.pinball(a["y"], a["quantiles"], a["probs"]).mean(axis=0)),
    StepMetric("mae", "mean absolute error of the point forecast per h", lambda a, s: scores.mae(a["y"], a["mean"]),
               "point"),
    StepMetric("rmse", "root mean squared error of the point forecast per h",
               lambda a, s: scores.rmse(a["y"], a["mean"]), "point"),
    StepMetric("mase", "MAE scaled by the in-sample (seasonal) naive MAE",
               lambda a, s: None if s is None else scores.mase(a["y"], a["mean"], s), "point"),
)


def cell_metrics(frame: pd.DataFrame, levels: list[float], all_levels: list[float], scale: float | None,
                 arr: dict | None = None) -> pd.DataFrame:
    """Tidy scores of one cell.

    Per (h, level) for every level in `all_levels`: coverage, width, interval_score; per level
    of `levels`: msis (per h) and joint_coverage (h = 0). Per h: crps, pinball, mae, rmse,
    mase, scaled_crps (these two where the series has a naive scale). Per cell: calibration_error
    (h = 0) over the fine grid. `arr` is `frame_arrays(frame)`
    where the caller already has it.
    """
    arr = frame_arrays(frame) if arr is None else arr
    first = frame.iloc[0]
    ids = {c: first[c] for c in ID_COLS}
    return _tidy(ids, cell_records(arr, levels, all_levels, scale))


def cell_records(arr: dict, levels: list[float], all_levels: list[float], scale: float | None) -> list[tuple]:
    """`cell_metrics`' rows of one cell's `frame_arrays` as `_rows` records (no ids, no frame):
    what a worker of a parallel aggregation sends back; `tidy_cells` makes the frame."""
    ids = None
    y = arr["y"]
    parts = []
    empirical = []
    with np.errstate(invalid="ignore", over="ignore"):
        for level in all_levels:
            lo, hi = _interval(arr, level)
            w = scores.width(lo, hi)
            degenerate = band_degenerate(w)
            cov = scores.coverage(y, lo, hi)
            if degenerate:  # zero width or infinite everywhere: a coverage of 0 or 1 says nothing
                cov = np.full_like(cov, np.nan)
            dead = dead_steps(w)
            if dead.any():  # steps without an interval: n/a there, the rest read over the other steps
                cov[dead] = np.nan
                lo, hi = np.where(dead, -np.inf, lo), np.where(dead, np.inf, hi)  # for joint hits only
            empirical.append(float(cov[~dead].mean()) if dead.any() else float(cov.mean()))
            parts.append(_rows(ids, "coverage", cov, level))
            parts.append(_rows(ids, "width", w.mean(axis=0), level))
            # one origin: its widths are the median (np.median gives those very numbers, slowly)
            parts.append(_rows(ids, "width_median", w[0].copy() if len(w) == 1 else np.median(w, axis=0), level))
            if level in levels:
                parts.append(_rows(ids, "zero_width_share", float(np.mean(w == 0)), level, h0=True))
                parts.append(_rows(ids, "inf_share", float(np.mean(np.isinf(w))), level, h0=True))
            band = _interval(arr, level) if dead.any() else (lo, hi)  # the band as forecast
            parts.append(_rows(ids, "interval_score", scores.interval_score(y, *band, level).mean(axis=0), level))
            if level in levels:
                joint = np.nan if degenerate else scores.joint_hits(y, lo, hi).mean()
                parts.append(_rows(ids, "joint_coverage", joint, level, h0=True))
                if dead.any():
                    parts.append(_rows(ids, "interval_steps", float((~dead).sum()), level, h0=True))
                if scale is not None:
                    parts.append(_rows(ids, "msis", scores.msis(y, *band, level, scale), level))
        for m in STEP_METRICS:
            values = m.stat(arr, scale)
            if values is not None:
                parts.append(_rows(ids, m.name, values))
        parts += _path_rows(ids, arr, levels)
        emp = np.array(empirical)
        cal_err = (np.nan if np.isnan(emp).any() else
                   calibration.calibration_error(np.array(all_levels), emp))
        parts.append(_rows(ids, "calibration_error", cal_err, h0=True))
    return parts


def sim_hits(arr: dict, level: float) -> np.ndarray | None:
    """Whether each origin's whole path lies in the simultaneous band of the method's own law at
    `level`, (K,) floats; None without a joint law (or without the band at that level), all NaN
    where the band is infinite everywhere (too few sample paths for the level: no measurement)."""
    paths = arr["paths"]
    if not joint.has_law(paths) or level not in paths["sim"]:
        return None
    lo, hi = paths["sim"][level]
    if np.all(np.isinf(hi - lo)):
        return np.full(lo.shape[0], np.nan)
    return scores.joint_hits(arr["y"], lo, hi).astype(float)


def _path_rows(ids: dict, arr: dict, levels: list[float]) -> list[tuple]:
    """A cell's path rows, only where its forecast had a joint law: per config level the
    simultaneous band's path coverage (h = 0) and width (per h); the mean energy and variogram
    scores over origins and climatology's energy score at the same origins (h = 0)."""
    paths = arr["paths"]
    if not joint.has_law(paths):
        return []
    parts = []
    for level in levels:
        hits = sim_hits(arr, level)
        if hits is None:
            continue
        lo, hi = paths["sim"][level]
        parts += [_rows(ids, "sim_path_coverage", float(hits.mean()), level, h0=True),
                  _rows(ids, "sim_width", scores.width(lo, hi).mean(axis=0), level)]
    return parts + [_rows(ids, name, float(paths[col].mean()), h0=True) for name, col in
                    (("energy_score", "energy"), ("variogram_score", "variogram"), ("energy_clim", "energy_clim"))]


def pooled_metrics(
    frames: list[pd.DataFrame],
    levels: list[float],
    all_levels: list[float],
    cell_metric_rows: pd.DataFrame,
    reps: int,
    block: int,
    seed: int,
    ci: float,
    arrays: list[dict] | None = None,
    ids: dict | None = None,
    names: list[str] | None = None,
) -> pd.DataFrame:
    """Pooled rows for one (dataset, method) over its cells (series x seeds).

    `arrays` are the cells' `frame_arrays`, where the caller already has them. Without
    `frames` (None), `ids` (dataset, method) and `names` (each cell's series) say what the
    frames would: a parallel aggregation keeps the arrays, never the frames.

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
    if frames is not None:
        first = frames[0].iloc[0]
        ids = {"dataset": first["dataset"], "method": first["method"]}
        names = [str(f["series"].iloc[0]) for f in frames]
    ids = {"dataset": ids["dataset"], "series": POOLED_SERIES, "method": ids["method"], "seed": POOLED_SEED}
    arrays = [frame_arrays(f) for f in frames] if arrays is None else arrays
    units = _independent_units(names, arrays)
    between = len(units) >= 2
    has_ci = between or len(arrays[units[0][0]]["origins"]) >= 2 * block

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
            hit_groups = [_unit_mean(cell_hits, m) for m in units]
            joint_groups = [_unit_mean(cell_joint, m) for m in units]
            total = sum(g.shape[0] for g in hit_groups)
            by_h = sum(g.sum(axis=0) for g in hit_groups) / total
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
            m0, l0, u0 = interval([g[:, ~dead].mean(axis=1) if dead.any() else g.mean(axis=1) for g in hit_groups])
            if dead.any():
                parts.append(_rows(ids, "interval_steps", float((~dead).sum()), level, h0=True))
            jm, jl, jh = interval(joint_groups)
            parts += [_rows(ids, "coverage", m0, level, h0=True), _rows(ids, "coverage_lo", l0, level, h0=True),
                      _rows(ids, "coverage_hi", u0, level, h0=True)]
            parts += [_rows(ids, "joint_coverage", jm, level, h0=True),
                      _rows(ids, "joint_coverage_lo", jl, level, h0=True),
                      _rows(ids, "joint_coverage_hi", jh, level, h0=True)]
            sim = [sim_hits(arr, level) for arr in arrays]
            if all(hit is not None for hit in sim):  # every cell has a joint law: its band's path coverage
                sm, sl, sh = interval([_unit_mean(sim, m) for m in units])
                parts += [_rows(ids, "sim_path_coverage", sm, level, h0=True),
                          _rows(ids, "sim_path_coverage_lo", sl, level, h0=True),
                          _rows(ids, "sim_path_coverage_hi", sh, level, h0=True)]
    parts.append(_rows(ids, "n_units", float(len(units)), h0=True))
    # origins of independent units: seeds of one real series count once
    parts.append(_rows(ids, "n_origins", float(sum(arrays[m[0]]["y"].shape[0] for m in units)), h0=True))
    # means over cells of the per-h metrics that are not coverage
    rest = cell_metric_rows[~cell_metric_rows["metric"].isin(
        ["coverage", "joint_coverage", "zero_width_share", "inf_share", "interval_steps", "sim_path_coverage"])]
    rest = rest[~((rest["metric"] == "width_median") & (rest["h"] == 0))]
    n_law = sum(joint.has_law(a["paths"]) for a in arrays)
    if n_law:
        parts.append(_rows(ids, "path_cells", float(n_law), h0=True))
    if 0 < n_law < len(arrays):  # a path score of some cells only would read as the method's
        rest = rest[~rest["metric"].isin(PATH_METRICS)]
    if len(rest):
        agg = rest.groupby(["h", "level", "metric"], dropna=False, sort=True)["value"].mean().reset_index()
        for i, (key, val) in enumerate(ids.items()):
            agg.insert(i, key, val)
        return pd.concat([_tidy(ids, parts + _energy_skill(ids, rest, len(arrays))), agg], ignore_index=True)
    return _tidy(ids, parts)


#: Cell rows of a joint law (`_path_rows`).
PATH_METRICS = ("sim_path_coverage", "sim_width", "energy_score", "variogram_score", "energy_clim")


def _energy_skill(ids: dict, rest: pd.DataFrame, n_cells: int) -> list[tuple]:
    """1 - energy score / climatology paths' energy score, each the mean over cells (h = 0);
    only where every cell had a joint law."""
    es = rest.loc[rest["metric"] == "energy_score", "value"].to_numpy()
    ec = rest.loc[rest["metric"] == "energy_clim", "value"].to_numpy()
    if es.size != n_cells or ec.size != n_cells or np.isnan(es).any() or np.isnan(ec).any():
        return []
    return [_rows(ids, "energy_skill", skill.skill(float(es.mean()), float(ec.mean())), h0=True)]


def _unit_mean(values: list[np.ndarray], members: list[int]) -> np.ndarray:
    """The mean over a unit's cells of their values, origin by origin; a unit of one cell is its
    values (the very numbers np.mean gives, x / 1, without the cost of a mean per unit)."""
    if len(members) == 1:
        return values[members[0]]
    return np.mean([values[i] for i in members], axis=0)


def _between_units_ci(groups: list[np.ndarray], ci: float):
    """Pooled mean of per-origin values and a t interval from the spread of the unit means.

    groups: G >= 2 arrays (K_g, ...) of independent units. Returns (mean, lo, hi) with the
    trailing shape, clipped to [0, 1] (these are coverages).
    """
    from scipy.stats import t as student_t

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
