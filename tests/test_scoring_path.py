"""One scoring path: `fanlab.evaluate` and a config's cell check and score a forecaster alike.

The forecaster is `tests.scoring_plugin.AR1`; its `fault` breaks it in one of the ways issue 20
lists. Each broken forecast must stop both paths with the same error, naming the method and
the first offending origin and step; an honest one must get the same bytes from both.
"""

import warnings

import numpy as np
import pandas as pd
import pytest

import fanlab
from fanlab.config import parse_config
from fanlab.errors import ForecastError
from fanlab.metrics.evaluate import LookAheadWarning
from fanlab.api import run_config as run
from tests.scoring_plugin import AR1

N, H, STRIDE = 600, 20, 10  # 11 origins: 479, 489, ..., 579
ORIGINS = list(range(479, 580, 10))
PARAMS = {"ar": [0.8], "n": N}


def _series():
    return fanlab.datasets.load("arma", seed=0, **PARAMS)[0]


def _config(methods, name="scoring", seeds=(0,)):
    return parse_config({
        "name": name, "horizon": H, "levels": [0.8, 0.95], "seeds": list(seeds), "stride": STRIDE,
        "split": {"train": 0.6, "cal": 0.2, "test": 0.2}, "plugins": ["tests.scoring_plugin"],
        "datasets": [{"name": "arma", "label": "arma_0", "params": PARAMS}],
        "methods": methods,
    })


def _run(tmp_path, methods, jobs=1, name="scoring"):
    return run(_config(methods, name), jobs=jobs, progress=False, figures=False, out=tmp_path / name)


def _evaluate(fault="none", **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LookAheadWarning)
        return fanlab.evaluate(AR1(fault), _series(), split=(0.6, 0.2, 0.2), horizon=H, levels=[0.8, 0.95],
                               stride=STRIDE, seed=0, **kw)


def test_evaluate_and_a_config_cell_give_byte_identical_metrics(tmp_path):
    res = _run(tmp_path, [{"name": "test_ar1", "label": "forecaster"}, {"name": "climatology"},
                          {"name": "oracle"}])
    assert not res.failed
    from_run = pd.read_parquet(res.out / "metrics.parquet")
    out = _evaluate()
    assert set(out.metrics["method"]) == {"forecaster", "climatology", "oracle"}
    assert len(from_run) == len(out.metrics) > 1000
    pd.testing.assert_frame_equal(out.metrics, from_run, check_exact=True)
    assert out.metrics["value"].to_numpy().tobytes() == from_run["value"].to_numpy().tobytes()
    summary = (res.out / "summary.csv").read_text()
    assert out.summary.to_csv(index=False, float_format="%.6g") == summary


