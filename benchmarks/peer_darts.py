"""fanlab against darts: the same forecasting job run by both, side by side in one run.

    python benchmarks/peer_darts.py            # smoke run (1 round, 1 epoch, 2 ensemble members): ~2 min
    python benchmarks/peer_darts.py --full     # the job below, 3 rounds: ~30 min on 2 cores (busy ones)

The job: fanlab's `arma` dataset (ARMA(2,1), ar [0.5, -0.2], ma [0.3], sigma 1, n = 2,000,
seed 0: both sides get the identical values), train 1,400 / calibration 300 / test 300, 41
forecast origins every 5 steps, H = 100. Arms: ARIMA(2,0,1), point LSTM, LSTM + MC dropout
(epistemic only: fanlab `noise: false`, darts `mc_dropout=True`), Gaussian-head LSTM, a
5-member deep ensemble of Gaussian LSTMs, split conformal (absolute score, 95%) around the
point LSTM and around the ensemble. Every LSTM: hidden 64, context 200, batch 64, Adam lr
0.003, gradient clipping 1.0, 20 epochs (fanlab: `epochs: 20, patience: 20`, so early
stopping never stops a fit before epoch 20; darts: `n_epochs=20`, no early stopping),
200 samples where an arm samples.

darts (0.48.1, torch CPU) runs in its own venv, `.venv-darts` beside this repo's `.venv`
(never a dependency of fanlab), through `benchmarks/_darts_side.py`, which says how each
darts arm is built. Create it with

    python3 -m venv .venv-darts && .venv-darts/bin/pip install -c constraints.txt 'darts[torch]==0.48.1'

(plain `darts` leaves torch out: its torch models need the `torch` extra). Without it this
script prints one line saying so and exits 0 (`make bench` runs every file here).

fanlab runs the arms as a user would: one config (a dict given to `fanlab.run`, jobs 1) with
the fit store on, so arms that share a fitted base fit it once (point LSTM and conformal
around it; ensemble and conformal around it) and the first arm that needs a base pays its
fit. fanlab runs cells longest first, so the conformal arms pay; the darts side runs its arms
in the same order and reuses its fitted model objects the same way (where it can: its MC-dropout
LSTM is a model of its own, since darts' stock block LSTM, its point arm, has no dropout to keep
live).

Each round runs one process per side, one after the other (darts, fanlab, darts, ...),
with BLAS and torch pinned to one thread; each side times every arm inside its process
(fit + forecast of all origins; fanlab's cell time also scores and writes the cell), so the
interpreter start and the imports are left out. Printed: the median over rounds of each arm's
seconds on both sides and darts/fanlab, the whole grid (sum of the arms), and the coverage of
the central 95% band at h = 1, 10, 50, 100 over the 41 origins, computed here the same way
for both sides (fanlab's bands from its forecasts.parquet, darts' from the arrays its side
returns; coverage is the same in every round: both sides are seeded).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DARTS_PY = ROOT / ".venv-darts" / "bin" / "python"
DARTS_SIDE = Path(__file__).resolve().parent / "_darts_side.py"
THREADS = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}

DATA = {"ar": [0.5, -0.2], "ma": [0.3], "sigma": 1.0, "n": 2000}
SEED = 0
TRAIN, CAL, TEST, H, STRIDE = 1400, 300, 300, 100, 5
FIRST_ORIGIN = TRAIN + CAL - 1  # the first test origin forecasts y[train + cal] at h = 1
CAL_ORIGINS = CAL - H + 1       # fanlab's calibration origins: every origin whose H targets lie in the block
STEPS = (1, 10, 50, 100)
LEVEL = 0.95
SAMPLES = 200

#: label, description
ARMS = [
    ("arima", "ARIMA(2,0,1)"),
    ("lstm", "LSTM, point"),
    ("lstm_mc", "LSTM + MC dropout"),
    ("lstm_gauss", "LSTM, Gaussian head"),
    ("ensemble", "deep ensemble"),
    ("conformal_lstm", "conformal(LSTM)"),
    ("conformal_ensemble", "conformal(ensemble)"),
]


def lstm_params(epochs: int) -> dict:
    return {"context": 200, "hidden": 64, "epochs": epochs, "patience": epochs, "batch_size": 64, "lr": 0.003,
            "grad_clip": 1.0, "val_frac": 0.2, "samples": SAMPLES}


def fanlab_config(epochs: int, members: int) -> dict:
    lp = lstm_params(epochs)
    ens = {"name": "lstm_ensemble", "params": {**lp, "members": members}}
    point = {"name": "lstm", "params": {**lp, "head": "point"}}
    methods = {
        "arima": {"name": "arima", "params": {"order": [2, 0, 1]}},
        "lstm": point,
        "lstm_mc": {"name": "lstm", "params": {**lp, "head": "point", "uncertainty": "mc_dropout", "noise": False}},
        "lstm_gauss": {"name": "lstm", "params": {**lp, "head": "gaussian"}},
        "ensemble": ens,
        "conformal_lstm": {"name": "conformal", "params": {"base": point, "method": "split", "score": "absolute"}},
        "conformal_ensemble": {"name": "conformal", "params": {"base": ens, "method": "split", "score": "absolute"}},
    }
    return {
        "name": "peer_darts", "horizon": H, "levels": [LEVEL], "seeds": [SEED],
        "split": {"train": TRAIN, "cal": CAL, "test": TEST}, "stride": STRIDE,
        "datasets": [{"name": "arma", "label": "arma21", "params": DATA}],
        "methods": [{"label": label, **methods[label]} for label, _ in ARMS],
    }


def fanlab_order(cfg: dict) -> list[str]:
    """The order fanlab's runner takes the cells in (longest first; ties keep config order)."""
    try:
        from fanlab.engine.execute import cell_cost

        return [m["label"] for m in sorted(cfg["methods"], key=lambda m: -cell_cost(m["name"], m["params"]))]
    except Exception:  # the runner changed: keep the config's order
        return [m["label"] for m in cfg["methods"]]


