"""Bad data refused cleanly (issue 10): a DataError naming the file and the problem, never
the file's content; integer time indices accepted; overflowing values refused."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from pydantic import ValidationError
from typer.testing import CliRunner

from fanlab import registry
from fanlab.cli import app
from fanlab.data.series import MAX_ABS_VALUE, MAX_SERIES_LENGTH, Series, SeriesError
from fanlab.data.splits import SplitError, make_split
from fanlab.errors import DataError


from tests.data.test_csv import build, write  # noqa: E402  (one CSV helper for both suites)


def test_integer_time_index_is_accepted(tmp_path):
    rows = "\n".join(f"{i},{np.sin(i):.6f}" for i in (3, 0, 2, 1, 4))
    (s,) = build(path=write(tmp_path, "t,y\n" + rows + "\n"), value="y", time="t")
    assert list(s.index) == [0, 1, 2, 3, 4]
    assert np.allclose(s.values, np.sin(np.arange(5)), atol=1e-6)
    assert s.meta["frequency"] is None


def test_integer_time_duplicates_and_freq_are_errors(tmp_path):
    path = write(tmp_path, "t,y\n0,1\n1,2\n1,3\n")
    with pytest.raises(DataError, match=r"d\.csv', column 't', line 4: duplicated time stamp 1"):
        build(path=path, value="y", time="t")
    with pytest.raises(DataError, match="needs date-time stamps"):
        build(path=write(tmp_path, "t,y\n0,1\n1,2\n", "e.csv"), value="y", time="t", freq="D")


def test_values_beyond_the_bound_are_refused(tmp_path):
    path = write(tmp_path, "y\n1.7e308\n-1.7e308\n" + "1\n" * 50)
    with pytest.raises(DataError) as info:
        build(path=path, value="y")
    msg = str(info.value)
    assert "d.csv" in msg and "column 'y'" in msg and "line 2" in msg and "1.7e308" not in msg


def test_huge_csv_with_naive_exits_2_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "t,y\n" + "".join(f"{i},{(-1) ** i * 1e300}\n" for i in range(200)))
    cfg = {"name": "h", "horizon": 10, "datasets": [{"name": "csv", "params": {"path": "d.csv", "value": "y", "time": "t"}}],
           "methods": [{"name": "naive"}]}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    for cmd in ("validate", "run"):
        res = CliRunner().invoke(app, [cmd, "c.yaml"])
        assert res.exit_code == 2, res.output
        assert "c.yaml: datasets[0]: " in res.output and "d.csv" in res.output
        assert res.output.strip().count("\n") == 0
    assert not (tmp_path / "results").exists()


def test_arbitrary_file_content_is_not_echoed(tmp_path):
    secret = "root:$6$saltsalt$c2VjcmV0aGFzaA:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n"
    path = write(tmp_path, secret, "shadow")
    for value in ("y", "root:$6$saltsalt$c2VjcmV0aGFzaA:19000:0:99999:7:::"):
        with pytest.raises(DataError) as info:
            build(path=path, value=value)
        msg = str(info.value)
        assert "shadow" in msg and "daemon" not in msg and "c2VjcmV0" not in msg.split("column")[-1][40:], msg
        assert "\n" not in msg
    # a header of ordinary column names is still listed
    with pytest.raises(DataError, match="'a', 'b'"):
        build(path=write(tmp_path, "a,b\n1,2\n"), value="y")


def test_long_bad_cell_is_not_echoed(tmp_path):
    path = write(tmp_path, "y\n1\n" + "s3cr3t/" * 20 + "\n")
    with pytest.raises(DataError) as info:
        build(path=path, value="y")
    assert "s3cr3t" not in str(info.value) and "line 3" in str(info.value)


@pytest.mark.parametrize("target, words", [("dir", "not a regular file"), ("/dev/zero", "not a regular file")])
def test_csv_path_not_a_file(tmp_path, target, words):
    (tmp_path / "dir").mkdir()
    path = str(tmp_path / target) if target == "dir" else target
    with pytest.raises(DataError, match=words):
        build(path=path, value="y")


def test_non_utf8_csv(tmp_path):
    path = tmp_path / "d.csv"
    path.write_bytes(b"y\n1\n\xff\xfe2\n")
    with pytest.raises(DataError, match="not UTF-8"):
        build(path=str(path), value="y")


def test_series_bounds_are_data_errors():
    with pytest.raises(SeriesError, match="exceed"):
        Series("s", np.array([0.0, MAX_ABS_VALUE * 10]))
    with pytest.raises(DataError, match="non-finite"):
        Series("s", np.array([0.0, np.inf]))
    with pytest.raises(ValueError):  # still a ValueError for older callers
        Series("s", np.array([np.nan]))
    with pytest.raises(DataError, match="more than"):
        Series("s", np.zeros(MAX_SERIES_LENGTH + 1))


@pytest.mark.parametrize(
    "name, params, field",
    [
        ("arma", {"sigma": 1e308}, "sigma"),
        ("arma", {"mean": float("nan")}, "mean"),
        ("arma", {"ar": [1e308]}, "ar"),
        ("arma", {"n": 10**12}, "n"),
        ("arma", {"burn_in": 10**12}, "burn_in"),
        ("student_t", {"n_paths": 10**9}, "n_paths"),
        ("setar", {"delay": 10**9}, "delay"),
        ("garch", {"omega": float("inf")}, "omega"),
    ],
)
def test_synthetic_params_are_bounded(name, params, field):
    with pytest.raises(ValidationError) as info:
        registry.parse_params("dataset", name, params)
    assert info.value.errors()[0]["loc"][0] == field


def test_total_simulated_values_are_bounded():
    with pytest.raises(ValidationError, match="values to simulate"):
        registry.parse_params("dataset", "arma", {"n_series": 10_000, "n": 100_000})


def test_overflowing_simulation_is_a_data_error():
    # a process whose path overflows gives a DataError naming the series, not a traceback
    from fanlab.data.processes_common import SyntheticParams, replicate

    with pytest.raises(DataError, match="series 'boom_0'"):
        replicate("boom", SyntheticParams(n=20, burn_in=0), 0, lambda rng, n: np.full(n, np.inf),
                  oracle=lambda: None, meta={})


@pytest.mark.parametrize("test", [1e-300, 5e-324, 1e-20])
def test_make_split_with_tiny_fractions_terminates(test):
    with pytest.raises(SplitError, match="too small"):
        make_split(1000, 0.6, 0.2, test, horizon=100)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -0.1])
def test_make_split_refuses_non_finite_sizes(bad):
    with pytest.raises(SplitError, match="finite"):
        make_split(1000, bad, 0.2, 0.2, horizon=10)


def test_make_split_needed_length_still_given():
    with pytest.raises(SplitError, match="at least 500 points"):
        make_split(100, 0.6, 0.2, 0.2, horizon=100)
