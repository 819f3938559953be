"""The numbers behind fanlab's figures: results tables in, plain arrays out.

Each function takes the tidy tables a run writes (``metrics.parquet``, ``forecasts.parquet``,
loaded as DataFrames) and returns exactly what a figure draws, so tests can compare a figure
with the files without looking at pixels. Nothing here imports matplotlib.
"""

from __future__ import annotations

import re
from typing import NamedTuple

import numpy as np
import pandas as pd

from fanlab.errors import DataError
from fanlab.schema import POOLED_SEED, POOLED_SERIES, level_cols

#: Pooled metric rows carry these in place of a real series and seed.
# Levels arrive as floats from different code paths (0.8 vs 0.8000000000000002).
LEVEL_DECIMALS = 9


class Curve(NamedTuple):
    """One method's line in a panel.

    Attributes
    ----------
    x, y : (n,)
        Abscissa (horizon step or nominal level) and value, sorted by x.
    lo, hi : (n,) or None
        A band around y (the 95% CI of coverage) where the metrics hold one.
    """

    x: np.ndarray
    y: np.ndarray
    lo: np.ndarray | None = None
    hi: np.ndarray | None = None


def safe_label(label: str) -> str:
    """A dataset label made safe for a file name (anything odd becomes '_')."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", str(label)).strip("_") or "dataset"


def pooled_rows(metrics: pd.DataFrame, dataset: str, metrics_names: list[str],
                level: float | None = None) -> pd.DataFrame:
    """Pooled rows (series '*', seed -1) of `dataset` for the named metrics.

    `level=None` keeps every level; a float keeps rows at that level (rounded match).
    """
    mask = ((metrics["dataset"] == dataset) & (metrics["series"] == POOLED_SERIES)
            & (metrics["seed"] == POOLED_SEED) & metrics["metric"].isin(metrics_names))
    if level is not None:
        mask &= metrics["level"].round(LEVEL_DECIMALS) == round(float(level), LEVEL_DECIMALS)
    return metrics.loc[mask]


def pooled_by_dataset(metrics: pd.DataFrame, datasets: list[str]) -> dict[str, pd.DataFrame]:
    """{dataset: its pooled rows} for each of `datasets` (empty where it has none): the rows
    `pooled_rows` picks, split once instead of masking the whole table at every call."""
    pooled = metrics.loc[(metrics["series"] == POOLED_SERIES) & (metrics["seed"] == POOLED_SEED)]
    split = dict(iter(pooled.groupby(pooled["dataset"].astype(str), sort=False)))
    return {ds: split.get(ds, pooled.iloc[:0]) for ds in datasets}


def h_curves(metrics: pd.DataFrame, dataset: str, level: float, metric: str,
             band: bool = False) -> dict[str, Curve]:
    """Pooled `metric` against horizon step h = 1..H, one Curve per method (sorted by name).

    With `band`, ``<metric>_lo`` and ``<metric>_hi`` rows fill the Curve's lo and hi (None
    when the metrics hold no such rows). Rows at h = 0 (over all steps) are left out.
    """
    names = [metric, f"{metric}_lo", f"{metric}_hi"] if band else [metric]
    rows = pooled_rows(metrics, dataset, names, level)
    rows = rows.loc[rows["h"] >= 1]
    if rows.empty:
        return {}
    try:
        wide = rows.pivot(index=["method", "h"], columns="metric", values="value")
    except ValueError as err:
        raise DataError(f"metrics.parquet: duplicate pooled {metric} rows for dataset "
                        f"{dataset!r}, level {level:g}") from err
    out: dict[str, Curve] = {}
    for method in sorted(wide.index.get_level_values("method").unique()):
        w = wide.loc[method].sort_index()
        if metric not in w or w[metric].isna().all():
            continue
        lo = w[f"{metric}_lo"].to_numpy(float) if f"{metric}_lo" in w else None
        hi = w[f"{metric}_hi"].to_numpy(float) if f"{metric}_hi" in w else None
        out[str(method)] = Curve(w.index.to_numpy(np.int64), w[metric].to_numpy(float), lo, hi)
    return out


def coverage_curves(metrics: pd.DataFrame, dataset: str, level: float) -> dict[str, Curve]:
    """Pooled coverage vs h at `level` with its 95% CI, one Curve per method."""
    return h_curves(metrics, dataset, level, "coverage", band=True)


def width_curves(metrics: pd.DataFrame, dataset: str, level: float) -> dict[str, Curve]:
    """Pooled mean interval width vs h at `level`, one Curve per method (may hold inf)."""
    return h_curves(metrics, dataset, level, "width")


def reliability_curves(metrics: pd.DataFrame, dataset: str) -> dict[str, Curve]:
    """Empirical coverage over all steps (h = 0) against nominal level, per method.

    Every level present is used (the fine grid and the config levels); a level present
    twice (config level also on the grid) is kept once.
    """
    rows = pooled_rows(metrics, dataset, ["coverage"])
    rows = rows.loc[(rows["h"] == 0) & rows["level"].notna()]
    out: dict[str, Curve] = {}
    for method, g in sorted(rows.groupby("method"), key=lambda kv: str(kv[0])):
        g = g.assign(_lvl=g["level"].round(LEVEL_DECIMALS)).sort_values("_lvl")
        g = g.drop_duplicates("_lvl", keep="first")
        out[str(method)] = Curve(g["_lvl"].to_numpy(float), g["value"].to_numpy(float))
    return out


def pit_counts(forecasts: pd.DataFrame, dataset: str, bins: int = 10) -> dict[str, np.ndarray]:
    """Counts of PIT values in `bins` equal bins of [0, 1], per method: {method: (bins,)}.

    All series, seeds, origins and steps are pooled; NaN PIT values are dropped.
    """
    rows = forecasts.loc[forecasts["dataset"] == dataset, ["method", "pit"]]
    edges = np.linspace(0.0, 1.0, bins + 1)
    out: dict[str, np.ndarray] = {}
    for method, g in sorted(rows.groupby("method"), key=lambda kv: str(kv[0])):
        pit = g["pit"].to_numpy(float)
        counts, _ = np.histogram(pit[np.isfinite(pit)], bins=edges)
        out[str(method)] = counts
    return out


def first_cell(forecasts: pd.DataFrame, dataset: str) -> tuple[str, int, pd.DataFrame]:
    """The first series (by name) and first seed of `dataset`, and their forecast rows."""
    rows = forecasts.loc[forecasts["dataset"] == dataset]
    if rows.empty:
        raise DataError(f"forecasts.parquet: no rows for dataset {dataset!r}")
    series = sorted(rows["series"].astype(str).unique())[0]
    rows = rows.loc[rows["series"].astype(str) == series]
    seed = int(rows["seed"].min())
    return series, seed, rows.loc[rows["seed"] == seed]


def truth_by_time(cell: pd.DataFrame) -> pd.Series:
    """Observed y indexed by time t = origin + h, rebuilt from a cell's forecast rows.

    forecasts.parquet holds no history, so only times covered by some origin's future are
    known: t in (first origin, last origin + H]. Sorted by t, one value per t.
    """
    t = (cell["origin"] + cell["h"]).to_numpy(np.int64)
    truth = pd.Series(cell["y"].to_numpy(float), index=t)
    truth = truth[~truth.index.duplicated(keep="first")]
    return truth.sort_index()


def pick_origins(origins: np.ndarray, k: int = 3, history: int = 0) -> np.ndarray:
    """Up to `k` origins spread evenly (ends kept) over the sorted unique `origins`.

    Only origins at least `history` steps after the first are candidates (their past is
    known from earlier origins' futures), unless fewer than `k` qualify: then all are.
    """
    uniq = np.unique(np.asarray(origins, dtype=np.int64))
    late = uniq[uniq - uniq[0] >= history] if uniq.size else uniq
    if late.size >= k:
        uniq = late
    if uniq.size <= k:
        return uniq
    idx = np.unique(np.round(np.linspace(0, uniq.size - 1, k)).astype(int))
    return uniq[idx]


class FanPath(NamedTuple):
    """One method's forecast from one origin.

    Attributes
    ----------
    t : (H,) times origin + h
    mean : (H,)
    bands : {level: (lo (H,), hi (H,))} at each config level
    """

    t: np.ndarray
    mean: np.ndarray
    bands: dict[float, tuple[np.ndarray, np.ndarray]]


def fan_path(cell: pd.DataFrame, method: str, origin: int, levels: list[float]) -> FanPath:
    """Mean and bands of `method` from `origin`, read from a cell's forecast rows."""
    g = cell.loc[(cell["method"] == method) & (cell["origin"] == origin)].sort_values("h")
    bands = {}
    for level in levels:
        lo_col, hi_col = level_cols(level)
        if lo_col not in g or hi_col not in g:
            raise DataError(f"forecasts.parquet: no column {lo_col!r}/{hi_col!r} for level "
                            f"{level:g} named in config.yaml")
        bands[level] = (g[lo_col].to_numpy(float), g[hi_col].to_numpy(float))
    t = (g["origin"] + g["h"]).to_numpy(np.int64)
    return FanPath(t, g["mean"].to_numpy(float), bands)


def fan_limits(core: list[np.ndarray], extra: list[np.ndarray],
               reach: float = 1.0) -> tuple[float, float]:
    """Y limits of a fan panel row.

    `core` (truth, means, oracle bands) is always shown in full; `extra` (methods' bands)
    widens the range by at most `reach` times the core range on each side, so one method's
    huge or infinite bands cannot flatten everything else (they are clipped instead).
    """
    core_v = np.concatenate([np.ravel(a) for a in core]) if core else np.array([])
    core_v = core_v[np.isfinite(core_v)]
    if core_v.size == 0:
        return -1.0, 1.0
    lo, hi = float(core_v.min()), float(core_v.max())
    span = hi - lo if hi > lo else max(abs(hi), 1.0)
    ext = np.concatenate([np.ravel(a) for a in extra]) if extra else np.array([])
    ext = ext[np.isfinite(ext)]
    if ext.size:
        lo = max(min(lo, float(ext.min())), lo - reach * span)
        hi = min(max(hi, float(ext.max())), hi + reach * span)
    pad = 0.04 * (hi - lo)
    return lo - pad, hi + pad


def clip_band(lo: np.ndarray, hi: np.ndarray,
              ylim: tuple[float, float]) -> tuple[np.ndarray, np.ndarray, bool]:
    """Clip a band (H,), (H,) to the axis range; also say whether anything was cut.

    Infinite bounds (conformal with too little calibration) become the axis edges; NaN stays
    NaN (the band shows a gap there).
    """
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    cut = bool(np.any(lo < ylim[0]) or np.any(hi > ylim[1]))
    return np.clip(lo, *ylim), np.clip(hi, *ylim), cut
