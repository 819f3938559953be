"""Global ("panel") methods: fitted across every series of a dataset at once.

A local method's cell is one dataset x series x method x seed. A global method's cell is one
dataset x method x seed (series name `PANEL`): it is built from a `PanelContext` holding every
series of the dataset with its own split, fitted once on all of them, and it forecasts each
series at that series' own test origins. Its cell file holds the rows of every series (the
`series` column says which), and its metadata the per-series scales, so the aggregation reads
it as one frame per series, exactly like local cells.

The panel contract (what `fit` / `predict` of a panel forecaster may read):

- ``fit(ys, train_ends, seed)``: for series i, ``ys[i][:train_ends[i]]`` and, for methods with a
  calibration block, ``ys[i][:cal_ends[i]]`` (the context holds the splits); never a test block.
- ``predict(ys, origins, horizon, probs) -> list[Forecast | None]``: the forecast of series i at
  origin t reads ``ys[i][: t + 1]`` and what `fit` learnt; nothing of another forecast series'
  test block. None: series i is not forecast (it only taught the method, e.g. a calibration
  series of conformal `cal_series`, whose test block is its calibration data); it is then
  absent from this method's scores.

`tests/test_contract.py` checks both: no look-ahead, and no cross-series leak (perturbing
another series' test block leaves this series' forecast unchanged).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from fanlab import registry
from fanlab.cells import cell_failed, cell_scored, fit_store, split_cells
from fanlab.data.series import Series
from fanlab.data.splits import Split
from fanlab.metrics.evaluate import check_forecasts, fit_predict, readonly


@dataclass(frozen=True)
class PanelContext:
    """What a panel factory may know: every series of the dataset with its split."""

    series: tuple[Series, ...]
    splits: tuple[Split, ...]
    horizon: int
    stride: int
    fit_store: object | None = None
    levels: tuple[float, ...] = ()

    def member(self, i: int):
        """The local `BuildContext` of series i (for building per-series bases)."""
        from fanlab.context import BuildContext

        return BuildContext(series=self.series[i], split=self.splits[i], horizon=self.horizon,
                            stride=self.stride, fit_store=self.fit_store, levels=self.levels)


def series_scale(y_train: np.ndarray, period: int | None) -> float | None:
    """The in-sample (seasonal) naive MAE of a training block, or None where it is 0 or undefined."""
    from fanlab.metrics.evaluate import series_scale as scale_and_reason

    return scale_and_reason(y_train, period)[0]


def run_panel_cell(cell, series: tuple[Series, ...], out: Path, fits: str | None = "reuse") -> dict:
    """Fit, forecast and write one global cell; never raises (errors are returned as data)."""
    t0 = time.perf_counter()
    try:
        st = cell.settings
        splits = tuple(split_cells(cell.split["series"][s.name], len(s), st["horizon"], f"{cell.dataset}/{s.name}")
                       for s in series)
        origins = [sp.test_origins(st["horizon"], st["stride"], st["max_origins"]) for sp in splits]
        probs = np.array(st["probs"])
        ctx = PanelContext(series=series, splits=splits, horizon=st["horizon"], stride=st["stride"],
                           fit_store=fit_store(out, fits), levels=tuple(cell.levels))
        model, fcs, caught = fit_predict(
            lambda: registry.build_panel_method(cell.method_name, cell.method_params, ctx),
            [readonly(s.values) for s in series], [sp.train_end for sp in splits], origins, st["horizon"], probs,
            cell.seed, cell.method)
        fcs = check_forecasts(fcs, origins, st["horizon"], probs, cell.method, [s.name for s in series])
        return cell_scored(cell, model, caught, list(zip(series, splits, origins, fcs)), out, t0)
    except Exception as exc:  # a failing cell is recorded, the others run
        return cell_failed(cell, exc, t0)


def split_frames(frame: pd.DataFrame, meta: dict):
    """(series name, frame, scale) per series of a cell file (one for a local cell)."""
    if "scales" not in meta:
        yield str(frame["series"].iloc[0]), frame, meta.get("scale")
        return
    for name, part in frame.groupby("series", sort=False):
        yield str(name), part.reset_index(drop=True), meta["scales"].get(str(name))
