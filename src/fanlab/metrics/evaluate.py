"""The one scoring path: what a config's cell and `fanlab.evaluate` both run.

- `readonly`: the copy of a series a method is handed; a write into it raises, so a `fit`
  that standardises `y` in place cannot change the targets of this or any other arm.
- `fit_predict`: build, fit and predict one method under recorded warnings.
- `check_forecast`: a forecast is checked like data before it is scored: the origins asked
  for (all, in order), the horizon, the probabilities, no NaN mean or quantile, quantiles
  non-decreasing along Q. An error names the method and the first offending origin and step.
- `series_scale`: the naive scale of a training block (MASE, MSIS), or None and the reason.
- `score`: tidy metrics of finished cells: per cell, pooled per dataset and method, and
  against the dataset's references; `fanlab.engine.runner.aggregate` and `fanlab.evaluate` both
  call it, so one forecaster on one series gets the same bytes either way.
"""

from __future__ import annotations

import warnings
from typing import Callable, Iterable, Iterator

import numpy as np
import pandas as pd

from fanlab.errors import DataError, ForecastError
from fanlab.forecast import Forecast

#: Quantiles may decrease along Q by this much relative to their size (rounding), no more.
CROSS_RTOL = 1e-9


def readonly(y: np.ndarray) -> np.ndarray:
    """A read-only float copy of `y` (N,): what `fit` and `predict` see."""
    out = np.array(y, dtype=float)
    out.flags.writeable = False
    return out


