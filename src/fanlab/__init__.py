"""fanlab: a forecasting-uncertainty lab.

Fits ARIMA and LSTM forecasters (with their interval add-ons) on synthetic series whose true
future distribution is known and on real series, forecasts many steps ahead from rolling
origins, and scores per-step and joint coverage against an oracle.
"""

__version__ = "0.1.0"

from fanlab.forecast import Forecast, level_probs, probs_for_levels

__all__ = ["Forecast", "level_probs", "probs_for_levels", "__version__"]
