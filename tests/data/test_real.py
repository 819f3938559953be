"""Packaged real datasets: lengths, periods, known values, missing policy, windows, offline."""

from __future__ import annotations

import socket

import numpy as np
import pandas as pd
import pytest

from fanlab import registry
from fanlab.data.windowing import fill_missing
from fanlab.errors import DataError

# name -> (length, period, periods, first time stamp, last time stamp, first value, last value);
# values read by hand from the packages' raw files (co2 first value 316.1 ppmv, etc.)
EXPECTED = {
    "co2": (2284, 52, (52,), "1958-03-29", "2001-12-29", 316.1, None),
    "sunspots": (2820, 132, (132,), "1749-01-01", "1983-12-01", 58.0, 33.4),
    "electricity_hourly": (
        26304, 24, (24, 168), "2011-12-31 23:00+10:00", "2014-12-31 22:00+10:00",
        4382.825174 + 4263.365526, None,
    ),
    "electricity_daily": (
        1095, 7, (7,), "2012-01-01 00:00+10:00", "2014-12-30 00:00+10:00", None, None,
    ),
    "retail_employment": (969, 12, (12,), "1939-01-01", "2019-09-01", 3009.0, 15611.3),
    "taylor": (4032, 48, (48, 336), "2000-06-05 00:00", "2000-08-27 23:30", 22262.0, 23132.0),
    "msft": (7983, None, (), "1986-03-13", "2017-11-10", 0.07533, 83.87),
}


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a connection or resolve a name fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("a loader touched the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def load(name: str, **params):
    if name == "co2":
        params.setdefault("missing", "interpolate")
    (series,) = registry.build_dataset(name, params, seed=0)
    return series


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_full_dataset_offline(name, no_network):
    n, period, periods, first, last, v0, v_last = EXPECTED[name]
    s = load(name)
    assert s.name == name
    assert len(s) == n and len(s.index) == n
    assert s.period == period and s.periods == periods
    assert not np.isnan(s.values).any()
    assert isinstance(s.index, pd.DatetimeIndex) and s.index.is_monotonic_increasing
    assert s.index[0] == pd.Timestamp(first) and s.index[-1] == pd.Timestamp(last)
    if v0 is not None:
        assert s.values[0] == pytest.approx(v0, abs=1e-9)
    if v_last is not None:
        assert s.values[-1] == pytest.approx(v_last, abs=1e-9)
    assert {"source", "licence", "frequency"} <= set(s.meta)
    # the docstring states the verified length, e.g. "Length: 2,284"
    doc = registry.get("dataset", name).factory.__doc__
    assert f"Length: {n:,}" in doc


def test_daily_is_the_sum_of_24_aest_hours():
    hourly = load("electricity_hourly")
    daily = load("electricity_daily")
    # hourly starts at 23:00 on 2011-12-31 (AEST), so day 0 is hours 1..24
    h = hourly.values[1 : 1 + 24 * daily.values.size].reshape(-1, 24)
    np.testing.assert_allclose(daily.values, h.sum(axis=1), rtol=1e-12)
    assert (hourly.index[1::24][: daily.values.size] == daily.index).all()


def test_co2_raises_under_error_naming_dataset_count_and_first_gap():
    with pytest.raises(DataError) as info:
        registry.build_dataset("co2", {}, seed=0)
    msg = str(info.value)
    assert "co2" in msg and "59 missing" in msg
    assert "position 6" in msg and "1958-05-10" in msg
    assert "interpolate" in msg


def test_co2_policies_fill_known_values():
    interp = load("co2", missing="interpolate")
    ffill = load("co2", missing="ffill")
    # raw: position 5 = 316.9, 6 missing, 7 = 317.5; positions 9..12 missing between 8 and 13
    assert interp.values[6] == pytest.approx((316.9 + 317.5) / 2, abs=1e-12)
    assert ffill.values[6] == 316.9
    v8, v13 = interp.values[8], interp.values[13]
    line = v8 + (v13 - v8) * np.arange(1, 5) / 5
    np.testing.assert_allclose(interp.values[9:13], line, atol=1e-12)
    np.testing.assert_array_equal(ffill.values[9:13], np.full(4, ffill.values[8]))
    assert interp.meta["n_filled"] == 59


def test_co2_clean_window_loads_under_error():
    # the last gap is at position 1427; a window after it has nothing to fill
    s = registry.build_dataset("co2", {"start": 1428, "length": 100}, seed=0)[0]
    assert len(s) == 100 and s.index[0] == pd.Timestamp("1958-03-29") + pd.Timedelta(weeks=1428)
    with pytest.raises(DataError, match="1 missing values in the window, first at position 1427"):
        registry.build_dataset("co2", {"start": 1427, "length": 5}, seed=0)


@pytest.mark.parametrize("name", ["taylor", "retail_employment", "co2"])
def test_window_is_a_slice_of_the_full_series(name):
    full = load(name)
    part = load(name, start=10, length=5)
    np.testing.assert_array_equal(part.values, full.values[10:15])
    assert (part.index == full.index[10:15]).all()
    assert part.period == full.period


@pytest.mark.parametrize("start,length", [(4032, None), (4000, 33), (0, 4033)])
def test_window_outside_the_series_is_a_data_error(start, length):
    with pytest.raises(DataError, match=r"taylor.*4032 points"):
        load("taylor", start=start, length=length)


def test_unknown_param_is_rejected():
    with pytest.raises(Exception, match="extra"):
        registry.parse_params("dataset", "msft", {"lenght": 5})


def test_fill_missing_known_answers():
    x = np.array([np.nan, 1.0, np.nan, 3.0, np.nan, np.nan])
    np.testing.assert_array_equal(fill_missing(x, "interpolate"), [1, 1, 2, 3, 3, 3])
    np.testing.assert_array_equal(fill_missing(x, "ffill"), [1, 1, 1, 3, 3, 3])
    assert np.isnan(fill_missing(x, "error")).sum() == 4
