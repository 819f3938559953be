"""Per-member early stopping: an ensemble member trains exactly as long as the single model of
its seed, and stops computing when its own patience runs out."""

from __future__ import annotations

import numpy as np
import pytest

from fanlab.models.lstm.ensemble import LSTMEnsemble
from fanlab.models.lstm.forecaster import LSTMForecaster
from fanlab.models.lstm.training import member_seeds

SETTINGS = {"context": 12, "hidden": 5, "epochs": 12, "patience": 1, "batch_size": 16, "lr": 0.03}
H, TRAIN_END = 4, 260
ORIGINS = np.array([270, 281, 290])


def series(n: int = 320) -> np.ndarray:
    rng = np.random.default_rng(5)
    y = np.zeros(n)
    for t in range(1, n):
        y[t] = 0.8 * y[t - 1] + rng.normal()
    return y


@pytest.mark.parametrize("extra", [{}, {"weight_decay": 0.5}, {"lr_decay": 0.8}], ids=["adam", "adamw", "lr_decay"])
def test_members_stop_on_their_own_and_match_their_single_models(extra):
    # decoupled weight decay is elementwise like Adam, and the lr schedule a function of the epoch
    # alone: members stay independent with either
    settings = {**SETTINGS, **extra}
    y = series()
    ens = LSTMEnsemble(horizon=H, members=3, **settings).fit(y, TRAIN_END, seed=2)
    stops = ens.train_.member_epochs
    assert len(set(stops.tolist())) > 1, "the case should have members stopping at different epochs"
    assert ens.train_.epochs == stops.max()
    mean, sd = ens.member_forecasts(y, ORIGINS, H)
    for m, s in enumerate(member_seeds(2, 3)):
        single = LSTMForecaster(horizon=H, head="gaussian", **settings).fit(y, TRAIN_END, seed=s)
        assert single.train_.epochs == stops[m]
        assert single.train_.best_epoch[0] == ens.train_.best_epoch[m]
        one = single.predict(y, ORIGINS, H, np.array([0.5]))
        np.testing.assert_allclose(mean[m], one.mean, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(sd[m], one.sd, rtol=1e-5, atol=1e-5)
    history = np.array(ens.train_.history)  # (epochs, M): NaN once a member has stopped
    for m in range(3):
        assert np.isfinite(history[: stops[m], m]).all() and np.isnan(history[stops[m]:, m]).all()
    info = ens.predict(y, ORIGINS, H, np.array([0.5])).info
    assert info["member_epochs"] == stops.tolist()


def test_weight_decay_shrinks_the_weights_and_zero_is_plain_adam():
    y = series()
    norms = {}
    for wd in (0.0, 0.5):
        f = LSTMForecaster(horizon=H, head="gaussian", **{**SETTINGS, "patience": 12, "weight_decay": wd})
        f.fit(y, TRAIN_END, seed=1)
        norms[wd] = float(sum(p.detach().pow(2).sum() for p in f.net_.parameters()))
    assert norms[0.5] < 0.9 * norms[0.0]
    # weight_decay 0 leaves the params' dump (fit-store keys) as before it existed
    from fanlab.models.lstm.params import LSTMParams

    assert "weight_decay" not in LSTMParams().model_dump()
    assert LSTMParams(weight_decay=0.1).model_dump()["weight_decay"] == 0.1
