"""A cell's forecasts as a long table and back.

`cell_frame` turns one cell's `Forecast` into a table (one row per origin and step: ids, y,
mean, every quantile as ``q_<p>``, pit, crps, the state at the origin); `frame_arrays` reads
such a table (a DataFrame, or a `ColumnFrame` of pyarrow columns) back into the (K, H) and
(K, Q, H) arrays the scores take. The aggregation and `fanlab.evaluate` share both.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fanlab.forecast import Forecast
from fanlab.metrics import joint, scores, skill
from fanlab.schema import prob_col
from fanlab.schema import frame_probs as _probs_of_columns


def targets(y: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
    """Realised values y[t + h] for each origin t and h = 1..H, shape (K, H)."""
    idx = np.asarray(origins)[:, None] + np.arange(1, horizon + 1)[None, :]
    return np.asarray(y, dtype=float)[idx]


def cell_frame(fc: Forecast, y: np.ndarray, ids: dict) -> pd.DataFrame:
    """One row per (origin, h): ids, y, mean, q_<p> for every prob, pit, crps."""
    k, h = fc.mean.shape
    yt = targets(y, fc.origins, h)
    with np.errstate(invalid="ignore", over="ignore"):
        pit = scores.pit(yt, fc)
        crps = scores.crps(yt, fc)
    cols: dict[str, object] = {
        "origin": np.repeat(fc.origins, h),
        "h": np.tile(np.arange(1, h + 1, dtype=np.int64), k),
        "y": yt.ravel(),
        "mean": fc.mean.ravel(),
    }
    for j, p in enumerate(fc.probs):
        cols[prob_col(p)] = fc.quantiles[:, j, :].ravel()
    cols["pit"] = pit.ravel()
    cols["crps"] = crps.ravel()
    # the state at the origin, read from y[: t + 1] only (for conditional calibration)
    cols["state"] = np.repeat(skill.recent_volatility(y, fc.origins), h)
    frame = pd.DataFrame(cols)
    for i, (key, val) in enumerate(ids.items()):
        frame.insert(i, key, val)
    frame["seed"] = frame["seed"].astype(np.int64)
    return frame


def frame_probs(frame: pd.DataFrame) -> np.ndarray:
    return _probs_of_columns(frame.columns)


class ColumnFrame:
    """A cell's table as numpy columns, read the way `frame_arrays` reads a DataFrame (`in`,
    `columns`, `[name].to_numpy()`): a worker of a parallel aggregation scores a cell file's
    columns without building a DataFrame (most of a small cell's time)."""

    class _Column:
        def __init__(self, values: np.ndarray):
            self.values = values

        def to_numpy(self) -> np.ndarray:
            return self.values

        @property
        def iloc(self):
            return self.values

    def __init__(self, cols: dict[str, np.ndarray]):
        self.cols = cols
        self.columns = list(cols)

    def __contains__(self, name) -> bool:
        return name in self.cols

    def __getitem__(self, name):
        return ColumnFrame._Column(self.cols[name])

    def __len__(self) -> int:
        return len(self.cols["h"])

    def sorted(self) -> ColumnFrame:
        """The rows sorted by origin, then h, stable (as `DataFrame.sort_values(kind="stable")`)."""
        order = np.lexsort((self.cols["h"], self.cols["origin"]))
        if np.array_equal(order, np.arange(order.size)):
            return self
        return ColumnFrame({c: v[order] for c, v in self.cols.items()})


def frame_arrays(frame: pd.DataFrame | ColumnFrame) -> dict[str, np.ndarray]:
    """(K, H) arrays of one cell's table (rows sorted by origin, h); quantiles (K, Q, H)."""
    if isinstance(frame, ColumnFrame):
        frame = frame.sorted()
    else:
        frame = frame.sort_values(["origin", "h"], kind="stable")
    h = int(frame["h"].to_numpy().max())
    k = len(frame) // h
    probs = frame_probs(frame)
    out = {
        "origins": frame["origin"].to_numpy()[::h],
        "y": frame["y"].to_numpy().reshape(k, h),
        "mean": frame["mean"].to_numpy().reshape(k, h),
        "pit": frame["pit"].to_numpy().reshape(k, h),
        "crps": frame["crps"].to_numpy().reshape(k, h),
        "probs": probs,
        "state": (frame["state"].to_numpy()[::h] if "state" in frame else np.full(k, np.nan)),
    }
    q = np.stack([frame[prob_col(p)].to_numpy().reshape(k, h) for p in probs], axis=1)
    out["quantiles"] = q
    out["paths"] = joint.frame_paths(frame, k, h)
    return out