def darts_settings(epochs: int, members: int, order: list[str]) -> dict:
    lp = lstm_params(epochs)
    return {"arms": order, "train_end": TRAIN, "horizon": H, "stride": STRIDE, "first_origin": FIRST_ORIGIN,
            "context": lp["context"], "hidden": lp["hidden"], "epochs": epochs, "batch_size": lp["batch_size"],
            "lr": lp["lr"], "grad_clip": lp["grad_clip"], "val_frac": lp["val_frac"], "dropout": 0.1,
            "members": members, "samples": SAMPLES, "arima_samples": 500, "cal_length": CAL_ORIGINS,
            "seed": SEED}


def series():
    import fanlab

    return fanlab.datasets.load("arma", seed=SEED, **DATA)[0].values


# -- the fanlab side (a subprocess of this file, in fanlab's venv) -------------------------------
def fanlab_side(cfg_path: str, out_path: str) -> int:
    import numpy as np
    import pandas as pd
    import torch

    torch.set_num_threads(1)
    import fanlab

    cfg = json.loads(Path(cfg_path).read_text())
    with tempfile.TemporaryDirectory(prefix="peer_fanlab_") as tmp:
        out = Path(tmp) / "results"
        t0 = time.perf_counter()
        res = fanlab.run(cfg, out=out, jobs=1, force=True, figures=False, progress=False)
        wall = time.perf_counter() - t0
        manifest = json.loads((out / "manifest.json").read_text())
        failed = {k: v.get("error") for k, v in res.statuses.items() if v["status"] != "done"}
        if failed:
            print(f"fanlab side: cells failed: {failed}", file=sys.stderr)
            return 1
        seconds = {v["method"]: float(v["seconds"]) for v in manifest["cells"].values()}
        fits = sorted(p.name.split("-")[0] for p in (out / "fits").glob("*.pkl"))
        fc = pd.read_parquet(out / "forecasts.parquet")
        arrays = {}
        for label, frame in fc.groupby("method"):
            frame = frame.sort_values(["origin", "h"])
            k = frame["origin"].nunique()
            for col, key in ((f"lo_{LEVEL:g}", "lo"), (f"hi_{LEVEL:g}", "hi"), ("mean", "mid"), ("y", "y")):
                arrays[f"{label}:{key}"] = frame[col].to_numpy(dtype=float).reshape(k, -1)
            arrays[f"{label}:origins"] = np.sort(frame["origin"].unique())
    info = {"seconds": seconds, "run_seconds": wall, "fits": fits, "fanlab": fanlab.__version__,
            "torch": torch.__version__, "threads": torch.get_num_threads()}
    np.savez(out_path, info=json.dumps(info), **arrays)
    return 0


