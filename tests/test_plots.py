"""Figures from a fake results directory whose every number is known in advance."""

from __future__ import annotations

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest
import yaml
from scipy.stats import norm

from fanlab.errors import DataError
from fanlab.report.figure_helpers import (clip_band, fan_limits, pick_origins, pit_counts,
                                 reliability_curves, truth_by_time, width_curves)
from fanlab.report.figures import (coverage_curves, coverage_figure, fan_figure, make_figures,
                          width_figure)

DATASETS = ["ar1", "air passengers"]
METHODS = ["arima", "lstm", "oracle"]
LEVELS = [0.5, 0.8]
FINE = [round(0.05 * i, 2) for i in range(1, 20)]
H = 20
ORIGINS = [100, 110, 120, 130, 140]
SERIES = ["s0", "s1"]
SEEDS = [0, 1]
SLOPE = {"arima": 0.0, "lstm": 0.3, "oracle": 0.0, "conformal": 0.0}
SD = {"arima": 1.0, "lstm": 0.4, "oracle": 1.0, "conformal": 1.0}


def truth(dataset: str, t):
    """y at time t, different per dataset so a mix-up shows."""
    shift = 0.0 if dataset == "ar1" else 5.0
    return np.sin(np.asarray(t) / 5.0) + 0.01 * np.asarray(t) + shift


def coverage_value(dataset, method, level, h):
    """Known pooled coverage: falls linearly in h for the lstm, a dataset offset of 0.01."""
    return level - SLOPE[method] * level * h / H + (0.01 if dataset == "ar1" else 0.0)


def reliability_value(dataset, method, level):
    return level * (1.0 - SLOPE[method] / 2) + (0.002 if dataset == "ar1" else 0.0)


def width_value(method, level, h):
    return 2 * norm.ppf((1 + level) / 2) * SD[method] * np.sqrt(h)


def pit_values(method, n):
    """arima: uniform over the 10 bins; lstm: half in the first bin, half in the last."""
    if method == "lstm":
        return np.where(np.arange(n) % 2 == 0, 0.0, 1.0)  # edges land in the end bins
    return (np.arange(n) % 10) / 10 + 0.05


def forecasts_frame(methods, inf_method=None):
    rows = []
    for d in DATASETS:
        for s in SERIES:
            for m in methods:
                for seed in SEEDS:
                    for o in ORIGINS:
                        h = np.arange(1, H + 1)
                        y = truth(d, o + h)
                        mean = y + 0.5
                        frame = {"dataset": d, "series": s, "method": m, "seed": seed,
                                 "origin": o, "h": h, "y": y, "mean": mean}
                        for lv in LEVELS:
                            half = norm.ppf((1 + lv) / 2) * SD[m] * np.sqrt(h)
                            lo, hi = mean - half, mean + half
                            if m == inf_method:
                                lo, hi = np.where(h > 5, -np.inf, lo), np.where(h > 5, np.inf, hi)
                            frame[f"lo_{lv:g}"], frame[f"hi_{lv:g}"] = lo, hi
                        frame["crps"] = np.abs(y - mean)
                        rows.append(pd.DataFrame(frame))
    df = pd.concat(rows, ignore_index=True)
    for m in methods:
        sel = df["method"] == m
        df.loc[sel, "pit"] = pit_values(m, int(sel.sum()))
    return df.astype({"seed": "int64", "origin": "int64", "h": "int64"})


def metrics_frame(methods, inf_method=None):
    rows = []

    def add(d, m, h, level, metric, value, series="*", seed=-1):
        rows.append(dict(dataset=d, series=series, method=m, seed=seed, h=h, level=level,
                         metric=metric, value=value))

    for d in DATASETS:
        for m in methods:
            for lv in LEVELS:
                for h in range(0, H + 1):
                    # over all steps (h = 0) the config level sits on the reliability curve
                    cov = coverage_value(d, m, lv, h) if h else reliability_value(d, m, lv)
                    add(d, m, h, lv, "coverage", cov)
                    add(d, m, h, lv, "coverage_lo", cov - 0.03)
                    add(d, m, h, lv, "coverage_hi", min(cov + 0.03, 1.0))
                    # per-cell rows with wrong numbers: they must never reach a figure
                    add(d, m, h, lv, "coverage", 0.0, series="s0", seed=0)
                    if h:
                        w = np.inf if (m == inf_method and h > 5) else width_value(m, lv, h)
                        add(d, m, h, lv, "width", w)
                        add(d, m, h, lv, "interval_score", w * 1.5)
                add(d, m, 0, lv, "joint_coverage", lv / 2)
            for lv in FINE:
                add(d, m, 0, lv, "coverage", reliability_value(d, m, lv))
            # the same config level again with float noise: must be kept once
            add(d, m, 0, 0.8 + 1e-16 * 2, "coverage", reliability_value(d, m, 0.8))
            for h in range(1, H + 1):
                add(d, m, h, np.nan, "crps", 0.5)
                add(d, m, h, np.nan, "mae", 0.5)
    return pd.DataFrame(rows).astype({"seed": "int64", "h": "int64", "level": "float64"})


