"""From forecasts to tidy scores.

`cell_frame` turns one cell's `Forecast` into a long table (one row per origin and step) that
keeps every quantile; `cell_metrics` scores one such table; `pooled_metrics` pools the cells
of a dataset and method over series and seeds, with confidence intervals on the
coverage. Everything here is a function of the tables, so scores can be recomputed from the
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

from fanlab.forecast import Forecast, level_probs
from fanlab.metrics import bootstrap, calibration, joint, scores, skill
from fanlab.schema import ID_COLS, POOLED_SEED, POOLED_SERIES, SUMMARY_STEPS, prob_col, step_col
from fanlab.schema import frame_probs as _probs_of_columns


def targets(y: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
    """Realised values y[t + h] for each origin t and h = 1..H, shape (K, H)."""
    idx = np.asarray(origins)[:, None] + np.arange(1, horizon + 1)[None, :]
    return np.asarray(y, dtype=float)[idx]


def cell_frame(fc: Forecast, y: np.ndarray, ids: dict) -> pd.DataFrame:
    """One row per (origin, h): ids, y, mean, q_<p> for every prob, pit, crps."""
    k, h = fc.mean.shape
    yt = targets(y, fc.origins, h)
    with np.errstate(invalid="ignore", over="ignore"):
        pit = scores.pit(yt, fc)
        crps = scores.crps(yt, fc)
    cols: dict[str, object] = {
        "origin": np.repeat(fc.origins, h),
        "h": np.tile(np.arange(1, h + 1, dtype=np.int64), k),
        "y": yt.ravel(),
        "mean": fc.mean.ravel(),
    }
    for j, p in enumerate(fc.probs):
        cols[prob_col(p)] = fc.quantiles[:, j, :].ravel()
    cols["pit"] = pit.ravel()
    cols["crps"] = crps.ravel()
    # the state at the origin, read from y[: t + 1] only (for conditional calibration)
    cols["state"] = np.repeat(skill.recent_volatility(y, fc.origins), h)
    frame = pd.DataFrame(cols)
    for i, (key, val) in enumerate(ids.items()):
        frame.insert(i, key, val)
    frame["seed"] = frame["seed"].astype(np.int64)
    return frame


def frame_probs(frame: pd.DataFrame) -> np.ndarray:
    return _probs_of_columns(frame.columns)


class ColumnFrame:
    """A cell's table as numpy columns, read the way `frame_arrays` reads a DataFrame (`in`,
    `columns`, `[name].to_numpy()`): a worker of a parallel aggregation scores a cell file's
    columns without building a DataFrame (most of a small cell's time)."""

    class _Column:
        def __init__(self, values: np.ndarray):
            self.values = values

        def to_numpy(self) -> np.ndarray:
            return self.values

        @property
        def iloc(self):
            return self.values

    def __init__(self, cols: dict[str, np.ndarray]):
        self.cols = cols
        self.columns = list(cols)

    def __contains__(self, name) -> bool:
        return name in self.cols

    def __getitem__(self, name):
        return ColumnFrame._Column(self.cols[name])

    def __len__(self) -> int:
        return len(self.cols["h"])

    def sorted(self) -> ColumnFrame:
        """The rows sorted by origin, then h, stable (as `DataFrame.sort_values(kind="stable")`)."""
        order = np.lexsort((self.cols["h"], self.cols["origin"]))
        if np.array_equal(order, np.arange(order.size)):
            return self
        return ColumnFrame({c: v[order] for c, v in self.cols.items()})


def frame_arrays(frame: pd.DataFrame | ColumnFrame) -> dict[str, np.ndarray]:
    """(K, H) arrays of one cell's table (rows sorted by origin, h); quantiles (K, Q, H)."""
    if isinstance(frame, ColumnFrame):
        frame = frame.sorted()
    else:
        frame = frame.sort_values(["origin", "h"], kind="stable")
    h = int(frame["h"].to_numpy().max())
    k = len(frame) // h
    probs = frame_probs(frame)
    out = {
        "origins": frame["origin"].to_numpy()[::h],
        "y": frame["y"].to_numpy().reshape(k, h),
        "mean": frame["mean"].to_numpy().reshape(k, h),
        "pit": frame["pit"].to_numpy().reshape(k, h),
        "crps": frame["crps"].to_numpy().reshape(k, h),
        "probs": probs,
        "state": (frame["state"].to_numpy()[::h] if "state" in frame else np.full(k, np.nan)),
    }
    q = np.stack([frame[prob_col(p)].to_numpy().reshape(k, h) for p in probs], axis=1)
    out["quantiles"] = q
    out["paths"] = joint.frame_paths(frame, k, h)
    return out


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


def _at_level(rows: pd.DataFrame, level: float) -> pd.DataFrame:
    """Metric rows of one level; NaN selects the level-free rows."""
    return rows[rows["level"].isna()] if np.isnan(level) else rows[np.isclose(rows["level"], level)]


def band_note(zero_share: float, inf_share: float) -> str:
    """What a reader must know about a band before reading its coverage ('' when nothing)."""
    if zero_share == 1.0:
        return "n/a: no interval (zero width)"
    if inf_share == 1.0:
        return "n/a: infinite band"
    notes = []
    if inf_share > 0:
        notes.append(f"{100 * inf_share:.1f}% infinite bands (mean width inf; read width_median)")
    if zero_share > 0:
        notes.append(f"{100 * zero_share:.1f}% zero-width bands")
    return "; ".join(notes)


def path_note(n_law: float, cell_rows: pd.DataFrame, coverage: float, width: float) -> str:
    """Why the path columns of a summary row are n/a ('' when they are read)."""
    n_cells = len(cell_rows[["series", "seed"]].drop_duplicates())
    if np.isnan(n_law):
        return "n/a: no joint law (marginals only): no simultaneous band, no path score"
    if n_law < n_cells:
        return f"n/a: a joint law in {int(n_law)} of {n_cells} cells only"
    if np.isnan(coverage) and np.isinf(width):
        return "simultaneous band infinite: too few sample paths for this level"
    return ""


def _span_note(grp: pd.DataFrame, level: float) -> str:
    """Which steps the pooled coverage at `level` spans, where some have no interval ('' else)."""
    rows = _at_level(grp[grp["metric"] == "interval_steps"], level)
    if not len(rows):
        return ""
    cov = _at_level(grp[(grp["metric"] == "coverage") & (grp["h"] > 0)], level)
    dead = sorted(int(h) for h in cov.loc[cov["value"].isna(), "h"])
    return (f"coverage over {int(rows['value'].iloc[0])} of {len(cov)} steps: no interval (zero width at every "
            f"origin) at h = {_ranges(dead)}")


def _ranges(hs: list[int]) -> str:
    """[1, 2, 3, 7] -> '1-3, 7'."""
    out, i = [], 0
    while i < len(hs):
        j = i
        while j + 1 < len(hs) and hs[j + 1] == hs[j] + 1:
            j += 1
        out.append(str(hs[i]) if i == j else f"{hs[i]}-{hs[j]}")
        i = j + 1
    return ", ".join(out)


def summary_table(metrics: pd.DataFrame, levels: list[float], horizon: int,
                  references: dict[str, str | None] | None = None) -> pd.DataFrame:
    """One row per dataset, method and config level from the pooled metric rows.

    Coverage of a band that is no interval (zero width or infinite everywhere) is NaN, with
    the reason in `note`; skill columns are read against the config's climatology and oracle
    (`references`: their labels), NaN where a reference is absent.
    """
    pooled = metrics[(metrics["series"] == POOLED_SERIES) & (metrics["seed"] == POOLED_SEED)]
    cells = metrics[(metrics["series"] != POOLED_SERIES)]
    references = references or {}
    rows = []
    for (dataset, method), grp in pooled.groupby(["dataset", "method"], sort=True):
        cgrp = cells[(cells["dataset"] == dataset) & (cells["method"] == method)]

        def val(metric, level=np.nan, h=0):
            sel = _at_level(grp[(grp["metric"] == metric) & (grp["h"] == h)], level)
            return float(sel["value"].iloc[0]) if len(sel) else np.nan

        def hmean(metric, level=np.nan):
            sel = _at_level(grp[(grp["metric"] == metric) & (grp["h"] > 0)], level)
            return float(sel["value"].mean()) if len(sel) else np.nan

        for level in levels:
            row = {
                "dataset": dataset, "method": method, "level": level,
                "coverage": val("coverage", level), "coverage_lo": val("coverage_lo", level),
                "coverage_hi": val("coverage_hi", level),
                "joint_coverage": val("joint_coverage", level),
                "joint_coverage_lo": val("joint_coverage_lo", level),
                "joint_coverage_hi": val("joint_coverage_hi", level),
                "sim_path_coverage": val("sim_path_coverage", level),
                "sim_path_coverage_lo": val("sim_path_coverage_lo", level),
                "sim_path_coverage_hi": val("sim_path_coverage_hi", level),
                "sim_width": hmean("sim_width", level),
                "energy_score": val("energy_score"), "energy_skill": val("energy_skill"),
                "energy_excess": val("energy_excess"), "variogram_score": val("variogram_score"),
            }
            steps = [s for s in SUMMARY_STEPS if s <= horizon]
            for s in steps:
                row[step_col("coverage", s)] = val("coverage", level, h=s)
            zero, inf = val("zero_width_share", level), val("inf_share", level)
            row.update({
                "width": hmean("width", level), "width_median": val("width_median", level),
                "inf_share": inf, "interval_score": hmean("interval_score", level),
                "msis": hmean("msis", level), **{m.name: hmean(m.name) for m in STEP_METRICS if m.summary == "prob"},
                "crps_skill": val("crps_skill"),
            })
            for s in steps:
                row[step_col("crps_skill", s)] = val("crps_skill", h=s)
            row.update({"width_ratio": val("width_ratio", level)})
            for s in steps:
                row[step_col("width_ratio", s)] = val("width_ratio", level, h=s)
            row.update({
                "crps_excess": val("crps_excess"), "mae_ratio": val("mae_ratio"),
                "mae_ratio_h1": val("mae_ratio", h=1),
                **{m.name: hmean(m.name) for m in STEP_METRICS if m.summary == "point"},
                "calibration_error": float(cgrp[cgrp["metric"] == "calibration_error"]["value"].mean()),
                "cond_coverage_low": val("cond_coverage_low", level),
                "cond_coverage_mid": val("cond_coverage_mid", level),
                "cond_coverage_high": val("cond_coverage_high", level),
                "cond_state": {1.0: "oracle sd", 0.0: "recent volatility"}.get(val("cond_state"), "none"),
                "n_origins": int(val("n_origins")),
                "n_units": int(val("n_units")),
                "ci_method": ("between-series t" if val("n_units") >= 2 else
                              "block bootstrap" if not np.isnan(val("coverage_lo", level)) else "none"),
                "n_series": int(cgrp["series"].nunique()), "n_seeds": int(cgrp["seed"].nunique()),
                "note": "; ".join(n for n in (_span_note(grp, level), band_note(zero, inf)) if n),
                "path_note": path_note(val("path_cells"), cgrp, row["sim_path_coverage"], row["sim_width"]),
            })
            rows.append(row)
    return pd.DataFrame(rows)


#: What each metric name means (shown by `fanlab list metrics`).
METRICS = {
    "coverage": "share of targets inside the central interval, per h and level (pooled: with a 95% CI)",
    "joint_coverage": "share of origins whose whole H-step path lies inside the band (h = 0)",
    "sim_path_coverage": "share of origins whose whole path lies inside the simultaneous band from the method's own "
                         "joint law (h = 0; pooled: with a 95% CI as joint_coverage); only with a joint law",
    "sim_width": "mean width of the simultaneous band per h and level",
    "energy_score": "energy score of the whole H-step path, mean over origins (h = 0); only with a joint law",
    "variogram_score": "variogram score (order 1/2) of the whole path, mean over origins (h = 0)",
    "energy_clim": "energy score of climatology's paths (blocks of the training series) at the same origins (h = 0)",
    "energy_skill": "1 - energy score / energy score of climatology's paths (h = 0); 0 = learnt nothing",
    "energy_excess": "energy score above the oracle's (h = 0), where both have a joint law",
    "path_cells": "cells whose forecast carried a joint law (pooled, h = 0)",
    "width": "mean interval width per h and level",
    "interval_score": "Winkler interval score per h and level (width + 2/alpha * miss distance)",
    "msis": "interval score scaled by the in-sample (seasonal) naive MAE",
    "calibration_error": "mean |empirical - nominal| coverage over the fine grid of levels (h = 0)",
    "width_median": "median interval width per h and level (h = 0: over all steps; finite where some bands are inf)",
    "interval_steps": "steps with an interval, where some step has zero width at every origin (its coverage n/a)",
    "zero_width_share": "share of (origin, step) bands of zero width (1: a point forecast, coverage n/a)",
    "inf_share": "share of (origin, step) bands of infinite width (1: coverage n/a)",
    "crps_skill": "1 - CRPS / CRPS of climatology, per h (h = 0: all steps); 0 = learnt nothing",
    "crps_excess": "CRPS above the oracle's, per h (h = 0: all steps)",
    "mae_ratio": "MAE over the oracle's MAE, per h (h = 0: all steps)",
    "width_ratio": "mean interval width over the oracle's, per h and level (h = 0: all steps)",
    "cond_coverage_low": "coverage in the calmest third of states (oracle sd, else recent volatility), h = 0",
    "cond_coverage_mid": "coverage in the middle third of states, h = 0",
    "cond_coverage_high": "coverage in the most volatile third of states, h = 0",
    "cond_state": "1: conditional coverage binned by the oracle's predictive spread; 0: by recent volatility",
    **{m.name: m.doc for m in STEP_METRICS},
}
