"""The report page without a browser: self-contained, data matches the results files, tables
print n/a and -inf as they should, `fanlab report` and `fanlab compare` work and refuse
folders that hold no results. (The page in a real browser: test_report_browser.py.)"""

from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from fanlab.report import data as report_data
from fanlab.cli import app
from fanlab.report.figure_helpers import coverage_curves
from fanlab.report.page import fmt, summary_table


@pytest.fixture
def run_dir(report_run):
    # a run without figures: --no-figures must still give a working page
    return report_run


class Refs(HTMLParser):
    """Every src / href of the page and the text of every inline script."""

    def __init__(self):
        super().__init__()
        self.refs, self.scripts, self._in = [], [], None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("src", "href"):
            if a.get(key) is not None:
                self.refs.append((tag, a[key]))
        if tag == "script":
            self._in = a.get("type", "text/javascript")
            self.scripts.append([self._in, ""])

    def handle_data(self, data):
        if self._in is not None:
            self.scripts[-1][1] += data

    def handle_endtag(self, tag):
        if tag == "script":
            self._in = None


def _parse(path):
    p = Refs()
    p.feed(path.read_text())
    return p


def _data(path) -> dict:
    blob = next(text for kind, text in _parse(path).scripts if kind == "application/json")

    def no_nan(name):
        raise AssertionError(f"{name} in the page's JSON")

    return json.loads(blob, parse_constant=no_nan)


