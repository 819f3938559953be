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
from fanlab.metrics.evaluate import readonly
from fanlab.context import BuildContext

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
    "ets": [{}],
    "conformal": [{"base": {"name": "naive"}, "method": "split"},
                  {"base": {"name": "arima", "params": {"order": [1, 0, 0]}}, "method": "aci", "score": "normalized"},
                  {"base": {"name": "naive"}, "method": "joint"}],
    "lstm": [{**TINY_LSTM, "uncertainty": "none"}, {**TINY_LSTM, "uncertainty": "mc_dropout", "samples": 20},
             {**TINY_LSTM, "head": "gaussian"}, {**TINY_LSTM, "head": "quantile"},
             {**TINY_LSTM, "strategy": "recursive", "uncertainty": "residual_paths", "path_dropout": True,
              "samples": 20}],
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
    """Every method fanlab ships is in SPECS (methods that other tests register from their own
    plugin modules, e.g. tests.killer_plugin, are not fanlab's: whatever order tests run in)."""
    shipped = {name for name, e in registry.entries("method").items()
               if getattr(e.factory, "__module__", "").startswith("fanlab.")}
    assert shipped <= set(SPECS)
    assert {"arima", "lstm", "conformal", "oracle"} <= shipped  # the check sees the real registry


@pytest.mark.parametrize("name, params", list(_cases()))
def test_no_look_ahead_and_shapes(name, params, series):
    if name not in registry.entries("method"):
        pytest.skip(f"{name} not registered")
    split = make_split(len(series), 0.5, 0.25, 0.25, horizon=H)
    ctx = BuildContext(series=series, split=split, horizon=H, stride=5)
    y = readonly(series.values)  # as cells and fanlab.evaluate hand it: a write raises
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
        y2 = readonly(y2)
        fresh = registry.build_method(name, params, ctx).fit(y2, split.train_end, seed=0)
        fc2 = fresh.predict(y2, origins, H, probs)
        # origins up to t saw none of the perturbed values: their forecasts must not move
        np.testing.assert_allclose(fc2.mean[: k + 1], fc.mean[: k + 1], rtol=1e-7, atol=1e-9,
                                   err_msg=f"{name} mean moved")
        np.testing.assert_allclose(fc2.quantiles[: k + 1], fc.quantiles[: k + 1], rtol=1e-7, atol=1e-9,
                                   err_msg=f"{name} quantiles moved")


# ---------------------------------------------------------------- global (panel) methods
#: Methods fitted across every series of a dataset (`registry.register_panel`), with the
#: params that make them global. A panel method missing here fails the coverage test below.
PANEL_SPECS = {
    "conformal": [{"base": {"name": "naive"}, "pool": "series"},
                  {"base": {"name": "arima", "params": {"order": [1, 0, 0]}}, "pool": "series",
                   "method": "bonferroni", "score": "signed", "pool_scale": "none"},
                  {"base": {"name": "lstm", "params": {"scope": "global", "hidden": 8, "epochs": 2}}, "pool": "series"}],
    "lstm": [{"scope": "global", "head": "gaussian", "hidden": 8, "epochs": 2},
             {"scope": "global", "head": "quantile", "uncertainty": "mc_dropout", "dropout_head": 0.2, "hidden": 8,
              "epochs": 2, "samples": 16, "scaling": "window"}],
    "lstm_ensemble": [{"scope": "global", "members": 2, "hidden": 8, "epochs": 2, "scaling": "global"}],
}


def test_every_panel_method_is_covered():
    registry.entries("method")
    assert set(registry._PANEL) <= set(PANEL_SPECS)


def _panel(n_series=4, n=160, seed=0):
    from fanlab.data.series import Series

    rng = np.random.default_rng(seed)
    out = []
    for i in range(n_series):  # series of very different size: pooling must scale them
        s = registry.build_dataset("arma", {"ar": [0.5], "n": n, "sigma": 1.0 + 3 * i}, seed=seed + i)[0]
        out.append(Series(name=f"s{i}", values=s.values + 10 * i + rng.normal(0, 0.1)))
    return out


def _panel_forecasts(name, params, panel):
    from fanlab.context import PanelContext

    splits = tuple(make_split(len(s), 0.5, 0.25, 0.25, horizon=H) for s in panel)
    ctx = PanelContext(series=tuple(panel), splits=splits, horizon=H, stride=10, levels=(0.5, 0.9))
    model = registry.build_panel_method(name, params, ctx)
    ys = [readonly(s.values) for s in panel]
    model.fit(ys, [sp.train_end for sp in splits], 0)
    origins = [sp.test_origins(H, 10) for sp in splits]
    return model.predict(ys, origins, H, probs_for_levels([0.5, 0.9])), origins, splits


@pytest.mark.parametrize("name, params", [pytest.param(n, p, id=f"{n}-{i}") for n, v in PANEL_SPECS.items()
                                          for i, p in enumerate(v)])
def test_panel_methods_neither_look_ahead_nor_leak_across_series(name, params):
    """Perturbing everything after an origin of series 0, or the whole test block of every
    other series, leaves series 0's forecast at that origin unchanged."""
    from fanlab.data.series import Series

    panel = _panel()
    assert registry.is_panel(name, params)
    base, origins, splits = _panel_forecasts(name, params, panel)
    t = int(origins[0][len(origins[0]) // 2])
    rng = np.random.default_rng(1)
    moved = []
    for i, s in enumerate(panel):
        y = s.values.copy()
        cut = t + 1 if i == 0 else splits[i].cal_end  # series 0: its future; others: their test block
        y[cut:] += rng.normal(0, 50, y.size - cut)
        moved.append(Series(name=s.name, values=y))
    after, _, _ = _panel_forecasts(name, params, moved)
    k = int(np.flatnonzero(origins[0] == t)[0])
    for j in range(k + 1):  # every origin of series 0 up to t
        np.testing.assert_array_equal(after[0].quantiles[j], base[0].quantiles[j])
        np.testing.assert_array_equal(after[0].mean[j], base[0].mean[j])
