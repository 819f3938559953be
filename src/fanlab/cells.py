"""A cell: its spec, and how one local cell is fitted, forecast and written.

A config expands to cells (`fanlab.runner.expand`): dataset x series x method x seed, or, for a
global method, dataset x method x seed (series name `PANEL`, see `fanlab.panel`). A cell is a
pure function of its spec; its file under `cells/` is written atomically and carries the spec's
hash, and a cell that raises returns its error as data (`cell_failed`), so the others run.
"""

from __future__ import annotations

import time
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from fanlab import registry
from fanlab.config import stable_hash
from fanlab.context import BuildContext
from fanlab.data.series import Series
from fanlab.data.splits import make_split
from fanlab.errors import DataError
from fanlab.fitstore import FitStore
from fanlab.metrics.aggregate import cell_frame
from fanlab.metrics.scores import naive_scale
from fanlab.results import cell_key, cell_path, write_parquet

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
            "seed": self.seed, "split": self.split, "settings": self.settings,
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
    as data). `fanlab.execute.run_cell` runs any cell, local or global.

    `fits`: "reuse" shares fits through the run's fit store (``out/fits``), "refit" fits
    anew and overwrites the stored fit, None uses no store.
    """
    t0 = time.perf_counter()
    try:
        st = cell.settings
        y = series.values
        split = split_cells(cell.split, len(y), st["horizon"], f"{cell.dataset}/{series.name}")
        origins = split.test_origins(st["horizon"], st["stride"], st["max_origins"])
        probs = np.array(st["probs"])
        store = None if fits is None else FitStore(Path(out) / "fits", refit=fits == "refit")
        ctx = BuildContext(series=series, split=split, horizon=st["horizon"], stride=st["stride"], fit_store=store,
                           levels=tuple(cell.levels))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = registry.build_method(cell.method_name, cell.method_params, ctx)
            model.fit(y, split.train_end, cell.seed)
            fc = model.predict(y, origins, st["horizon"], probs)
        if not np.array_equal(fc.origins, origins) or fc.mean.shape != (origins.size, st["horizon"]):
            raise RuntimeError(f"method '{cell.method}' returned a forecast for other origins or horizon")
        if not np.allclose(fc.probs, probs):
            raise RuntimeError(f"method '{cell.method}' returned quantiles at other probabilities")
        frame = cell_frame(fc, y, {"dataset": cell.dataset, "series": series.name, "method": cell.method, "seed": cell.seed})
        if series.index is not None:  # the time stamp of each target, where the series has them
            frame["time"] = np.asarray(series.index)[frame["origin"].to_numpy() + frame["h"].to_numpy()]
        scale_note = []
        try:
            scale = naive_scale(y[: split.train_end], m=series.period or 1)
        except (ValueError, DataError) as exc:  # e.g. a constant training block: no scaled scores
            scale = None
            scale_note = [f"MASE and MSIS not computed: {exc}"]
        msgs = scale_note + sorted({f"{w.category.__name__}: {w.message}" for w in caught})
        info = {**getattr(model, "info_", {}), **fc.info}
        fc_warnings = info.pop("warnings", [])
        meta = {"key": cell.key, "hash": cell.hash, "scale": scale, "info": jsonable(info),
                "warnings": jsonable(list(fc_warnings) + msgs[:20]), "n_origins": int(origins.size)}
        return cell_written(cell, frame, meta, out, t0)
    except Exception as exc:  # a failing cell is recorded, the others run
        return cell_failed(cell, exc, t0)


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
