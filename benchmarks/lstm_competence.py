"""Competence of the LSTM arms against the oracle at the headline study's settings.

Run: ``python benchmarks/lstm_competence.py VARIANT [VARIANT ...] [--seeds 0 1 2] [--process arma arima ar95]``

A VARIANT is a name of `VARIANTS` or a JSON dict of LSTM params (``'{"head": "gaussian", "context": 50}'``).

ARMA(2,1) (ar [0.5, -0.2], ma [0.3]) and ARIMA(1,1,0) (ar [0.5]), n = 2000, split
0.6/0.2/0.2, context 200, H = 100, origins every 10 steps of the test block. Prints, per
process and variant, the mean over seeds of the MAE at h = 1/10/50/100 and the ratio of the h = 1
MAE to the oracle's on the same seed, the CRPS skill 1 - CRPS / CRPS_clim at h = 1..5
(climatology = the training block's empirical marginal) and each seed's mean skill over
h = 2..5 (mean +- its standard error over seeds: the seeds' noise), epochs run and seconds per
fit (torch on one thread). The oracle is printed first. ``--json F`` appends the numbers.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import scoringrules as sr
import torch

from fanlab import registry
from fanlab.data.splits import make_split
from fanlab.forecast import FINE_LEVELS, probs_for_levels
from fanlab.metrics.scores import crps
from fanlab.context import BuildContext

H, STRIDE = 100, 10
PROCESSES = {"arma": ("arma", {"ar": [0.5, -0.2], "ma": [0.3], "sigma": 1.0, "n": 2000}),
             "arima": ("arima", {"ar": [0.5], "n": 2000}),
             "ar95": ("arma", {"ar": [0.95], "n": 2000})}
HS = (1, 10, 50, 100)

VARIANTS: dict[str, dict] = {
    "point": {"head": "point"},
    "gauss": {"head": "gaussian"},
    "rec_gauss": {"head": "gaussian", "strategy": "recursive"},
    "mc_noise": {"head": "point", "uncertainty": "mc_dropout", "noise": True},
}


def score(process: str, seed: int, method: str, params: dict, stride: int = STRIDE) -> dict:
    name, dparams = PROCESSES[process]
    series = registry.build_dataset(name, dparams, seed)[0]
    y = np.asarray(series.values, dtype=float)
    split = make_split(len(y), 0.6, 0.2, 0.2, horizon=H)
    ctx = BuildContext(series=series, split=split, horizon=H, stride=stride)
    origins = split.test_origins(H, stride)
    probs = probs_for_levels(FINE_LEVELS)
    t0 = time.perf_counter()
    model = registry.build_method(method, params, ctx).fit(y, split.train_end, seed=seed)
    fit_s = time.perf_counter() - t0
    fc = model.predict(y, origins, H, probs)
    target = y[origins[:, None] + np.arange(1, H + 1)[None, :]]
    mae = np.abs(target - fc.mean).mean(axis=0)
    c = crps(target, fc).mean(axis=0)
    clim = np.asarray(sr.crps_ensemble(target[:, :5], np.broadcast_to(y[: split.train_end], (target.shape[0], 5, split.train_end)),
                                       m_axis=-1, estimator="qd")).mean(axis=0)
    info = getattr(fc, "info", {}) or {}
    return {"mae": [float(mae[h - 1]) for h in HS], "skill": (1 - c[:5] / clim).tolist(), "fit_s": fit_s,
            "epochs": info.get("epochs"), "best_epoch": info.get("best_epoch")}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("variants", nargs="*", default=["gauss"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--process", nargs="+", default=["arma", "arima"])
    ap.add_argument("--set", default="{}", help="JSON params merged into every LSTM variant")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--stride", type=int, default=STRIDE,
                    help="origins every `stride` steps of the test block (1: 301 per series, for a ratio to "
                         "the oracle with a third of the noise of the default 31)")
    ap.add_argument("--json", help="append one JSON line per process and variant to this file")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    extra = json.loads(a.set)
    for process in a.process:
        # the oracle first, on the same seeds: the LSTM's MAE is read as a ratio to it
        oracle = [score(process, s, "oracle", {}, a.stride) for s in a.seeds]
        for v in ["oracle"] + [v for v in a.variants if v != "oracle"]:
            if v == "oracle":
                rows, params = oracle, {}
            else:
                params = {**VARIANTS.get(v, json.loads(v) if v.startswith("{") else {}), **extra}
                rows = [score(process, s, "lstm", params, a.stride) for s in a.seeds]
            mae = np.mean([r["mae"] for r in rows], axis=0)
            ratio = np.array([r["mae"][0] / o["mae"][0] for r, o in zip(rows, oracle)])
            skill = np.array([r["skill"] for r in rows])  # (seeds, 5)
            s25 = skill[:, 1:].mean(axis=1)  # each seed's mean skill over h = 2..5
            se = s25.std(ddof=1) / np.sqrt(len(s25)) if len(s25) > 1 else np.nan
            fit = np.mean([r["fit_s"] for r in rows])
            print(f"{process:6s} {v[:60]:60s} {json.dumps(extra)[:60]:s}\n   MAE h1/10/50/100 "
                  + " ".join(f"{m:6.3f}" for m in mae) + f"  h1 / oracle {ratio.mean():.3f} (seeds {np.round(ratio, 3).tolist()})"
                  + "  skill h1..5 " + " ".join(f"{x:6.3f}" for x in skill.mean(axis=0))
                  + f"  skill h2..5 {s25.mean():.3f} +- {se:.3f}"
                  + f"  epochs {[r['epochs'] for r in rows]} best {[r['best_epoch'] for r in rows]}  fit {fit:.1f}s",
                  flush=True)
            if a.json:
                with open(a.json, "a") as fh:
                    fh.write(json.dumps({"process": process, "variant": v, "params": params, "seeds": a.seeds,
                                         "stride": a.stride,
                                         "mae": mae.tolist(), "mae_h1_ratio": ratio.tolist(),
                                         "skill": skill.tolist(), "skill_h2_5": s25.tolist(), "fit_s": fit,
                                         "epochs": [r["epochs"] for r in rows]}, default=str) + "\n")


if __name__ == "__main__":
    main()
