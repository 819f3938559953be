"""Competence of the LSTM arms against the oracle at the headline study's settings.

Run: ``python benchmarks/lstm_competence.py VARIANT [VARIANT ...] [--seeds 0 1 2] [--process arma arima]``

ARMA(2,1) (ar [0.5, -0.2], ma [0.3]) and ARIMA(1,1,0) (ar [0.5]), n = 2000, split
0.6/0.2/0.2, context 200, H = 100, origins every 10 steps of the test block. Prints, per
process and variant, the mean over seeds of the MAE at h = 1/10/50/100, the CRPS skill
1 - CRPS / CRPS_clim at h = 1..5 (climatology = the training block's empirical marginal),
epochs run and seconds per fit (torch on one thread). The oracle is printed first.
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
             "arima": ("arima", {"ar": [0.5], "n": 2000})}
HS = (1, 10, 50, 100)

VARIANTS: dict[str, dict] = {
    "point": {"head": "point"},
    "gauss": {"head": "gaussian"},
    "rec_gauss": {"head": "gaussian", "strategy": "recursive"},
    "mc_noise": {"head": "point", "uncertainty": "mc_dropout", "noise": True},
}


def score(process: str, seed: int, method: str, params: dict) -> dict:
    name, dparams = PROCESSES[process]
    series = registry.build_dataset(name, dparams, seed)[0]
    y = np.asarray(series.values, dtype=float)
    split = make_split(len(y), 0.6, 0.2, 0.2, horizon=H)
    ctx = BuildContext(series=series, split=split, horizon=H, stride=STRIDE)
    origins = split.test_origins(H, STRIDE)
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
    ap.add_argument("variants", nargs="*", default=["oracle"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--process", nargs="+", default=list(PROCESSES))
    ap.add_argument("--set", default="{}", help="JSON params merged into every LSTM variant")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    extra = json.loads(a.set)
    for process in a.process:
        for v in a.variants:
            method, params = ("oracle", {}) if v == "oracle" else ("lstm", {**VARIANTS.get(v, json.loads(v) if v.startswith("{") else {}), **extra})
            rows = [score(process, s, method, params) for s in a.seeds]
            mae = np.mean([r["mae"] for r in rows], axis=0)
            skill = np.mean([r["skill"] for r in rows], axis=0)
            fit = np.mean([r["fit_s"] for r in rows])
            ep = [r["epochs"] for r in rows]
            be = [r["best_epoch"] for r in rows]
            print(f"{process:6s} {v[:40]:40s} {json.dumps(extra)[:60]:s}\n   MAE h1/10/50/100 "
                  + " ".join(f"{m:6.3f}" for m in mae) + "  skill h1..5 " + " ".join(f"{s:6.3f}" for s in skill)
                  + f"  epochs {ep} best {be}  fit {fit:.1f}s", flush=True)


if __name__ == "__main__":
    main()
