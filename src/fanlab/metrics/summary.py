"""summary.csv from the pooled metric rows: one row per dataset, method and level, with the
notes a reader needs before reading a number (a band that is no interval, steps without one,
a method without a joint law), and `METRICS`, what each metric name means."""

from __future__ import annotations

import numpy as np
import pandas as pd

from fanlab.metrics.aggregate import STEP_METRICS
from fanlab.schema import POOLED_SEED, POOLED_SERIES, SUMMARY_STEPS, step_col


def _at_level(rows: pd.DataFrame, level: float) -> pd.DataFrame:
    """Metric rows of one level; NaN selects the level-free rows."""
    return rows[rows["level"].isna()] if np.isnan(level) else rows[np.isclose(rows["level"], level)]


def _readers(grp: pd.DataFrame):
    """val(metric, level, h): the first of a method's pooled rows of the metric at that level and
    step (NaN if none); hmean(metric, level): the mean of its rows at h > 0 (pandas' mean, NaN
    skipped). The rows are indexed by metric once: a boolean selection of the whole group per
    number was most of summary.csv's time on a run of many methods."""
    at = grp.groupby("metric", sort=False).indices
    h, lv, v = grp["h"].to_numpy(), grp["level"].to_numpy(dtype=float), grp["value"].to_numpy(dtype=float)

    def rows(metric, level, step):
        idx = at.get(metric)
        if idx is None:
            return idx
        at_level = np.isnan(lv[idx]) if np.isnan(level) else np.isclose(lv[idx], level)  # as `_at_level`
        return idx[at_level & (h[idx] > 0 if step is None else h[idx] == step)]

    def val(metric, level=np.nan, h=0):
        sel = rows(metric, level, h)
        return float(v[sel[0]]) if sel is not None and len(sel) else np.nan

    def hmean(metric, level=np.nan):
        sel = rows(metric, level, None)
        return float(pd.Series(v[sel]).mean()) if sel is not None and len(sel) else np.nan

    return val, hmean


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

        val, hmean = _readers(grp)

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
