"""Synthetic processes whose true predictive distribution is known, each with its oracle.

Importing this module registers the datasets:

=============  ==========================================================  ============
name           process                                                     oracle
=============  ==========================================================  ============
``arma``       Gaussian ARMA(p, q)                                         exact Kalman
``arima``      Gaussian ARIMA(p, 1, q) with drift                          exact Kalman
``seasonal``   sine cycle + Gaussian ARMA noise                            exact Kalman
``break``      Gaussian ARMA with a level and/or variance break            exact Kalman
``student_t``  ARMA with Student t innovations                             Monte Carlo
``garch``      AR(1) with GARCH(1,1) errors                                Monte Carlo
``setar``      two-regime threshold AR                                     Monte Carlo
=============  ==========================================================  ============

Common params: ``n`` (2000), ``n_series`` (1), ``burn_in`` (500); Monte Carlo processes add
``n_paths`` (1000). Each series carries ``oracle`` (a zero-argument callable returning a
fresh Forecaster) and ``meta`` (the process parameters).
"""

from fanlab.data.processes_common import (
    MonteCarloParams,
    SyntheticParams,
    check_ar,
    check_ma,
    psi_weights,
    series_rng,
)
from fanlab.data.processes_linear import (
    ArimaParams,
    ArmaParams,
    BreakParams,
    SeasonalParams,
    arima,
    arma,
    level_variance_break,
    seasonal,
)
from fanlab.data.processes_nonlinear import (
    GarchOracle,
    GarchParams,
    SetarOracle,
    SetarParams,
    StudentTOracle,
    StudentTParams,
    garch,
    setar,
    student_t,
)

__all__ = [
    "ArimaParams", "ArmaParams", "BreakParams", "GarchOracle", "GarchParams", "MonteCarloParams",
    "SeasonalParams", "SetarOracle", "SetarParams", "StudentTOracle", "StudentTParams",
    "SyntheticParams", "arima", "arma", "check_ar", "check_ma", "garch", "level_variance_break",
    "psi_weights", "seasonal", "series_rng", "setar", "student_t",
]
