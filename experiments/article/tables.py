"""The tables of experiments/article/README.md, printed from a run's summary.csv.

Every number in the study's text comes from here (or from summary.csv beside the README,
a copy of the run's), so the text follows the files:

    python experiments/article/tables.py results/article [results/article_datasize]
    python experiments/article/tables.py --panel results/article_panel
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

STATIONARY = ["arma21", "ar95", "ar99", "seasonal", "t_ar1", "garch", "setar"]
ORDER = ["arma21", "ar95", "ar99", "seasonal", "t_ar1", "garch", "setar", "arima110", "level_break", "sunspots"]


def f3(v, flag: str = "") -> str:
    if isinstance(v, str):
        return v
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "n/a" if flag.startswith("n/a") else "-"
    if np.isinf(v):
        return "inf" if v > 0 else "-inf"
    return f"{v:.3f}" + ("*" if flag and not flag.startswith("n/a") else "")


def f2(v) -> str:
    return "-" if v is None or (isinstance(v, float) and np.isnan(v)) else (("inf" if v > 0 else "-inf") if np.isinf(v) else f"{v:.2f}")


def pivot(s: pd.DataFrame, level: float, col: str, fmt=f3, flagged: bool = False) -> str:
    d = s[np.isclose(s["level"], level)]
    datasets = [x for x in ORDER if x in set(d["dataset"])] + sorted(set(d["dataset"]) - set(ORDER))
    methods = list(dict.fromkeys(d["method"]))
    lines = ["| method | " + " | ".join(datasets) + " |", "|---" * (len(datasets) + 1) + "|"]
    for m in methods:
        cells = []
        for ds in datasets:
            r = d[(d["dataset"] == ds) & (d["method"] == m)]
            if r.empty:
                cells.append("")
                continue
            note = r["note"].iloc[0] if isinstance(r["note"].iloc[0], str) else ""
            cells.append(fmt(r[col].iloc[0], note) if flagged else fmt(r[col].iloc[0]))
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def detail(s: pd.DataFrame, dataset: str, level: float, methods=None) -> str:
    d = s[(s["dataset"] == dataset) & np.isclose(s["level"], level)]
    if methods:
        d = d[d["method"].isin(methods)]
    cols = ["coverage", "coverage_h1", "coverage_h10", "coverage_h50", "coverage_h100", "joint_coverage",
            "width_ratio_h1", "width_ratio_h100", "mae_ratio_h1", "mae_ratio", "crps_skill_h1", "crps_skill"]
    head = "| method | coverage [95% CI] | h=1 | h=10 | h=50 | h=100 | joint | width/oracle h1 | h100 | MAE/oracle h1 | all h | CRPS skill h1 | all h |"
    lines = [head, "|---" * 13 + "|"]
    for _, r in d.iterrows():
        note = r["note"] if isinstance(r["note"], str) else ""
        cov = "n/a" if np.isnan(r["coverage"]) else f"{r['coverage']:.3f} [{r['coverage_lo']:.2f}, {r['coverage_hi']:.2f}]"
        vals = [f3(r[c], note) if c.startswith(("coverage_h", "joint")) else f2(r[c]) for c in cols[1:]]
        lines.append(f"| {r['method']} | {cov} | " + " | ".join(vals) + " |")
    return "\n".join(lines)


def main(run: str, datasize: str | None = None) -> None:
    s = pd.read_csv(Path(run) / "summary.csv")
    print("## coverage at 0.95, mean over h (* = some infinite bands)\n")
    print(pivot(s, 0.95, "coverage", flagged=True))
    for col, what in (("crps_skill_h1", "CRPS skill vs climatology at h = 1"),
                      ("crps_skill_h5", "CRPS skill vs climatology at h = 5"),
                      ("crps_skill", "CRPS skill vs climatology, all h"),
                      ("width_ratio_h100", "width / oracle width at h = 100, level 0.95"),
                      ("mae_ratio_h1", "MAE / oracle MAE at h = 1"),
                      ("mae_ratio", "MAE / oracle MAE, all h")):
        print(f"\n## {what}\n")
        print(pivot(s, 0.95, col, fmt=f2))
    for ds in ("arima110", "ar99", "arma21", "level_break"):
        if ds in set(s["dataset"]):
            print(f"\n## {ds} at 0.95\n")
            print(detail(s, ds, 0.95))
    g = s[(s["dataset"] == "garch") & np.isclose(s["level"], 0.8)]
    if len(g):
        print("\n## garch at 0.8: coverage by state at the origin (oracle sd thirds)\n")
        print("| method | all | calm | mid | volatile |\n|---|---|---|---|---|")
        for _, r in g.iterrows():
            print(f"| {r['method']} | {f3(r['coverage'])} | {f3(r['cond_coverage_low'])} | "
                  f"{f3(r['cond_coverage_mid'])} | {f3(r['cond_coverage_high'])} |")
    if datasize:
        d = pd.read_csv(Path(datasize) / "summary.csv")
        d = d[np.isclose(d["level"], 0.95)]
        order = {"oracle": 0, "arima": 1, "lstm_gauss": 2, "climatology": 3}
        d = d.assign(_n=d["dataset"].str.extract(r"_(\d+)k$")[0].astype(float),
                     _m=d["method"].map(order).fillna(9)).sort_values(["_n", "_m"])
        print("\n## data size: level 0.95\n")
        print("| dataset | method | coverage [95% CI] | h=100 | width/oracle all h | h=100 | MAE/oracle h=1 | all h | CRPS skill h1 |")
        print("|---|---|---|---|---|---|---|---|---|")
        for _, r in d.iterrows():
            print(f"| {r['dataset']} | {r['method']} | {f3(r['coverage'])} [{r['coverage_lo']:.2f}, {r['coverage_hi']:.2f}] | "
                  f"{f3(r['coverage_h100'])} | {f2(r['width_ratio'])} | {f2(r['width_ratio_h100'])} | "
                  f"{f2(r['mae_ratio_h1'])} | {f2(r['mae_ratio'])} | {f2(r['crps_skill_h1'])} |")

def panel(run: str) -> None:
    """The panel arm (configs/article_panel.yaml): per process, the 100-series panel (global
    LSTMs, local ARIMA, references) and its first 20 series (local Gaussian LSTM, ARIMA)."""
    s = pd.read_csv(Path(run) / "summary.csv")
    for proc in ("arima110", "ar99", "arma21"):
        for suffix in ("x100", "x20"):
            ds = f"{proc}_{suffix}"
            if ds in set(s["dataset"]):
                for level in (0.95, 0.8):
                    print(f"\n## {ds} at {level:g}\n")
                    print(detail(s, ds, level))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--panel"]:
        panel(sys.argv[2])
    else:
        main(*sys.argv[1:3])
