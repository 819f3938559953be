"""fanlab's auto ARIMA against R's forecast::auto.arima, series by series, on M3 (holdout protocol).

R is the reference, never a dependency. Its side is `benchmarks/arima_vs_r.R` (auto.arima and
forecast with their default settings, one R process for all series); its output for every 10th
M3 series (301 series, in subset order) is stored in `benchmarks/data/m3_auto_arima_r.csv`
(made with R 4.2.2 and forecast 8.20 from Debian, see benchmarks/data/README.md), so this
comparison reruns without R. `--rerun-r` makes it anew where Rscript is installed (all
series with `--every 1`: about an hour of R's CPU on a loaded machine).

For every series: each side's chosen orders, drift / mean, AICc, log-likelihood, the band's
innovation variance, the share of the holdout inside the 80% and 95% bands, widths at h = 1 and
h = H, CPU seconds; and R's order refitted by fanlab (same orders, same drift / mean) for a
like-for-like AICc. It prints coverage per subset and pooled side by side, order / d / D / drift
agreement, width ratios, the series whose band is degenerate, and the series where R's order,
refitted by fanlab with the same differencing, has an AICc more than 2 below fanlab's choice
(AICc values compare only at equal d and D).

    python benchmarks/arima_vs_r.py                       # every 10th series (the stored R output), -j 2
    python benchmarks/arima_vs_r.py --every 1 --rerun-r   # all 3,003 series, R run anew
    python benchmarks/arima_vs_r.py --params '{"approximation": true}'
"""

from __future__ import annotations

import os

# one BLAS thread per process, set before numpy loads: the pool's workers are forked from this
# process, so a limit set later would not reach them (two threads spinning on two cores doubled
# the CPU seconds counted per series)
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
R_SCRIPT = HERE / "arima_vs_r.R"
R_STORED = HERE / "data" / "m3_auto_arima_r.csv"
SUBSETS = ("yearly", "quarterly", "monthly", "other")
LEVELS = (80, 95)


def m3_series(every: int = 1, subsets=SUBSETS):
    from fanlab.data.panels import CompetitionParams, load_competition

    out = []
    for sub in subsets:
        out += [(sub, s) for s in load_competition("m3", CompetitionParams(subset=sub))]
    return out[::every]


def run_r(series, out_csv: Path) -> None:
    """R's side for `series` into `out_csv` (one Rscript process)."""
    rows = []
    for sub, s in series:
        n = len(s.values)
        rows.append(pd.DataFrame({"id": s.name, "subset": sub, "period": s.period or 1, "h": s.horizon,
                                  "t": np.arange(1, n + 1), "y": s.values}))
    with tempfile.TemporaryDirectory() as tmp:
        inp = Path(tmp) / "in.csv"
        pd.concat(rows).to_csv(inp, index=False)
        subprocess.run(["Rscript", str(R_SCRIPT), str(inp), str(out_csv)], check=True)


def _trend(drift: int, mean: int) -> str:
    return "t" if drift else ("c" if mean else "n")