# (fault, what the error must say): the first offending origin and step of each
FAULTS = {
    "nan_mean": f"method 'forecaster': NaN mean at origin {ORIGINS[2]}, step h = 5",
    "nan_quantile": f"method 'forecaster': NaN quantile (p = 0.1) at origin {ORIGINS[1]}, step h = 7",
    "reversed": f"method 'forecaster': quantiles cross along Q at origin {ORIGINS[0]}, step h = 1",
    "three_origins": f"method 'forecaster': forecast for 3 of 11 origins; first missing origin {ORIGINS[3]}",
    "shifted": f"method 'forecaster': forecast origin {ORIGINS[0] + 3} where origin {ORIGINS[0]} was asked for",
    "short": f"method 'forecaster': forecast of {H - 5} steps where the horizon is {H} "
             f"(first offending step h = {H - 4})",
    "long": f"method 'forecaster': forecast of {H + 5} steps where the horizon is {H} "
            f"(first offending step h = {H + 1})",
    "none_returned": "method 'forecaster': predict returned None, not a fanlab.Forecast",
    "standardise_in_place": "method 'forecaster' wrote into y, which is read-only",
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_evaluate_refuses_what_is_not_a_forecast(fault):
    with pytest.raises(ForecastError) as err:
        _evaluate(fault)
    assert str(err.value).startswith(FAULTS[fault])


def test_a_config_cell_refuses_the_same_forecasts_with_the_same_error(tmp_path):
    faults = list(FAULTS)
    # one run, one cell per fault: the message names each cell's label
    methods = [{"name": "test_ar1", "label": f"f-{f}", "params": {"fault": f}} for f in faults]
    zero = {"name": "test_ar1", "label": "zero", "params": {"fault": "zero_h1"}}
    res = _run(tmp_path, methods + [{"name": "naive"}, zero])
    assert sorted(res.failed) == sorted(k for k in res.statuses if "f-" in k)
    for f in faults:
        status = next(v for v in res.statuses.values() if v["method"] == f"f-{f}")
        want = FAULTS[f].replace("method 'forecaster'", f"method 'f-{f}'")
        assert status["error"].startswith("ForecastError: " + want), status["error"]
    assert pd.read_parquet(res.out / "metrics.parquet")["method"].unique().tolist() == ["naive", "zero"]
    summary = pd.read_csv(res.out / "summary.csv").set_index(["method", "level"])
    assert np.isnan(summary.loc[("zero", 0.95), "coverage_h1"])  # n/a in the config's summary too
    assert summary.loc[("zero", 0.95), "note"].startswith(f"coverage over {H - 1} of {H} steps")
    assert pd.isna(summary.loc[("naive", 0.95), "note"])


def test_in_place_standardising_fit_leaves_other_arms_alone_and_jobs_agree(tmp_path):
    """The fault of issue 20: a fit that standardised y in place changed the naive arm's targets
    with -j 1 (one process, one array) but not with -j 2. Now the write raises in that cell."""
    arms = [{"name": "test_ar1", "label": "careless", "params": {"fault": "standardise_in_place"}},
            {"name": "naive"}, {"name": "test_ar1", "label": "ar1"}]
    one = _run(tmp_path, arms, jobs=1, name="j1")
    two = _run(tmp_path, arms, jobs=2, name="j2")
    assert [k for k in one.statuses if "careless" in k] == one.failed == [k for k in two.statuses if "careless" in k]
    assert "wrote into y, which is read-only" in one.statuses[one.failed[0]]["error"]
    m1, m2 = (pd.read_parquet(r.out / "metrics.parquet") for r in (one, two))
    pd.testing.assert_frame_equal(m1, m2, check_exact=True)
    f1 = pd.read_parquet(one.out / "forecasts.parquet")
    values = _series().values
    for method in ("naive", "ar1"):  # every target is the series' own value, untouched
        f = f1[f1["method"] == method]
        assert len(f) == len(ORIGINS) * H
        np.testing.assert_array_equal(f["y"].to_numpy(), values[f["origin"].to_numpy() + f["h"].to_numpy()])


def test_a_step_with_zero_width_at_every_origin_is_na_there():
    out = _evaluate("zero_h1")
    s = out.summary.set_index(["method", "level"]).loc[("forecaster", 0.8)]
    assert np.isnan(s["coverage_h1"]) and s["coverage_h5"] > 0.5
    assert s["note"].startswith(f"coverage over {H - 1} of {H} steps: no interval (zero width at every origin) "
                                "at h = 1")
    f = out.forecasts[out.forecasts["method"] == "forecaster"]
    inside = (f["q_0.1"] <= f["y"]) & (f["y"] <= f["q_0.9"])
    assert s["coverage"] == pytest.approx(inside[f["h"] > 1].mean())  # over the steps with an interval
    joint = inside[f["h"] > 1].groupby(f["origin"]).all().mean()
    assert s["joint_coverage"] == pytest.approx(joint)
    m = out.metrics
    cell = m[(m["method"] == "forecaster") & (m["series"] != "*") & (m["metric"] == "coverage")
             & (m["level"] == 0.8)]
    assert np.isnan(cell.loc[cell["h"] == 1, "value"]).all() and cell.loc[cell["h"] > 1, "value"].notna().all()
    honest = _evaluate().summary.set_index(["method", "level"]).loc[("forecaster", 0.8)]
    assert honest["note"] == "" or pd.isna(honest["note"])
    assert honest["coverage_h1"] >= 0.0


def test_evaluate_warns_when_a_forecaster_reads_the_future():
    # the middle origin is 529; the first origin whose 20 steps reach past it is 519
    with pytest.warns(LookAheadWarning, match=r"method 'forecaster' reads the future: its forecast from "
                                              rf"origin {ORIGINS[4]} moved when only values after origin "
                                              rf"{ORIGINS[5]} changed"):
        fanlab.evaluate(AR1("peek"), _series(), horizon=H, levels=[0.8], stride=STRIDE)
    with warnings.catch_warnings():
        warnings.simplefilter("error", LookAheadWarning)
        fanlab.evaluate(AR1(), _series(), horizon=H, levels=[0.8], stride=STRIDE)  # honest: no warning
        fanlab.evaluate(AR1("peek"), _series(), horizon=H, levels=[0.8], stride=STRIDE, check_look_ahead=False)


def test_the_look_ahead_check_stays_quiet_for_a_forecaster_that_is_not_deterministic():
    class Noisy(AR1):
        def predict(self, y, origins, horizon, probs):
            fc = super().predict(y, origins, horizon, probs)
            return fanlab.gaussian_forecast(fc.origins, fc.mean + np.random.default_rng().normal(size=fc.mean.shape),
                                            fc.sd, probs)

    with warnings.catch_warnings():
        warnings.simplefilter("error", LookAheadWarning)
        fanlab.evaluate(Noisy(), _series(), horizon=H, levels=[0.8], stride=STRIDE)


def test_conditional_coverage_leaves_out_a_step_without_an_interval():
    from fanlab.metrics.skill import state_bins

    values = _series().values  # a bare array: no oracle, so the state is the recent volatility
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LookAheadWarning)
        out = fanlab.evaluate(AR1("zero_h1"), values, horizon=H, levels=[0.8], stride=STRIDE, references=False)
    f = out.forecasts.sort_values(["origin", "h"])
    k = f["origin"].nunique()
    inside = ((f["q_0.1"] <= f["y"]) & (f["y"] <= f["q_0.9"])).to_numpy().reshape(k, H)
    bins = state_bins(f["state"].to_numpy()[::H])
    m = out.metrics.set_index("metric")
    for b, name in enumerate(["low", "mid", "high"]):
        assert m.loc[f"cond_coverage_{name}", "value"] == pytest.approx(inside[bins == b, 1:].mean())
