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

import warnings
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
    """Run a config (a path to a YAML file, a mapping or a parsed `Config`) as `fanlab run`
    does; returns the runner's result (``.out`` the results folder, ``.statuses`` per cell)."""
    from fanlab.config import Config, load_config, parse_config

    cfg = config if isinstance(config, Config) else (
        parse_config(dict(config)) if isinstance(config, dict) else load_config(config))
    return run_config(cfg, jobs=jobs, force=force, figures=figures, progress=progress, out=out)


def run_config(cfg, figures: bool = True, **kwargs):
    """The run (`fanlab.run.runner.run`, `kwargs` passed on), then its figures and report
    (`fanlab.report.build.finish`): the one sequence behind `fanlab run` and `fanlab.run`."""
    from fanlab.report.build import finish
    from fanlab.run.runner import run as run_cells

    return finish(run_cells(cfg, **kwargs), figures=figures)


def _as_series(series) -> Series:
    if isinstance(series, Series):
        return series
    if isinstance(series, pd.Series):
        return Series(name=str(series.name or "series"), values=series.to_numpy(dtype=float), index=series.index)
    return Series(name="series", values=np.asarray(series, dtype=float))


def evaluate(forecaster, series, split=(0.6, 0.2, 0.2), horizon: int = 100, levels=(0.5, 0.8, 0.95),
             stride: int = 10, seed: int = 0, name: str = "forecaster", references: bool = True,
             bootstrap_reps: int = 1000, check_look_ahead: bool = True) -> Evaluation:
    """Fit `forecaster` on the training block of `series`, forecast every test origin and
    score it like a config's cell (coverage per step with a CI, joint coverage, width,
    interval score, CRPS, MAE, skill against climatology and, where `series` has an oracle,
    against the oracle).

    series: a `fanlab` Series (e.g. from `fanlab.datasets.load`), a pandas Series or an
    array. split: (train, cal, test) fractions or lengths. The forecaster is handed a
    read-only `y` and its forecast is checked as a cell's is (`fanlab.metrics.evaluate`):
    a forecast of other origins, horizon or probabilities, with NaN or crossing quantiles,
    raises `fanlab.errors.ForecastError`. `check_look_ahead`: ask `predict` once more with
    the values after the middle origin perturbed, and warn (`LookAheadWarning`) where an
    earlier origin's forecast moves. Returns `Evaluation`.
    """
    from fanlab.metrics.aggregate import summary_table
    from fanlab.metrics.evaluate import (LookAheadWarning, check_forecast, fit_predict, forecast_frame,
                                         look_ahead, readonly, score, series_scale)
    from fanlab.models.naive import ClimatologyForecaster

    s = _as_series(series)
    levels = sorted(float(v) for v in levels)
    all_levels = sorted(set(levels) | set(FINE_LEVELS))
    probs = probs_for_levels(all_levels)
    sp = make_split(len(s.values), *split, horizon=horizon, series=s.name)
    origins = sp.test_origins(horizon, stride)
    arms = [(name, forecaster)]
    refs = {"climatology": None, "oracle": None}
    if references:
        if name in ("climatology", "oracle"):
            raise ValueError(f"name '{name}' is the label of a reference; choose another or references=False")
        arms.append(("climatology", ClimatologyForecaster()))
        refs["climatology"] = "climatology"
        if s.oracle is not None:
            arms.append(("oracle", s.oracle()))
            refs["oracle"] = "oracle"
    scale, _ = series_scale(s.values[: sp.train_end], s.period)
    parts = []
    for label, arm in arms:
        model, fc, caught = fit_predict(lambda: arm, readonly(s.values), sp.train_end, origins, horizon, probs, seed,
                                        label)
        for w in caught:  # a notebook shows the method's warnings
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        fc = check_forecast(fc, origins, horizon, probs, label)
        frame = forecast_frame(fc, s, {"dataset": s.name, "series": s.name, "method": label, "seed": seed})
        parts.append((s.name, label, s.name, seed, frame, scale))
        if label == name and check_look_ahead:
            msg = look_ahead(model, s.values, origins, horizon, probs, fc, label, seed)
            if msg:
                warnings.warn(msg, LookAheadWarning, stacklevel=2)
    metrics = score(parts, levels, all_levels, refs, {s.name: default_block(horizon, stride)}, reps=bootstrap_reps)
    forecasts = pd.concat([p[4] for p in parts], ignore_index=True)
    return Evaluation(forecasts=forecasts, metrics=metrics, summary=summary_table(metrics, levels, horizon,
                                                                                  references=refs))