def write_results(root, methods=METHODS, inf_method=None):
    root.mkdir(parents=True, exist_ok=True)
    forecasts_frame(methods, inf_method).to_parquet(root / "forecasts.parquet")
    metrics_frame(methods, inf_method).to_parquet(root / "metrics.parquet")
    (root / "config.yaml").write_text(yaml.safe_dump({"levels": LEVELS, "horizon": H,
                                                      "name": "fake"}))
    return root


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    return write_results(tmp_path_factory.mktemp("run"))


@pytest.fixture(scope="module")
def metrics(results):
    return pd.read_parquet(results / "metrics.parquet")


@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize("level", LEVELS)
def test_coverage_curves_are_the_pooled_metrics(metrics, dataset, level):
    curves = coverage_curves(metrics, dataset, level)
    assert list(curves) == sorted(METHODS)
    h = np.arange(1, H + 1)
    for m, c in curves.items():
        want = coverage_value(dataset, m, level, h)
        np.testing.assert_array_equal(c.x, h)
        np.testing.assert_allclose(c.y, want, rtol=0, atol=1e-12)
        np.testing.assert_allclose(c.lo, want - 0.03, rtol=0, atol=1e-12)
        np.testing.assert_allclose(c.hi, np.minimum(want + 0.03, 1.0), rtol=0, atol=1e-12)


def test_coverage_figure_draws_those_numbers(metrics):
    fig = coverage_figure(metrics, "ar1", LEVELS)
    axes = fig.axes
    assert len(axes) == len(LEVELS)
    for ax, level in zip(axes, LEVELS):
        assert "ar1" in ax.get_title() and f"{level:g}" in ax.get_title()
        lines = {ln.get_label(): ln for ln in ax.get_lines()}
        assert set(lines) == set(METHODS) | {"nominal"}
        np.testing.assert_allclose(lines["nominal"].get_ydata(), [level, level])
        for m in METHODS:
            np.testing.assert_array_equal(lines[m].get_xdata(), np.arange(1, H + 1))
            np.testing.assert_allclose(lines[m].get_ydata(),
                                       coverage_value("ar1", m, level, np.arange(1, H + 1)),
                                       rtol=0, atol=1e-12)


def test_width_and_reliability_curves(metrics):
    c = width_curves(metrics, "air passengers", 0.8)["lstm"]
    np.testing.assert_allclose(c.y, width_value("lstm", 0.8, np.arange(1, H + 1)), rtol=1e-12)
    rel = reliability_curves(metrics, "ar1")
    assert list(rel) == sorted(METHODS)
    for m, c in rel.items():
        np.testing.assert_allclose(c.x, FINE)  # the noisy 0.8 duplicate is dropped
        np.testing.assert_allclose(c.y, [reliability_value("ar1", m, lv) for lv in FINE])


