"""fanlab: a forecasting-uncertainty lab.

Fits ARIMA and LSTM forecasters (with their interval add-ons) on synthetic series whose true
future distribution is known and on real series, forecasts many steps ahead from rolling
origins, and scores per-step and joint coverage against an oracle.
"""

__version__ = "0.1.0"

import functools
import importlib
import sys
import types

from fanlab import api, datasets
from fanlab.api import Evaluation, evaluate, export
from fanlab.forecast import Forecast, gaussian_forecast, level_probs, probs_for_levels, sample_forecast
from fanlab.models.external import ExternalForecaster
from fanlab.models.external import external_frame as external

__all__ = ["Evaluation", "ExternalForecaster", "Forecast", "datasets", "evaluate", "export", "external",
           "gaussian_forecast", "level_probs", "probs_for_levels", "run", "sample_forecast", "__version__"]


class _Run:
    """`fanlab.run(config, ...)` is `fanlab.api.run`. The run layer is a subpackage of the same
    name: importing it would rebind this attribute to that module (a second `fanlab.run(...)`
    in a notebook then fails), so the attribute stays this callable, whose other attributes are
    the subpackage's (``import fanlab.run.cells as cells`` reads them)."""

    def __init__(self) -> None:
        functools.update_wrapper(self, api.run)

    def __call__(self, *args, **kwargs):
        return api.run(*args, **kwargs)

    def __getattr__(self, name: str):
        return getattr(importlib.import_module("fanlab.run"), name)

    def __repr__(self) -> str:
        return "<function fanlab.run (fanlab.api.run)>"


class _Package(types.ModuleType):
    def __setattr__(self, name: str, value) -> None:
        if name == "run" and isinstance(value, types.ModuleType):
            return  # the subpackage stays in sys.modules["fanlab.run"]
        super().__setattr__(name, value)


run = _Run()
sys.modules[__name__].__class__ = _Package