def test_page_is_self_contained(run_dir):
    from plotly.offline import get_plotlyjs

    page = run_dir / "report.html"
    parsed = _parse(page)
    # nothing loaded from elsewhere: no script, link, img or iframe that names a URL or a file
    assert all(ref.startswith(("data:", "#")) for _, ref in parsed.refs), parsed.refs
    text = page.read_text()
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=['\"]?(https?:)?//", text)
    assert get_plotlyjs() in text  # the bundle of plotly's wheel, embedded whole
    js = [body for kind, body in parsed.scripts if kind == "text/javascript"]
    assert len(js) == 2 and len(js[0]) > 1_000_000 and "Plotly.react" in js[1]
    assert "No static figures" in text  # run with figures=False: nothing to embed, said so


def test_page_data_are_the_results(run_dir):
    data = _data(run_dir / "report.html")
    metrics = pd.read_parquet(run_dir / "metrics.parquet")
    assert data["datasets"] == ["ar1", "ar9"] and data["levels"] == ["0.8", "0.95"]
    assert data["refs"] == {"oracle": "oracle", "climatology": "climatology"}
    run = data["runs"][0]
    for m, c in coverage_curves(metrics, "ar9", 0.8).items():
        got = run["coverage"]["ar9"]["0.8"][m]
        np.testing.assert_allclose(np.array(got["y"], float), c.y, rtol=1e-4)
        # two seeds: a t interval from 2 replications says nothing, so none is drawn
        assert "lo" not in got and got["no_ci"] == "2 replications" and got["n_units"] == 2
    forecasts = pd.read_parquet(run_dir / "forecasts.parquet")
    pit = data["pit"]["ar1"]["arima"]
    n = forecasts[(forecasts["dataset"] == "ar1") & (forecasts["method"] == "arima")]["pit"].notna().sum()
    assert sum(map(sum, pit)) == n and len(pit) == 20  # one row of bins per step h
    assert len(data["fans"]["ar1"]["series"]) == data["fans"]["ar1"]["n_series"] == 1
    fan = next(iter(data["fans"]["ar1"]["by_series"].values()))
    assert "stamps" not in fan  # an undated series: integer positions on the axis
    assert set(fan["methods"]) == {"oracle", "climatology", "naive", "arima"}  # the failed method has none
    assert len(fan["methods"]["arima"]["lo"]["0.95"]) == len(fan["origins"])


def test_tables_print_na_and_infinities():
    summary = pd.DataFrame([
        {"dataset": "d", "method": "point", "level": 0.95, "coverage": np.nan, "coverage_lo": np.nan,
         "coverage_hi": np.nan, "coverage_h1": np.nan, "crps_skill": -np.inf, "crps_skill_h1": 0.25,
         "width_ratio": np.inf, "mae_ratio": np.nan, "cond_coverage_low": np.nan, "note": "no interval"},
        {"dataset": "d", "method": "arima", "level": 0.95, "coverage": 0.0, "coverage_lo": 0.0,
         "coverage_hi": 0.01, "coverage_h1": 0.0, "crps_skill": 0.1, "crps_skill_h1": 0.2,
         "width_ratio": 1.0, "mae_ratio": 1.0, "cond_coverage_low": 0.5, "note": np.nan}])
    headers, rows, attrs = summary_table(summary)
    point, arima = (dict(zip(headers, r)) for r in rows)
    text = lambda c: c[0] if isinstance(c, tuple) else c  # noqa: E731
    assert text(point["coverage [95% CI]"]) == "n/a" and text(point["h1"]) == "n/a"
    assert text(point["skill"]) == "-inf" and text(point["width/oracle"]) == "inf"
    assert text(point["MAE/oracle"]) == "-" and text(point["cov calm"]) == "n/a"
    assert point["note"] == "no interval" and arima["note"] == ""
    assert text(arima["coverage [95% CI]"]) == "0.000 [0.000,\u00a00.010]"  # a real 0 stays 0
    assert point["skill"][1] == "-Infinity"  # sorts below every number
    assert attrs[0] == {"dataset": "d", "level": "0.95", "method": "point"}
    assert fmt(float("nan"), "cov") == "n/a" and fmt(-np.inf) == "-inf" and fmt(12345.6) == "1.235e+04"


def test_report_shows_failed_cells_methods_and_facts(run_dir):
    text = (run_dir / "report.html").read_text()
    assert "ar1__arma_0__seasonal_naive__s0" in text  # failed cells, with their error
    assert "Last value, with empirical h-step error quantiles" in text  # the registry's description
    assert '{&quot;order&quot;: [1, 0, 0]}' in text  # parameters as in config.yaml
    assert "versions" in text and "commit" in text


def test_fans_are_thinned_to_the_budget_and_say_so(run_dir, monkeypatch, tmp_path):
    monkeypatch.setattr(report_data, "FAN_BUDGET", 1)
    monkeypatch.setattr(report_data, "FAN_MIN", 3)
    from fanlab.report.build import make_report

    copy = shutil.copytree(run_dir, tmp_path / "copy")
    make_report(copy)
    data = _data(copy / "report.html")
    fan = next(iter(data["fans"]["ar1"]["by_series"].values()))
    assert len(fan["origins"]) == 3 < fan["n_origins"]
    assert "Origins thinned evenly" in (copy / "report.html").read_text()


def test_cli_report_regenerates_and_refuses_other_folders(run_dir, tmp_path):
    run_dir = shutil.copytree(run_dir, tmp_path / "copy")
    (run_dir / "report.html").unlink()
    res = CliRunner().invoke(app, ["report", str(run_dir)])
    assert res.exit_code == 0, res.output
    assert (run_dir / "report.html").is_file() and (run_dir / "figures" / "coverage_ar1.png").is_file()
    res = CliRunner().invoke(app, ["report", str(tmp_path / "copy" / "figures")])
    assert res.exit_code == 2 and str(tmp_path / "copy" / "figures") in res.output


def test_cli_compare_writes_a_page_and_names_a_bad_folder(run_dir, tmp_path):
    out = tmp_path / "cmp" / "compare.html"
    res = CliRunner().invoke(app, ["compare", str(run_dir), str(run_dir), "--out", str(out)])
    assert res.exit_code == 0, res.output
    data = _data(out)
    assert data["kind"] == "compare" and [r["label"] for r in data["runs"]] == ["res", "res (2)"]
    diff = data["runs"][1]["diff"]["ar1"]["0.95"]["arima"]
    assert set(diff["y"]) == {0.0} and "lo" not in diff  # no CI of a difference from 2 replications
    assert not any(ref.startswith(("http:", "https:", "//")) for _, ref in _parse(out).refs)
    stray = tmp_path / "stray"
    stray.mkdir()
    (stray / "notes.txt").write_text("not a run")
    res = CliRunner().invoke(app, ["compare", str(run_dir), str(stray), "--out", str(tmp_path / "x.html")])
    assert res.exit_code == 2 and str(stray) in res.output and "not a fanlab results folder" in res.output
    assert len(res.output.strip().splitlines()) == 1 and not (tmp_path / "x.html").exists()
    res = CliRunner().invoke(app, ["compare", str(run_dir), str(tmp_path / "missing")])
    assert res.exit_code == 2 and "no such folder" in res.output


# -- real data and many arms (issue 24, parts 6-8) ----------------------------------------------

@pytest.fixture(scope="module")
def csv_dir(tmp_path_factory):
    from tests.report_fixture import csv_run_once

    return csv_run_once(tmp_path_factory)


def test_dated_csv_fans_every_series_with_time_stamps(csv_dir):
    data = _data(csv_dir / "report.html")
    fc = pd.read_parquet(csv_dir / "forecasts.parquet")
    fans = data["fans"]["monthly"]
    assert fans["series"] == ["north", "south"] == sorted(fc["series"].unique())
    for name, fan in fans["by_series"].items():
        cell = fc[(fc["series"] == name) & (fc["seed"] == fan["seed"])]
        st = fan["stamps"]
        # every target's stamp is the stamp the page puts at its position, monthly in between
        for t, when in zip(cell["origin"] + cell["h"], cell["time"]):
            assert st["x"][t - st["t0"]] == when.strftime("%Y-%m-%d")
        assert pd.DatetimeIndex(st["x"], freq="infer").freqstr == "MS"


def test_no_ci_band_from_two_replications_and_the_page_says_why(csv_dir):
    data = _data(csv_dir / "report.html")
    curves = data["runs"][0]["coverage"]["monthly"]["0.95"]
    assert curves and all("lo" not in c and c["no_ci"] == "2 replications" for c in curves.values())
    assert "too few replications for a CI" in (csv_dir / "report.html").read_text()
    # the rule itself: enough units and a narrow band, or a single series' bootstrap
    lo, hi = np.full(5, 0.9), np.full(5, 0.97)
    assert report_data.ci_says_something(lo, hi, 4) and report_data.ci_says_something(lo, hi, 1)
    assert not report_data.ci_says_something(lo, hi, 3)
    assert not report_data.ci_says_something(np.zeros(5), np.ones(5), 30)


def test_coverage_panels_zoom_and_a_far_arm_gets_its_own_scale():
    near = {"arima": {"y": [0.93, 0.95, 0.96]}, "oracle": {"y": [0.94, 0.95, None]},
            "lstm": {"y": [0.88, 0.9, 0.91]}, "climatology": {"y": [0.1, 0.12, 0.3]}}
    z = report_data.coverage_zoom([near], 0.95)
    assert z["range"] == [0.85, 1.02] and set(z["own"]) == {"climatology"} and z["low"] == {"climatology": 0.1}
    # when most arms are low, none is an outlier: one scale for all
    z = report_data.coverage_zoom([{"a": {"y": [0.2]}, "b": {"y": [0.3]}, "c": {"y": [0.9]}}], 0.95)
    assert z["own"] == {} and z["range"][0] < 0.2


def test_sawtooth_is_explained_in_the_caption(csv_dir):
    from fanlab.report.page import sawtooth_note

    text = (csv_dir / "report.html").read_text()
    assert "steps h and h + 3 are scored on nearly the same observations" in text
    assert "origin o&#x27;s target at step h + 3 is origin o + 3&#x27;s target at step h" in text
    assert sawtooth_note(1, 100) == "" and sawtooth_note(100, 100) == ""


def test_many_arms_config_order_headline_and_families(run_dir, tmp_path):
    from fanlab.config import config_to_dict, load_config
    from tests.report_fixture import doctor_many_arms

    out = doctor_many_arms(run_dir, tmp_path / "many")
    data = _data(out / "report.html")
    assert data["datasets"] == ["ar9", "ar1"] and data["start"] == "ar9"  # config order; the headline
    assert data["headline_methods"] == ["arima", "naive"]
    assert data["methods"]["ar9"] == ["oracle", "climatology", "naive", "arima", "seasonal_naive"][:len(data["methods"]["ar9"])]
    assert [g["key"] for g in data["groups"]["ar9"]] == ["references", "statistical"]
    assert data["zoom"]["ar9"]["0.95"]["own"].keys() == {"naive"}
    # the article's 18 arms fall into the four families
    cfg = config_to_dict(load_config(Path(__file__).resolve().parents[1] / "configs/article.yaml"))
    keys = [m.get("label") or m["name"] for m in cfg["methods"]]
    groups = {g["key"]: g["methods"] for g in report_data.method_groups(cfg, keys)}
    assert groups["references"] == ["oracle", "climatology", "naive"]
    assert groups["statistical"] == ["arima", "ets", "conformal_arima", "aci_arima", "bonferroni_arima", "joint_arima"]
    assert groups["lstm_heads"] == ["lstm", "lstm_gauss", "lstm_rec_gauss"]
    assert set(groups["lstm_addons"]) == {"lstm_mc", "lstm_mc_noise", "lstm_ensemble", "conformal_lstm",
                                          "aci_lstm", "joint_lstm"}
    assert sum(map(len, groups.values())) == len(keys)


def test_compare_opens_on_a_dataset_both_runs_have(run_dir, tmp_path):
    from fanlab.report.compare import write_compare

    only9 = shutil.copytree(run_dir, tmp_path / "only9")
    for name in ("summary.csv", "metrics.parquet", "forecasts.parquet"):
        read = pd.read_csv if name.endswith("csv") else pd.read_parquet
        frame = read(only9 / name)
        frame = frame[frame["dataset"] != "ar1"]
        frame.to_csv(only9 / name, index=False) if name.endswith("csv") else frame.to_parquet(only9 / name)
    data = _data(write_compare([run_dir, only9], tmp_path / "cmp.html"))
    assert data["datasets"] == ["ar1", "ar9"] and data["start"] == "ar9"


def test_make_run_says_how_long_before_it_starts(tmp_path):
    import json as _json
    import subprocess
    import sys

    from fanlab.report.eta import estimate

    root = Path(__file__).resolve().parents[1]
    # a fresh clone (no results/ yet: this machine's own results folder must not decide it)
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (fresh / "README.md").write_text((root / "README.md").read_text())
    line = estimate("configs/article.yaml", 2, fresh)
    assert "16 min" in line and "make quickstart" in line and "2 cores" in line
    assert "eta.py $(CONFIG) $(JOBS)" in (root / "Makefile").read_text()
    # a complete earlier run is the measure, scaled to the cores at hand
    (tmp_path / "results" / "article").mkdir(parents=True)
    (tmp_path / "results" / "article" / "manifest.json").write_text(
        _json.dumps({"seconds": 3600, "jobs": 2, "counts": {"done": 507}}))
    cfg = tmp_path / "article.yaml"
    cfg.write_text("name: article\n")
    assert "60 min with --jobs 2" in estimate(str(cfg), 4, tmp_path) and "about 30 min on 4 cores" in estimate(str(cfg), 4, tmp_path)
    out = subprocess.run([sys.executable, str(root / "src/fanlab/report/eta.py"), "configs/quickstart.yaml", "2"],
                         cwd=root, capture_output=True, text=True, check=True).stdout
    assert out.startswith("configs/quickstart.yaml:")
