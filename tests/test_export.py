"""`fanlab export`: the cutoffs it writes are the origins a run of the same config scores, and
forecasts made at them in statsforecast's shape score through `external` with no conversion
(the README's walk-through: export, statsforecast in a venv of its own, `fanlab run`)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import fanlab
from fanlab.cli import app

H, STRIDE, LEVELS = 4, 3, [0.8, 0.95]


def _scored(res_out) -> pd.DataFrame:
    """(dataset, series, seed, origin) of every forecast a run scored, one row each."""
    fc = pd.read_parquet(res_out / "forecasts.parquet")
    assert (fc.groupby(["dataset", "series", "method", "seed", "origin"])["h"].max() == fc["h"].max()).all()
    return fc[["dataset", "series", "seed", "origin"]].drop_duplicates().sort_values(
        ["dataset", "series", "seed", "origin"]).reset_index(drop=True)


def _exported(out, datasets, seeds) -> pd.DataFrame:
    """The same rows from the export's cutoffs tables (every seed where a table has none)."""
    parts = []
    for key in datasets:
        cut = pd.read_parquet(out / key / "cutoffs.parquet")
        if "seed" not in cut:
            cut = pd.concat([cut.assign(seed=s) for s in seeds], ignore_index=True)
        parts.append(cut.assign(dataset=key).rename(columns={"unique_id": "series"}))
    cut = pd.concat(parts, ignore_index=True)
    return cut[["dataset", "series", "seed", "origin"]].sort_values(
        ["dataset", "series", "seed", "origin"]).reset_index(drop=True)


def test_synthetic_cutoffs_are_the_origins_a_multi_seed_run_scores(tmp_path):
    cfg = {"name": "exp_syn", "horizon": H, "levels": LEVELS, "seeds": [0, 1], "stride": STRIDE, "max_origins": 5,
           "bootstrap": {"reps": 50}, "out": str(tmp_path / "res"),
           "datasets": [{"name": "arma", "label": "ar", "params": {"ar": [0.6], "n": 120, "n_series": 2}},
                        {"name": "arma", "label": "short", "params": {"ar": [0.3], "n": 90},
                         "split": {"train": 0.5, "cal": 0.1, "test": 0.4}},
                        {"name": "arma", "label": "hold", "params": {"ar": [0.3], "n": 60}, "protocol": "holdout"}],
           "methods": [{"name": "climatology"}, {"name": "oracle"}, {"name": "naive"}]}
    res = fanlab.run(cfg, progress=False, figures=False)
    assert not res.failed
    exp = fanlab.export(cfg, tmp_path / "exp")
    pd.testing.assert_frame_equal(_exported(exp.out, ["ar", "short", "hold"], [0, 1]), _scored(res.out))
    cut = pd.read_parquet(exp.out / "ar" / "cutoffs.parquet")
    assert list(cut.columns) == ["unique_id", "seed", "origin", "cutoff", "h_max"]
    assert (cut["cutoff"] == cut["origin"]).all() and (cut["h_max"] == H).all()
    series = pd.read_parquet(exp.out / "ar" / "series.parquet")
    assert list(series.columns) == ["unique_id", "seed", "ds", "y"]
    s1 = fanlab.datasets.load("arma", seed=1, ar=[0.6], n=120, n_series=2)[1]
    got = series[(series["seed"] == 1) & (series["unique_id"] == s1.name)]
    np.testing.assert_array_equal(got["y"].to_numpy(), s1.values)
    np.testing.assert_array_equal(got["ds"].to_numpy(), np.arange(120))
    info = json.loads((exp.out / "export.json").read_text())
    assert info["probs_required"] == [0.025, 0.1, 0.9, 0.975]
    assert info["datasets"]["hold"]["statsforecast"]["calls"] == [{"n_windows": 1, "series": ["arma_0"]}]
    assert info["datasets"]["ar"]["seed_column"] is True


