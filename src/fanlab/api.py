"""The lab from Python: run a config, export what it scores, or score arms on a series.

    import fanlab
    res = fanlab.run("configs/quickstart.yaml")          # results folder, as `fanlab run`
    fanlab.export("configs/quickstart.yaml", "export/")   # series and cutoffs, as `fanlab export`
    series = fanlab.datasets.load("arma", ar=[0.7], n=800)[0]
    out = fanlab.evaluate({"mine": MyForecaster(), "arima": "arima"}, series, horizon=20)
    out.summary                                           # the summary.csv table, as a DataFrame

`evaluate` takes one arm or a dict of them: objects with the Forecaster protocol's
`fit(y, train_end, seed)` and `predict(y, origins, horizon, probs)` (returning a
`fanlab.Forecast`), fanlab's methods by name or spec, forecasts made elsewhere
(`fanlab.external`); it scores each exactly as a config's cell is scored, and reads them
against climatology and, where the series has one, its oracle (both run beside them).
"""

from __future__ import annotations

import copy
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
    return run_config(_config(config), jobs=jobs, force=force, figures=figures, progress=progress, out=out)


def run_config(cfg, figures: bool = True, **kwargs):
    """The run (`fanlab.engine.runner.run`, `kwargs` passed on), then its figures and report
    (`fanlab.report.build.finish`): the one sequence behind `fanlab run` and `fanlab.run`."""
    from fanlab.report.build import finish
    from fanlab.engine.runner import run as run_cells

    return finish(run_cells(cfg, **kwargs), figures=figures, jobs=kwargs.get("jobs", 1))


def _as_series(series) -> Series:
    if isinstance(series, Series):
        return series
    if isinstance(series, pd.Series):
        return Series(name=str(series.name or "series"), values=series.to_numpy(dtype=float), index=series.index)
    return Series(name="series", values=np.asarray(series, dtype=float))


def export(config, out: str | Path):
    """Write a config's series and the exact cutoffs its run scores under `out`, as
    `fanlab export` does (`fanlab.engine.export`); returns the `Export` (``.out``, ``.files``,
    ``.info``: the facts of export.json)."""
    from fanlab.engine.export import export as export_config

    return export_config(_config(config), out)


def _config(config):
    from fanlab.config import Config, load_config, parse_config

    return config if isinstance(config, Config) else (
        parse_config(dict(config)) if isinstance(config, dict) else load_config(config))


def _arm(label: str, arm, levels: list[float], s: Series):
    """A factory for one arm: a Forecaster, a method name, a {"name", "params"} spec or an
    ExternalForecaster; raises ValueError naming the arm where a name or params are wrong."""
    from fanlab.models.external import ExternalForecaster
    from fanlab.registry import build_method, is_panel, validate_method_spec

    if isinstance(arm, str):
        arm = {"name": arm}
    if isinstance(arm, dict):
        try:
            spec = validate_method_spec(arm)
        except ValueError as exc:
            raise ValueError(f"arm '{label}': {exc}") from None
        name, params = spec["name"], spec.get("params") or {}
        if is_panel(name, params):
            raise ValueError(f"arm '{label}': method '{name}' with these params is fitted across the series of a "
                             "dataset (a global method); evaluate scores one series: run it from a config")
        return lambda ctx: build_method(name, params, ctx)
    if isinstance(arm, ExternalForecaster):
        arm = copy.copy(arm)  # the caller's object keeps its settings
        if not arm.required_probs:  # the evaluation's levels must be in the frame
            arm.required_probs = tuple(probs_for_levels(levels, median=False))
        if arm.index is None and s.index is not None and not (
                isinstance(s.index, pd.RangeIndex) and s.index.start == 0 and s.index.step == 1):
            arm.index = s.index  # cutoff / ds read against the series' own stamps
        if arm.series is None and arm._table is not None and arm._table["series"].nunique() > 1:
            arm.series = s.name
        return lambda ctx: arm
    if not (callable(getattr(arm, "fit", None)) and callable(getattr(arm, "predict", None))):
        raise TypeError(f"arm '{label}': {type(arm).__name__} is no forecaster (needs fit and predict), method name "
                        "or {'name': ..., 'params': {...}} spec")
    return lambda ctx: arm


