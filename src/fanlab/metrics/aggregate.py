"""From forecasts to tidy scores.

`fanlab.metrics.frames` turns one cell's `Forecast` into a long table (one row per origin and
step) that keeps every quantile, and reads it back as arrays; `fanlab.metrics.batch` scores
cells (`cell_metrics`: one such table; many at once, to the same numbers); `pooled_records`
(`fanlab.metrics.pooled`) pools the cells of a dataset and method over series and seeds, with
confidence intervals on the coverage; `fanlab.metrics.summary` reads the pooled rows into
summary.csv. Everything here is a function of the tables, so scores can be recomputed from the
files on disk.

Metric rows are tidy: (dataset, series, method, seed, h, level, metric, value). h = 0 means
"over all steps" (e.g. joint coverage); level is NaN for level-free metrics. Pooled rows have
series == "*" and seed == -1.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from fanlab.forecast import level_probs
from fanlab.metrics import calibration, joint, scores


def band_index(probs: np.ndarray, level: float) -> tuple[int, int]:
    """The positions in `probs` of a central level's two probabilities, looked up once per grid
    of probabilities (the lookup was most of a small cell's scoring time)."""
    key = (probs.tobytes(), level)
    if key not in _BAND_AT:
        lo_p, hi_p = level_probs(level)
        _BAND_AT[key] = calibration.prob_index(probs, lo_p), calibration.prob_index(probs, hi_p)
    return _BAND_AT[key]


def _interval(arr: dict, level: float) -> tuple[np.ndarray, np.ndarray]:
    i, j = band_index(arr["probs"], level)
    q = arr["quantiles"]
    return q[:, i, :], q[:, j, :]


_BAND_AT: dict[tuple[bytes, float], tuple[int, int]] = {}


def band_degenerate(width: np.ndarray) -> bool:
    """Whether a band is no interval at all: zero width everywhere (a point forecast) or
    infinite everywhere. Its coverage (0 or 1 by construction) is then not a measurement."""
    width = np.asarray(width, dtype=float)
    return bool(np.all(width == 0) or np.all(np.isinf(width)))


def dead_steps(width: np.ndarray) -> np.ndarray:
    """Steps (H,) at which a band (K, H) has zero width at every origin: no interval there (a
    point forecast at that step, e.g. darts' ARIMA at h = 1), so its coverage at that step is
    n/a and the coverage over all steps spans the other steps. All False for a band that is no
    interval anywhere (`band_degenerate` covers it)."""
    dead = np.all(np.asarray(width) == 0, axis=0)
    return dead if not dead.all() else np.zeros_like(dead)


def _rows(ids: dict, metric: str, values: np.ndarray | float, level: float = np.nan, h0: bool = False) -> tuple:
    """One metric's rows (per h, or one row at h = 0), as a light record; `_tidy` makes the frame.

    `ids` is accepted for the call sites' readability; every record of one `_tidy` call shares them.
    """
    values = np.atleast_1d(np.asarray(values, dtype=float))
    hs = np.zeros(1, dtype=np.int64) if h0 else np.arange(1, values.size + 1, dtype=np.int64)
    return hs, float(level), metric, values


def pack_records(records: list[tuple]) -> tuple:
    """`_rows` records packed into five arrays (h, level per record, metric names, sizes,
    values): a tenth of the memory of the records, for the cells a dataset's aggregation holds."""
    sizes = np.array([r[3].size for r in records], dtype=np.int64)
    return (np.concatenate([r[0] for r in records]).astype(np.int32), np.array([r[1] for r in records], dtype=float),
            tuple(sys.intern(r[2]) for r in records), sizes, np.concatenate([r[3] for r in records]))


def tidy_cells(cells: list[tuple[dict, list[tuple] | tuple]]) -> pd.DataFrame:
    """The rows of many cells, (ids, `_rows` records, `pack_records` of them or a
    `fanlab.metrics.batch.Records`) each, as one tidy frame built in one go: the same frame as
    concatenating each cell's `_tidy`."""
    if not cells:
        return pd.DataFrame()
    packed = [recs if isinstance(recs, tuple) else recs.packed() if hasattr(recs, "packed") else pack_records(recs)
              for _, recs in cells]
    sizes = [int(p[3].sum()) for p in packed]
    keys = list(cells[0][0])
    df = pd.DataFrame({
        **{k: np.repeat(np.array([ids[k] for ids, _ in cells], dtype=object), sizes) for k in keys},
        "h": np.concatenate([p[0] for p in packed]).astype(np.int64),
        "level": np.concatenate([np.repeat(p[1], p[3]) for p in packed]),
        "metric": pd.array(np.concatenate([np.repeat(np.array(p[2], dtype=object), p[3]) for p in packed]),
                           dtype="str"),
        "value": np.concatenate([p[4] for p in packed]),
    })
    for k in keys:  # the dtypes `_tidy`'s scalar columns get, so that both give the same bytes
        first = cells[0][0][k]
        df[k] = df[k].astype(np.int64) if isinstance(first, (int, np.integer)) else df[k].astype("str")
    return df


def _tidy(ids: dict, records: list[tuple]) -> pd.DataFrame:
    """One tidy frame (ids, h, level, metric, value) from `_rows` records, built in one go: a
    small DataFrame per metric cost 0.25 s per cell, most of the aggregation of a panel run."""
    sizes = [r[3].size for r in records]
    df = pd.DataFrame({
        "h": np.concatenate([r[0] for r in records]),
        "level": np.repeat(np.array([r[1] for r in records], dtype=float), sizes),
        "metric": pd.array(np.repeat(np.array([r[2] for r in records], dtype=object), sizes), dtype="str"),
        "value": np.concatenate([r[3] for r in records]),
    })
    for i, (key, val) in enumerate(ids.items()):
        df.insert(i, key, val)
    return df


@dataclass(frozen=True)
class StepMetric:
    """A score per step of a cell: `stat(arrays, scale)` gives its (H,) values from the cell's
    `frame_arrays` and naive scale (None: not computed for this cell, e.g. no scale). Pooled,
    it is the mean over cells; in summary.csv its mean over steps sits in the `summary` group's
    columns ("prob" after msis, "point" after the MAE ratios; None: metrics.parquet only).
    Adding such a metric is one entry in `STEP_METRICS`: the cell rows, the pooled rows, the
    summary column and `fanlab list metrics` follow from it."""

    name: str
    doc: str
    stat: Callable[[dict, float | None], np.ndarray | None]
    summary: str | None = None
    #: The same numbers for n cells at once (`fanlab.metrics.batch`): batch(stack, scales) with
    #: the stack's arrays (n, K, H) and scales (n, 1) (NaN: none) gives (n, H); None: `stat`
    #: is called per cell. `scaled`: only cells with a scale have the metric.
    batch: Callable[[dict, np.ndarray], np.ndarray] | None = None
    scaled: bool = False


def _pinball_stack(a: dict) -> np.ndarray:
    y, q = a["y"], a["quantiles"]
    n, k, h = y.shape
    return scores.pinball(y.reshape(n * k, h), q.reshape(n * k, -1, h), a["probs"]).reshape(n, k, h).mean(axis=1)


STEP_METRICS: tuple[StepMetric, ...] = (
    StepMetric("crps", "continuous ranked probability score per h (closed form, samples or quantiles)",
               lambda a, s: a["crps"].mean(axis=0), "prob", lambda a, s: a["crps"].mean(axis=1)),
    StepMetric("scaled_crps", "CRPS scaled by the in-sample (seasonal) naive MAE (as MASE), so series of any "
               "size average", lambda a, s: None if s is None else a["crps"].mean(axis=0) / s, "prob",
               lambda a, s: a["crps"].mean(axis=1) / s, scaled=True),
    StepMetric("pinball", "mean pinball loss over all forecast probabilities per h",
               lambda a, s: scores.pinball(a["y"], a["quantiles"], a["probs"]).mean(axis=0),
               batch=lambda a, s: _pinball_stack(a)),
    StepMetric("mae", "mean absolute error of the point forecast per h", lambda a, s: scores.mae(a["y"], a["mean"]),
               "point", lambda a, s: np.abs(a["y"] - a["mean"]).mean(axis=1)),
    StepMetric("rmse", "root mean squared error of the point forecast per h",
               lambda a, s: scores.rmse(a["y"], a["mean"]), "point",
               lambda a, s: np.sqrt(((a["y"] - a["mean"]) ** 2).mean(axis=1))),
    StepMetric("mase", "MAE scaled by the in-sample (seasonal) naive MAE",
               lambda a, s: None if s is None else scores.mase(a["y"], a["mean"], s), "point",
               lambda a, s: np.abs(a["y"] - a["mean"]).mean(axis=1) / s, scaled=True),
)


def sim_hits(arr: dict, level: float) -> np.ndarray | None:
    """Whether each origin's whole path lies in the simultaneous band of the method's own law at
    `level`, (K,) floats; None without a joint law (or without the band at that level), all NaN
    where the band is infinite everywhere (too few sample paths for the level: no measurement)."""
    paths = arr["paths"]
    if not joint.has_law(paths) or level not in paths["sim"]:
        return None
    lo, hi = paths["sim"][level]
    if np.all(np.isinf(hi - lo)):
        return np.full(lo.shape[0], np.nan)
    return scores.joint_hits(arr["y"], lo, hi).astype(float)