# -- the driver -------------------------------------------------------------------------------------
def run_side(cmd: list[str], log: Path) -> None:
    env = {**os.environ, **THREADS}
    with open(log, "w") as fh:
        proc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    if proc.returncode != 0:
        tail = log.read_text()[-3000:]
        raise SystemExit(f"peer_darts: `{' '.join(map(str, cmd[1:2]))}` failed (exit {proc.returncode}):\n{tail}")


def coverage(lo, hi, y_future):
    """Per-step coverage (H,) of the band [lo, hi] (K, H); None where the band has zero width
    everywhere (a point forecast: no interval), NaN at a step where it has zero width at every
    origin (e.g. a simulated band that starts without first-step noise)."""
    import numpy as np

    if np.all(hi - lo == 0):
        return None
    cov = ((y_future >= lo) & (y_future <= hi)).mean(axis=0)
    return np.where(np.all(hi - lo == 0, axis=0), np.nan, cov)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--full", action="store_true", help="the full job: 3 rounds, 20 epochs, 5 members")
    ap.add_argument("--rounds", type=int, help="alternating rounds (default 1; --full 3)")
    ap.add_argument("--epochs", type=int, help="LSTM epochs (default 1; --full 20)")
    ap.add_argument("--members", type=int, help="ensemble members (default 2; --full 5)")
    ap.add_argument("--fanlab-side", nargs=2, metavar=("CONFIG", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.fanlab_side:
        return fanlab_side(*args.fanlab_side)
    if not DARTS_PY.is_file():
        print("peer_darts: skipped: no darts venv; create it with `python3 -m venv .venv-darts && "
              ".venv-darts/bin/pip install -c constraints.txt 'darts[torch]==0.48.1'`")
        return 0
    rounds = args.rounds or (3 if args.full else 1)
    epochs = args.epochs or (20 if args.full else 1)
    members = args.members or (5 if args.full else 2)

    import numpy as np

    cfg = fanlab_config(epochs, members)
    order = fanlab_order(cfg)
    y = series()
    origins = np.arange(FIRST_ORIGIN, len(y) - H, STRIDE)
    y_future = y[origins[:, None] + np.arange(1, H + 1)[None, :]]
    print(f"peer_darts: ARMA(2,1) n={len(y)}, train {TRAIN} / cal {CAL} / test {TEST}, {origins.size} origins "
          f"every {STRIDE}, H={H}; LSTM hidden 64, context 200, {epochs} epochs, ensemble of {members}; "
          f"{rounds} round(s), one process per side, 1 thread")
    if not args.full:
        print("peer_darts: smoke run (numbers mean little); the full job is --full")
    times = {"darts": [], "fanlab": []}
    bands = {}
    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="peer_darts_") as tmp:
        tmp = Path(tmp)
        np.savez(tmp / "darts_in.npz", y=y, settings=json.dumps(darts_settings(epochs, members, order)))
        (tmp / "fanlab_cfg.json").write_text(json.dumps(cfg))
        for r in range(rounds):
            for side in ("darts", "fanlab"):
                out = tmp / f"{side}_{r}.npz"
                t0 = time.perf_counter()
                if side == "darts":
                    run_side([str(DARTS_PY), str(DARTS_SIDE), str(tmp / "darts_in.npz"), str(out)], tmp / "darts.log")
                else:
                    run_side([sys.executable, str(Path(__file__).resolve()), "--fanlab-side",
                              str(tmp / "fanlab_cfg.json"), str(out)], tmp / "fanlab.log")
                with np.load(out) as f:
                    info = json.loads(str(f["info"]))
                    bands[side] = {k: f[k] for k in f.files if k != "info"}
                info["process_seconds"] = time.perf_counter() - t0
                times[side].append(info)
                print(f"  round {r + 1} {side:6s}: arms {sum(info['seconds'].values()):7.1f} s, "
                      f"process {info['process_seconds']:6.1f} s")
    print(f"  load average (1 min) at the start {load0:.2f}, at the end {os.getloadavg()[0]:.2f} "
          f"({os.cpu_count()} cores): other work on the machine slows both sides")
    fl = bands["fanlab"]
    for label, _ in ARMS:  # both sides saw the same values: fanlab's targets are the series' own
        if not (np.array_equal(fl[f"{label}:origins"], origins) and np.allclose(fl[f"{label}:y"], y_future)):
            raise SystemExit(f"peer_darts: fanlab's {label} forecasts other origins or values than darts was given")

    med = {s: {a: statistics.median(t["seconds"][a] for t in times[s]) for a, _ in ARMS} for s in times}
    grid = {s: statistics.median(sum(t["seconds"].values()) for t in times[s]) for s in times}
    paid = {"conformal_lstm": "lstm", "lstm_mc": "lstm", "conformal_ensemble": "ensemble"}
    payer = {}
    for label in order:  # the first arm in run order that needs a shared base pays its fit
        payer.setdefault(paid.get(label, label), label)

    print(f"\nseconds per arm, median of {rounds} round(s) (fit + forecast of {origins.size} origins; "
          "fit store on: a shared fit is paid by the first arm that needs it, marked *)")
    print(f"{'arm':22s}{'darts s':>10s}{'fanlab s':>10s}{'darts/fanlab':>14s}")
    for label, desc in ARMS:
        mark = "*" if payer.get(paid.get(label, label)) == label and label in (
            "lstm", "lstm_mc", "ensemble", "conformal_lstm", "conformal_ensemble") else " "
        d, f = med["darts"][label], med["fanlab"][label]
        print(f"{desc + ' ' + mark:22s}{d:10.2f}{f:10.2f}{d / f:14.2f}")
    print(f"{'whole grid':22s}{grid['darts']:10.2f}{grid['fanlab']:10.2f}{grid['darts'] / grid['fanlab']:14.2f}")
    run_s = statistics.median(t["run_seconds"] for t in times["fanlab"])
    print(f"(fanlab.run wall, with aggregation and report: {run_s:.1f} s; darts import "
          f"{statistics.median(t['import_seconds'] for t in times['darts']):.1f} s, left out; run order "
          f"{', '.join(order)}; fanlab fits stored: {', '.join(times['fanlab'][-1]['fits'])})")

    print(f"\ncoverage of the central {LEVEL:.0%} band at h = {', '.join(map(str, STEPS))} "
          f"({origins.size} origins; n/a: a point forecast, no interval); MAE at h = 1")
    hdr = "".join(f"{'h=' + str(h):>7s}" for h in STEPS)
    print(f"{'arm':22s}{'darts':>7s}{hdr[7:]}  |{'fanlab':>7s}{hdr[7:]}  | MAE1 darts fanlab")
    for label, desc in ARMS:
        cells, mae = [], []
        for side in ("darts", "fanlab"):
            b = bands[side]
            cov = coverage(b[f"{label}:lo"], b[f"{label}:hi"], y_future)
            cells.append("".join(f"{'n/a' if cov is None or cov[h - 1] != cov[h - 1] else f'{cov[h - 1]:.3f}':>7s}" for h in STEPS))
            mae.append(float(np.abs(b[f"{label}:mid"][:, 0] - y_future[:, 0]).mean()))
        print(f"{desc:22s}{cells[0]}  |{cells[1]}  | {mae[0]:5.3f} {mae[1]:6.3f}")
    d0, f0 = times["darts"][0], times["fanlab"][0]
    print(f"\n(darts {d0['darts']}, torch {d0['torch']}, {d0['threads']} thread; fanlab {f0['fanlab']}, "
          f"torch {f0['torch']}, {f0['threads']} thread)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
