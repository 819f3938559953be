"""Global (panel-trained) LSTMs: windows per series, per-series scaling, held-out series for
early stopping, per-series random streams, the fit store, and conformal around them.
(No look-ahead and no cross-series leak: tests/test_contract.py.)"""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from fanlab import registry
from fanlab.data.splits import make_split
from fanlab.engine.fitstore import FitStore
from fanlab.forecast import probs_for_levels
from fanlab.models.lstm.panel import validation_series
from fanlab.context import PanelContext

H = 6
PROBS = probs_for_levels([0.5, 0.9])
SMALL = {"scope": "global", "hidden": 8, "epochs": 3, "context": 8}


def _panel(n_series=5, n=120, lengths=None):
    out = []
    for i in range(n_series):
        s = registry.build_dataset("arma", {"ar": [0.6], "n": (lengths or [n] * n_series)[i]}, seed=i)[0]
        out.append(s)
    return out


def _ctx(panel, store=None):
    splits = tuple(make_split(len(s), 0.6, 0.2, 0.2, horizon=H) for s in panel)
    return PanelContext(series=tuple(panel), splits=splits, horizon=H, stride=4, fit_store=store, levels=(0.5, 0.9))


def _run(name, params, panel, store=None, seed=0):
    ctx = _ctx(panel, store)
    model = registry.build_panel_method(name, params, ctx)
    ys = [s.values for s in panel]
    model.fit(ys, [sp.train_end for sp in ctx.splits], seed)
    origins = [sp.test_origins(H, 4) for sp in ctx.splits]
    return model, model.predict(ys, origins, H, PROBS)


def test_validation_series_are_spread_and_leave_training_series():
    assert validation_series(10, 0.2).tolist() == [2, 7]
    assert validation_series(2, 0.9).tolist() == [1]  # at most n - 1
    assert validation_series(645, 0.1).size == 64
    with pytest.raises(ValueError, match="at least 2 series"):
        validation_series(1, 0.2)


def test_windows_come_from_each_training_block_and_validation_from_held_out_series():
    panel = _panel(lengths=[120, 100, 30, 140, 90])  # series 2: a training block of 18 < 16 + 6: no window
    model, fcs = _run("lstm", {**SMALL, "context": 16, "head": "gaussian", "val_frac": 0.25}, panel)
    ends = [make_split(len(s), 0.6, 0.2, 0.2, horizon=H).train_end for s in panel]
    counts = {i: te - 16 - H + 1 for i, te in enumerate(ends) if te >= 16 + H}
    assert 2 not in counts
    held = model.val_series_
    assert len(held) == 1 and held[0] in counts
    assert model.n_windows_ == (sum(c for i, c in counts.items() if i not in held), counts[held[0]])
    # the short series taught nothing but is still forecast
    assert fcs[2] is not None and np.isfinite(fcs[2].quantiles).all()


def test_shifting_and_scaling_one_series_maps_only_its_forecast():
    """last_value scaling: series i's windows are (y - last) / sd(diff y[:train_end]); mapping
    series 0 to a + b y leaves every window, hence the fit, unchanged, maps series 0's forecast
    the same way and leaves the others' alone."""
    panel = _panel()
    params = {**SMALL, "head": "gaussian", "scaling": "last_value"}
    _, base = _run("lstm", params, panel)
    moved = list(panel)
    from fanlab.data.series import Series

    moved[0] = Series(name=panel[0].name, values=1000.0 + 7.0 * panel[0].values)
    _, after = _run("lstm", params, moved)
    np.testing.assert_allclose(after[0].quantiles, 1000.0 + 7.0 * base[0].quantiles, rtol=1e-5)
    for i in range(1, len(panel)):
        np.testing.assert_allclose(after[i].quantiles, base[i].quantiles, rtol=1e-5, atol=1e-6)


def test_same_seed_same_bytes_and_series_draw_their_own_streams():
    panel = _panel(n_series=4)
    twin = list(panel) + [panel[0]]  # series 4 is series 0 again: same values, same origins
    params = {**SMALL, "head": "gaussian", "uncertainty": "mc_dropout", "dropout_head": 0.3, "samples": 32}
    _, a = _run("lstm", params, twin, seed=3)
    _, b = _run("lstm", params, twin, seed=3)
    for fa, fb in zip(a, b):
        assert fa.samples.tobytes() == fb.samples.tobytes()
    assert not np.array_equal(a[0].samples, a[4].samples)  # independent draws for the twin
    _, c = _run("lstm", params, twin, seed=4)
    assert not np.array_equal(a[0].samples, c[0].samples)