def fit_predict(build: Callable[[], object], y, train_end, origins, horizon: int, probs: np.ndarray,
                seed: int, method: str):
    """Build a method, fit it and forecast; returns (model, forecast(s), caught warnings).

    `y` and `train_end` are what `fit` takes (one series, or lists for a global method). A
    write into the read-only `y` is reported as the method's error, with the cure.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = build()
        try:
            model.fit(y, train_end, seed)
            fc = model.predict(y, origins, horizon, probs)
        except ValueError as exc:
            if "read-only" not in str(exc):
                raise
            raise ForecastError(f"method '{method}' wrote into y, which is read-only (it is shared with the "
                                "other arms and holds the targets): copy it first, e.g. y = y.copy()") from exc
    return model, fc, caught


def _who(method: str, series: str | None) -> str:
    return f"method '{method}'" + (f", series '{series}'" if series is not None else "")


def _first(mask: np.ndarray) -> tuple:
    return tuple(int(i) for i in np.argwhere(mask)[0])


def check_forecast(fc, origins: np.ndarray, horizon: int, probs: np.ndarray, method: str,
                   series: str | None = None) -> Forecast:
    """`fc` if it is a forecast of `origins` (K,) over `horizon` steps at `probs` (Q,) with
    no NaN mean or quantile and quantiles non-decreasing along Q; else ForecastError naming
    the method (and series) and the first offending origin and step."""
    who = _who(method, series)
    if not isinstance(fc, Forecast):
        what = "None" if fc is None else f"a {type(fc).__name__}"
        raise ForecastError(f"{who}: predict returned {what}, not a fanlab.Forecast")
    want, got = np.asarray(origins, dtype=np.int64), fc.origins
    n = min(want.size, got.size)
    bad = np.flatnonzero(want[:n] != got[:n])
    if bad.size:
        i = int(bad[0])
        raise ForecastError(f"{who}: forecast origin {got[i]} where origin {want[i]} was asked for "
                            f"(origin {i + 1} of {want.size}; origins must be those asked for, in order)")
    if got.size < want.size:
        raise ForecastError(f"{who}: forecast for {got.size} of {want.size} origins; "
                            f"first missing origin {want[n]}")
    if got.size > want.size:
        raise ForecastError(f"{who}: forecast for {got.size} origins, {want.size} asked for; "
                            f"first extra origin {got[n]}")
    if fc.horizon != horizon:
        step = min(fc.horizon, horizon) + 1
        raise ForecastError(f"{who}: forecast of {fc.horizon} steps where the horizon is {horizon} "
                            f"(first offending step h = {step})")
    probs = np.asarray(probs, dtype=float)
    if fc.probs.shape != probs.shape or not np.allclose(fc.probs, probs, rtol=0.0, atol=1e-9):
        raise ForecastError(f"{who}: quantiles at probabilities {_short(fc.probs)} where "
                            f"{_short(probs)} were asked for")
    if np.isnan(fc.mean).any():
        k, h = _first(np.isnan(fc.mean))
        raise ForecastError(f"{who}: NaN mean at origin {got[k]}, step h = {h + 1}")
    q = fc.quantiles
    if np.isnan(q).any():
        k, j, h = _first(np.isnan(q))
        raise ForecastError(f"{who}: NaN quantile (p = {fc.probs[j]:g}) at origin {got[k]}, step h = {h + 1}")
    with np.errstate(invalid="ignore"):
        drop = q[:, :-1, :] - q[:, 1:, :]  # > 0 where a quantile lies above the next one
        crossed = drop > CROSS_RTOL * (1.0 + np.abs(q[:, :-1, :]))
    if crossed.any():
        k, j, h = _first(crossed)
        raise ForecastError(f"{who}: quantiles cross along Q at origin {got[k]}, step h = {h + 1}: "
                            f"q({fc.probs[j]:g}) = {q[k, j, h]:.6g} > q({fc.probs[j + 1]:g}) = {q[k, j + 1, h]:.6g}")
    for name, arr in (("sd", fc.sd), ("samples", fc.samples), ("path covariance", fc.cov)):
        if arr is not None and np.isnan(arr).any():
            k, h = _first(np.isnan(arr).any(axis=1) if arr.ndim == 3 else np.isnan(arr))
            raise ForecastError(f"{who}: NaN {name} at origin {got[k]}, step h = {h + 1}")
    return fc


def _short(p: np.ndarray) -> str:
    vals = [f"{v:g}" for v in np.asarray(p).ravel()]
    return "[" + ", ".join(vals if len(vals) <= 6 else vals[:3] + ["..."] + vals[-2:]) + f"] ({len(vals)})"


def check_forecasts(fcs, origins: list[np.ndarray], horizon: int, probs: np.ndarray, method: str,
                    names: list[str]) -> list[Forecast | None]:
    """A global method's forecasts: one per series, each checked, None where a series is not
    forecast (it only taught the method)."""
    if not isinstance(fcs, (list, tuple)) or len(fcs) != len(names):
        is_list = isinstance(fcs, (list, tuple))
        got = "None" if fcs is None else f"{len(fcs)} forecasts" if is_list else f"a {type(fcs).__name__}"
        raise ForecastError(f"method '{method}': predict returned {got}, not a list of {len(names)} "
                            "(a Forecast or None per series)")
    return [None if fc is None else check_forecast(fc, o, horizon, probs, method, name)
            for fc, o, name in zip(fcs, origins, names)]


def forecast_frame(fc: Forecast, series, ids: dict, time: bool = True, levels=None) -> pd.DataFrame:
    """`cell_frame` of a checked forecast of `series` (a `Series`), scored against its own
    values (never the copy the method was handed), with the time stamp of each target where
    the series has them and `time` is set.

    The frame also holds what the forecast's joint law says about whole paths
    (`fanlab.metrics.joint.path_columns`): the simultaneous band at `levels` (None: every
    central level of the forecast's probabilities; a band's numbers do not depend on the other
    levels), the energy and variogram scores (NaN without a joint law) and climatology's
    energy score. The law itself is not kept."""
    from fanlab.metrics.frames import cell_frame
    from fanlab.metrics.joint import central_levels, path_columns

    frame = cell_frame(fc, series.values, ids)
    levels = central_levels(fc.probs) if not levels else levels
    for col, values in path_columns(fc, series.values, levels).items():
        frame[col] = values
    if time and series.index is not None:
        frame["time"] = np.asarray(series.index)[frame["origin"].to_numpy() + frame["h"].to_numpy()]
    return frame


class LookAheadWarning(UserWarning):
    """A forecast that moved when only values after its origin changed."""


def look_ahead(model, y: np.ndarray, origins: np.ndarray, horizon: int, probs: np.ndarray, fc: Forecast,
               method: str, seed: int = 0) -> str | None:
    """Whether a fitted model's `predict` reads values after its origins; a message or None.

    Refit-free: every value after the middle origin t is perturbed (by three training-block
    standard deviations of noise) and `predict` asked again; the forecasts of origins up to t
    must not move. A forecast that moves is read once more on the unperturbed series: where
    that moves too, `predict` is not deterministic and nothing can be said. Costs one `predict`
    (two where a forecast moves). `fit` is not rerun: a fit that reads past its training
    block is not caught here (the contract test refits for registered methods).
    """
    if origins.size < 2:
        return None
    k = (origins.size - 1) // 2
    t = int(origins[k])
    y = np.asarray(y, dtype=float)
    rng = np.random.default_rng(seed)
    spread = float(np.std(y[: int(origins[0]) + 1])) or 1.0
    moved = y.copy()
    moved[t + 1:] += 3.0 * spread * rng.standard_normal(y.size - t - 1)

    def first_move(other) -> int | None:
        if not isinstance(other, Forecast) or other.mean.shape != fc.mean.shape \
                or other.quantiles.shape != fc.quantiles.shape:
            return 0
        same = (np.isclose(other.mean[: k + 1], fc.mean[: k + 1], rtol=1e-7, atol=1e-9, equal_nan=True).all(axis=1)
                & np.isclose(other.quantiles[: k + 1], fc.quantiles[: k + 1], rtol=1e-7, atol=1e-9,
                             equal_nan=True).all(axis=(1, 2)))
        bad = np.flatnonzero(~same)
        return int(bad[0]) if bad.size else None

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            i = first_move(model.predict(readonly(moved), origins, horizon, probs))
            if i is None or first_move(model.predict(readonly(y), origins, horizon, probs)) is not None:
                return None  # no move, or predict is not deterministic: nothing to say
        except Exception:  # predict could not read the perturbed series: no verdict
            return None
    return (f"method '{method}' reads the future: its forecast from origin {int(origins[i])} moved when only "
            f"values after origin {t} changed; predict may use only y[: t + 1] for origin t, so its scores "
            "are not those of a forecast")


def series_scale(y_train: np.ndarray, period: int | None) -> tuple[float | None, str | None]:
    """(in-sample seasonal naive MAE, None), or (None, why) where it is 0 or undefined."""
    from fanlab.metrics.scores import naive_scale

    try:
        return naive_scale(y_train, m=period or 1), None
    except (ValueError, DataError) as exc:  # e.g. a constant training block: no scaled scores
        return None, str(exc)


#: The order of metrics.parquet's rows.
METRIC_ORDER = ["dataset", "method", "series", "seed", "metric", "level", "h"]


def score_cell(frame: pd.DataFrame, scale: float | None, levels: list[float],
               all_levels: list[float]) -> tuple[dict, object, dict]:
    """One series of a cell scored: (ids, its metric `Records`, its `frame_arrays`). What the
    pooled and reference rows need of a cell is in the arrays, so the frame can go: a worker
    of a parallel aggregation sends these three back, never the frame. Many cells are scored
    at once, to the same numbers, by `fanlab.metrics.batch` (what `score` and a run's
    aggregation do)."""
    from fanlab.metrics.batch import score_one
    from fanlab.metrics.frames import frame_arrays

    arr = frame_arrays(frame)
    return _ids(frame), score_one(arr, scale, levels, all_levels), arr


def _ids(frame) -> dict:
    from fanlab.schema import ID_COLS

    return {c: frame[c].iloc[0] for c in ID_COLS}  # a DataFrame's or a `ColumnFrame`'s first row


def score_dataset(dataset: str, by_method: dict[str, list[tuple]], levels: list[float], all_levels: list[float],
                  refs: dict[str, str | None], block: int, reps: int = 1000, seed: int = 0,
                  ci: float = 0.95) -> Iterator[tuple[str, pd.DataFrame]]:
    """(method, its rows) for every method of one dataset, methods sorted: the cells' rows,
    the pooled rows and the reference rows, sorted as metrics.parquet is. by_method: method
    -> `score_cell` results of its cells, sorted by series and seed. Concatenated over the
    datasets in sorted order, these are `score`'s rows. The rows are put in their order
    (`fanlab.metrics.table`) rather than sorted, where the cells' keys allow it."""
    from fanlab.metrics.aggregate import tidy_cells
    from fanlab.metrics.pooled import pooled_records
    from fanlab.metrics.reference import reference_metrics
    from fanlab.metrics.table import method_table

    cells_of = {m: [(str(ids["series"]), ids["seed"], arr) for ids, _, arr in by_method[m]] for m in sorted(by_method)}
    ref = reference_metrics(dataset, cells_of, levels, refs.get("climatology"), refs.get("oracle"))
    for method in sorted(by_method):
        scored = by_method[method]
        names, arrays = [str(ids["series"]) for ids, _, _ in scored], [arr for _, _, arr in scored]
        pooled = pooled_records({"dataset": dataset, "method": method}, names, arrays,
                                [recs for _, recs, _ in scored], levels, all_levels, reps, block, seed, ci)
        parts = [pooled] + ([ref[ref["method"] == method]] if len(ref) else [])
        out = method_table(dataset, method, scored, _sorted(pd.concat(parts, ignore_index=True)))
        if out is None:  # keys that only a sort of all rows can order
            rows = tidy_cells([(ids, recs) for ids, recs, _ in scored])
            out = _sorted(pd.concat([rows] + parts, ignore_index=True))
        yield method, out