def _panel(tmp_path) -> pd.DataFrame:
    """Two dated monthly series of different lengths (so their origins differ in number)."""
    rng = np.random.default_rng(3)
    parts = []
    for uid, n in (("a", 80), ("b", 95)):
        e = rng.normal(size=n)
        y = np.zeros(n)
        for t in range(1, n):
            y[t] = 0.5 * y[t - 1] + e[t]
        parts.append(pd.DataFrame({"unique_id": uid, "ds": pd.date_range("2001-01-01", periods=n, freq="MS"),
                                   "y": 20 + y}))
    data = pd.concat(parts, ignore_index=True)
    data.assign(ds=data["ds"].dt.strftime("%Y-%m-%d")).to_csv(tmp_path / "panel.csv", index=False)
    return data


def _csv_config(tmp_path, methods) -> dict:
    return {"name": "exp_csv", "horizon": H, "levels": LEVELS, "seeds": [0, 1], "stride": STRIDE,
            "bootstrap": {"reps": 50}, "out": str(tmp_path / "res"),
            "datasets": [{"name": "csv", "label": "m", "params": {"path": str(tmp_path / "panel.csv"), "time": "ds",
                                                                   "value": "y", "series_id": "unique_id",
                                                                   "freq": "MS"}}],
            "methods": [{"name": "climatology"}, {"name": "naive"}, *methods]}


def test_dated_cutoffs_are_the_origins_a_run_scores_as_time_stamps(tmp_path):
    data = _panel(tmp_path)
    cfg = _csv_config(tmp_path, [])
    res = fanlab.run(cfg, progress=False, figures=False)
    assert not res.failed
    exp = fanlab.export(cfg, tmp_path / "exp")
    pd.testing.assert_frame_equal(_exported(exp.out, ["m"], [0, 1]), _scored(res.out))
    cut = pd.read_parquet(exp.out / "m" / "cutoffs.parquet")
    assert list(cut.columns) == ["unique_id", "origin", "cutoff", "h_max"]  # real data: one copy for every seed
    stamp = data.set_index(["unique_id", data.groupby("unique_id").cumcount()])["ds"]
    assert (cut["cutoff"].to_numpy() == stamp.loc[list(zip(cut["unique_id"], cut["origin"]))].to_numpy()).all()
    series = pd.read_parquet(exp.out / "m" / "series.parquet")
    pd.testing.assert_frame_equal(series[["unique_id", "ds", "y"]], data, check_dtype=False)
    assert pd.read_csv(exp.out / "m" / "cutoffs.csv")["cutoff"].iloc[0] == str(cut["cutoff"].iloc[0].date())
    sf = json.loads((exp.out / "export.json").read_text())["datasets"]["m"]["statsforecast"]
    assert sf["possible"] and sf["freq"] == "MS" and sf["h"] == H and sf["step_size"] == STRIDE
    assert len(sf["calls"]) == 2  # 80 and 95 points: two numbers of origins, one call each


def test_cli_export_writes_the_folder_and_says_the_settings(tmp_path):
    _panel(tmp_path)
    import yaml

    cfg = _csv_config(tmp_path, [])
    del cfg["out"]  # a config file may not name its folder
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    r = CliRunner().invoke(app, ["export", str(tmp_path / "c.yaml"), "--out", str(tmp_path / "exp")])
    assert r.exit_code == 0, r.output
    assert "statsforecast: h=4, step_size=3" in r.output
    assert (tmp_path / "exp" / "m" / "series.csv").is_file() and (tmp_path / "exp" / "README.md").is_file()
    r = CliRunner().invoke(app, ["export", str(tmp_path / "c.yaml"), "--out", str(tmp_path / "c.yaml")])
    assert r.exit_code == 2 and "not a folder" in r.output


# --- the walk-through: fanlab export, statsforecast in a venv of its own, fanlab run -------------

