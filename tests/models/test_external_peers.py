"""Forecasts from statsforecast, darts and sample-path files, read as those libraries save them
(issue 24): frames shaped exactly as statsforecast 2.1.1's `cross_validation` (checked against
the real library: columns unique_id, ds, cutoff, y, <Model>, <Model>-lo-95, -lo-80, -hi-80,
-hi-95; ds and cutoff datetime64[ns]; cutoff the last observed stamp) and darts 0.48.1's
`TimeSeries.to_dataframe()` (the time index named as the source's time column; quantile series
`y_q0.025` with three decimals, sample paths `y_s0, y_s1, ...`), scored end to end through a
config, with numbers built to be known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fanlab import registry
from fanlab.api import run
from fanlab.data.series import Series
from fanlab.data.splits import make_split
from fanlab.errors import DataError
from fanlab.forecast import probs_for_levels
from fanlab.models.external import ExternalForecaster, external_frame

H, N, LEVELS, STRIDE = 6, 120, [0.8, 0.95], 3
SPLIT = {"train": 0.6, "cal": 0.2, "test": 0.2}
STAMPS = pd.date_range("2010-01-01", periods=N, freq="MS").as_unit("ns")  # as statsforecast writes


def panel() -> pd.DataFrame:
    """Two dated monthly series (AR(1)), long, as a statsforecast user holds them."""
    rng = np.random.default_rng(7)
    parts = []
    for uid in ("a", "b"):
        e = rng.normal(size=N)
        y = np.zeros(N)
        for t in range(1, N):
            y[t] = 0.6 * y[t - 1] + e[t]
        parts.append(pd.DataFrame({"unique_id": uid, "ds": STAMPS, "y": 10 + y}))
    return pd.concat(parts, ignore_index=True)


def cross_validation(data: pd.DataFrame) -> pd.DataFrame:
    """What `StatsForecast(models=[Exact, Naive]).cross_validation(h=H, step_size=1, level=[80, 95])`
    returns: every cutoff from the middle on. 'Exact' is built to cover known points: its 80%
    band misses y at every odd h (it lies 0.5..1 above) and covers it at every even h (y -+ 1);
    its 95% band is y -+ 2. 'Naive' repeats the last value with bands of +-1.28 / 1.96 sqrt(h)."""
    rows = []
    for uid, g in data.groupby("unique_id", sort=True):
        y = g["y"].to_numpy()
        for t in range(N // 2, N - H):
            h = np.arange(1, H + 1)
            tgt = y[t + 1: t + H + 1]
            odd = h % 2 == 1
            lo80, hi80 = np.where(odd, tgt + 0.5, tgt - 1.0), tgt + 1.0
            rows.append(pd.DataFrame({
                "unique_id": uid, "ds": STAMPS[t + 1: t + H + 1], "cutoff": STAMPS[t], "y": tgt,
                "Exact": (lo80 + hi80) / 2, "Exact-lo-95": tgt - 2.0, "Exact-lo-80": lo80, "Exact-hi-80": hi80,
                "Exact-hi-95": tgt + 2.0, "Naive": y[t], "Naive-lo-80": y[t] - 1.28 * np.sqrt(h),
                "Naive-lo-95": y[t] - 1.96 * np.sqrt(h), "Naive-hi-80": y[t] + 1.28 * np.sqrt(h),
                "Naive-hi-95": y[t] + 1.96 * np.sqrt(h)}))
    out = pd.concat(rows, ignore_index=True)
    assert out["ds"].dtype == "datetime64[ns]" and out["cutoff"].dtype == "datetime64[ns]"
    return out


def darts_frame(cv: pd.DataFrame) -> pd.DataFrame:
    """The 'Exact' forecasts as darts users save `historical_forecasts` quantile series: each
    forecast's `to_dataframe()` (index 'ds', columns y_q0.025 ... y_q0.975) with a cutoff and a
    unique_id column added, concatenated."""
    cols = {"y_q0.025": "Exact-lo-95", "y_q0.100": "Exact-lo-80", "y_q0.900": "Exact-hi-80",
            "y_q0.975": "Exact-hi-95"}
    out = pd.DataFrame({k: cv[v].to_numpy() for k, v in cols.items()}, index=pd.DatetimeIndex(cv["ds"], name="ds"))
    out["cutoff"], out["unique_id"] = cv["cutoff"].to_numpy(), cv["unique_id"].to_numpy()
    return out


def _config(tmp_path, methods, data_path) -> dict:
    return {"name": "peers", "horizon": H, "levels": LEVELS, "seeds": [0], "stride": STRIDE, "split": SPLIT,
            "bootstrap": {"reps": 50}, "out": str(tmp_path / "res"),
            "datasets": [{"name": "csv", "label": "m", "params": {"path": str(data_path), "time": "ds",
                                                                   "value": "y", "series_id": "unique_id"}}],
            "methods": [{"name": "climatology"}, *methods]}


def test_statsforecast_and_darts_frames_as_saved_score_their_known_coverage(tmp_path):
    data = panel()
    data.assign(ds=data["ds"].dt.strftime("%Y-%m-%d")).to_csv(tmp_path / "panel.csv", index=False)
    cv = cross_validation(data)
    cv.to_parquet(tmp_path / "cv.parquet")  # as is, RangeIndex and all
    cv.set_index("unique_id").to_parquet(tmp_path / "cv_v1.parquet")  # statsforecast 1.x: unique_id the index
    darts_frame(cv).to_parquet(tmp_path / "darts.parquet")
    methods = [{"name": "external", "label": "exact", "params": {"path": str(tmp_path / "cv.parquet"),
                                                                   "model": "Exact"}},
               {"name": "external", "label": "naive", "params": {"path": str(tmp_path / "cv_v1.parquet"),
                                                                   "model": "Naive", "format": "statsforecast"}},
               {"name": "external", "label": "darts", "params": {"path": str(tmp_path / "darts.parquet")}}]
    res = run(_config(tmp_path, methods, tmp_path / "panel.csv"), progress=False, figures=False)
    assert not res.failed, res.statuses
    m = pd.read_parquet(res.out / "metrics.parquet")
    per = m[(m["series"] != "*") & (m["metric"] == "coverage")]
    for method in ("exact", "darts"):
        for lv in LEVELS:
            cov = per[(per["method"] == method) & (per["level"] == lv)].groupby("h")["value"].mean()
            want = [1.0] * H if lv == 0.95 else [0.0, 1.0] * (H // 2)
            np.testing.assert_array_equal(cov.loc[1:H].to_numpy(), want)
    width = m[(m["series"] != "*") & (m["metric"] == "width") & (m["method"] == "exact") & (m["level"] == 0.8)]
    np.testing.assert_allclose(width.groupby("h")["value"].mean().loc[1:H], [0.5, 2.0] * (H // 2), rtol=1e-12)
    summ = pd.read_csv(res.out / "summary.csv").set_index(["method", "level"])
    assert summ.loc[("exact", 0.8), "coverage"] == pytest.approx(0.5)
    assert summ.loc[("exact", 0.95), "coverage"] == 1.0
    # Naive's MAE is that of the last value, read from its mean column
    fc = pd.read_parquet(res.out / "forecasts.parquet")
    nv = fc[fc["method"] == "naive"]
    last = data.set_index(["unique_id", "ds"])["y"]
    base = [last[(s, STAMPS[o])] for s, o in zip(nv["series"], nv["origin"])]
    np.testing.assert_allclose(nv["mean"].to_numpy(), base, rtol=1e-12)
    assert {"exact", "naive", "darts"} <= set(fc["method"])


def test_statsforecast_models_are_named_and_listed(tmp_path):
    cv = cross_validation(panel())
    s = Series("a", panel().query("unique_id == 'a'")["y"].to_numpy(), index=STAMPS)
    with pytest.raises(DataError, match=r"2 models with bands \['Exact', 'Naive'\].*model:"):
        external_frame(cv, s)
    with pytest.raises(DataError, match=r"'ETS' not among .*\['Exact', 'Naive'\]"):
        external_frame(cv, s, model="ETS")
    # neuralforecast: <Model>-median beside the bands, and QuantileLoss / predict(quantiles=) columns _ql<q>
    nf = cv[cv["unique_id"] == "a"][["unique_id", "ds", "cutoff", "y"]].assign(
        **{"NHITS-lo-80": cv["Exact-lo-80"], "NHITS-median": cv["Exact"], "NHITS-hi-80": cv["Exact-hi-80"],
           "TFT_ql0.1": cv["Exact-lo-80"], "TFT_ql0.9": cv["Exact-hi-80"]})
    origins = np.arange(72, N - H, 3)
    for model in ("NHITS", "TFT"):
        fc = external_frame(nf, s, model=model, levels=[0.8]).fit(s.values, 72, 0).predict(
            s.values, origins, H, probs_for_levels([0.8]))
        want = cv[(cv["unique_id"] == "a") & cv["cutoff"].isin(STAMPS[origins])]["Exact-hi-80"]
        np.testing.assert_array_equal(fc.quantile(0.9).ravel(), want.to_numpy())
    bad = cv.copy()
    bad.loc[bad["unique_id"] == "a", "y"] += 1.0  # the file's y is not the dataset's
    with pytest.raises(DataError, match="column 'y' at 2015-02-01.*not the dataset's"):
        external_frame(bad, s, model="Exact").fit(s.values, 72, 0)


def test_darts_quantile_names_with_two_decimals_and_sample_columns():
    """darts before 0.48 named quantile 0.025 'q0.03'; sample columns y_s<i> are the paths."""
    rng = np.random.default_rng(1)
    y = rng.normal(size=N)
    s = Series("y", y, index=STAMPS)
    origins = np.arange(80, 100, 5)
    mu, sd = np.zeros((origins.size, H)), np.ones((origins.size, H))
    from scipy.stats import norm
    parts = []
    for k, t in enumerate(origins):
        q = {f"y_q{p:.2f}": norm.ppf(p, mu[k], sd[k]) for p in (0.025, 0.1, 0.5, 0.9, 0.975)}
        parts.append(pd.DataFrame({**q, "cutoff": STAMPS[t]}, index=pd.DatetimeIndex(STAMPS[t + 1: t + H + 1],
                                                                                     name="time")))
    frame = pd.concat(parts)
    assert {"y_q0.03", "y_q0.97"} <= set(frame.columns)
    probs = probs_for_levels(LEVELS)
    fc = external_frame(frame, s, levels=LEVELS).fit(y, 72, 0).predict(y, origins, H, probs)
    np.testing.assert_allclose(fc.quantile(0.025), norm.ppf(0.025, mu, sd), rtol=1e-12)
    np.testing.assert_allclose(fc.quantile(0.975), norm.ppf(0.975, mu, sd), rtol=1e-12)
    assert any("'y_q0.03' read as probability 0.025" in w for w in fc.info["warnings"])
    # stochastic series: to_dataframe() gives y_s0 .. y_s<S-1>, one column per sample path
    paths = rng.normal(size=(origins.size, 40, H))
    frame = pd.concat([pd.DataFrame({f"y_s{i}": paths[k, i] for i in range(40)} | {"cutoff": STAMPS[t]},
                                    index=pd.DatetimeIndex(STAMPS[t + 1: t + H + 1], name="time"))
                       for k, t in enumerate(origins)])
    fc = external_frame(frame, s).fit(y, 72, 0).predict(y, origins, H, probs)
    np.testing.assert_array_equal(fc.samples, paths)
    np.testing.assert_allclose(fc.quantiles, np.moveaxis(np.quantile(paths, probs, axis=1), 0, 1), rtol=1e-12)


def _arma_cells():
    params = {"ar": [0.7], "n": 300}
    s = registry.build_dataset("arma", params, 0)[0]
    sp = make_split(len(s), 0.6, 0.2, 0.2, horizon=H)
    return params, s, sp.test_origins(H, STRIDE)


def test_sample_paths_are_scored_by_their_own_crps(tmp_path):
    params, s, origins = _arma_cells()
    rng = np.random.default_rng(3)
    S = 50
    paths = s.values[origins][:, None, None] * 0.7 ** np.arange(1, H + 1) + rng.normal(size=(origins.size, S, H))
    k, i, h = np.meshgrid(np.arange(origins.size), np.arange(S), np.arange(H), indexing="ij")
    pd.DataFrame({"origin": origins[k.ravel()], "h": h.ravel() + 1, "sample": i.ravel(),
                  "value": paths.ravel()}).to_csv(tmp_path / "paths.csv", index=False)
    probs = probs_for_levels(LEVELS)
    qs = np.quantile(paths, probs, axis=1)  # (Q, K, H): the same law as quantiles only
    k, j, h = np.meshgrid(np.arange(origins.size), np.arange(probs.size), np.arange(H), indexing="ij")
    pd.DataFrame({"origin": origins[k.ravel()], "h": h.ravel() + 1, "prob": probs[j.ravel()],
                  "value": qs[j.ravel(), k.ravel(), h.ravel()]}).to_csv(tmp_path / "quants.csv", index=False)
    cfg = {"name": "paths", "horizon": H, "levels": LEVELS, "seeds": [0], "stride": STRIDE, "split": SPLIT,
           "bootstrap": {"reps": 50}, "out": str(tmp_path / "res"),
           "datasets": [{"name": "arma", "label": "ar", "params": params}],
           "methods": [{"name": "external", "label": "paths", "params": {"path": str(tmp_path / "paths.csv")}},
                       {"name": "external", "label": "quants", "params": {"path": str(tmp_path / "quants.csv")}}]}
    res = run(cfg, progress=False, figures=False)
    assert not res.failed, res.statuses
    m = pd.read_parquet(res.out / "metrics.parquet")
    crps = m[(m["metric"] == "crps") & (m["series"] != "*")].pivot_table(index="h", columns="method", values="value")
    y = s.values[origins[:, None] + np.arange(1, H + 1)]  # (K, H)
    spread = np.abs(paths[:, :, None, :] - paths[:, None, :, :]).mean(axis=(1, 2))
    want = (np.abs(paths - y[:, None, :]).mean(axis=1) - 0.5 * spread).mean(axis=0)  # sample CRPS per h
    np.testing.assert_allclose(crps["paths"].loc[1:H].to_numpy(), want, rtol=1e-9)
    assert not np.allclose(crps["quants"].loc[1:H].to_numpy(), want, rtol=1e-3)  # not the interpolated one
    cov = m[(m["metric"] == "coverage") & (m["series"] != "*") & (m["level"] == 0.8)]
    got = cov[cov["method"] == "paths"].set_index("h")["value"].loc[1:H].to_numpy()
    lo, hi = np.quantile(paths, [0.1, 0.9], axis=1)
    np.testing.assert_allclose(got, ((y >= lo) & (y <= hi)).mean(axis=0), rtol=1e-12)


def _long_with_cutoffs(cutoffs, shift: int = 0, model: str | None = None) -> pd.DataFrame:
    """Gaussian bands around 0 at positions `cutoffs`, written with time stamps (shifted `shift`
    steps: a file whose cutoff is the first forecast date instead of the last one seen)."""
    rows = []
    for t in cutoffs:
        for h in range(1, H + 1):
            for p, z in zip(probs_for_levels(LEVELS), (-1.96, -1.28, 0.0, 1.28, 1.96)):
                rows.append({"series": "s", "cutoff": STAMPS[t + shift].strftime("%Y-%m-%d"), "h": h,
                             "prob": p, "value": z * np.sqrt(h), "origin_pos": t})
    out = pd.DataFrame(rows)
    return out.assign(model=model) if model else out


def test_origins_as_time_stamps_equal_origins_as_positions(tmp_path):
    y = np.random.default_rng(5).normal(size=N)
    s = Series("s", y, index=STAMPS)
    frame = _long_with_cutoffs(range(60, N - H))
    origins = np.arange(84, N - H, 4)
    probs = probs_for_levels(LEVELS)
    frame.drop(columns="origin_pos").to_csv(tmp_path / "stamps.csv", index=False)
    frame.drop(columns="cutoff").rename(columns={"origin_pos": "origin"}).to_csv(tmp_path / "pos.csv", index=False)
    a = ExternalForecaster(str(tmp_path / "stamps.csv"), "s", index=s.index).fit(y, 72).predict(y, origins, H, probs)
    b = ExternalForecaster(str(tmp_path / "pos.csv"), "s").fit(y, 72).predict(y, origins, H, probs)
    np.testing.assert_array_equal(a.quantiles, b.quantiles)
    np.testing.assert_allclose(a.quantile(0.9)[:, 3], 1.28 * 2.0, rtol=1e-12)  # h = 4: 1.28 sqrt(4)
    with pytest.raises(DataError, match="holds 2015-01-01, but the series has no time stamps"):
        ExternalForecaster(str(tmp_path / "stamps.csv"), "s").fit(y, 72)


def test_an_origin_off_by_one_is_shown_beside_the_configs(tmp_path):
    y = np.random.default_rng(5).normal(size=N)
    s = Series("s", y, index=STAMPS)
    origins = np.arange(84, N - H, 4)
    _long_with_cutoffs(origins, shift=1, model="ets").to_csv(tmp_path / "late.csv", index=False)
    fc = ExternalForecaster(str(tmp_path / "late.csv"), "s", model="ets", index=s.index).fit(y, 72)
    with pytest.raises(DataError) as err:
        fc.predict(y, origins, H, probs_for_levels(LEVELS))
    text = str(err.value)
    assert "late.csv" in text and "series 's'" in text and "model 'ets'" in text
    assert (f"file has origins 85..113 (8) = cutoffs 2017-02-01..2019-06-01, h 1..{H}; "
            f"config needs origins 84..112 (8) = cutoffs 2017-01-01..2019-05-01, h 1..{H}: off by 1?") in text
    assert "earlier" not in text and "later" in text


def test_integer_ds_and_cutoff_on_a_series_without_stamps_are_positions():
    """A synthetic series has no stamps: statsforecast users then give integer ds, read as positions."""
    params, s, origins = _arma_cells()
    probs = probs_for_levels(LEVELS)
    oracle = s.oracle().fit(s.values, 180, 0).predict(s.values, origins, H, probs)
    parts = []
    for k, t in enumerate(origins):
        d = {"unique_id": s.name, "ds": np.arange(t + 1, t + H + 1), "cutoff": t, "AR": oracle.mean[k]}
        for lv in LEVELS:
            lo, hi = oracle.interval(lv)
            d[f"AR-lo-{int(lv * 100)}"], d[f"AR-hi-{int(lv * 100)}"] = lo[k], hi[k]
        parts.append(pd.DataFrame(d))
    fc = external_frame(pd.concat(parts), s, levels=LEVELS).fit(s.values, 180, 0).predict(s.values, origins, H, probs)
    np.testing.assert_allclose(fc.quantiles, oracle.quantiles, rtol=1e-12)
    np.testing.assert_array_equal(fc.mean, oracle.mean)
