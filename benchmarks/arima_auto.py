"""Auto ARIMA: seconds per fitted series, grid vs stepwise search, chosen order and AIC.

Usage: python benchmarks/arima_auto.py [--max-pq 3] [--max-PQ 1] [--series arma21,arima110,monthly,co2]

Both searches get the same space (p, q <= max-pq; P, Q <= max-PQ on seasonal series), d and D
chosen by the same tests, so the AICs are comparable within a row (stepwise >= grid).
co2 is weekly (period 52 > 24), so order 'auto' keeps it non-seasonal. BLAS is pinned to one
thread: statsmodels' small matrix products get ~10x slower when its threads compete for cores.
If statsforecast (AutoARIMA) or R (forecast::auto.arima) happen to be installed they are
timed too; neither is a dependency.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from statsmodels.tsa.arima_process import arma_generate_sample  # noqa: E402

from fanlab.models.arima import ARIMAForecaster  # noqa: E402


def _arma(n, ar, ma, seed):
    rng = np.random.default_rng(seed)
    return arma_generate_sample(np.r_[1, -np.asarray(ar)], np.r_[1, ma], n, distrvs=rng.standard_normal, burnin=300)


def _monthly(n=300, seed=3):
    """(1 - 0.5 B)(1 - B^12) y = (1 + 0.5 B^12) e."""
    rng = np.random.default_rng(seed)
    e = rng.standard_normal(n + 12)
    w = e[12:] + 0.5 * e[:-12]
    y = np.zeros(n)
    u = 0.0
    for t in range(n):
        u = 0.5 * u + w[t]
        y[t] = (y[t - 12] if t >= 12 else 0.0) + u
    return 100.0 + y


def _co2():
    from fanlab.registry import build_dataset

    try:
        s = build_dataset("co2", {}, 0)[0]
    except Exception:  # 59 missing weeks: the default `missing: error` refuses them
        s = build_dataset("co2", {"missing": "interpolate"}, 0)[0]
    return np.asarray(s.values if hasattr(s, "values") else s.y, dtype=float), s.period


SERIES = {
    "arma21": lambda: (_arma(1200, (0.5, -0.2), (0.3,), 1), None),
    "arima110": lambda: (np.cumsum(_arma(1200, (0.6,), (), 2)), None),
    "monthly": lambda: (_monthly(), 12),
    "co2": _co2,
}


def run_fanlab(y, period, search, max_pq, max_PQ):
    params = {"order": "auto", "search": search,
              "grid": {"max_p": max_pq, "max_q": max_pq, "max_P": max_PQ, "max_Q": max_PQ}}
    t = time.perf_counter()
    f = ARIMAForecaster(params, period=period).fit(y, y.size)
    sec = time.perf_counter() - t
    i = f.info_
    so = i["seasonal_order"]
    order = f"{tuple(i['order'])}" + (f"{tuple(so[:3])}{so[3]}" if so[3] else "") + f" {i['trend'] or ''}"
    return sec, order, i["aic"], i["selection"]["n_candidates"]


def run_statsforecast(y, period):
    from statsforecast.models import AutoARIMA

    t = time.perf_counter()
    m = AutoARIMA(season_length=period or 1).fit(y)
    sec = time.perf_counter() - t
    return sec, str(m.model_.get("arma")), float(m.model_.get("aic", float("nan")))


def run_r(y, period):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "y.txt")
        np.savetxt(path, y)
        code = (f"library(forecast); y <- ts(scan('{path}', quiet=TRUE), frequency={period or 1}); "
                "t <- system.time(f <- auto.arima(y))[['elapsed']]; "
                "cat(t, paste(arimaorder(f), collapse=','), f$aic, '\\n')")
        out = subprocess.run(["Rscript", "-e", code], capture_output=True, text=True, timeout=600)
    sec, order, aic = out.stdout.split()
    return float(sec), order, float(aic)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-pq", type=int, default=3)
    ap.add_argument("--max-PQ", type=int, default=1, help="auto.arima's default is 2; 1 keeps the grid short")
    ap.add_argument("--series", default=",".join(SERIES))
    a = ap.parse_args()
    extra = []
    if importlib.util.find_spec("statsforecast"):
        extra.append(("statsforecast", run_statsforecast))
    if shutil.which("Rscript"):
        extra.append(("R auto.arima", run_r))
    print(f"max p, q = {a.max_pq}; max P, Q = {a.max_PQ}; statsforecast "
          f"{'found' if importlib.util.find_spec('statsforecast') else 'not installed'}; "
          f"Rscript {'found' if shutil.which('Rscript') else 'not found'}")
    hdr = (f"{'series':9} {'n':>5} {'m':>3} | {'grid s':>7} {'fits':>4} {'grid order':24} {'AIC':>9} | "
           f"{'step s':>7} {'fits':>4} {'stepwise order':24} {'AIC':>9} | {'grid/step':>9}")
    print(hdr)
    print("-" * len(hdr))
    for name in a.series.split(","):
        y, period = SERIES[name]()
        g = run_fanlab(y, period, "grid", a.max_pq, a.max_PQ)
        s = run_fanlab(y, period, "stepwise", a.max_pq, a.max_PQ)
        print(f"{name:9} {y.size:5d} {period or 1:3d} | {g[0]:7.2f} {g[3]:4d} {g[1]:24} {g[2]:9.2f} | "
              f"{s[0]:7.2f} {s[3]:4d} {s[1]:24} {s[2]:9.2f} | {g[0] / s[0]:9.2f}", flush=True)
        for label, fn in extra:
            try:
                sec, order, aic = fn(y, period)
                print(f"{'':9} {label}: {sec:.2f} s, {order}, AIC {aic:.2f}")
            except Exception as exc:
                print(f"{'':9} {label}: failed ({type(exc).__name__}: {exc})")


if __name__ == "__main__":
    main()