def _sorted(out: pd.DataFrame) -> pd.DataFrame:
    out["seed"] = out["seed"].astype(np.int64)
    out["h"] = out["h"].astype(np.int64)
    return out.sort_values(METRIC_ORDER, kind="stable", ignore_index=True)


def score(parts: Iterable[tuple], levels: list[float], all_levels: list[float], refs: dict[str, str | None],
          blocks: dict[str, int], reps: int = 1000, seed: int = 0, ci: float = 0.95) -> pd.DataFrame:
    """Tidy metrics of finished cells (`fanlab.metrics.aggregate` describes the rows).

    parts: (dataset, method, series, seed, frame, scale), one per series of a cell, frames
    as `cell_frame`. refs: labels of the climatology and oracle methods (or None). blocks:
    the bootstrap block length of each dataset. Rows are sorted by dataset, method, series,
    seed, metric, level and h. A run's aggregation (`fanlab.engine.collect`) runs the same
    two steps, the cells scored in stacks in its workers and `score_dataset` as each dataset
    completes.
    """
    from fanlab.metrics.batch import score_arrays
    from fanlab.metrics.frames import frame_arrays

    parts = sorted(parts, key=lambda p: p[:4])
    arrays = [frame_arrays(p[4]) for p in parts]
    records = score_arrays(arrays, [p[5] for p in parts], levels, all_levels)
    by_dataset: dict[str, dict[str, list]] = {}
    for (dataset, method, name, cell_seed, frame, scale), recs, arr in zip(parts, records, arrays):
        by_dataset.setdefault(dataset, {}).setdefault(method, []).append((_ids(frame), recs, arr))
    out = [rows for dataset in sorted(by_dataset)
           for _, rows in score_dataset(dataset, by_dataset[dataset], levels, all_levels, refs, blocks[dataset],
                                        reps, seed, ci)]
    return pd.concat(out, ignore_index=True)
