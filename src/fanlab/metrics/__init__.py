"""Scores as pure functions on arrays: coverage, width, interval score, CRPS, PIT, bootstrap."""
