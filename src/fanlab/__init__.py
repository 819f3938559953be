"""fanlab: a forecasting-uncertainty lab.

Fits ARIMA and LSTM forecasters (with their interval add-ons) on synthetic series whose true
future distribution is known and on real series, forecasts many steps ahead from rolling
origins, and scores per-step and joint coverage against an oracle.
"""

__version__ = "0.1.0"

from fanlab import datasets
from fanlab.api import Evaluation, evaluate, export, run
from fanlab.forecast import Forecast, gaussian_forecast, level_probs, probs_for_levels, sample_forecast
from fanlab.models.external import ExternalForecaster
from fanlab.models.external import external_frame as external

__all__ = ["Evaluation", "ExternalForecaster", "Forecast", "datasets", "evaluate", "export", "external",
           "gaussian_forecast", "level_probs", "probs_for_levels", "run", "sample_forecast", "__version__"]