def statsforecast_cross_validation(df: pd.DataFrame, h: int, step_size: int, n_windows: int,
                                   level: list[int]) -> pd.DataFrame:
    """What statsforecast 2.1.1's `StatsForecast(models=[Naive()], freq=...).cross_validation(df=df,
    h=h, step_size=step_size, n_windows=n_windows, level=level)` returns, windows placed by its
    rule: each series' windows are counted back from its own last point (the last cutoff is
    n - h - 1, 0-based; the others `step_size` apart before it). Columns unique_id, ds, cutoff,
    y, Naive, Naive-lo-<L>..., Naive-hi-<L>... (lo from the widest level in, then hi), ds and
    cutoff datetime64[ns]. The model: the last value with bands of z sd(diff) sqrt(h)."""
    from scipy.stats import norm

    rows = []
    for uid, g in df.groupby("unique_id", sort=True):
        y, ds = g["y"].to_numpy(), pd.DatetimeIndex(g["ds"]).as_unit("ns")
        n = y.size
        for w in range(n_windows):
            t = n - h - 1 - (n_windows - 1 - w) * step_size
            sd = np.std(np.diff(y[: t + 1]), ddof=1) * np.sqrt(np.arange(1, h + 1))
            cols = {"unique_id": uid, "ds": ds[t + 1: t + h + 1], "cutoff": ds[t], "y": y[t + 1: t + h + 1],
                    "Naive": np.full(h, y[t])}
            for lv in sorted(level, reverse=True):
                cols[f"Naive-lo-{lv}"] = y[t] - norm.ppf(0.5 + lv / 200) * sd
            for lv in sorted(level):
                cols[f"Naive-hi-{lv}"] = y[t] + norm.ppf(0.5 + lv / 200) * sd
            rows.append(pd.DataFrame(cols))
    return pd.concat(rows, ignore_index=True)


def test_walkthrough_export_then_statsforecast_then_run(tmp_path):
    _panel(tmp_path)
    exp = fanlab.export(_csv_config(tmp_path, []), tmp_path / "exp")
    # ---- in the statsforecast venv: only the export folder and pandas --------------------------
    info = json.loads((tmp_path / "exp" / "export.json").read_text())
    sf = info["datasets"]["m"]["statsforecast"]
    df = pd.read_parquet(tmp_path / "exp" / "m" / "series.parquet")
    cut = pd.read_parquet(tmp_path / "exp" / "m" / "cutoffs.parquet")
    last = cut.groupby("unique_id")["origin"].max()
    df = df[df.groupby("unique_id").cumcount() <= df["unique_id"].map(last + sf["h"])]  # as README.md says
    level = [round(100 * v) for v in info["levels"]]
    cv = pd.concat([statsforecast_cross_validation(df[df["unique_id"].isin(c["series"])], h=sf["h"],
                                                   step_size=sf["step_size"], n_windows=c["n_windows"], level=level)
                    for c in sf["calls"]], ignore_index=True)
    assert cv["ds"].dtype == "datetime64[ns]" and list(cv.columns[:5]) == ["unique_id", "ds", "cutoff", "y", "Naive"]
    pd.testing.assert_frame_equal(  # the settings give exactly the exported cutoffs
        cv[["unique_id", "cutoff"]].drop_duplicates().reset_index(drop=True),
        cut[["unique_id", "cutoff"]].astype({"cutoff": "datetime64[ns]"}), check_dtype=False)
    cv.to_parquet(tmp_path / "cv.parquet")
    # ---- back in fanlab: the file as saved is an arm ----------------------------------------------
    cfg = _csv_config(tmp_path, [{"name": "external", "label": "sf_naive",
                                  "params": {"path": str(tmp_path / "cv.parquet"), "model": "Naive"}}])
    res = fanlab.run(cfg, progress=False, figures=False)
    assert not res.failed, res.statuses
    fc = pd.read_parquet(res.out / "forecasts.parquet")
    got = fc[(fc["method"] == "sf_naive") & (fc["seed"] == 0)].sort_values(["series", "origin", "h"])
    assert len(got) == len(cv)
    for lv in (80, 95):
        np.testing.assert_array_equal(got[f"lo_{lv / 100:g}"].to_numpy(), cv[f"Naive-lo-{lv}"].to_numpy())
        np.testing.assert_array_equal(got[f"hi_{lv / 100:g}"].to_numpy(), cv[f"Naive-hi-{lv}"].to_numpy())
    np.testing.assert_array_equal(got["y"].to_numpy(), cv["y"].to_numpy())
    summary = pd.read_csv(res.out / "summary.csv").set_index(["method", "level"])
    assert 0.5 < summary.loc[("sf_naive", 0.95), "coverage"] <= 1.0


