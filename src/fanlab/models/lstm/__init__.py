"""LSTM forecasters: single network (point, Gaussian, quantile heads; MC dropout) and deep ensembles.

The networks need torch; import `fanlab.models.lstm.forecaster` or `.ensemble` for them.
`params` (imported by the registry) stays free of torch.
"""