def evaluate(arms, series, split=(0.6, 0.2, 0.2), horizon: int = 100, levels=(0.5, 0.8, 0.95),
             stride: int = 10, seed: int = 0, name: str = "forecaster", references: bool = True,
             bootstrap_reps: int = 1000, check_look_ahead: bool = True) -> Evaluation:
    """Fit each arm on the training block of `series`, forecast every test origin and score
    it like a config's cell (coverage per step with a CI, joint coverage, width, interval
    score, CRPS, MAE, skill against climatology and, where `series` has an oracle, against
    the oracle).

    arms: one arm (labelled `name`) or a dict {label: arm}. An arm is any object with the
    Forecaster protocol, a fanlab method name ("arima", "ets", "naive", ...), a spec
    ``{"name": "arima", "params": {"order": [2, 0, 1]}}`` (built by the registry for this
    series and split, as a config's cell builds it), or `fanlab.external(frame, ...)`
    (forecasts made elsewhere; the evaluation's `levels` must be in the frame).
    series: a `fanlab` Series (e.g. from `fanlab.datasets.load`), a pandas Series or an
    array. split: (train, cal, test) fractions or lengths. Each arm is handed a read-only
    `y` and its forecast is checked as a cell's is (`fanlab.metrics.evaluate`): a forecast
    of other origins, horizon or probabilities, with NaN or crossing quantiles, raises
    `fanlab.errors.ForecastError`. `check_look_ahead`: ask each arm's `predict` once more
    with the values after the middle origin perturbed, and warn (`LookAheadWarning`) where
    an earlier origin's forecast moves. Returns `Evaluation`.
    """
    from fanlab.context import BuildContext
    from fanlab.metrics.summary import summary_table
    from fanlab.metrics.evaluate import (LookAheadWarning, check_forecast, fit_predict, forecast_frame,
                                         look_ahead, readonly, score, series_scale)
    from fanlab.models.naive import ClimatologyForecaster

    s = _as_series(series)
    levels = sorted(float(v) for v in levels)
    all_levels = sorted(set(levels) | set(FINE_LEVELS))
    probs = probs_for_levels(all_levels)
    sp = make_split(len(s.values), *split, horizon=horizon, series=s.name)
    origins = sp.test_origins(horizon, stride)
    given = dict(arms) if isinstance(arms, dict) else {name: arms}
    if not given:
        raise ValueError("arms: give at least one arm")
    labels = [str(k) for k in given]
    refs = {"climatology": None, "oracle": None}
    if references:
        clash = [k for k in labels if k in ("climatology", "oracle")]
        if clash:
            raise ValueError(f"arm '{clash[0]}' is the label of a reference; choose another or references=False")
    # every arm is checked before anything is fitted: a typo fails at once
    factories = [(str(k), _arm(str(k), a, levels, s), True) for k, a in given.items()]
    if references:
        factories.append(("climatology", lambda ctx: ClimatologyForecaster(), False))
        refs["climatology"] = "climatology"
        if s.oracle is not None:
            factories.append(("oracle", lambda ctx: s.oracle(), False))
            refs["oracle"] = "oracle"
    ctx = BuildContext(series=s, split=sp, horizon=horizon, stride=stride, levels=tuple(levels))
    scale, _ = series_scale(s.values[: sp.train_end], s.period)
    parts = []
    for label, factory, own in factories:
        model, fc, caught = fit_predict(lambda: factory(ctx), readonly(s.values), sp.train_end, origins, horizon,
                                        probs, seed, label)
        for w in caught:  # a notebook shows the method's warnings
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        fc = check_forecast(fc, origins, horizon, probs, label)
        frame = forecast_frame(fc, s, {"dataset": s.name, "series": s.name, "method": label, "seed": seed})
        parts.append((s.name, label, s.name, seed, frame, scale))
        if own and check_look_ahead:
            msg = look_ahead(model, s.values, origins, horizon, probs, fc, label, seed)
            if msg:
                warnings.warn(msg, LookAheadWarning, stacklevel=2)
    metrics = score(parts, levels, all_levels, refs, {s.name: default_block(horizon, stride)}, reps=bootstrap_reps)
    forecasts = pd.concat([p[4] for p in parts], ignore_index=True)
    return Evaluation(forecasts=forecasts, metrics=metrics, summary=summary_table(metrics, levels, horizon,
                                                                                  references=refs))
