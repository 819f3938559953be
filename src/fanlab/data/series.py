"""`Series`: one univariate series with what the lab needs to know about it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

import numpy as np

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

    def __post_init__(self) -> None:
        values = np.asarray(self.values, dtype=float)
        if values.ndim != 1:
            raise ValueError(f"series '{self.name}': values must be 1-D, got shape {values.shape}")
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            raise ValueError(
                f"series '{self.name}': {bad.size} missing or non-finite values, first at position {bad[0]}"
            )
        object.__setattr__(self, "values", values)
        if self.period is not None and not self.periods:
            object.__setattr__(self, "periods", (int(self.period),))

    def __len__(self) -> int:
        return int(self.values.shape[0])
