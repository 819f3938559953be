"""The Python API: the README's example runs as written, and scores like a config's cell."""

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import fanlab
from fanlab.errors import DataError
from fanlab.schema import prob_col

README = Path(__file__).resolve().parents[1] / "README.md"


def _example() -> str:
    text = README.read_text()
    m = re.search(r"## Python API.*?```python\n(.*?)```", text, re.S)
    assert m, "README has no Python API example"
    return m.group(1)


def test_readme_example_runs(capsys):
    code = _example()
    assert len(code.strip().splitlines()) <= 25
    exec(compile(code, "README example", "exec"), {})
    printed = capsys.readouterr().out
    assert all(label in printed for label in ("mine", "naive", "arima", "oracle", "climatology"))


def test_evaluate_matches_the_oracle_on_its_own_process():
    series = fanlab.datasets.load("arma", ar=[0.8], n=1000)[0]

    class Truth:  # the oracle itself, through the protocol: its skill and ratios are exact
        def fit(self, y, train_end, seed):
            self.o = series.oracle().fit(y, train_end, seed)
            return self

        def predict(self, y, origins, horizon, probs):
            return self.o.predict(y, origins, horizon, probs)

    out = fanlab.evaluate(Truth(), series, horizon=10, levels=[0.9])
    s = out.summary.set_index("method")
    assert s.loc["forecaster", "width_ratio"] == pytest.approx(1.0)
    assert s.loc["forecaster", "mae_ratio"] == pytest.approx(1.0)
    assert s.loc["forecaster", "crps_skill"] == pytest.approx(s.loc["oracle", "crps_skill"])
    assert s.loc["climatology", "crps_skill"] == 0.0
    assert set(out.forecasts["method"]) == {"forecaster", "climatology", "oracle"}
    assert np.isfinite(out.metrics["value"]).any()


def test_datasets_names_and_load():
    assert "arma" in fanlab.datasets.names() and "sunspots" in fanlab.datasets.names()
    assert len(fanlab.datasets.load("arma", n=300, n_series=2)) == 2


# --- several arms at once (issue 24, part 3) -------------------------------------------------

ARMA = {"ar": [0.8], "n": 400}


def test_several_arms_named_by_their_keys():
    series = fanlab.datasets.load("arma", **ARMA)[0]
    out = fanlab.evaluate({"naive": "naive", "ar1": {"name": "arima", "params": {"order": [1, 0, 0]}},
                           "mine": series.oracle()}, series, horizon=10, stride=5, levels=[0.9], bootstrap_reps=50)
    assert set(out.forecasts["method"]) == {"naive", "ar1", "mine", "climatology", "oracle"}
    s = out.summary.set_index("method")
    assert s.loc["mine", "coverage"] == s.loc["oracle", "coverage"]  # the oracle under another name
    assert s.loc["ar1", "coverage"] != s.loc["naive", "coverage"]
    with pytest.raises(ValueError, match="'oracle' is the label of a reference"):
        fanlab.evaluate({"oracle": "naive"}, series, horizon=10)


def test_a_method_by_name_scores_as_a_config_run_of_it(tmp_path):
    cfg = {"name": "api_same", "horizon": 10, "stride": 5, "levels": [0.8, 0.95], "seeds": [0],
           "split": {"train": 0.6, "cal": 0.2, "test": 0.2}, "bootstrap": {"reps": 50}, "out": str(tmp_path / "r"),
           "datasets": [{"name": "arma", "params": ARMA}],
           "methods": [{"name": "climatology"}, {"name": "oracle"}, {"name": "naive"},
                       {"name": "arima", "label": "ar1", "params": {"order": [1, 0, 0]}}]}
    res = fanlab.run(cfg, progress=False, figures=False)
    assert not res.failed
    ran = pd.read_parquet(res.out / "metrics.parquet")
    series = fanlab.datasets.load("arma", **ARMA)[0]
    out = fanlab.evaluate({"naive": "naive", "ar1": {"name": "arima", "params": {"order": [1, 0, 0]}}}, series,
                          split=(0.6, 0.2, 0.2), horizon=10, stride=5, levels=[0.8, 0.95], bootstrap_reps=50)
    keys = ["method", "metric", "level", "h"]
    for metric in ("coverage", "width", "crps"):
        a = ran[(ran["series"] == series.name) & (ran["metric"] == metric) & ran["method"].isin(["naive", "ar1"])]
        b = out.metrics[(out.metrics["series"] == series.name) & (out.metrics["metric"] == metric)
                        & out.metrics["method"].isin(["naive", "ar1"])]
        a, b = (x.sort_values(keys)[keys + ["value"]].reset_index(drop=True) for x in (a, b))
        assert len(a) > 0
        pd.testing.assert_frame_equal(a, b, rtol=1e-12, atol=0)


