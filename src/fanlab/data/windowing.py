"""The window and missing-value handling every real dataset shares (packaged ones in
`fanlab.data.real`, files in `fanlab.data.csv_loader`)."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from fanlab.data.series import Series
from fanlab.errors import DataError

Missing = Literal["error", "interpolate", "ffill"]


class RealParams(BaseModel):
    """Parameters shared by every real dataset: a window and a missing-value policy."""

    model_config = ConfigDict(extra="forbid")

    start: int = Field(0, ge=0, description="first position kept (0-based)")
    length: int | None = Field(None, ge=1, description="points kept from `start`; None: to the end")
    missing: Missing = Field(
        "error",
        description="missing values: 'error' raises; 'interpolate' is linear in position "
        "(ends take the nearest observed value); 'ffill' carries the last value forward "
        "(a gap at the very start takes the first observed value)",
    )


def window_slice(n: int, start: int, length: int | None, what: str) -> slice:
    """The slice ``[start, start + length)`` of `n` points; DataError if it does not fit."""
    stop = n if length is None else start + length
    if start >= n or stop > n:
        raise DataError(
            f"{what}: window start={start}, length={length} does not fit its {n} points"
        )
    return slice(start, stop)


def fill_missing(values: np.ndarray, policy: Missing) -> np.ndarray:
    """Fill NaN in `values` (N,) by `policy` ('interpolate' or 'ffill'); a copy, no NaN left.

    'error' returns the values unchanged; the caller checks and names the culprit.
    """
    values = np.asarray(values, dtype=float)
    bad = np.isnan(values)
    if policy == "error" or not bad.any():
        return values
    good = np.flatnonzero(~bad)
    if good.size == 0:
        raise ValueError("every value is missing")
    pos = np.arange(values.size)
    if policy == "interpolate":
        # np.interp clamps outside [good[0], good[-1]]: ends take the nearest observed value
        return np.interp(pos, good, values[good])
    # index of the last observed point at or before each position; before the first, the first
    last = np.maximum.accumulate(np.where(bad, -1, pos))
    return values[np.where(last < 0, good[0], last)]


def finish(
    name: str,
    values: np.ndarray,
    index: pd.Index | None,
    params: RealParams,
    *,
    period: int | None,
    periods: tuple[int, ...] = (),
    meta: dict,
) -> Series:
    """Apply the missing-value policy to the whole series, then cut the window.

    Filling before cutting means a window shows the same values as the full series. Under
    'error' only gaps inside the window count, so a clean window of a gappy series loads.
    """
    values = np.asarray(values, dtype=float)
    cut = window_slice(values.size, params.start, params.length, f"dataset '{name}'")
    window = values[cut]
    gaps = np.flatnonzero(np.isnan(window))
    if gaps.size and params.missing == "error":
        first = params.start + int(gaps[0])
        when = f", {index[first]}" if index is not None else ""
        raise DataError(
            f"dataset '{name}': {gaps.size} missing values in the window, first at position "
            f"{first}{when}; set params missing: interpolate (or ffill)"
        )
    filled = fill_missing(values, params.missing)[cut]
    meta = {**meta, "missing": params.missing, "n_filled": int(gaps.size), "start": params.start}
    return Series(
        name=name,
        values=filled,
        period=period,
        periods=periods,
        index=None if index is None else index[cut],
        meta=meta,
    )
