"""A cell: its spec, how a local or a global cell is fitted and forecast, and how it is written.

A local cell is one dataset x series x method x seed; a global ("panel") method's cell is one
dataset x method x seed, fitted once on every series of the dataset (built from a
`fanlab.context.PanelContext`), forecasting each series at its own test origins, its file
holding the rows of every series. Both run one sequence: `fit_predict` on a read-only copy of
the series, `check_forecast` (the checks `fanlab.evaluate` runs too, in `fanlab.metrics.evaluate`),
then `cell_scored` writes the frame of every forecast series with its naive scale and warnings.

A config expands to cells (`fanlab.engine.runner.expand`): dataset x series x method x seed, or, for a
global method, dataset x method x seed (series name `PANEL`). A cell is a
pure function of its spec; its file under `cells/` is written atomically and carries the spec's
hash, and a cell that raises returns its error as data (`cell_failed`), so the others run.

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
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from fanlab import registry
from fanlab.config import stable_hash
from fanlab.context import BuildContext, PanelContext
from fanlab.data.series import Series
from fanlab.data.splits import make_split
from fanlab.errors import ForecastError
from fanlab.schema import CELL_SCHEMA
from fanlab.engine.fitstore import FitStore
from fanlab.metrics.evaluate import check_forecast, check_forecasts, fit_predict, forecast_frame, readonly, series_scale
from fanlab.engine.results import cell_key, cell_path, write_parquet

#: The series name of a global method's cell.
PANEL = "panel"


@dataclass(frozen=True)
class CellSpec:
    dataset: str  # dataset label
    series: str
    method: str  # method label
    seed: int
    method_name: str
    method_params: dict = field(hash=False)
    split: dict = field(hash=False)
    settings: dict = field(hash=False)  # horizon, stride, max_origins, probs
    data_spec: dict = field(hash=False)
    levels: tuple = ()  # the config's levels (the probs in settings cover them)

    @property
    def key(self) -> str:
        return cell_key(self.dataset, self.series, self.method, self.seed)

    @property
    def hash(self) -> str:
        return stable_hash({
            "data": self.data_spec, "series": self.series, "method": [self.method_name, self.method_params],
            "seed": self.seed, "split": self.split, "settings": self.settings, "schema": CELL_SCHEMA,
            # the simultaneous bands a cell writes are those of the config's levels, which the
            # probabilities (levels + the fine grid) do not always tell apart
            "levels": [float(v) for v in self.levels],
        })


def split_cells(spec: dict, n: int, horizon: int, name: str):
    """The `Split` of a series of `n` points from a cell's block sizes (DataError if too short)."""
    return make_split(n, spec["train"], spec["cal"], spec["test"], horizon, series=name,
                      **({"min_train": spec["min_train"]} if "min_train" in spec else {}))


def jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    return str(obj)


def run_local_cell(cell: CellSpec, series: Series, out: Path, fits: str | None = "reuse") -> dict:
    """Fit, forecast and write one local cell (one series); never raises (errors are returned
    as data). `fanlab.engine.execute.run_cell` runs any cell, local or global.

    `fits`: "reuse" shares fits through the run's fit store (``out/fits``), "refit" fits
    anew and overwrites the stored fit, None uses no store.
    """
    t0 = time.perf_counter()
    try:
        st = cell.settings
        split = split_cells(cell.split, len(series), st["horizon"], f"{cell.dataset}/{series.name}")
        origins = split.test_origins(st["horizon"], st["stride"], st["max_origins"])
        probs = np.array(st["probs"])
        ctx = BuildContext(series=series, split=split, horizon=st["horizon"], stride=st["stride"],
                           fit_store=fit_store(out, fits), levels=tuple(cell.levels))
        model, fc, caught = fit_predict(lambda: registry.build_method(cell.method_name, cell.method_params, ctx),
                                        readonly(series.values), split.train_end, origins, st["horizon"], probs,
                                        cell.seed, cell.method)
        fc = check_forecast(fc, origins, st["horizon"], probs, cell.method)
        return cell_scored(cell, model, caught, [(series, split, origins, fc)], out, t0)
    except Exception as exc:  # a failing cell is recorded, the others run
        return cell_failed(cell, exc, t0)


def fit_store(out: Path, fits: str | None) -> FitStore | None:
    """The run's fit store for `fits` ("reuse", "refit" or None: no store)."""
    return None if fits is None else FitStore(Path(out) / "fits", refit=fits == "refit")


def cell_scored(cell, model, caught: list, items: list[tuple], out: Path, t0: float) -> dict:
    """Write a cell from its checked forecasts; its status record. Local and global cells.

    items: (series, split, origins, forecast or None) per series of the cell; a local cell has
    one. The file holds one frame per forecast series and, in its metadata, the naive scale of
    each (a global cell: `scales` by series name) and the warnings caught while it ran.
    """
    panel = cell.series == PANEL
    frames, scales, why = [], {}, []
    for s, sp, _, fc in items:
        if fc is None:  # a series the method only learnt from (e.g. a calibration series)
            continue
        frames.append(forecast_frame(fc, s, {"dataset": cell.dataset, "series": s.name, "method": cell.method,
                                             "seed": cell.seed}, time=not panel, levels=cell.levels))
        scales[s.name], note = series_scale(s.values[: sp.train_end], s.period)
        why += [note] if note else []
    if not frames:
        raise ForecastError(f"method '{cell.method}' forecast none of the {len(items)} series")
    msgs = sorted({f"{w.category.__name__}: {w.message}" for w in caught})
    info = dict(getattr(model, "info_", {}))
    if panel:
        frame = pd.concat(frames, ignore_index=True)
        if why:
            msgs.insert(0, "MASE and MSIS not computed for series whose training block has no naive error")
        meta = {"key": cell.key, "hash": cell.hash, "scale": None, "scales": scales}
    else:
        frame = frames[0]
        msgs = [f"MASE and MSIS not computed: {w}" for w in why] + msgs
        info.update(items[0][3].info)
        meta = {"key": cell.key, "hash": cell.hash, "scale": scales[items[0][0].name]}
    fc_warnings = info.pop("warnings", [])
    meta.update({"info": jsonable(info), "warnings": jsonable(list(fc_warnings) + msgs[:20]),
                 "n_origins": int(sum(o.size for _, _, o, _ in items))})
    return cell_written(cell, frame, meta, out, t0)


def cell_written(cell, frame: pd.DataFrame, meta: dict, out: Path, t0: float) -> dict:
    """Write a finished cell's file; its status record."""
    write_parquet(frame, cell_path(out, cell.key), meta)
    return {"status": "done", "seconds": round(time.perf_counter() - t0, 3), "info": meta["info"],
            "warnings": meta["warnings"], "hash": cell.hash}


def cell_failed(cell, exc: Exception, t0: float) -> dict:
    """The status record of a cell that raised: the error and the end of its traceback."""
    tb = traceback.format_exception(type(exc), exc, exc.__traceback__)
    return {"status": "failed", "seconds": round(time.perf_counter() - t0, 3),
            "error": f"{type(exc).__name__}: {exc}", "traceback": "".join(tb[-3:])[-2000:], "hash": cell.hash}


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
