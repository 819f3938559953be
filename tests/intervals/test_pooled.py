"""Conformal bands calibrated on scores pooled over a panel's series (`pool: series`)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fanlab import registry
from fanlab.config import ConfigError, parse_config
from fanlab.data.series import Series
from fanlab.data.splits import make_split
from fanlab.forecast import probs_for_levels
from fanlab.context import PanelContext

H = 3


def _fit(panel, params, levels=(0.8,)):
    splits = tuple(make_split(len(s), 10, 4, 4, horizon=H) for s in panel)  # 2 calibration origins each
    ctx = PanelContext(series=tuple(panel), splits=splits, horizon=H, stride=1, levels=levels)
    model = registry.build_panel_method("conformal", params, ctx)
    ys = [s.values for s in panel]
    model.fit(ys, [sp.train_end for sp in splits], 0)
    origins = [np.array([sp.cal_end - 1]) for sp in splits]
    return model, model.predict(ys, origins, H, probs_for_levels(list(levels))), splits


def test_pooled_split_band_is_the_hand_computed_quantile_of_scaled_scores():
    rng = np.random.default_rng(0)
    panel = [Series(name=f"s{i}", values=np.cumsum(rng.normal(0, 1 + 4 * i, 18)) + 100 * i) for i in range(5)]
    _, fcs, splits = _fit(panel, {"base": {"name": "naive"}, "pool": "series"})
    # by hand: naive mean = last value; score |y[t+h] - y[t]| / s_i, s_i = mean |diff| of train
    scaled, scales = [], []
    for s, sp in zip(panel, splits):
        y = s.values
        s_i = np.mean(np.abs(np.diff(y[: sp.train_end])))
        scales.append(s_i)
        for t in range(sp.train_end - 1, sp.cal_end - H):  # origins with targets inside the cal block
            scaled.append(np.abs(y[t + 1: t + 1 + H] - y[t]) / s_i)
    scaled = np.array(scaled)  # (n, H)
    n = scaled.shape[0]
    assert n == 5 * 2
    k = math.ceil((n + 1) * 0.8)
    Q = np.sort(scaled, axis=0)[k - 1]  # (H,)
    probs = probs_for_levels([0.8])
    lo_j, hi_j = int(np.argmin(np.abs(probs - 0.1))), int(np.argmin(np.abs(probs - 0.9)))
    for s, sp, fc, s_i in zip(panel, splits, fcs, scales):
        last = s.values[sp.cal_end - 1]
        np.testing.assert_allclose(fc.quantiles[0, hi_j], last + Q * s_i, rtol=1e-12)
        np.testing.assert_allclose(fc.quantiles[0, lo_j], last - Q * s_i, rtol=1e-12)
        assert fc.info["n_cal"] == n


def test_too_few_pooled_scores_give_an_infinite_band_with_a_warning():
    rng = np.random.default_rng(1)
    panel = [Series(name=f"s{i}", values=rng.normal(0, 1, 18)) for i in range(2)]  # 4 scores
    _, fcs, _ = _fit(panel, {"base": {"name": "naive"}, "pool": "series"}, levels=(0.95,))
    assert np.isinf(fcs[0].quantiles).any()
    assert any("band set to (-inf, inf)" in w for w in fcs[0].info["warnings"])


def test_pool_series_refuses_methods_it_cannot_pool():
    base = {"name": "m", "datasets": [{"name": "arma"}]}
    for params in ({"method": "joint"}, {"method": "aci"}, {"score": "cqr", "base": {"name": "arima"}}):
        raw = {**base, "methods": [{"name": "conformal", "params": {"base": {"name": "naive"}, "pool": "series",
                                                                   **params}}]}
        with pytest.raises(ConfigError, match="pool: series supports"):
            parse_config(raw)


def test_a_pooled_arm_runs_as_one_cell_and_scores_per_series(tmp_path):
    import pandas as pd
    from fanlab.api import run_config as run

    rng = np.random.default_rng(2)
    rows = [{"series_id": f"u{i}", "t": t, "v": float(v)} for i in range(6)
            for t, v in enumerate(np.cumsum(rng.normal(0, 1 + i, 40)))]
    pd.DataFrame(rows).to_csv(tmp_path / "panel.csv", index=False)
    cfg = parse_config({
        "name": "pooled", "horizon": 4, "protocol": "holdout", "holdout_cal": 8, "levels": [0.8],
        "datasets": [{"name": "csv", "params": {"path": str(tmp_path / "panel.csv"), "value": "v", "time": "t",
                                                 "series_id": "series_id"}}],
        "methods": [{"name": "naive"}, {"name": "conformal", "label": "pooled",
                                         "params": {"base": {"name": "naive"}, "pool": "series"}}]})
    res = run(cfg, root=tmp_path, jobs=1, progress=False, figures=False)
    assert not res.failed
    keys = sorted(res.statuses)
    assert "csv__panel__pooled__s0" in keys and sum(k.endswith("__naive__s0") for k in keys) == 6
    summary = pd.read_csv(tmp_path / "results" / "pooled" / "summary.csv")
    row = summary[summary["method"] == "pooled"].iloc[0]
    assert row["n_series"] == 6 and row["n_origins"] == 6
    assert res.statuses["csv__panel__pooled__s0"]["info"]["n_cal_pooled"] == 6 * 5


def _holdout_fit(panel, params, levels=(0.8,)):
    splits = tuple(make_split(len(s), len(s) - H, 0, H, horizon=H) for s in panel)  # holdout, no cal block
    ctx = PanelContext(series=tuple(panel), splits=splits, horizon=H, stride=1, levels=levels)
    model = registry.build_panel_method("conformal", params, ctx)
    ys = [s.values for s in panel]
    model.fit(ys, [sp.train_end for sp in splits], 0)
    origins = [sp.test_origins(H, 1) for sp in splits]
    return model, model.predict(ys, origins, H, probs_for_levels(list(levels))), splits


def test_calibration_series_give_their_test_scores_and_get_no_forecast():
    from fanlab.intervals.pooled import calibration_members

    assert calibration_members(10, 0.2).tolist() == [4, 9]
    rng = np.random.default_rng(3)
    panel = [Series(name=f"s{i}", values=rng.normal(0, 1, 14)) for i in range(40)]
    params = {"base": {"name": "naive"}, "pool": "series", "cal_series": 0.5, "pool_scale": "none"}
    model, fcs, splits = _holdout_fit(panel, params)
    cal = calibration_members(40, 0.5)
    assert all(fcs[i] is None for i in cal) and sum(f is not None for f in fcs) == 20
    scores = np.array([np.abs(panel[i].values[-H:] - panel[i].values[-H - 1]) for i in cal])  # (20, H)
    k = math.ceil(21 * 0.8)
    Q = np.sort(scores, axis=0)[k - 1]
    probs = probs_for_levels([0.8])
    hi_j = int(np.argmin(np.abs(probs - 0.9)))
    for i, fc in enumerate(fcs):
        if fc is not None:
            np.testing.assert_allclose(fc.quantiles[0, hi_j], panel[i].values[-H - 1] + Q, rtol=1e-12)
    # a test series' test block moves no other test series' forecast
    moved = [Series(name=s.name, values=s.values + (np.r_[np.zeros(14 - H), np.full(H, 99.0)]
                                                  if i == 0 else 0.0)) for i, s in enumerate(panel)]
    _, after, _ = _holdout_fit(moved, params)
    for i in range(1, 40):
        if fcs[i] is not None:
            np.testing.assert_array_equal(after[i].quantiles, fcs[i].quantiles)


def test_a_failing_series_leaves_the_pool_with_a_warning_and_the_others_are_forecast():
    from fanlab.intervals.pooled import PooledConformal

    rng = np.random.default_rng(4)
    panel = [Series(name=f"s{i}", values=rng.normal(0, 1, 18)) for i in range(6)]
    model, fcs, _ = _fit(panel, {"base": {"name": "naive"}, "pool": "series"})
    assert isinstance(model, PooledConformal) and model.info_["n_failed_series"] == 0

    class Broken:
        def __init__(self, member):
            self.member = member

        def __getattr__(self, name):
            return getattr(self.member, name)

        def fit(self, *a, **k):
            raise ValueError("no fit")

    model.members[2] = Broken(model.members[2])
    ys = [s.values for s in panel]
    model.fit(ys, [10] * 6, 0)
    out = model.predict(ys, [np.array([13])] * 6, H, probs_for_levels([0.8]))
    assert out[2] is None and all(out[i] is not None for i in (0, 1, 3, 4, 5))
    assert model.info_["n_failed_series"] == 1 and model.info_["n_cal_pooled"] == 5 * 2
    assert "series 2: base failed" in model.info_["warnings"][0]
