"""Interval methods that wrap any fitted forecaster (conformal)."""