def fit_fanlab(args):
    """One series: fanlab's auto ARIMA and R's order refitted by fanlab. Returns a dict."""
    sub, s, params, r_row = args
    from fanlab.models.arima import ARIMAForecaster

    warnings.simplefilter("ignore")
    n, h = int(s.meta["n_train"]), int(s.horizon)
    y, test = s.values, s.values[n: n + h]
    probs = np.array([0.025, 0.1, 0.9, 0.975])
    row = {"id": s.name, "subset": sub, "n": n, "h": h}
    t0 = time.process_time()
    try:
        f = ARIMAForecaster({"order": "auto", **params}, period=s.period).fit(y, n)
        fc = f.predict(y, np.array([n - 1]), h, probs)
    except Exception as exc:  # recorded, never scored
        row.update(error=f"{type(exc).__name__}: {exc}"[:300], cpu_s=time.process_time() - t0)
        return row
    row["cpu_s"] = time.process_time() - t0
    info = f.info_
    (p, d, q), (P, D, Q, _) = info["order"], info["seasonal_order"]
    row.update(error="", p=p, d=d, q=q, P=P, D=D, Q=Q, trend=info["trend"], aicc=info["aicc"], llf=info["llf"],
               band_sigma2=info["band_sigma2"], warnings=" | ".join(info["warnings"])[:300])
    for lev, (lo_p, hi_p) in zip(LEVELS, [(0.1, 0.9), (0.025, 0.975)]):
        lo, hi = fc.quantile(lo_p)[0], fc.quantile(hi_p)[0]
        row[f"cov{lev}"] = float(np.mean((test >= lo) & (test <= hi)))
        row[f"w{lev}_h1"], row[f"w{lev}_hH"] = float(hi[0] - lo[0]), float(hi[-1] - lo[-1])
    if r_row is not None and not r_row.get("error"):
        ro = [int(r_row[k]) for k in ("p", "d", "q")]
        rs = [int(r_row[k]) for k in ("P", "D", "Q")] + [int(r_row["m"])]
        spec = {"order": ro, "trend": _trend(r_row["drift"], r_row["mean"]), "variance": "r"}
        if sum(rs[:3]):
            spec["seasonal_order"] = rs
        try:
            g = ARIMAForecaster(spec, period=s.period).fit(y, n)
            row["r_order_aicc"] = g.info_["aicc"]
        except Exception as exc:
            row["r_order_aicc"], row["r_order_error"] = np.nan, f"{type(exc).__name__}: {exc}"[:200]
    return row