def test_an_external_frame_in_statsforecast_shape_scores_without_a_file():
    n, h, stride = 200, 6, 4
    rng = np.random.default_rng(5)
    y = np.cumsum(rng.normal(size=n)) + 50
    stamps = pd.date_range("2000-01-01", periods=n, freq="MS").as_unit("ns")
    series = pd.Series(y, index=stamps, name="a")
    origins = np.arange(int(0.8 * n) - 1, n - h, stride)
    rows = []
    for t in origins:  # statsforecast cross_validation's columns: unique_id, ds, cutoff, y, <Model>, bands
        sd = np.sqrt(np.arange(1, h + 1))
        rows.append(pd.DataFrame({"unique_id": "a", "ds": stamps[t + 1: t + h + 1], "cutoff": stamps[t],
                                  "y": y[t + 1: t + h + 1], "Naive": y[t], "Naive-lo-95": y[t] - 1.96 * sd,
                                  "Naive-lo-80": y[t] - 1.2816 * sd, "Naive-hi-80": y[t] + 1.2816 * sd,
                                  "Naive-hi-95": y[t] + 1.96 * sd, "Other": y[t], "Other-lo-95": y[t] - 1.0,
                                  "Other-hi-95": y[t] + 1.0}))
    cv = pd.concat(rows, ignore_index=True)
    sf = fanlab.external(cv, model="Naive")
    assert isinstance(sf, fanlab.ExternalForecaster)
    out = fanlab.evaluate({"sf": sf, "naive": "naive"}, series, split=(0.6, 0.2, 0.2), horizon=h, stride=stride,
                          levels=[0.8, 0.95], bootstrap_reps=50)
    got = out.forecasts[out.forecasts["method"] == "sf"].sort_values(["origin", "h"])
    np.testing.assert_array_equal(got["origin"].unique(), origins)
    np.testing.assert_array_equal(got[prob_col(0.975)].to_numpy(), cv["Naive-hi-95"].to_numpy())
    np.testing.assert_array_equal(got[prob_col(0.1)].to_numpy(), cv["Naive-lo-80"].to_numpy())
    with pytest.raises(DataError, match=r"lacks probabilities \[0.25, 0.75\]"):  # a level the frame lacks
        fanlab.evaluate({"sf": sf}, series, horizon=h, stride=stride, levels=[0.5, 0.95], bootstrap_reps=50)


def test_an_unknown_method_name_lists_the_valid_ones_before_anything_is_fitted():
    series = fanlab.datasets.load("arma", **ARMA)[0]

    class Never:
        def fit(self, y, train_end, seed):
            raise AssertionError("fitted before the arms were checked")

        predict = fit

    with pytest.raises(ValueError, match=r"arm 'x': unknown method 'arimaa' \(valid: arima, .*ets.*naive"):
        fanlab.evaluate({"first": Never(), "x": "arimaa"}, series, horizon=10)
    with pytest.raises(ValueError, match=r"arm 'y': arima.params.order"):
        fanlab.evaluate({"y": {"name": "arima", "params": {"order": "big"}}}, series, horizon=10)
    with pytest.raises(TypeError, match="arm 'z': int is no forecaster"):
        fanlab.evaluate({"z": 3}, series, horizon=10)
