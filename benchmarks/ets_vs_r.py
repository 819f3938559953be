"""fanlab's `ets` against R's `forecast::ets` on M3, holdout protocol: coverage, chosen model, CPU.

Usage: python benchmarks/ets_vs_r.py [--every 20] [--subsets yearly,quarterly,monthly,other]
                                     [--rows rows.jsonl] [--no-r] [--from-rows rows.jsonl]

Both fit each series' training part (all but its last h points: h = 6 yearly, 8 quarterly,
18 monthly, 8 other) with the automatic class choice by AICc and forecast the h test points with
80% and 95% bands. The sample is every `every`-th series of each subset (1: all 3,003). Printed per
subset, side by side: coverage at 80 / 95% (the share of test points inside the band, pooled over
series and steps), the share of series where both chose the same class (and the same error,
trend and season types), and CPU seconds per series (fanlab: this process's CPU time for fit and
predict; R: `proc.time()` around `ets` and `forecast` inside one Rscript process that fits every
series from one CSV, so R's start-up is not counted).

R is a reference only, never a dependency: without `Rscript` and the `forecast` package the R
columns are skipped with one line. R's intervals are analytic for its classes 1-3 (Gaussian with
the exact or approximate variance) and simulated otherwise; fanlab's are analytic for additive
error and simulated (1,000 paths) for multiplicative error. `--rows` appends one JSON line per
series as it goes, in an order whose every prefix is a spread sample of each subset, and
`--from-rows` prints the table from such a file (a long run can be read before it ends). Run it on one core, e.g.
``nice python benchmarks/ets_vs_r.py --every 1``.

Measured at commit 4b8e5b5, ``--every 2`` (1,502 series), R 4 with forecast 8.20, on a shared
2-core machine (CPU seconds are this machine's; R's wall time was inflated by the load):

    subset         n | cov80 fanlab      R | cov95 fanlab      R | same class  same E/T/S     | CPU s fanlab     R
    yearly       323 |        0.713  0.743 |        0.851  0.866 |       0.82  0.89/0.91/1.00 |        0.057 0.014
    quarterly    378 |        0.696  0.705 |        0.862  0.865 |       0.73  0.93/0.84/0.88 |        0.412 0.136
    monthly      714 |        0.785  0.774 |        0.924  0.920 |       0.64  0.85/0.78/0.87 |        0.961 0.660
    other         87 |        0.825  0.818 |        0.943  0.934 |       0.98  0.99/0.99/1.00 |        0.061 0.016
    all         1502 |        0.750  0.753 |        0.894  0.895 |       0.72  0.89/0.83/0.91 |        0.576 0.352
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import fanlab  # noqa: E402
from fanlab.models.ets import ETSForecaster  # noqa: E402

PROBS = np.array([0.025, 0.1, 0.9, 0.975])
LEVELS = (0.8, 0.95)

R_SCRIPT = r"""
suppressPackageStartupMessages(library(forecast))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1], stringsAsFactors = FALSE)
out <- list()
for (nm in unique(d$series)) {
  x <- d[d$series == nm, ]
  y <- ts(x$y, frequency = x$period[1])
  h <- x$h[1]
  t0 <- proc.time()
  res <- tryCatch({
    fit <- ets(y)
    fc <- forecast(fit, h = h, level = c(80, 95))
    list(model = fit$method, mean = as.numeric(fc$mean),
         lo80 = as.numeric(fc$lower[, 1]), hi80 = as.numeric(fc$upper[, 1]),
         lo95 = as.numeric(fc$lower[, 2]), hi95 = as.numeric(fc$upper[, 2]))
  }, error = function(e) NULL)
  cpu <- sum((proc.time() - t0)[c(1, 2)])
  if (is.null(res)) {
    out[[nm]] <- data.frame(series = nm, step = NA, model = "error", mean = NA, lo80 = NA, hi80 = NA,
                            lo95 = NA, hi95 = NA, cpu = cpu)
  } else {
    out[[nm]] <- data.frame(series = nm, step = seq_len(h), model = res$model, mean = res$mean,
                            lo80 = res$lo80, hi80 = res$hi80, lo95 = res$lo95, hi95 = res$hi95, cpu = cpu)
  }
}
write.csv(do.call(rbind, out), args[2], row.names = FALSE)
"""


def sample(subsets, every):
    """(subset, series) of every `every`-th series, ordered so that any prefix of the list is itself
    a spread sample of every subset (series 0, 10, 20, ... of each subset first, then 1, 11, ...)."""
    out = []
    for j, subset in enumerate(subsets):
        series = fanlab.datasets.load("m3", subset=subset)
        out += [((i // every) % 10, j, i, subset, s) for i, s in enumerate(series) if i % every == 0]
    return [(subset, s) for *_, subset, s in sorted(out, key=lambda x: x[:3])]


def r_available() -> str | None:
    """None where R's forecast package runs, else why not."""
    if shutil.which("Rscript") is None:
        return "Rscript not found"
    ok = subprocess.run(["Rscript", "-e", "suppressPackageStartupMessages(library(forecast))"],
                        capture_output=True, text=True)
    return None if ok.returncode == 0 else "R package forecast not installed"


