"""The report and compare pages in a real headless Chromium (no network, fresh profile).

Fails on any JavaScript error or console error, on any request that is not a local file or
data URI, on a plot that is missing or holds the wrong number of traces, and on a selector
that does not redraw. Saves a screenshot of the report (its path is printed). Skipped only
where no Chromium binary is found (Debian: apt-get install chromium chromium-driver).
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from fanlab.report import data as report_data
from fanlab.report.figure_helpers import coverage_curves, pit_counts, reliability_curves, width_curves
from fanlab.report.figures import make_figures
from fanlab.report.build import make_report
from fanlab.report.compare import write_compare
from tests.chromium import DRAWN, Browser, find_chromium

EXE = find_chromium()
pytestmark = pytest.mark.skipif(EXE is None, reason="Chromium not found: install the Debian packages "
                                "chromium and chromium-driver (the browser test needs a chromium binary)")
LEVELS = ["0.8", "0.95"]


@pytest.fixture(scope="module")
def run_dir(report_run, tmp_path_factory):
    # the shared tiny run, with the static figures drawn (the page embeds them)
    copy = shutil.copytree(report_run, tmp_path_factory.mktemp("browser") / "res")
    make_figures(copy)
    make_report(copy)
    return copy


@pytest.fixture(scope="module")
def browser():
    with Browser(EXE, width=1400, height=900) as b:
        yield b


@pytest.fixture(scope="module")
def page(browser, run_dir):
    browser.open(run_dir / "report.html")
    assert browser.evaluate(DRAWN) is True
    return browser


def _js(b, expr):
    return b.evaluate(f"(() => {{ {expr} }})()")


def traces(b, plot: str) -> list[dict]:
    """Name, fill and y values of every trace of a plot div (its plotly data)."""
    return _js(b, f"const d = document.getElementById('plot-{plot}'); if (!d || !d.data) return null;"
                  "return d.data.map((t) => ({name: t.name, fill: t.fill || null, type: t.type, y: t.y}));")


def svg_count(b, plot: str) -> int:
    return _js(b, f"return document.querySelectorAll('#plot-{plot} .main-svg').length;")


def change(b, sel: str, value: str, event: str = "change") -> None:
    _js(b, f"const e = document.querySelector({json.dumps(sel)}); e.value = {json.dumps(value)};"
           f"e.dispatchEvent(new Event({json.dumps(event)})); return true;")
    assert b.evaluate(DRAWN) is True


def no_trouble(b) -> None:
    assert b.errors == [], b.errors
    foreign = [u for u in b.requests if not u.startswith(("file:", "data:", "about:"))]
    assert foreign == [], f"the page asked the network for {foreign}"


def expected_counts(run_dir, dataset: str, level: float) -> dict[str, int]:
    """Traces each plot must hold with every method selected, from the results files."""
    metrics = pd.read_parquet(run_dir / "metrics.parquet")
    forecasts = pd.read_parquet(run_dir / "forecasts.parquet")
    summary = pd.read_csv(run_dir / "summary.csv")
    methods = sorted(summary.loc[summary["dataset"] == dataset, "method"].unique())
    cov = coverage_curves(metrics, dataset, level)
    refs = [r for r in ("oracle", "climatology") if r in cov]
    units = report_data.n_units(metrics, dataset)
    band = {m: c.lo is not None and report_data.ci_says_something(c.lo, c.hi, units.get(m)) for m, c in cov.items()}
    n_cov = sum(1 + sum(r != m for r in refs) + (m in cov) + (m in cov and band[m]) for m in methods)
    fan_cols = [m for m in methods if m != "oracle"]
    return {"coverage": n_cov, "width": len(width_curves(metrics, dataset, level)),
            "reliability": 1 + len(reliability_curves(metrics, dataset)),
            "pit": 2 * len(pit_counts(forecasts, dataset)),
            "fan": len(fan_cols) * (len(LEVELS) + 2 + ("oracle" in methods))}


def test_every_plot_renders_with_the_expected_traces(page, run_dir):
    no_trouble(page)
    state = _js(page, "return {dataset: fanlab.state.dataset, level: fanlab.state.level};")
    assert state == {"dataset": "ar1", "level": "0.95"}
    want = expected_counts(run_dir, "ar1", 0.95)
    for plot, n in want.items():
        got = traces(page, plot)
        assert got is not None, f"plot {plot} not drawn"
        assert svg_count(page, plot) >= 1, f"plot {plot} has no plotly SVG"
        assert len(got) == n, f"plot {plot}: {len(got)} traces, expected {n}"
    # the numbers drawn are the results' numbers
    metrics = pd.read_parquet(run_dir / "metrics.parquet")
    arima = coverage_curves(metrics, "ar1", 0.95)["arima"]
    line = next(t for t in traces(page, "coverage") if t["name"] == "arima" and not t["fill"])
    np.testing.assert_allclose(np.array(line["y"], float), arima.y, rtol=1e-4)


def test_selectors_redraw(page, run_dir):
    before = traces(page, "coverage")
    change(page, "#sel-level", "0.8")
    after = traces(page, "coverage")
    assert after != before
    nominal = next(t for t in after if t["name"] == "nominal")
    assert nominal["y"] == [0.8, 0.8]
    assert len(after) == expected_counts(run_dir, "ar1", 0.8)["coverage"]

    fan0 = traces(page, "fan")
    change(page, "#sel-origin", "0", event="input")
    assert traces(page, "fan") != fan0

    pit0 = traces(page, "pit")
    change(page, "#sel-pit-h", "1")
    assert traces(page, "pit") != pit0

    cov1 = traces(page, "coverage")
    change(page, "#sel-dataset", "ar9")
    assert traces(page, "coverage") != cov1
    assert len(traces(page, "fan")) == expected_counts(run_dir, "ar9", 0.8)["fan"]
    shown = _js(page, "return Array.from(document.querySelectorAll('#sec-summary tbody tr'))"
                      ".filter((r) => !r.hidden).map((r) => r.dataset.dataset + '/' + r.dataset.level);")
    assert shown and set(shown) == {"ar9/0.8"}

    # unticking a method removes its panel everywhere
    n_before = len(traces(page, "coverage"))
    _js(page, "const cb = document.querySelector('#sel-methods-list input[value=naive]'); cb.checked = false;"
              "cb.dispatchEvent(new Event('change')); return true;")
    assert page.evaluate(DRAWN) is True
    assert len(traces(page, "coverage")) < n_before
    assert all(t["name"] != "naive" for t in traces(page, "pit"))
    no_trouble(page)


def test_summary_sorts_on_a_header_click(page):
    keys = _js(page, """
        const th = Array.from(document.querySelectorAll('#sec-summary th')).find((h) => h.textContent === 'CRPS');
        const col = Array.from(th.parentNode.children).indexOf(th);
        th.click();
        return Array.from(document.querySelectorAll('#sec-summary tbody tr')).filter((r) => !r.hidden)
          .map((r) => parseFloat(r.cells[col].dataset.sort));""")
    assert len(keys) >= 2 and keys == sorted(keys)


def test_screenshot_is_saved(page, tmp_path_factory):
    change(page, "#sel-dataset", "ar1")
    path = page.screenshot(tmp_path_factory.mktemp("artifacts") / "report.png")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 50_000
    print(f"\nreport screenshot: {path}")
    no_trouble(page)


def test_compare_page_renders(browser, run_dir, tmp_path):
    out = write_compare([run_dir, run_dir], tmp_path / "compare.html")
    browser.errors.clear()
    browser.open(out)
    assert browser.evaluate(DRAWN) is True
    no_trouble(browser)
    summary = pd.read_csv(run_dir / "summary.csv")
    methods = sorted(summary.loc[summary["dataset"] == "ar1", "method"].unique())
    cov = traces(browser, "coverage")
    assert len(cov) == len(methods) * (1 + 2)  # nominal + a line per run (no band: 2 replications)
    diff = traces(browser, "difference")
    lines = [t for t in diff if t["name"] != "no difference" and not t["fill"]]
    assert len(lines) == len(methods) and all(set(t["y"]) <= {0.0, None} for t in lines)  # a run minus itself
    for plot in ("width", "reliability"):
        assert traces(browser, plot) and svg_count(browser, plot) >= 1
    before = traces(browser, "coverage")
    change(browser, "#sel-level", "0.8")
    assert traces(browser, "coverage") != before
    no_trouble(browser)


# -- real data and many arms (issue 24, parts 6-8) ----------------------------------------------

@pytest.fixture(scope="module")
def csv_page(browser, tmp_path_factory):
    """The dated two-series CSV run, one row given a long note, opened in the browser."""
    from tests.report_fixture import csv_run_once

    copy = shutil.copytree(csv_run_once(tmp_path_factory), tmp_path_factory.mktemp("csv") / "res")
    summary = pd.read_csv(copy / "summary.csv")
    summary["note"] = summary["note"].astype(object)
    summary.loc[(summary["level"] - 0.95).abs() < 1e-9, "note"] = "a long note that says a great deal about this arm " * 6
    summary.to_csv(copy / "summary.csv", index=False)
    make_report(copy)
    browser.errors.clear()
    browser.open(copy / "report.html")
    assert browser.evaluate(DRAWN) is True
    return browser


def test_csv_report_fits_1400px_draws_no_ci_and_dates_the_fans(csv_page):
    b = csv_page
    no_trouble(b)
    size = _js(b, """const box = document.querySelector('#sec-summary .table-box');
        const rows = Array.from(box.querySelectorAll('tbody tr')).filter((r) => !r.hidden);
        return {box: box.scrollWidth, inside: box.clientWidth, doc: document.documentElement.scrollWidth,
                tallest: Math.max(...rows.map((r) => r.getBoundingClientRect().height)),
                heads: Array.from(box.querySelectorAll('th')).map((t) => t.textContent),
                tip: rows.map((r) => r.lastChild.title).find((t) => t) || ''};""")
    assert size["box"] <= size["inside"] and size["doc"] <= 1400, size  # every column in view
    assert {"cov calm", "cov volatile", "note"} <= set(size["heads"])
    assert size["tallest"] < 60 and size["tip"].startswith("a long note")  # cut to one line, whole in the tooltip
    cov = traces(b, "coverage")
    assert cov and not any(t["fill"] for t in cov)  # 2 replications: no band
    notes = _js(b, "return document.getElementById('plot-coverage').layout.annotations.map((a) => a.text);")
    assert any("too few replications for a CI" in n for n in notes)
    assert _js(b, "return Array.from(document.querySelectorAll('#sel-series option')).map((o) => o.value);") == ["north", "south"]
    axis = _js(b, "return document.getElementById('plot-fan').layout.xaxis;")
    ticks = _js(b, "return Array.from(document.querySelectorAll('#plot-fan .xtick text')).map((t) => t.textContent);")
    assert axis["type"] == "date" and ticks and all(any(c.isalpha() for c in t) or len(t) == 4 for t in ticks), ticks
    north = traces(b, "fan")
    change(b, "#sel-series", "south")
    assert traces(b, "fan") != north and "series south" in _js(b, "return document.getElementById('fan-origin-label').textContent;")
    no_trouble(b)


def test_many_arms_open_on_the_headline_with_family_toggles(browser, run_dir, tmp_path):
    from tests.report_fixture import doctor_many_arms

    out = doctor_many_arms(run_dir, tmp_path / "many")
    browser.errors.clear()
    browser.open(out / "report.html")
    assert browser.evaluate(DRAWN) is True
    no_trouble(browser)
    state = _js(browser, "return {ds: fanlab.state.dataset, m: Array.from(fanlab.state.methods).sort(),"
                         "opts: Array.from(document.querySelectorAll('#sel-dataset option')).map((o) => o.value)};")
    assert state == {"ds": "ar9", "m": ["arima", "naive"], "opts": ["ar9", "ar1"]}
    # naive (coverage 0.1) has its own scale; arima's panel is not stretched down to it
    layout = _js(browser, "const l = document.getElementById('plot-coverage').layout;"
                          "return [l.yaxis.range, l.yaxis2.range, l.annotations.map((a) => a.text)];")
    assert layout[1][0] > 0.3 and layout[0][0] < 0.1 and "naive (own scale)" in layout[2]
    # a family's box ticks its whole group
    _js(browser, "const g = document.querySelector('#sel-methods-list input.group[data-group=references]');"
                 "g.checked = true; g.dispatchEvent(new Event('change')); return true;")
    assert browser.evaluate(DRAWN) is True
    shown = {t["name"] for t in traces(browser, "width")}
    assert {"oracle", "climatology", "naive", "arima"} <= shown
    ratio = _js(browser, "return document.getElementById('plot-width').layout.yaxis.title.text;")
    assert ratio == "width / oracle width"
    no_trouble(browser)


def test_compare_page_opens_on_a_shared_dataset(browser, run_dir, tmp_path):
    only9 = shutil.copytree(run_dir, tmp_path / "only9")
    for name in ("summary.csv", "metrics.parquet", "forecasts.parquet"):
        if name.endswith("csv"):
            f = pd.read_csv(only9 / name)
            f[f["dataset"] != "ar1"].to_csv(only9 / name, index=False)
        else:
            f = pd.read_parquet(only9 / name)
            f[f["dataset"] != "ar1"].to_parquet(only9 / name)
    out = write_compare([run_dir, only9], tmp_path / "compare.html")
    browser.errors.clear()
    browser.open(out)
    assert browser.evaluate(DRAWN) is True
    assert _js(browser, "return fanlab.state.dataset;") == "ar9"
    diff = [t for t in traces(browser, "difference") if t["name"] != "no difference" and not t["fill"]]
    assert diff  # the difference panels hold lines
    no_trouble(browser)