def test_pit_counts_known(results):
    fc = pd.read_parquet(results / "forecasts.parquet")
    counts = pit_counts(fc, "ar1")
    # pits are assigned per method over both datasets in row order; ar1 rows come first
    n = len(SERIES) * len(SEEDS) * len(ORIGINS) * H
    np.testing.assert_array_equal(counts["arima"], np.full(10, n // 10))
    np.testing.assert_array_equal(counts["lstm"], [n // 2] + [0] * 8 + [n // 2])


def test_truth_history_rebuilt_from_earlier_origins(results):
    fc = pd.read_parquet(results / "forecasts.parquet")
    cell = fc[(fc.dataset == "ar1") & (fc.series == "s0") & (fc.seed == 0)]
    tr = truth_by_time(cell)
    t = np.arange(ORIGINS[0] + 1, ORIGINS[-1] + H + 1)
    np.testing.assert_array_equal(tr.index.to_numpy(), t)
    np.testing.assert_allclose(tr.to_numpy(), truth("ar1", t))


def test_pick_origins():
    np.testing.assert_array_equal(pick_origins(np.array([5, 1, 3]), 3), [1, 3, 5])
    np.testing.assert_array_equal(pick_origins(np.arange(0, 101, 10), 3), [0, 50, 100])
    np.testing.assert_array_equal(pick_origins(np.array([7, 7, 2]), 3), [2, 7])
    # only origins with a full history window (>= 25 after the first) while 3 qualify
    np.testing.assert_array_equal(pick_origins(np.arange(0, 101, 10), 3, history=25),
                                  [30, 70, 100])
    np.testing.assert_array_equal(pick_origins(np.arange(0, 101, 10), 3, history=95), [0, 50, 100])


def test_clip_band_and_limits():
    lo, hi, cut = clip_band(np.array([-np.inf, 0.0, np.nan]), np.array([np.inf, 1.0, 2.0]),
                            (-2.0, 3.0))
    np.testing.assert_array_equal(lo, [-2.0, 0.0, np.nan])
    np.testing.assert_array_equal(hi, [3.0, 1.0, 2.0])
    assert cut
    assert not clip_band(np.zeros(2), np.ones(2), (-1.0, 2.0))[2]
    # core [0, 10]; extras reach at most one core span (10) beyond it, then 4% padding
    ymin, ymax = fan_limits([np.array([0.0, 10.0])], [np.array([-np.inf, -3.0, 50.0])])
    assert ymin == pytest.approx(-3.0 - 0.04 * 23.0)
    assert ymax == pytest.approx(20.0 + 0.04 * 23.0)


def test_make_figures_files_and_sizes(results):
    paths = make_figures(results)
    names = [p.name for p in paths]
    kinds = ["coverage", "width", "reliability", "pit", "fan"]
    # datasets in name order: "air passengers" < "ar1"
    assert names == [f"{k}_{d}.png" for d in ["air_passengers", "ar1"] for k in kinds]
    # pixels = inches * 100: coverage/width (4 * levels + 2) x 3.5; reliability 7.5 x 5;
    # pit 3 methods in one row of 2.5 x 2 panels + 0.5 title; fan 2 columns (oracle is an
    # outline) of 3.5 + 2 legend, 3 origins of 2.5 + 0.5
    want = {"coverage": (350, 1000), "width": (350, 1000), "reliability": (500, 750),
            "pit": (250, 750), "fan": (800, 900)}
    for p in paths:
        assert p.parent == results / "figures" and p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        img = mpimg.imread(p)
        assert img.shape[:2] == want[p.name.split("_")[0]]
        assert img[..., :3].std() > 0.05  # something was drawn


def test_make_figures_byte_identical(tmp_path, results):
    first = {p.name: p.read_bytes() for p in make_figures(results)}
    other = write_results(tmp_path / "again")
    # drawn in two worker processes, a dataset each: the same files, in the same order
    paths = make_figures(other, jobs=2)
    assert [p.name for p in paths] == list(first) and all(p.parent == other / "figures" for p in paths)
    second = {p.name: p.read_bytes() for p in paths}
    assert all(first[k] == second[k] for k in first)


def test_make_figures_in_workers_names_a_failing_dataset(tmp_path, results):
    # a dataset whose metrics cannot be drawn: the error names it, whichever worker met it
    m = pd.read_parquet(results / "metrics.parquet")
    m.loc[(m["dataset"] == "ar1") & (m["metric"] == "coverage"), "h"] = 1  # duplicate pooled rows
    m.to_parquet(results / "metrics.parquet")
    with pytest.raises(DataError, match="figures of dataset 'ar1'.*duplicate pooled coverage"):
        make_figures(results, jobs=2)


def test_fan_panels_show_truth_mean_and_oracle(results):
    fc = pd.read_parquet(results / "forecasts.parquet")
    fig = fan_figure(fc, "ar1", LEVELS, H)
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == [f"{m}, origin {o}" for o in (120, 130, 140)
                                                 for m in ("arima", "lstm")]
    # origins with a full window of H past steps: 120, 130, 140 (100 and 110 lack one)
    ax = panels[3]  # lstm at origin 130: history back to 110, future to 150
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    t = np.arange(110, 151)
    np.testing.assert_array_equal(lines["observed y"].get_xdata(), t)
    np.testing.assert_allclose(lines["observed y"].get_ydata(), truth("ar1", t))
    np.testing.assert_allclose(lines["lstm mean"].get_ydata(), truth("ar1", t[-H:]) + 0.5)
    oracle_hi = truth("ar1", t[-H:]) + 0.5 + norm.ppf(0.9) * np.sqrt(np.arange(1, H + 1))
    outlines = [ln.get_ydata() for ln in ax.get_lines() if ln.get_label() == "oracle 0.8"]
    assert len(outlines) == 2  # lo and hi of the widest level only
    np.testing.assert_allclose(outlines[1], oracle_hi)


def test_infinite_bands_are_clipped_not_fatal(tmp_path):
    root = write_results(tmp_path / "inf", METHODS + ["conformal"], inf_method="conformal")
    paths = make_figures(root)
    assert len(paths) == 10
    assert mpimg.imread(root / "figures" / "fan_ar1.png").shape[:2] == (800, 1250)
    fc = pd.read_parquet(root / "forecasts.parquet")
    fig = fan_figure(fc, "ar1", LEVELS, H)
    conf = [ax for ax in fig.axes if ax.get_title().startswith("conformal")]
    assert len(conf) == 3
    for ax in conf:
        ymin, ymax = ax.get_ylim()
        assert np.isfinite([ymin, ymax]).all()
        assert any(tx.get_text() == "band clipped at axis" for tx in ax.texts)
        for poly in ax.collections:
            xy = poly.get_paths()[0].vertices
            assert np.isfinite(xy).all() and xy[:, 1].min() >= ymin and xy[:, 1].max() <= ymax


def test_missing_inputs_are_named(tmp_path):
    with pytest.raises(DataError, match="metrics.parquet"):
        root = tmp_path / "partial"
        root.mkdir()
        forecasts_frame(["arima"]).to_parquet(root / "forecasts.parquet")
        make_figures(root)
    root = write_results(tmp_path / "badlevel")
    (root / "config.yaml").write_text(yaml.safe_dump({"levels": [0.9], "horizon": H}))
    with pytest.raises(DataError, match="lo_0.9"):
        make_figures(root)


def test_width_figure_leaves_out_infinite_widths(tmp_path):
    root = write_results(tmp_path / "w", METHODS + ["conformal"], inf_method="conformal")
    fig = width_figure(pd.read_parquet(root / "metrics.parquet"), "ar1", LEVELS)
    for ax in fig.axes[: len(LEVELS)]:
        y = {ln.get_label(): ln.get_ydata() for ln in ax.get_lines()}["conformal"]
        # widths are inf for h > 5 in the fake: drawn as gaps, the first 5 as given
        assert np.isnan(y[5:]).all() and np.isfinite(y[:5]).all()
        assert [t.get_text() for t in ax.texts] == [f"{H - 5} inf values not drawn"]
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "conformal (some inf, not drawn)" in labels


def test_stale_figures_of_other_datasets_are_removed(tmp_path):
    results = write_results(tmp_path / "stale")
    stale = results / "figures" / "coverage_gone.png"
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_bytes(b"old")
    paths = make_figures(results)
    assert not stale.exists()
    assert sorted(p.name for p in (results / "figures").glob("*.png")) == sorted(p.name for p in paths)


def test_series_coverage_averages_steps_then_seeds_and_skips_no_interval():
    from fanlab.report.figures import series_coverage

    rows = []
    # series a: seed 0 covers h1, h2 = 1, 0 -> 0.5; seed 1: 1, 1 -> 1.0; mean 0.75. series b: 0.25
    for series, seed, vals in [("a", 0, [1, 0]), ("a", 1, [1, 1]), ("b", 0, [0.5, 0.0])]:
        for h, v in enumerate(vals, start=1):
            rows.append({"dataset": "d", "series": series, "method": "m", "seed": seed, "h": h, "level": 0.9,
                         "metric": "coverage", "value": float(v)})
            rows.append({"dataset": "d", "series": series, "method": "point", "seed": seed, "h": h,
                         "level": 0.9, "metric": "coverage", "value": np.nan})
    rows.append({"dataset": "d", "series": "*", "method": "m", "seed": -1, "h": 1, "level": 0.9,
                 "metric": "coverage", "value": 0.0})  # pooled rows are not a series
    out = series_coverage(pd.DataFrame(rows), "d", 0.9)
    assert list(out) == ["m"]
    np.testing.assert_allclose(out["m"], [0.25, 0.75])
