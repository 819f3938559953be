"""Forecasters: oracle, baselines, ARIMA, LSTM family."""
