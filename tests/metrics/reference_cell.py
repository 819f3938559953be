"""Plain references for the tests: one cell's metric records computed one cell at a time,
with the numpy calls a reader would write (the scoring before `fanlab.metrics.batch` stacked
it), and the pooled rows from the cells' tidy rows by pandas' grouped mean.
`tests/metrics/test_batch.py` and `tests/metrics/test_pooled.py` hold the code to these
numbers, to the bit."""

from __future__ import annotations

import numpy as np
import pandas as pd

from fanlab.metrics import calibration, joint, scores
from fanlab.metrics.aggregate import STEP_METRICS, _interval, _rows, _tidy, band_degenerate, dead_steps, sim_hits
from fanlab.metrics.frames import frame_arrays
from fanlab.metrics.pooled import NOT_AVERAGED, PATH_METRICS, _coverage_parts, _energy_skill
from fanlab.schema import POOLED_SEED, POOLED_SERIES


def reference_records(arr: dict, levels: list[float], all_levels: list[float], scale: float | None) -> list[tuple]:
    """One cell's `_rows` records, computed on this cell alone."""
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


def reference_pooled(
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
    """The pooled rows of one (dataset, method) from the cells' tidy rows (pandas' grouped mean
    over cells): what `fanlab.metrics.pooled.pooled_records` computed before it read `Records`."""
    if frames is not None:
        first = frames[0].iloc[0]
        ids = {"dataset": first["dataset"], "method": first["method"]}
        names = [str(f["series"].iloc[0]) for f in frames]
    ids = {"dataset": ids["dataset"], "series": POOLED_SERIES, "method": ids["method"], "seed": POOLED_SEED}
    arrays = [frame_arrays(f) for f in frames] if arrays is None else arrays
    parts, n_law = _coverage_parts(ids, names, arrays, levels, all_levels, reps, block, seed, ci)
    # means over cells of the per-h metrics that are not coverage
    rest = cell_metric_rows[~cell_metric_rows["metric"].isin(NOT_AVERAGED)]
    rest = rest[~((rest["metric"] == "width_median") & (rest["h"] == 0))]
    if 0 < n_law < len(arrays):  # a path score of some cells only would read as the method's
        rest = rest[~rest["metric"].isin(PATH_METRICS)]
    if len(rest):
        agg = rest.groupby(["h", "level", "metric"], dropna=False, sort=True)["value"].mean().reset_index()
        for i, (key, val) in enumerate(ids.items()):
            agg.insert(i, key, val)
        es = rest.loc[rest["metric"] == "energy_score", "value"].to_numpy()
        ec = rest.loc[rest["metric"] == "energy_clim", "value"].to_numpy()
        return pd.concat([_tidy(ids, parts + _energy_skill(ids, es, ec, len(arrays))), agg], ignore_index=True)
    return _tidy(ids, parts)