def run_r(items) -> tuple[pd.DataFrame, float]:
    """R's ets on every series in one Rscript process; rows (series, step, ...) and its wall time."""
    with tempfile.TemporaryDirectory(prefix="fanlab-ets-r-") as tmp:
        rows = []
        for _, s in items:
            n = s.values.size - int(s.horizon)
            rows.append(pd.DataFrame({"series": s.name, "period": s.period or 1, "h": int(s.horizon),
                                      "y": s.values[:n]}))
        pd.concat(rows).to_csv(os.path.join(tmp, "in.csv"), index=False)
        with open(os.path.join(tmp, "ets.R"), "w") as fh:
            fh.write(R_SCRIPT)
        t = time.perf_counter()
        subprocess.run(["Rscript", os.path.join(tmp, "ets.R"), os.path.join(tmp, "in.csv"),
                        os.path.join(tmp, "out.csv")], check=True)
        wall = time.perf_counter() - t
        return pd.read_csv(os.path.join(tmp, "out.csv")), wall


def run_fanlab(subset, s) -> dict:
    y = np.asarray(s.values, dtype=float)
    h = int(s.horizon)
    n = y.size - h
    c = time.process_time()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            f = ETSForecaster({}, period=s.period, check_horizon=h).fit(y, n, seed=0)
            fc = f.predict(y, np.array([n - 1]), h, PROBS)
        q = fc.quantiles[0]
        row = {"model": f.info_["model"], "mean": fc.mean[0].tolist(), "lo95": q[0].tolist(),
               "lo80": q[1].tolist(), "hi80": q[2].tolist(), "hi95": q[3].tolist()}
    except Exception as exc:  # counted, not fatal
        row = {"model": "error", "why": f"{type(exc).__name__}: {exc}"[:200]}
    row.update(series=s.name, subset=subset, cpu=time.process_time() - c, y=y[n:].tolist())
    return row


def parts(label: str) -> tuple[str, str, str]:
    """'ETS(M,Ad,N)' -> ('M', 'Ad', 'N')."""
    inner = label[label.find("(") + 1: label.rfind(")")].split(",")
    return tuple(inner) if len(inner) == 3 else ("?", "?", "?")


def coverage(rows, lo, hi) -> float:
    inside = [np.mean((np.asarray(r["y"]) >= np.asarray(r[lo])) & (np.asarray(r["y"]) <= np.asarray(r[hi])))
              for r in rows if r["model"] != "error"]
    return float(np.mean(inside)) if inside else float("nan")


