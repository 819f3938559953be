"""The engine of a run: a config planned into cells (`runner`), each cell run (`cells`) by an engine
(`execute`, `pool`), fits shared between arms (`fitstore`), inputs hashed (`inputs`) and every
results file written (`results`)."""