def report(both: pd.DataFrame) -> None:
    ok = both[(both["error_r"] == 0) & (both["error_f"] == "")]
    print(f"series: {len(both)}; R failed {int((both['error_r'] != 0).sum())}, "
          f"fanlab failed {int((both['error_f'] != '').sum())}")
    for msg in both.loc[both["error_f"] != "", ["id", "error_f"]].head(5).itertuples(index=False):
        print(f"  fanlab error {msg.id}: {msg.error_f}")
    print("\ncoverage of the holdout (mean over series of the share of h inside)")
    print(f"{'subset':10s} {'n':>5s} {'R 80%':>7s} {'fl 80%':>7s} {'R 95%':>7s} {'fl 95%':>7s}"
          f" {'w95 h1 fl/R':>12s} {'w95 hH fl/R':>12s} {'R cpu s':>8s} {'fl cpu s':>8s}")
    for sub in list(SUBSETS) + ["pooled"]:
        g = ok if sub == "pooled" else ok[ok["subset"] == sub]
        if g.empty:
            continue
        print(f"{sub:10s} {len(g):5d} {g['cov80_r'].mean():7.3f} {g['cov80_f'].mean():7.3f} "
              f"{g['cov95_r'].mean():7.3f} {g['cov95_f'].mean():7.3f} "
              f"{np.median(g['w95_h1_f'] / g['w95_h1_r']):12.3f} {np.median(g['w95_hH_f'] / g['w95_hH_r']):12.3f} "
              f"{g['cpu_s_r'].mean():8.3f} {g['cpu_s_f'].mean():8.3f}")
    same = lambda cols: np.all([ok[f"{c}_f"] == ok[f"{c}_r"] for c in cols], axis=0)
    ok = ok.assign(trend_r=[_trend(a, b) for a, b in zip(ok["drift"], ok["mean"])])
    print("\nagreement (share of series):")
    for sub in list(SUBSETS) + ["pooled"]:
        m = np.ones(len(ok), bool) if sub == "pooled" else (ok["subset"] == sub).to_numpy()
        if not m.any():
            continue
        print(f"  {sub:10s} d {np.mean(same(['d'])[m]):.3f}  D {np.mean(same(['D'])[m]):.3f}  "
              f"drift/mean {np.mean((ok['trend'] == ok['trend_r']).to_numpy()[m]):.3f}  "
              f"whole model {np.mean((same(['p', 'd', 'q', 'P', 'D', 'Q']) & (ok['trend'] == ok['trend_r']).to_numpy())[m]):.3f}")
    dd = ok[same(["d", "D"])]
    better = dd[dd["r_order_aicc"] < dd["aicc_f"] - 2]
    print(f"\nsame d and D: {len(dd)} series; R's order refitted by fanlab has AICc > 2 below fanlab's choice "
          f"on {len(better)} ({len(better) / max(len(ok), 1):.1%} of all scored series)")
    for r in better.head(10).itertuples(index=False):
        print(f"  {r.id} ({r.subset}): fanlab ({r.p_f},{r.d_f},{r.q_f})({r.P_f},{r.D_f},{r.Q_f}) {r.trend} "
              f"AICc {r.aicc_f:.2f}; R ({r.p_r},{r.d_r},{r.q_r})({r.P_r},{r.D_r},{r.Q_r}) {r.trend_r} "
              f"refitted {r.r_order_aicc:.2f}")
    zero = ok[(ok[[f"w{lv}_h1_f" for lv in LEVELS] + [f"w{lv}_hH_f" for lv in LEVELS]] <= 0).any(axis=1)]
    print(f"\nseries with a zero-width fanlab band: {len(zero)}" + (f" ({', '.join(zero['id'][:10])})" if len(zero) else ""))
    for what, col in (("d", "d"), ("D", "D")):
        diff = ok[ok[f"{col}_f"] != ok[f"{col}_r"]]
        if len(diff):
            print(f"{what} differs on {len(diff)} series: coverage 95% there R {diff['cov95_r'].mean():.3f} "
                  f"fanlab {diff['cov95_f'].mean():.3f}")
    td = ok[ok["trend"] != ok["trend_r"]]
    if len(td):
        print(f"drift / mean differs on {len(td)} series: coverage 95% there R {td['cov95_r'].mean():.3f} "
              f"fanlab {td['cov95_f'].mean():.3f}")
    s2 = ok["band_sigma2"] / ok["sigma2"]
    print(f"band variance fanlab / R: median {np.median(s2):.3f}, quartiles {np.quantile(s2, 0.25):.3f} "
          f"{np.quantile(s2, 0.75):.3f} (all series); on series with the same model "
          f"{np.median(s2[same(['p', 'd', 'q', 'P', 'D', 'Q']) & (ok['trend'] == ok['trend_r']).to_numpy()]):.3f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--every", type=int, default=10,
                    help="every k-th series in subset order (10: the 301 series of the stored R output)")
    ap.add_argument("--subset", nargs="*", default=list(SUBSETS))
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--params", default="{}", help="fanlab ARIMA params (JSON) beyond order: auto")
    ap.add_argument("--rerun-r", action="store_true", help="run R anew (else the stored CSV)")
    ap.add_argument("--r-csv", default=str(R_STORED), help="R's output to compare with (default: the stored one)")
    ap.add_argument("--out", default="results/arima_vs_r", help="folder for the per-series CSVs")
    ap.add_argument("--fanlab-csv", help="fanlab's per-series CSV of an earlier run: compare it again, fit nothing")
    a = ap.parse_args()
    series = m3_series(a.every, a.subset)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    r_csv = Path(a.r_csv)
    if a.rerun_r or not r_csv.exists():
        if shutil.which("Rscript") is None:
            print("arima_vs_r: skipped: Rscript is not installed and no stored R output "
                  "(Debian: apt-get install r-base-core r-cran-forecast)")
            return 0
        t0 = time.time()
        run_r(series, out / "r.csv")
        print(f"R: {len(series)} series in {time.time() - t0:.0f} s")
        r = pd.read_csv(out / "r.csv")
    else:
        r = pd.read_csv(r_csv)
    r = r.set_index("id")
    params = json.loads(a.params)
    if a.fanlab_csv:
        f = pd.read_csv(a.fanlab_csv, keep_default_na=False, na_values=[""])
        f["error"] = f["error"].astype(object).where(f["error"].notna(), "")
    else:
        tasks = [(sub, s, params, r.loc[s.name].to_dict() if s.name in r.index else None) for sub, s in series]
        t0 = time.time()
        with ProcessPoolExecutor(a.jobs) as ex:
            rows = list(ex.map(fit_fanlab, tasks, chunksize=4))
        print(f"fanlab: {len(rows)} series in {time.time() - t0:.0f} s wall with {a.jobs} process(es); params {params}")
        f = pd.DataFrame(rows)
        f.to_csv(out / "fanlab.csv", index=False)
    both = f.merge(r.reset_index(), on=["id", "subset"], suffixes=("_f", "_r"))
    both["error_f"] = both["error_f"].fillna("")
    report(both)
    return 0


if __name__ == "__main__":
    sys.exit(main())
