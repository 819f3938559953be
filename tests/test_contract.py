"""Every registered method honours the contract: shapes, sorted quantiles, no look-ahead.

A method added to the registry without an entry in SPECS fails `test_every_method_is_covered`,
so no forecaster escapes the look-ahead check.
"""

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fanlab import registry
from fanlab.data.splits import make_split
from fanlab.forecast import probs_for_levels
from fanlab.models.base import BuildContext

H = 12
_EXTERNAL = Path(tempfile.mkdtemp(prefix="fanlab-ext-")) / "forecasts.csv"
TINY_LSTM = {"context": 24, "hidden": 8, "epochs": 2, "batch_size": 64}
SPECS = {
    "oracle": [{}],
    "naive": [{}],
    "climatology": [{}],
    "external": [{"path": str(_EXTERNAL)}],
    "seasonal_naive": [{"period": 7}],
    "arima": [{"order": [1, 0, 1]}, {"order": [1, 1, 0], "refit": True},
              {"order": [1, 0, 0], "fourier": [{"period": 7, "k": 2}]}],
    "conformal": [{"base": {"name": "naive"}, "method": "split"},
                  {"base": {"name": "arima", "params": {"order": [1, 0, 0]}}, "method": "aci", "score": "normalized"},
                  {"base": {"name": "naive"}, "method": "joint"}],
    "lstm": [{**TINY_LSTM, "uncertainty": "none"}, {**TINY_LSTM, "uncertainty": "mc_dropout", "samples": 20},
             {**TINY_LSTM, "head": "gaussian"}, {**TINY_LSTM, "head": "quantile"}],
    "lstm_ensemble": [{**TINY_LSTM, "members": 2}],
}


def _cases():
    for name, variants in SPECS.items():
        for i, params in enumerate(variants):
            yield pytest.param(name, params, id=f"{name}-{i}")


@pytest.fixture(scope="module")
def series():
    s = registry.build_dataset("arma", {"ar": [0.6], "ma": [0.2], "n": 400}, seed=3)[0]
    # forecasts "made elsewhere" for the external method: the oracle's, written to a file
    split = make_split(len(s), 0.5, 0.25, 0.25, horizon=H)
    origins = split.test_origins(H, 20)
    probs = probs_for_levels([0.5, 0.9])
    fc = s.oracle().fit(s.values, split.train_end, 0).predict(s.values, origins, H, probs)
    k, q, h = fc.quantiles.shape
    pd.DataFrame({"origin": np.repeat(origins, q * h), "prob": np.tile(np.repeat(probs, h), k),
                  "h": np.tile(np.arange(1, h + 1), k * q), "value": fc.quantiles.ravel()}).to_csv(_EXTERNAL, index=False)
    return s


def test_every_method_is_covered():
    assert set(registry.entries("method")) <= set(SPECS)


@pytest.mark.parametrize("name, params", list(_cases()))
def test_no_look_ahead_and_shapes(name, params, series):
    if name not in registry.entries("method"):
        pytest.skip(f"{name} not registered")
    split = make_split(len(series), 0.5, 0.25, 0.25, horizon=H)
    ctx = BuildContext(series=series, split=split, horizon=H, stride=5)
    y = series.values.copy()
    probs = probs_for_levels([0.5, 0.9])
    origins = split.test_origins(H, 20)
    model = registry.build_method(name, params, ctx).fit(y, split.train_end, seed=0)
    fc = model.predict(y, origins, H, probs)
    assert fc.origins.tolist() == origins.tolist()
    assert fc.mean.shape == (origins.size, H) and fc.quantiles.shape == (origins.size, probs.size, H)
    np.testing.assert_allclose(fc.probs, probs)
    assert np.all(np.diff(fc.quantiles, axis=1) >= -1e-9), "quantiles cross"
    rng = np.random.default_rng(1)
    for k, t in enumerate(origins):
        y2 = y.copy()
        y2[t + 1:] += rng.normal(scale=5.0, size=y2.size - t - 1)
        fresh = registry.build_method(name, params, ctx).fit(y2, split.train_end, seed=0)
        fc2 = fresh.predict(y2, origins, H, probs)
        # origins up to t saw none of the perturbed values: their forecasts must not move
        np.testing.assert_allclose(fc2.mean[: k + 1], fc.mean[: k + 1], rtol=1e-7, atol=1e-9,
                                   err_msg=f"{name} mean moved")
        np.testing.assert_allclose(fc2.quantiles[: k + 1], fc.quantiles[: k + 1], rtol=1e-7, atol=1e-9,
                                   err_msg=f"{name} quantiles moved")
