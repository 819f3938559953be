"""`Series`: one univariate series with what the lab needs to know about it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

import numpy as np

from fanlab.errors import DataError

#: Largest |value| a series may hold: squares and sums of errors then stay finite.
MAX_ABS_VALUE = 1e100
#: Longest series the lab accepts.
MAX_SERIES_LENGTH = 1_000_000


class DataWarning(UserWarning):
    """Data that loads but may not mean what it seems (irregular time stamps); the run shows it
    on the terminal and keeps it in the manifest."""


class SeriesError(DataError, ValueError):
    """Values a series cannot hold (non-finite, too large, too many); a DataError (exit 2)."""


if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from fanlab.models.base import Forecaster


@dataclass(frozen=True)
class Series:
    """A univariate series.

    Attributes
    ----------
    name : str
        Unique within its dataset (e.g. ``"arma_0"``, ``"co2"``).
    values : (N,) float
        Observations, no NaN.
    period : int or None
        Main seasonal period (seasonal naive, MASE scaling), if any.
    periods : tuple of int
        All seasonal periods (e.g. (24, 168) for hourly demand).
    index : pandas.Index or None
        Time stamps of `values`, where known.
    oracle : callable or None
        ``oracle() -> Forecaster`` giving the true predictive distribution; synthetic series only.
    horizon : int or None
        The series' own forecast horizon (a competition's h: its last `horizon` points are the
        holdout test), read by ``horizon: auto``; None where the dataset has none.
    meta : dict
        Provenance: process parameters, source, licence.
    """

    name: str
    values: np.ndarray
    period: int | None = None
    periods: tuple[int, ...] = ()
    index: "pd.Index | None" = None
    oracle: "Callable[[], Forecaster] | None" = field(default=None, compare=False)
    meta: dict = field(default_factory=dict, compare=False)
    horizon: int | None = None

    def __post_init__(self) -> None:
        try:
            values = np.asarray(self.values, dtype=float)
        except (TypeError, ValueError, OverflowError) as exc:
            raise SeriesError(f"series '{self.name}': values are not numbers ({type(exc).__name__})") from None
        if values.ndim != 1:
            raise SeriesError(f"series '{self.name}': values must be 1-D, got shape {values.shape}")
        if values.size > MAX_SERIES_LENGTH:
            raise SeriesError(f"series '{self.name}': {values.size:,} points, more than the "
                              f"{MAX_SERIES_LENGTH:,} a series may have")
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            raise SeriesError(
                f"series '{self.name}': {bad.size} missing or non-finite values, first at position {bad[0]}"
                " (a simulation that overflowed, or gaps in the data)"
            )
        big = np.flatnonzero(np.abs(values) > MAX_ABS_VALUE)
        if big.size:
            raise SeriesError(
                f"series '{self.name}': {big.size} values exceed {MAX_ABS_VALUE:g} in magnitude, first at "
                f"position {big[0]}; errors and scores of such values overflow: rescale the data"
            )
        object.__setattr__(self, "values", values)
        if self.period is not None and not self.periods:
            object.__setattr__(self, "periods", (int(self.period),))

    def __len__(self) -> int:
        return int(self.values.shape[0])
