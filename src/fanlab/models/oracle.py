"""The registered method `oracle`: the true predictive distribution of a synthetic series.

It reads the oracle of the series it is built for (`Series.oracle`; the oracle classes live
with the processes that know their truth, in `fanlab.data.oracles`); a series without one
(real data) is an error.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from fanlab.context import BuildContext
from fanlab.errors import DataError
from fanlab.forecast import Forecast
from fanlab.registry import register_method


class NoOracleError(DataError, ValueError):
    """The series has no oracle (real data)."""


class Oracle:
    """The oracle of a given series, as a Forecaster (what the method `oracle` builds).

    Parameters
    ----------
    series : Series
        A synthetic series; its ``oracle()`` gives the process' own forecaster.
    n_paths : int or None
        Overrides the number of Monte Carlo paths of a sample-based oracle; exact oracles
        ignore it.
    """

    name = "oracle"

    def __init__(self, series, n_paths: int | None = None):
        self.series = series
        self.n_paths = n_paths

    def fit(self, y: np.ndarray, train_end: int, seed: int) -> "Oracle":
        if self.series.oracle is None:
            raise NoOracleError(_no_oracle_message(self.series))
        forecaster = self.series.oracle()
        if self.n_paths is not None and hasattr(forecaster, "n_paths"):
            forecaster.n_paths = self.n_paths
        self.forecaster_ = forecaster.fit(y, train_end, seed)
        return self

    def predict(self, y: np.ndarray, origins: np.ndarray, horizon: int, probs: np.ndarray) -> Forecast:
        return self.forecaster_.predict(y, origins, horizon, probs)


def _no_oracle_message(series) -> str:
    return (f"series '{series.name}' has no oracle: only synthetic datasets know their true "
            "predictive distribution (real data has none); drop method 'oracle' for this dataset")


class OracleParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    n_paths: int | None = Field(None, ge=10, description="Monte Carlo paths (None: the dataset's n_paths)")


@register_method("oracle", params=OracleParams, cost=0.2)
def _build_oracle(params: OracleParams, ctx: BuildContext) -> Oracle:
    """The true predictive distribution of a synthetic series (exact or Monte Carlo)."""
    if ctx.series.oracle is None:
        raise NoOracleError(_no_oracle_message(ctx.series))
    return Oracle(ctx.series, n_paths=params.n_paths)
