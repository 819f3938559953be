"""The lab from Python: run a config, or score any forecaster on a series.

    import fanlab
    res = fanlab.run("configs/quickstart.yaml")          # results folder, as `fanlab run`
    series = fanlab.datasets.load("arma", ar=[0.7], n=800)[0]
    out = fanlab.evaluate(MyForecaster(), series, horizon=20, levels=[0.8, 0.95])
    out.summary                                           # the summary.csv table, as a DataFrame

`evaluate` takes any object with the Forecaster protocol's `fit(y, train_end, seed)` and
`predict(y, origins, horizon, probs)` (returning a `fanlab.Forecast`), scores it exactly as
a config's cell is scored, and reads it against climatology and, where the series has one,
its oracle (both run beside it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from fanlab.data.series import Series
from fanlab.data.splits import make_split
from fanlab.forecast import FINE_LEVELS, probs_for_levels
from fanlab.metrics.bootstrap import default_block


@dataclass
class Evaluation:
    """Tidy frames of one evaluation: one row per (method, origin, h); per metric; per level."""

    forecasts: pd.DataFrame
    metrics: pd.DataFrame
    summary: pd.DataFrame


def run(config, out: str | Path | None = None, jobs: int | None = 1, force: bool = False,
        figures: bool = True, progress: bool = False):
    """Run a config (a path to a YAML file, or a mapping) as `fanlab run` does; returns the
    runner's result (``.out`` the results folder, ``.statuses`` per cell)."""
    from fanlab.config import load_config, parse_config
    from fanlab.runner import run as run_config

    cfg = parse_config(dict(config)) if isinstance(config, dict) else load_config(config)
    return run_config(cfg, jobs=jobs, force=force, figures=figures, progress=progress, out=out)


def _as_series(series) -> Series:
    if isinstance(series, Series):
        return series
    if isinstance(series, pd.Series):
        return Series(name=str(series.name or "series"), values=series.to_numpy(dtype=float), index=series.index)
    return Series(name="series", values=np.asarray(series, dtype=float))


def evaluate(forecaster, series, split=(0.6, 0.2, 0.2), horizon: int = 100, levels=(0.5, 0.8, 0.95),
             stride: int = 10, seed: int = 0, name: str = "forecaster", references: bool = True,
             bootstrap_reps: int = 1000) -> Evaluation:
    """Fit `forecaster` on the training block of `series`, forecast every test origin and
    score it like a config's cell (coverage per step with a CI, joint coverage, width,
    interval score, CRPS, MAE, skill against climatology and, where `series` has an oracle,
    against the oracle).

    series: a `fanlab` Series (e.g. from `fanlab.datasets.load`), a pandas Series or an
    array. split: (train, cal, test) fractions or lengths. Returns `Evaluation`.
    """
    from fanlab.metrics.aggregate import cell_frame, cell_metrics, frame_arrays, pooled_metrics, summary_table
    from fanlab.metrics.reference import reference_metrics
    from fanlab.metrics.scores import naive_scale
    from fanlab.models.naive import ClimatologyForecaster

    s = _as_series(series)
    levels = sorted(float(v) for v in levels)
    all_levels = sorted(set(levels) | set(FINE_LEVELS))
    probs = probs_for_levels(all_levels)
    sp = make_split(len(s.values), *split, horizon=horizon, series=s.name)
    origins = sp.test_origins(horizon, stride)
    y = s.values
    arms = [(name, forecaster)]
    if references:
        arms.append(("climatology", ClimatologyForecaster()))
        if s.oracle is not None:
            arms.append(("oracle", s.oracle()))
    try:
        scale = naive_scale(y[: sp.train_end], m=s.period or 1)
    except Exception:
        scale = None
    frames, metric_parts, cells = [], [], {}
    for label, model in arms:
        model.fit(y, sp.train_end, seed)
        fc = model.predict(y, origins, horizon, probs)
        frame = cell_frame(fc, y, {"dataset": s.name, "series": s.name, "method": label, "seed": seed})
        arr = frame_arrays(frame)
        rows = cell_metrics(frame, levels, all_levels, scale, arr=arr)
        metric_parts += [rows, pooled_metrics([frame], levels, all_levels, rows, bootstrap_reps,
                                              default_block(horizon, stride), 0, 0.95, arrays=[arr])]
        frames.append(frame)
        cells[label] = [(s.name, seed, arr)]
    metric_parts.append(reference_metrics(s.name, cells, levels, "climatology" if references else None,
                                          "oracle" if "oracle" in cells else None))
    metrics = pd.concat(metric_parts, ignore_index=True)
    refs = {"climatology": "climatology" if references else None, "oracle": "oracle" if "oracle" in cells else None}
    return Evaluation(forecasts=pd.concat(frames, ignore_index=True), metrics=metrics,
                      summary=summary_table(metrics, levels, horizon, references=refs))
