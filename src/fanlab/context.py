"""What the registry hands a method factory: the cell (one series, or a panel) it builds for.

Kept apart from `fanlab.models.base` (the Forecaster protocol) so that the data layer, which
the context names, and the models, which the data layer's oracles are, never import each other.
"""

from __future__ import annotations

from dataclasses import dataclass

from fanlab.data.series import Series
from fanlab.data.splits import Split


@dataclass(frozen=True)
class BuildContext:
    """What a method factory may know about the cell it is built for.

    Wrappers (conformal) read the split to find their calibration block; the oracle reads the
    series' true process; seasonal baselines read its period.
    """

    series: Series
    split: Split
    horizon: int
    stride: int
    fit_store: object | None = None  # a `fanlab.engine.fitstore.FitStore`: fits shared between arms
    levels: tuple[float, ...] = ()  # the config's levels (what a file of forecasts must hold)


@dataclass(frozen=True)
class PanelContext:
    """What a panel (global) factory may know: every series of the dataset with its split."""

    series: tuple[Series, ...]
    splits: tuple[Split, ...]
    horizon: int
    stride: int
    fit_store: object | None = None
    levels: tuple[float, ...] = ()

    def member(self, i: int) -> BuildContext:
        """The local `BuildContext` of series i (for building per-series bases)."""
        return BuildContext(series=self.series[i], split=self.splits[i], horizon=self.horizon,
                            stride=self.stride, fit_store=self.fit_store, levels=self.levels)
