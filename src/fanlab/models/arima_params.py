"""The parameters of `arima` (what a config may say) and its Fourier regressors.

Kept apart from the forecaster (`fanlab.models.arima`) so that a config is checked, and
`fanlab list` shows every parameter with its default, without reading the fitting code.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, model_validator


class FourierTerm(BaseModel):
    model_config = ConfigDict(extra="forbid")
    period: float = Field(gt=2, description="period in steps, e.g. 24, 168, 365.25")
    k: int = Field(ge=1, description="number of sin/cos pairs")

    @model_validator(mode="after")
    def _k_below_nyquist(self):
        # at j = period / 2 the sine column is identically zero and the cosine alternates
        if 2 * self.k >= self.period:
            raise ValueError(f"k={self.k} needs 2k < period={self.period}")
        return self


class ARIMAGrid(BaseModel):
    """Search space of ``order: auto``."""

    model_config = ConfigDict(extra="forbid")
    max_p: NonNegativeInt = 5
    max_q: NonNegativeInt = 5
    max_order: NonNegativeInt = Field(5, description="stepwise search: at most p + q + P + Q (auto.arima's max.order)")
    d: NonNegativeInt | None = Field(None, description="fixed d; None chooses it by `unit_root`")
    max_d: NonNegativeInt = 2
    seasonal: bool | None = Field(
        None, description="search P, Q at s = the series' period; None: when 2 <= period <= 24")
    max_P: NonNegativeInt = 2
    max_Q: NonNegativeInt = 2
    D: NonNegativeInt | None = Field(None, description="fixed D; None chooses it by `seasonal_test`")
    max_D: NonNegativeInt = 1
    criterion: Literal["aic", "aicc", "bic"] = Field("aicc", description="auto.arima's default ic")


class ARIMAParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    order: tuple[NonNegativeInt, NonNegativeInt, NonNegativeInt] | Literal["auto"] = "auto"
    seasonal_order: tuple[NonNegativeInt, NonNegativeInt, NonNegativeInt, NonNegativeInt | Literal["auto"]] | None = None
    trend: Literal["n", "c", "t", "ct"] | None = Field(
        None, description="None: 'c' if d + D == 0; with d + D == 1, order 'auto' also tries a drift ('t') "
                          "and keeps it if the criterion prefers it; else 'n'")
    refit: bool = False
    grid: ARIMAGrid = Field(default_factory=ARIMAGrid)
    search: Literal["stepwise", "grid"] = Field(
        "stepwise", description="order 'auto': Hyndman-Khandakar stepwise search, or every grid candidate")
    unit_root: Literal["kpss", "adf"] = "kpss"
    seasonal_test: Literal["ocsb", "strength"] = Field(
        "strength", description="D by STL seasonal strength > 0.64 (auto.arima's default 'seas') or the OCSB test")
    alpha: float = Field(0.05, gt=0, lt=1, description="level of the unit-root tests")
    transform: Literal["log", "boxcox"] | None = None
    boxcox_lambda: float | None = Field(None, description="None: MLE on the training block")
    bias_adjust: bool = Field(False, description="mean = predictive mean (else the median)")
    fourier: list[FourierTerm] = Field(default_factory=list)
    maxiter: int | None = Field(None, ge=1, description="optimiser iterations; None: statsmodels' 50")
    approximation: bool | Literal["auto"] = Field(
        "auto", description="order 'auto', stepwise: rank the candidates by conditional-sum-of-squares fits "
                            "(as R's approximation = TRUE), then fit the chosen order exactly; 'auto' (R's "
                            "default): only above 150 training points or a period above 12; ~10x faster "
                            "seasonal searches, the order may differ (a loose exact fit ranks candidates with "
                            "Fourier terms or a trend that is not a mean of the differenced series)")
    strict: bool = Field(False, description="non-convergence raises instead of warning")
    variance: Literal["r", "mle"] = Field(
        "r", description="innovation variance of the bands: 'r' = residual sum of squares over the residual "
                         "degrees of freedom (R's forecast::Arima), 'mle' = statsmodels' maximum-likelihood sigma2")


def fourier_terms(n: int, terms: list[FourierTerm]) -> np.ndarray | None:
    """Regressors sin, cos(2 pi j t / period) for t = 0..n-1, j = 1..k per term; (n, 2 sum k)."""
    if not terms:
        return None
    t = np.arange(n, dtype=float)
    cols = []
    for term in terms:
        for j in range(1, term.k + 1):
            w = 2.0 * math.pi * j * t / term.period
            cols += [np.sin(w), np.cos(w)]
    return np.column_stack(cols)
