"""The tables of experiments/m3/README.md, printed from a run of configs/m3.yaml.

    python experiments/m3/tables.py results/m3

Per subset: the summary's pooled coverage (t interval between series), median width, MSIS,
CRPS skill against climatology and MASE. Over every series of the run's
subsets: coverage of every test target pooled, with a cluster (series) robust 95% interval,
from forecasts.parquet.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

SUBSETS = ["m3_yearly", "m3_quarterly", "m3_monthly", "m3_other"]


def fmt(v, d=3):
    return "-" if v is None or (isinstance(v, float) and np.isnan(v)) else (
        ("inf" if v > 0 else "-inf") if np.isinf(v) else f"{v:.{d}f}")


def subset_table(s: pd.DataFrame, datasets: list[str]) -> str:
    lines = ["| subset | method | series | coverage 80% [95% CI] | coverage 95% [95% CI] | median width 95% | MSIS 95% | CRPS skill | MASE |",
             "|---|---|---|---|---|---|---|---|---|"]
    for ds in datasets:
        d = s[s["dataset"] == ds]
        for m in dict.fromkeys(d["method"]):
            r80 = d[(d["method"] == m) & np.isclose(d["level"], 0.8)].iloc[0]
            r95 = d[(d["method"] == m) & np.isclose(d["level"], 0.95)].iloc[0]
            cov = [f"{fmt(r['coverage'])} [{fmt(r['coverage_lo'], 2)}, {fmt(r['coverage_hi'], 2)}]" for r in (r80, r95)]
            lines.append(f"| {ds} | {m} | {int(r95['n_series'])} | {cov[0]} | {cov[1]} | {fmt(r95['width_median'], 1)} | "
                         f"{fmt(r95['msis'], 2)} | {fmt(r95['crps_skill'], 2)} | {fmt(r95['mase'], 2)} |")
    return "\n".join(lines)


def all_series(fc: pd.DataFrame, method: str, datasets: list[str]) -> str:
    lines = ["| method | level | targets | series | coverage [95% CI, clustered by series] |", "|---|---|---|---|---|"]
    d = fc[(fc["method"] == method) & fc["dataset"].isin(datasets)]
    for level in (0.8, 0.95):
        lo, hi = d[f"lo_{level:g}"].to_numpy(), d[f"hi_{level:g}"].to_numpy()
        hit = ((d["y"].to_numpy() >= lo) & (d["y"].to_numpy() <= hi)).astype(float)
        g = pd.DataFrame({"s": d["dataset"] + "/" + d["series"], "hit": hit}).groupby("s")["hit"].agg(["sum", "count"])
        p = g["sum"].sum() / g["count"].sum()
        n = len(g)
        # ratio estimator: variance of sum_i (hits_i - p n_i) over series
        resid = g["sum"] - p * g["count"]
        se = np.sqrt(n / (n - 1) * np.sum(resid ** 2)) / g["count"].sum()
        lines.append(f"| {method} | {level:g} | {int(g['count'].sum())} | {n} | {p:.3f} [{p - 1.96 * se:.3f}, {p + 1.96 * se:.3f}] |")
    return "\n".join(lines)


def main(run: str) -> None:
    s = pd.read_csv(Path(run) / "summary.csv")
    fc = pd.read_parquet(Path(run) / "forecasts.parquet")
    print("## Per subset (each series' last h points; t interval between series)\n")
    print(subset_table(s, [x for x in SUBSETS if x in set(s["dataset"])]))
    present = [x for x in SUBSETS if x in set(s["dataset"])]
    n = int(s[s["dataset"].isin(present)].groupby("dataset")["n_series"].max().sum())
    print(f"\n## Every target of the {n:,} series of {', '.join(present)} pooled\n")
    for m in [m for m in ("arima", "ets", "naive", "climatology") if m in set(fc["method"])]:
        print(all_series(fc, m, SUBSETS))
        print()
    if "m3_yearly_cal" in set(s["dataset"]):
        print("## Yearly with 6 calibration points before each test block: conformal pooled over series\n")
        print(subset_table(s, ["m3_yearly_cal"]))


if __name__ == "__main__":
    main(sys.argv[1])