def test_the_oracle_at_the_exported_cutoffs_scores_as_the_oracle(tmp_path):
    """A long file with a seed column, built from the export of a two-seed synthetic config,
    gives the oracle's own numbers when its quantiles are the oracle's."""
    cfg = {"name": "exp_or", "horizon": H, "levels": LEVELS, "seeds": [0, 1], "stride": STRIDE,
           "bootstrap": {"reps": 50}, "out": str(tmp_path / "res"),
           "datasets": [{"name": "arma", "label": "ar", "params": {"ar": [0.6], "n": 120}}],
           "methods": [{"name": "climatology"}, {"name": "oracle"}]}
    exp = fanlab.export(cfg, tmp_path / "exp")
    cut = pd.read_parquet(exp.out / "ar" / "cutoffs.parquet")
    probs = np.array(json.loads((exp.out / "export.json").read_text())["probs_all"])
    rows = []
    for seed, g in cut.groupby("seed"):
        s = fanlab.datasets.load("arma", seed=int(seed), ar=[0.6], n=120)[0]
        origins = g["origin"].to_numpy()
        fc = s.oracle().fit(s.values, 72, int(seed)).predict(s.values, origins, H, probs)  # (K, Q, H)
        k, q, h = np.meshgrid(np.arange(origins.size), np.arange(probs.size), np.arange(H), indexing="ij")
        rows.append(pd.DataFrame({"series": s.name, "seed": seed, "cutoff": origins[k.ravel()], "h": h.ravel() + 1,
                                  "prob": probs[q.ravel()], "value": fc.quantiles.ravel(),
                                  "mean": fc.mean[k.ravel(), h.ravel()]}))
    pd.concat(rows).to_csv(tmp_path / "oracle.csv", index=False)
    cfg["methods"].append({"name": "external", "label": "file", "params": {"path": str(tmp_path / "oracle.csv")}})
    res = fanlab.run(cfg, progress=False, figures=False)
    assert not res.failed, res.statuses
    m = pd.read_parquet(res.out / "metrics.parquet")
    per = m[(m["series"] != "*") & m["metric"].isin(["coverage", "joint_coverage", "width"])]
    a = per[per["method"] == "oracle"].drop(columns="method").reset_index(drop=True)
    b = per[per["method"] == "file"].drop(columns="method").reset_index(drop=True)
    assert len(a) > 0 and set(a["seed"]) == {0, 1}
    pd.testing.assert_frame_equal(a, b, rtol=1e-12)
    # the oracle's CRPS is exact (Gaussian); the file's is read from its quantiles of the fine grid
    crps = m[(m["series"] != "*") & (m["metric"] == "crps")].groupby("method")["value"].mean()
    assert crps["file"] == pytest.approx(crps["oracle"], rel=0.01)


def test_export_of_a_config_with_a_bad_dataset_fails_like_run(tmp_path):
    from fanlab.errors import DataError

    cfg = {"name": "bad", "horizon": 50, "datasets": [{"name": "arma", "params": {"n": 60}}],
           "methods": [{"name": "naive"}]}
    with pytest.raises(DataError, match="horizon"):
        fanlab.export(cfg, tmp_path / "exp")
    assert not (tmp_path / "exp").exists()
