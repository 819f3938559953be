"""CSV dataset: long and wide round trips, policies, and a DataError for each bad file.

Line numbers in messages count the header as line 1, so the first data row is line 2.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from fanlab import registry
from fanlab.errors import DataError


def build(**params):
    return registry.build_dataset("csv", params, seed=0)


def write(tmp_path, text: str, name: str = "bad.csv") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_long_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    parts = []
    for sid, n in [("b", 40), ("a", 25), ("c", 33)]:
        parts.append(pd.DataFrame({
            "id": sid,
            "when": pd.date_range("2021-03-01", periods=n, freq="D"),
            "y": np.cumsum(rng.standard_normal(n)) * 1e3 + 1 / 3,
        }))
    frame = pd.concat(parts, ignore_index=True)
    # shuffled rows: the loader sorts each series by time
    shuffled = frame.sample(frac=1.0, random_state=1)
    shuffled.to_csv(tmp_path / "long.csv", index=False)
    out = build(path=str(tmp_path / "long.csv"), value="y", time="when", series_id="id", period=7)
    assert [s.name for s in out] == list(pd.unique(shuffled["id"]))
    for s in out:
        want = frame[frame["id"] == s.name]
        np.testing.assert_allclose(s.values, want["y"].to_numpy(), rtol=0, atol=1e-12)
        assert (s.index == pd.DatetimeIndex(want["when"])).all()
        assert s.index.freqstr == "D" and s.period == 7 and s.periods == (7,)
        assert s.meta["series_id"] == s.name


def test_wide_round_trip_with_columns_of_unequal_length(tmp_path):
    rng = np.random.default_rng(1)
    n = 60
    frame = pd.DataFrame({
        "t": pd.date_range("2020-01-01", periods=n, freq="h"),
        "x": rng.standard_normal(n),
        "z": rng.standard_normal(n) * 50,
    })
    frame.loc[:4, "z"] = np.nan  # z starts 5 hours late and stops 3 hours early
    frame.loc[n - 3 :, "z"] = np.nan
    frame.to_csv(tmp_path / "wide.csv", index=False)
    x, z = build(path=str(tmp_path / "wide.csv"), value=["x", "z"], time="t", freq="h")
    assert (x.name, z.name) == ("x", "z")
    np.testing.assert_allclose(x.values, frame["x"].to_numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(z.values, frame["z"].to_numpy()[5 : n - 3], rtol=0, atol=1e-12)
    assert z.index[0] == frame["t"][5] and len(z) == n - 8


def test_single_column_without_time_relative_to_cwd(tmp_path, monkeypatch):
    values = np.random.default_rng(2).standard_normal(30)
    pd.DataFrame({"v": values}).to_csv(tmp_path / "one.csv", index=False)
    monkeypatch.chdir(tmp_path)
    (s,) = build(path="one.csv", value="v", start=4, length=20)
    assert s.name == "v" and s.index is None and s.period is None
    np.testing.assert_allclose(s.values, values[4:24], rtol=0, atol=1e-12)


def test_freq_turns_absent_stamps_into_gaps(tmp_path):
    path = write(tmp_path, "t,v\n2020-01-01,1.0\n2020-01-02,2.0\n2020-01-05,8.0\n")
    with pytest.raises(DataError) as info:
        build(path=path, value="v", time="t", freq="D")
    msg = str(info.value)
    assert "bad.csv" in msg and "column 't'" in msg and "no row for time stamp 2020-01-03" in msg
    assert "2 missing" in msg
    (s,) = build(path=path, value="v", time="t", freq="D", missing="interpolate")
    np.testing.assert_allclose(s.values, [1.0, 2.0, 4.0, 6.0, 8.0], atol=1e-12)
    (f,) = build(path=path, value="v", time="t", freq="D", missing="ffill")
    np.testing.assert_array_equal(f.values, [1.0, 2.0, 2.0, 2.0, 8.0])


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match=r"nowhere\.csv.*not found"):
        build(path=str(tmp_path / "nowhere.csv"), value="v")


def test_missing_column_lists_the_columns_present(tmp_path):
    path = write(tmp_path, "time,value\n2020-01-01,1\n")
    with pytest.raises(DataError) as info:
        build(path=path, value="y", time="time")
    msg = str(info.value)
    assert "bad.csv" in msg and "column 'y'" in msg and "'time', 'value'" in msg


def test_unparseable_time(tmp_path):
    # a blank line (line 3) is skipped but still counted
    path = write(tmp_path, "t,v\n2020-01-01,1\n\n2020-01-02,2\nnot a date,3\n")
    with pytest.raises(DataError) as info:
        build(path=path, value="v", time="t")
    msg = str(info.value)
    assert "bad.csv" in msg and "column 't'" in msg and "line 5" in msg and "'not a date'" in msg


def test_non_numeric_value(tmp_path):
    path = write(tmp_path, "t,v\n2020-01-01,1\n2020-01-02,abc\n")
    with pytest.raises(DataError) as info:
        build(path=path, value="v", time="t")
    msg = str(info.value)
    assert "bad.csv" in msg and "column 'v'" in msg and "line 3" in msg and "'abc'" in msg


def test_duplicated_timestamp_within_a_series(tmp_path):
    text = (
        "id,t,v\na,2020-01-01,1\nb,2020-01-01,5\n"
        "a,2020-01-02,2\nb,2020-01-02,6\na,2020-01-01,3\n"
    )
    path = write(tmp_path, text)
    with pytest.raises(DataError) as info:
        build(path=path, value="v", time="t", series_id="id")
    msg = str(info.value)
    assert "bad.csv" in msg and "column 't'" in msg and "line 6" in msg and "line 2" in msg
    assert "series 'a'" in msg
    # the same stamps in different series are fine
    ok = write(tmp_path, text.rsplit("a,", 1)[0], "ok.csv")
    a, b = build(path=ok, value="v", time="t", series_id="id")
    np.testing.assert_array_equal(b.values, [5.0, 6.0])


def test_missing_value_under_error(tmp_path):
    text = "t,v\n2020-01-01,1\n2020-01-02,2\n2020-01-03,\n2020-01-04,4\n2020-01-05,NA\n"
    path = write(tmp_path, text)
    with pytest.raises(DataError) as info:
        build(path=path, value="v", time="t")
    msg = str(info.value)
    assert "bad.csv" in msg and "column 'v'" in msg and "line 4" in msg and "2 missing" in msg
    (s,) = build(path=path, value="v", time="t", missing="interpolate")
    np.testing.assert_allclose(s.values, [1, 2, 3, 4, 4], atol=1e-12)


def test_missing_series_id_and_off_grid_stamp(tmp_path):
    path = write(tmp_path, "id,v\na,1\n,2\n")
    with pytest.raises(DataError, match=r"bad\.csv', column 'id', line 3: missing series id"):
        build(path=path, value="v", series_id="id")
    path = write(tmp_path, "t,v\n2020-01-01 00:00,1\n2020-01-01 01:30,2\n", "grid.csv")
    with pytest.raises(DataError, match=r"grid\.csv', column 't', line 3: .*not on the freq='h'"):
        build(path=path, value="v", time="t", freq="h")


@pytest.mark.parametrize(
    "params,fragment",
    [
        ({"value": ["a", "b"], "series_id": "id"}, "series_id"),
        ({"value": "a", "freq": "D"}, "freq needs a time column"),
        ({"value": "a", "time": "t", "freq": "fortnightly"}, "fortnightly"),
        ({"value": ["a", "a"]}, "repeated"),
    ],
)
def test_inconsistent_params_fail_validation(params, fragment):
    with pytest.raises(ValidationError, match=fragment):
        registry.parse_params("dataset", "csv", {"path": "x.csv", **params})


def test_daylight_saving_offsets_are_put_on_one_clock(tmp_path):
    # Europe's clocks jump from 02:00 to 03:00 on 2020-03-29: four consecutive hours in UTC
    text = (
        "t,v\n2020-03-29T00:00+01:00,1\n2020-03-29T01:00+01:00,2\n"
        "2020-03-29T03:00+02:00,3\n2020-03-29T04:00+02:00,4\n"
    )
    (s,) = build(path=write(tmp_path, text, "dst.csv"), value="v", time="t", freq="h")
    assert s.index[0] == pd.Timestamp("2020-03-28 23:00", tz="UTC") and s.index.freqstr == "h"
    np.testing.assert_array_equal(s.values, [1, 2, 3, 4])