def report(py_rows, r_rows: dict | None, r_wall: float | None) -> None:
    head = f"{'subset':10} {'n':>5} | {'cov80 fanlab':>12} {'R':>6} | {'cov95 fanlab':>12} {'R':>6} | " \
           f"{'same class':>10} {'same E/T/S':>16} | {'CPU s/series fanlab':>19} {'R':>6} | errors fl/R"
    print(head)
    print("-" * len(head))
    groups = {}
    for r in py_rows:
        groups.setdefault(r["subset"], []).append(r)
    groups["all"] = list(py_rows)
    for subset, rows in groups.items():
        cpu = np.mean([r["cpu"] for r in rows])
        line = f"{subset:10} {len(rows):5d} | {coverage(rows, 'lo80', 'hi80'):12.3f} "
        if r_rows is None:
            print(line + f"{'-':>6} | {coverage(rows, 'lo95', 'hi95'):12.3f} {'-':>6} | {'-':>10} {'-':>16} | "
                  f"{cpu:19.3f} {'-':>6} | {sum(r['model'] == 'error' for r in rows)}/-")
            continue
        rr = [dict(r_rows[r["series"]], y=r["y"]) for r in rows if r["series"] in r_rows]
        both = [(r, r_rows[r["series"]]) for r in rows
                if r["series"] in r_rows and r["model"] != "error" and r_rows[r["series"]]["model"] != "error"]
        same = np.mean([a["model"] == b["model"] for a, b in both]) if both else float("nan")
        pa = [(parts(a["model"]), parts(b["model"])) for a, b in both]
        ets_ = [np.mean([x[i] == z[i] for x, z in pa]) if pa else float("nan") for i in range(3)]
        rcpu = np.mean([r["cpu"] for r in rr]) if rr else float("nan")
        print(line + f"{coverage(rr, 'lo80', 'hi80'):6.3f} | {coverage(rows, 'lo95', 'hi95'):12.3f} "
              f"{coverage(rr, 'lo95', 'hi95'):6.3f} | {same:10.2f} {ets_[0]:5.2f}/{ets_[1]:4.2f}/{ets_[2]:4.2f} | "
              f"{cpu:19.3f} {rcpu:6.3f} | {sum(r['model'] == 'error' for r in rows)}/"
              f"{sum(r['model'] == 'error' for r in rr)}")
    if r_wall is not None:
        print(f"R: one Rscript process, {r_wall:.1f} s wall for {len(r_rows)} series (start-up included)")
    counts = {}
    for r in py_rows:
        counts[r["model"]] = counts.get(r["model"], 0) + 1
    print("fanlab's classes:", ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1])))
    if r_rows:
        counts = {}
        for r in r_rows.values():
            counts[r["model"]] = counts.get(r["model"], 0) + 1
        print("R's classes:     ", ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1])))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subsets", default="yearly,quarterly,monthly,other")
    ap.add_argument("--every", type=int, default=20, help="every N-th series of each subset (1: all)")
    ap.add_argument("--rows", help="append one JSON line per series (fanlab and R) to this file")
    ap.add_argument("--no-r", action="store_true", help="fanlab only")
    ap.add_argument("--from-rows", help="print the table from a --rows file (e.g. of a run cut short)")
    a = ap.parse_args()
    if a.from_rows:
        lines = [json.loads(x) for x in open(a.from_rows)]
        r_rows = {x["fanlab"]["series"]: x["r"] for x in lines if x["r"] is not None}
        print(f"{len(lines)} series read from {a.from_rows}")
        report([x["fanlab"] for x in lines], r_rows or None, None)
        return
    items = sample(a.subsets.split(","), a.every)
    print(f"M3, every {a.every}-th series: {len(items)} series", flush=True)
    r_rows, r_wall = None, None
    why = "skipped (--no-r)" if a.no_r else r_available()
    if why:
        print(f"R's ets: {why}; fanlab only")
    else:
        table, r_wall = run_r(items)
        r_rows = {}
        for name, g in table.groupby("series", sort=False):
            g = g.sort_values("step")
            r_rows[str(name)] = {"model": str(g["model"].iloc[0]), "cpu": float(g["cpu"].iloc[0]),
                                 **{k: g[k].to_numpy(dtype=float).tolist() for k in ("lo80", "hi80", "lo95", "hi95")}}
        print(f"R's ets: {len(r_rows)} series in {r_wall:.1f} s", flush=True)
    py_rows = []
    fh = open(a.rows, "a") if a.rows else None
    for i, (subset, s) in enumerate(items):
        row = run_fanlab(subset, s)
        py_rows.append(row)
        if fh:
            fh.write(json.dumps({"fanlab": row, "r": (r_rows or {}).get(s.name)}) + "\n")
            fh.flush()
        if (i + 1) % 100 == 0:
            print(f"  fanlab: {i + 1} of {len(items)} series", flush=True)
    report(py_rows, r_rows, r_wall)


if __name__ == "__main__":
    main()
