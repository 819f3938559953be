"""The report page without a browser: self-contained, data matches the results files, tables
print n/a and -inf as they should, `fanlab report` and `fanlab compare` work and refuse
folders that hold no results. (The page in a real browser: test_report_browser.py.)"""

from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser

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
        np.testing.assert_allclose(np.array(got["lo"], float), c.lo, rtol=1e-4)
    forecasts = pd.read_parquet(run_dir / "forecasts.parquet")
    pit = data["pit"]["ar1"]["arima"]
    n = forecasts[(forecasts["dataset"] == "ar1") & (forecasts["method"] == "arima")]["pit"].notna().sum()
    assert sum(map(sum, pit)) == n and len(pit) == 20  # one row of bins per step h
    fan = data["fans"]["ar1"]
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
    assert text(arima["coverage [95% CI]"]) == "0.000 [0.000, 0.010]"  # a real 0 stays 0
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
    assert len(data["fans"]["ar1"]["origins"]) == 3 < data["fans"]["ar1"]["n_origins"]
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
    assert set(diff["y"]) == {0.0} and all(lo <= 0 <= hi for lo, hi in zip(diff["lo"], diff["hi"]))
    assert not any(ref.startswith(("http:", "https:", "//")) for _, ref in _parse(out).refs)
    stray = tmp_path / "stray"
    stray.mkdir()
    (stray / "notes.txt").write_text("not a run")
    res = CliRunner().invoke(app, ["compare", str(run_dir), str(stray), "--out", str(tmp_path / "x.html")])
    assert res.exit_code == 2 and str(stray) in res.output and "not a fanlab results folder" in res.output
    assert len(res.output.strip().splitlines()) == 1 and not (tmp_path / "x.html").exists()
    res = CliRunner().invoke(app, ["compare", str(run_dir), str(tmp_path / "missing")])
    assert res.exit_code == 2 and "no such folder" in res.output
