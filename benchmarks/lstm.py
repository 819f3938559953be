"""Speed of the LSTM family: epochs, fit + predict per variant, MC dropout batching, ensembles.

Run: ``python benchmarks/lstm.py [--threads 1] [--epochs 5] [--quick]``

Setting: AR(1) series of 2,000 points, train block y[:1200] (the rest calibration/test),
hidden 64, context 200, H = 100, 50 origins, S = 200 samples. Every fit runs exactly
`--epochs` epochs (patience = epochs), so timings compare equal work. torch runs on
`--threads` intra-op threads (default 1: the machine is shared; say so when quoting).

Printed ratios:
- MC dropout: the forecaster's chunked batched passes (all origins x samples) against
  (a) a loop of S dropout passes, each over all K origins, and (b) K * S single-row passes
  (timed on a subset, scaled up).
- Ensemble of M = 5: members trained together (one network with a member axis, one pass
  over the batches) against one member and against M separate fits one after the other.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import scipy.stats  # noqa: F401  (imported here so no timing pays its one-off import)
import torch

from fanlab.forecast import probs_for_levels, FINE_LEVELS
from fanlab.models.lstm.ensemble import LSTMEnsemble
from fanlab.models.lstm.forecaster import LSTMForecaster, origin_generators
from fanlab.models.lstm.network import RowRandom
from fanlab.models.lstm.training import member_seeds

N, TRAIN_END, H, CONTEXT, HIDDEN, K, S, M = 2000, 1200, 100, 200, 64, 50, 200, 5


def ar1(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y = np.zeros(n)
    for t in range(1, n):
        y[t] = 0.7 * y[t - 1] + rng.normal()
    return y


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def base(epochs: int) -> dict:
    return {"context": CONTEXT, "hidden": HIDDEN, "epochs": epochs, "patience": epochs, "samples": S}


def epoch_seconds(y, epochs):
    print(f"\n== seconds per epoch (hidden {HIDDEN}, context {CONTEXT}, H {H}, train block {TRAIN_END}) ==")
    for label, kw in [("direct point", {}), ("direct gaussian", {"head": "gaussian"}),
                      ("direct quantile (39 probs)", {"head": "quantile"}),
                      ("recursive gaussian", {"strategy": "recursive", "head": "gaussian"})]:
        model, sec = timed(lambda: LSTMForecaster(horizon=H, **base(epochs), **kw).fit(y, TRAIN_END, 0))
        n_win = TRAIN_END - int(round(0.2 * TRAIN_END)) - CONTEXT - H + 1
        print(f"{label:30s} {sec / model.train_.epochs:6.2f} s/epoch  ({n_win} training windows)")


def variants(y, origins, probs, epochs):
    print(f"\n== fit + predict per variant ({epochs} epochs, K={K} origins, S={S}) ==")
    rows = [
        ("point, none", LSTMForecaster, {}),
        ("gaussian, none", LSTMForecaster, {"head": "gaussian"}),
        ("quantile, none", LSTMForecaster, {"head": "quantile"}),
        ("point, mc_dropout", LSTMForecaster, {"uncertainty": "mc_dropout"}),
        ("gaussian, mc_dropout", LSTMForecaster, {"head": "gaussian", "uncertainty": "mc_dropout"}),
        ("point, mc_dropout variational", LSTMForecaster, {"uncertainty": "mc_dropout",
                                                          "dropout_kind": "variational"}),
        ("recursive point, none", LSTMForecaster, {"strategy": "recursive"}),
        ("recursive gaussian, none", LSTMForecaster, {"strategy": "recursive", "head": "gaussian"}),
        ("recursive point, mc_dropout", LSTMForecaster, {"strategy": "recursive", "uncertainty": "mc_dropout"}),
        (f"ensemble M={M}, direct", LSTMEnsemble, {"members": M}),
        (f"ensemble M={M}, recursive", LSTMEnsemble, {"members": M, "strategy": "recursive"}),
    ]
    print(f"{'variant':32s} {'fit s':>8s} {'predict s':>10s} {'total s':>8s}")
    for label, cls, kw in rows:
        model, fit_s = timed(lambda: cls(horizon=H, **base(epochs), **kw).fit(y, TRAIN_END, 0))
        _, pred_s = timed(lambda: model.predict(y, origins, H, probs))
        print(f"{label:32s} {fit_s:8.2f} {pred_s:10.2f} {fit_s + pred_s:8.2f}")


def mc_dropout(y, origins, probs, epochs):
    print(f"\n== MC dropout prediction, K={K} origins x S={S} samples ==")
    model = LSTMForecaster(horizon=H, **base(epochs), uncertainty="mc_dropout", noise=False).fit(y, TRAIN_END, 0)
    _, batched = timed(lambda: model.predict(y, origins, H, probs))
    net = model.net_
    x, _ = model.scaled_inputs(y, origins)
    xt = x.t().unsqueeze(1).contiguous()  # (T, 1, K)
    weights = net.inference_weights()

    @torch.no_grad()
    def loop_over_samples():
        for s in range(S):  # one dropout pass over all K origins per sample
            rand = RowRandom(origin_generators([s], origins), reps=1)
            top, _ = net.encode(xt, rand=rand, weights=weights)
            net.head_infer(top, rand)

    @torch.no_grad()
    def single_rows(n_rows):
        for r in range(n_rows):  # one pass per (origin, sample): batch of one row
            k = r % K
            rand = RowRandom(origin_generators([r], origins[k:k + 1]), reps=1)
            top, _ = net.encode(xt[:, :, k:k + 1], rand=rand, weights=weights)
            net.head_infer(top, rand)

    _, loop_s = timed(loop_over_samples)
    subset = 400
    _, single_s = timed(lambda: single_rows(subset))
    single_s *= K * S / subset
    print(f"batched, chunked (forecaster.predict)       {batched:7.2f} s")
    print(f"(a) loop of S passes over all K origins      {loop_s:7.2f} s   ratio a/batched {loop_s / batched:5.2f}x")
    print(f"(b) K*S single-row passes (from {subset})        {single_s:7.2f} s   ratio b/batched {single_s / batched:5.2f}x")


def ensemble(y, epochs):
    print(f"\n== ensemble training, M={M} members, {epochs} epochs each ==")
    one, one_s = timed(lambda: LSTMForecaster(horizon=H, **base(epochs), head="gaussian").fit(y, TRAIN_END, 0))
    _, ens_s = timed(lambda: LSTMEnsemble(horizon=H, **base(epochs), members=M).fit(y, TRAIN_END, 0))

    def sequential():
        for s in member_seeds(0, M):
            LSTMForecaster(horizon=H, **base(epochs), head="gaussian").fit(y, TRAIN_END, s)

    _, seq_s = timed(sequential)
    print(f"one member                         {one_s:7.2f} s   1.00x")
    print(f"{M} members together (one network)   {ens_s:7.2f} s   {ens_s / one_s:5.2f}x one member")
    print(f"{M} members one after the other     {seq_s:7.2f} s   {seq_s / one_s:5.2f}x one member")
    print(f"together vs separate fits: {seq_s / ens_s:.2f}x faster")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="skip the per-variant table")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} intra-op thread(s)")
    y = ar1(N)
    LSTMForecaster(horizon=H, **base(1)).fit(y, TRAIN_END, 0)  # warm-up: first calls pay one-off costs
    origins = np.arange(TRAIN_END + 300, TRAIN_END + 300 + K)
    probs = probs_for_levels(list(FINE_LEVELS) + [0.8, 0.9, 0.95])
    epoch_seconds(y, args.epochs)
    mc_dropout(y, origins, probs, args.epochs)
    ensemble(y, args.epochs)
    if not args.quick:
        variants(y, origins, probs, args.epochs)


if __name__ == "__main__":
    main()
