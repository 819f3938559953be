"""Series, synthetic processes with their oracles, real series and time splits."""
