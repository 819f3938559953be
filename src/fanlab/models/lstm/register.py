"""The LSTM family's registry entries: the factories that build a network from its params.

Kept apart from `params` (which the networks import) so that no module of the family imports
one that imports it back; torch and the networks are imported inside the factories only, so
the registry stays light for `fanlab list` and `fanlab validate`.
"""

from __future__ import annotations

from fanlab.models.lstm.params import PREDICT_ONLY, EnsembleParams, LSTMParams, NetworkParams
from fanlab.registry import register_method, register_panel


def _cost(seconds: float):
    """Rough seconds of a cell: recursive training and the quantile head cost more."""
    def cost(params: dict) -> float:
        return seconds * (2.0 if params.get("strategy") == "recursive" else 1.0) * (
            1.5 if params.get("head") == "quantile" else 1.0)

    return cost


@register_method("lstm", params=LSTMParams, store_fit=True, predict_only=PREDICT_ONLY, cost=_cost(8.0))
def build_lstm(params: LSTMParams, ctx):
    """LSTM: point, Gaussian or quantile head; direct or recursive; optional MC dropout."""
    from fanlab.models.lstm.forecaster import LSTMForecaster

    _local_only(params)
    return LSTMForecaster(horizon=ctx.horizon, params=params)


@register_method("lstm_ensemble", params=EnsembleParams, store_fit=True, cost=_cost(40.0))
def build_lstm_ensemble(params: EnsembleParams, ctx):
    """Deep ensemble of Gaussian-head LSTMs; predictive = the mixture of the members."""
    from fanlab.models.lstm.ensemble import LSTMEnsemble

    _local_only(params)
    return LSTMEnsemble(horizon=ctx.horizon, params=params)


def _local_only(params: NetworkParams) -> None:
    if params.scope == "global":
        raise ValueError("scope global is fitted across the series of a dataset (a panel method); it cannot "
                         "be built for one series (e.g. as a conformal base)")


@register_panel("lstm", when=lambda p: p.scope == "global")
def build_global_lstm(params: LSTMParams, ctx):
    """One LSTM trained on every series of the dataset (scope: global)."""
    from fanlab.models.lstm.forecaster import LSTMForecaster
    from fanlab.models.lstm.panel import GlobalNetwork

    return _stored(GlobalNetwork(LSTMForecaster(horizon=ctx.horizon, params=params)), "lstm", params, ctx)


@register_panel("lstm_ensemble", when=lambda p: p.scope == "global")
def build_global_lstm_ensemble(params: EnsembleParams, ctx):
    """A deep ensemble whose members are each trained on every series of the dataset (scope: global)."""
    from fanlab.models.lstm.ensemble import LSTMEnsemble
    from fanlab.models.lstm.panel import GlobalNetwork

    return _stored(GlobalNetwork(LSTMEnsemble(horizon=ctx.horizon, params=params)), "lstm_ensemble", params, ctx)


def _stored(model, name: str, params: NetworkParams, ctx):
    """`model` with its fit shared through the run's fit store, where there is one."""
    store = getattr(ctx, "fit_store", None)
    return model if store is None else store.wrap(model, name, params.model_dump(mode="json"), ctx.horizon, panel=True)
