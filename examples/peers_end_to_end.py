"""statsforecast and darts forecasts, saved as those libraries write them, scored by fanlab.

    python examples/peers_end_to_end.py                 # both steps, where one Python has all
    python examples/peers_end_to_end.py --step make     # with a Python that has statsforecast / darts
    python examples/peers_end_to_end.py --step score    # with fanlab's Python

`make` writes a dated monthly CSV of two series (`panel.csv`), runs whichever of statsforecast
and darts is installed, and saves their output untouched: statsforecast's `cross_validation`
frame (AutoETS and SeasonalNaive side by side, levels 80 and 95) to `statsforecast_cv.parquet`;
darts' `historical_forecasts` (ExponentialSmoothing, 200 sample paths) as each forecast's
`to_dataframe()` with a `cutoff` and a `unique_id` column, stacked, to `darts_samples.parquet`,
and the same forecasts' `quantile([...]).to_dataframe()` to `darts_quantiles.parquet`. `score`
runs a fanlab config over `panel.csv` with every file found as an `external` arm (climatology
and fanlab's own ETS beside them) and prints coverage per model. Neither library is a fanlab
dependency; the imports are guarded.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

N, H, PERIOD, WINDOWS = 144, 12, 12, 40  # 12 years of months; forecasts from the last 40 cutoffs
QUANTILES = [0.025, 0.1, 0.5, 0.9, 0.975]


def make_panel(out: Path) -> pd.DataFrame:
    """Two monthly series: a seasonal random walk with drift, and a seasonal AR(1)."""
    rng = np.random.default_rng(24)
    ds = pd.date_range("2012-01-01", periods=N, freq="MS")
    season = 3 * np.sin(2 * np.pi * np.arange(N) / PERIOD)
    walk = 50 + np.cumsum(0.2 + rng.normal(size=N)) + season
    ar = np.zeros(N)
    for t in range(1, N):
        ar[t] = 0.7 * ar[t - 1] + rng.normal()
    data = pd.concat([pd.DataFrame({"unique_id": "walk", "ds": ds, "y": walk}),
                      pd.DataFrame({"unique_id": "ar", "ds": ds, "y": 20 + season + ar})], ignore_index=True)
    data.to_csv(out / "panel.csv", index=False, date_format="%Y-%m-%d")
    return data


def run_statsforecast(data: pd.DataFrame, out: Path) -> None:
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS, SeasonalNaive

    sf = StatsForecast(models=[AutoETS(season_length=PERIOD), SeasonalNaive(season_length=PERIOD)], freq="MS")
    cv = sf.cross_validation(df=data, h=H, n_windows=WINDOWS, step_size=1, level=[80, 95])
    cv.to_parquet(out / "statsforecast_cv.parquet")  # as returned
    print(f"statsforecast: {len(cv)} rows, columns {list(cv.columns)}")


def run_darts(data: pd.DataFrame, out: Path) -> None:
    from darts import TimeSeries
    from darts.models import ExponentialSmoothing

    samples, quantiles = [], []
    for uid, g in data.groupby("unique_id", sort=False):
        series = TimeSeries.from_dataframe(g, time_col="ds", value_cols="y", freq="MS")
        forecasts = ExponentialSmoothing(seasonal_periods=PERIOD).historical_forecasts(
            series, start=N - H - WINDOWS + 1, forecast_horizon=H, stride=1, last_points_only=False,
            num_samples=200, retrain=True, verbose=False)
        for fc in forecasts:
            cutoff = fc.start_time() - fc.freq  # the last observed month
            for frame, parts in ((fc.to_dataframe(suppress_warnings=True), samples),
                                 (fc.quantile(QUANTILES).to_dataframe(), quantiles)):
                parts.append(frame.assign(cutoff=cutoff, unique_id=uid))
    pd.concat(samples).to_parquet(out / "darts_samples.parquet")
    pd.concat(quantiles).to_parquet(out / "darts_quantiles.parquet")
    print(f"darts: {len(samples)} forecasts, columns {list(samples[0].columns[:3])} ... and "
          f"{list(quantiles[0].columns)}")


def make(out: Path) -> None:
    data = make_panel(out)
    for name, step in (("statsforecast", run_statsforecast), ("darts", run_darts)):
        try:
            step(data, out)
        except ImportError as exc:
            print(f"{name} not installed here ({exc.name}): skipped")


def score(out: Path) -> pd.DataFrame:
    from fanlab.api import run

    arms = []
    if (out / "statsforecast_cv.parquet").exists():
        arms += [{"name": "external", "label": f"sf_{m}", "params": {"path": str(out / "statsforecast_cv.parquet"),
                                                                     "model": m}}
                 for m in ("AutoETS", "SeasonalNaive")]
    for kind in ("samples", "quantiles"):
        if (out / f"darts_{kind}.parquet").exists():
            arms.append({"name": "external", "label": f"darts_{kind}",
                         "params": {"path": str(out / f"darts_{kind}.parquet")}})
    if not arms:
        raise SystemExit(f"no peer output in {out}: run --step make first, with statsforecast or darts installed")
    cfg = {"name": "peers", "horizon": H, "levels": [0.8, 0.95], "seeds": [0], "stride": 2,
           "split": {"train": 0.6, "cal": 0.1, "test": 0.3}, "bootstrap": {"reps": 200}, "out": str(out / "results"),
           "datasets": [{"name": "csv", "label": "monthly",
                         "params": {"path": str(out / "panel.csv"), "time": "ds", "value": "y",
                                    "series_id": "unique_id", "period": PERIOD}}],
           "methods": [{"name": "climatology"}, {"name": "ets"}, *arms]}
    res = run(cfg, progress=False, figures=False, force=True)
    if res.failed:
        raise SystemExit(f"cells failed: {res.failed}")
    summ = pd.read_csv(res.out / "summary.csv")
    table = summ.pivot_table(index="method", columns="level", values="coverage")
    table.columns = [f"coverage {lv:g}" for lv in table.columns]
    crps = summ.groupby("method")["crps"].first() if "crps" in summ else None
    if crps is not None:
        table["crps"] = crps
    print(table.round(3).to_string())
    return table


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="results/peers_end_to_end", type=Path)
    ap.add_argument("--step", choices=["make", "score", "all"], default="all")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.step in ("make", "all"):
        make(args.out)
    if args.step in ("score", "all"):
        score(args.out)


if __name__ == "__main__":
    main()
