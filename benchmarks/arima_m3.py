"""Auto ARIMA on M3's seasonal series, as configs/m3.yaml fits it: seconds per series and orders.

Usage: python benchmarks/arima_m3.py [--subsets monthly,quarterly] [--every 20] [--save out.json]
                                     [--compare before.json] [--profile]

Fits ``order: auto, approximation: true`` (the config's arm) on every `every`-th series of each
subset (a fixed sample: series 0, every, 2 every, ...), on its training part (all but its last
`horizon` points, the holdout protocol), and prints seconds per series (median, mean, p90, max;
wall clock and this process's CPU time, which a busy machine inflates less),
the number of search fits and the chosen orders. `--save` writes one row per series (order, AIC of
the final exact fit, seconds) to a JSON file; `--compare` reads such a file from another version
of the code and prints how often the orders agree and the AIC differences of the final fits.
`--profile` runs the sample under cProfile and prints where the time goes. BLAS is pinned to one
thread, as in the runner's workers.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import cProfile  # noqa: E402
import json  # noqa: E402
import pstats  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import fanlab  # noqa: E402
from fanlab.models.arima import ARIMAForecaster  # noqa: E402

PARAMS = {"order": "auto", "approximation": True}  # configs/m3.yaml's arima arm


def sample(subset: str, every: int):
    series = fanlab.datasets.load("m3", subset=subset)
    return [s for i, s in enumerate(series) if i % every == 0]


def fit_series(s, params=PARAMS):
    y = np.asarray(s.values, dtype=float)
    train_end = y.size - int(s.horizon)
    t, c = time.perf_counter(), time.process_time()
    f = ARIMAForecaster(params, period=s.period).fit(y, train_end)
    fit_sec, fit_cpu = time.perf_counter() - t, time.process_time() - c
    # the holdout forecast, as the runner makes it (one origin: the last training point)
    t, c = time.perf_counter(), time.process_time()
    f.predict(y, np.array([train_end - 1]), int(s.horizon), np.array([0.025, 0.1, 0.5, 0.9, 0.975]))
    pred_sec, pred_cpu = time.perf_counter() - t, time.process_time() - c
    i = f.info_
    return {"name": s.name, "n": int(train_end), "order": i["order"], "seasonal_order": i["seasonal_order"],
            "trend": i["trend"], "aic": i["aic"], "converged": i["converged"],
            "n_fits": i["selection"]["n_candidates"], "D": i["selection"]["D"], "d": i["selection"]["d"],
            "fit_sec": fit_sec, "predict_sec": pred_sec, "fit_cpu": fit_cpu, "predict_cpu": pred_cpu}


def label(r):
    so = r["seasonal_order"]
    return f"{tuple(r['order'])}{tuple(so[:3])}{so[3]} {r['trend']}"


def summarise(subset, rows):
    fits = np.array([r["n_fits"] for r in rows])
    for kind in ("sec", "cpu"):
        sec = np.array([r.get(f"fit_{kind}", np.nan) + r.get(f"predict_{kind}", np.nan) for r in rows])
        print(f"{subset:10} {len(rows):4d} series | {'wall' if kind == 'sec' else 'CPU '} s/series median "
              f"{np.median(sec):.3f} mean {sec.mean():.3f} p90 {np.quantile(sec, 0.9):.3f} max {sec.max():.3f} "
              f"| search fits mean {fits.mean():.1f} | predict mean "
              f"{np.mean([r.get(f'predict_{kind}', np.nan) for r in rows]):.4f} s", flush=True)


def compare(rows, path):
    before = {r["name"]: r for r in json.load(open(path))}
    both = [(before[r["name"]], r) for r in rows if r["name"] in before]
    if not both:
        print("no series in common with", path)
        return
    same = [label(a) == label(b) for a, b in both]
    daic = np.array([b["aic"] - a["aic"] for a, b in both])
    sa = np.array([a["fit_sec"] + a["predict_sec"] for a, _ in both])
    sb = np.array([b["fit_sec"] + b["predict_sec"] for _, b in both])
    print(f"vs {os.path.basename(path)}: {len(both)} series, same order {sum(same)} ({np.mean(same):.0%}); "
          f"AIC(new) - AIC(old) of the final exact fits: median {np.median(daic):+.2f} mean {daic.mean():+.2f} "
          f"min {daic.min():+.2f} max {daic.max():+.2f}; lower {np.sum(daic < -1e-6)}, equal "
          f"{np.sum(np.abs(daic) <= 1e-6)}, higher {np.sum(daic > 1e-6)} (> 2: {np.sum(daic > 2)}); "
          f"time {sa.sum():.1f} s -> {sb.sum():.1f} s ({sa.sum() / sb.sum():.2f}x)")
    for (a, b), ok, d in zip(both, same, daic):
        if not ok:
            print(f"   {b['name']:6} n={b['n']:3d} {label(a):28} -> {label(b):28} dAIC {d:+.2f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subsets", default="monthly,quarterly")
    ap.add_argument("--every", type=int, default=20)
    ap.add_argument("--save", help="write the per-series rows to this JSON file")
    ap.add_argument("--compare", help="a JSON file saved by --save (another version of the code)")
    ap.add_argument("--profile", action="store_true", help="cProfile the fits, print the top functions")
    ap.add_argument("--verbose", action="store_true", help="one line per series")
    a = ap.parse_args()
    prof = cProfile.Profile() if a.profile else None
    all_rows = []
    for subset in a.subsets.split(","):
        rows = []
        for s in sample(subset, a.every):
            if prof:
                prof.enable()
            r = fit_series(s)
            if prof:
                prof.disable()
            r["subset"] = subset
            rows.append(r)
            if a.verbose:
                print(f"  {r['name']:6} n={r['n']:3d} {label(r):28} fits {r['n_fits']:3d} "
                      f"{r['fit_sec']:.2f} s AIC {r['aic']:.2f}", flush=True)
        summarise(subset, rows)
        all_rows += rows
    orders = {}
    for r in all_rows:
        orders[label(r)] = orders.get(label(r), 0) + 1
    print("chosen orders:", ", ".join(f"{k}: {v}" for k, v in sorted(orders.items(), key=lambda kv: -kv[1])))
    if a.save:
        with open(a.save, "w") as fh:
            json.dump(all_rows, fh, indent=1)
    if a.compare:
        compare(all_rows, a.compare)
    if prof:
        st = pstats.Stats(prof)
        st.sort_stats("cumulative").print_stats(40)


if __name__ == "__main__":
    main()