def test_global_ensemble_members_differ_and_mixture_is_wider_than_a_member(tmp_path):
    panel = _panel()
    model, fcs = _run("lstm_ensemble", {**SMALL, "members": 3}, panel)
    mean, sd = model._series(0).member_forecasts(panel[0].values, fcs[0].origins, H)
    assert mean.shape == (3, fcs[0].origins.size, H)
    assert np.ptp(mean, axis=0).max() > 0
    lo, hi = fcs[0].interval(0.9)
    member_width = 2 * 1.6448536269514722 * sd.min(axis=0)
    assert np.all(hi - lo >= member_width - 1e-9)


def test_fit_store_serves_the_global_lstm_and_the_conformal_band_around_it(tmp_path):
    panel = _panel()
    lstm = {**SMALL, "head": "point"}
    store = FitStore(tmp_path / "fits")
    _, alone = _run("lstm", lstm, panel)
    _, stored = _run("lstm", lstm, panel, store)
    _, banded = _run("conformal", {"base": {"name": "lstm", "params": lstm}, "pool": "series"}, panel, store)
    assert (store.misses, store.hits) == (1, 1)
    assert len(list((tmp_path / "fits").glob("panel-lstm-*.pkl"))) == 1
    for a, s, c in zip(alone, stored, banded):
        assert a.mean.tobytes() == s.mean.tobytes()
        np.testing.assert_array_equal(c.mean, a.mean)  # the band sits around the same point forecast
        lo, hi = c.interval(0.9)
        assert np.all(hi > lo)
    store2 = FitStore(tmp_path / "fits")
    _run("lstm", {**lstm, "hidden": 9}, panel, store2)  # a changed spec refits
    assert store2.misses == 1


def test_pooled_conformal_around_a_global_lstm_uses_pooled_quantiles():
    """Hand-computed: series i's band half-width at step h is s_i (its training block's naive
    MAE) times the ceil((n + 1) 0.9)-th smallest of the n pooled |error| / s_j at step h, the
    errors being the global LSTM's at every calibration origin of every series."""
    panel = _panel()
    lstm = {**SMALL, "head": "point"}
    model, fcs = _run("conformal", {"base": {"name": "lstm", "params": lstm}, "pool": "series"}, panel)
    net, splits = model.panel_base, _ctx(panel).splits
    scales, parts = [], []
    for i, (s, sp) in enumerate(zip(panel, splits)):
        x = s.values[: sp.train_end]
        scales.append(np.mean(np.abs(np.diff(x))))
        o = np.arange(sp.train_end - 1, sp.cal_end - H)  # every calibration origin (cal_stride 1)
        fc = net.predict_series(i, s.values[: sp.cal_end], o, H, np.array([0.5]))
        y = s.values[o[:, None] + np.arange(1, H + 1)]
        parts.append(np.abs(y - fc.mean) / scales[-1])
    pooled = np.sort(np.concatenate(parts), axis=0)
    k = int(np.ceil((pooled.shape[0] + 1) * 0.9))
    for i, fc in enumerate(fcs):
        lo, hi = fc.interval(0.9)
        np.testing.assert_allclose((hi - lo) / 2, np.broadcast_to(scales[i] * pooled[k - 1], lo.shape), rtol=1e-9)


def test_config_refuses_a_global_base_without_pooling_and_the_point_mc_head():
    with pytest.raises(ValidationError, match="needs pool: series"):
        registry.parse_params("method", "conformal", {"base": {"name": "lstm", "params": {"scope": "global"}}})
    with pytest.raises(ValidationError, match="noise: true is not supported"):
        registry.parse_params("method", "lstm", {"scope": "global", "uncertainty": "mc_dropout",
                                                 "dropout_head": 0.2})
    assert registry.parse_params("method", "lstm", {"scope": "global"}).context == 6  # short-panel default
    assert registry.parse_params("method", "lstm", {"scope": "global", "context": 30}).context == 30
    assert "scope" not in registry.parse_params("method", "lstm", {}).model_dump()  # local dumps as before


def test_a_series_too_short_to_forecast_gets_none_and_a_warning_the_others_are_forecast():
    panel = _panel(lengths=[120, 100, 30, 140, 90])
    ctx = _ctx(panel)
    model = registry.build_panel_method("lstm", {**SMALL, "context": 20, "head": "gaussian"}, ctx)
    ys = [s.values for s in panel]
    model.fit(ys, [sp.train_end for sp in ctx.splits], 0)
    origins = [sp.test_origins(H, 4) for sp in ctx.splits]
    origins[2] = np.array([10])  # 11 points < context 20
    with pytest.warns(UserWarning, match=r"1 series not forecast.*series index 2"):
        fcs = model.predict(ys, origins, H, PROBS)
    assert fcs[2] is None and all(fcs[i] is not None for i in (0, 1, 3, 4))
