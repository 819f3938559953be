"""LSTM kernels side by side at the article's shapes: fanlab's network against the alternatives.

Run: ``python benchmarks/lstm_kernels.py [--rounds 5] [--threads 1] [--all] [--processes N]``

Shapes: hidden 64, context 200, direct Gaussian head H = 100, batch 64, an AR(1) training
block of 1,200 points (661 training and 141 validation windows, as `fit` cuts them). One
epoch = every training batch (forward, step-weighted Gaussian NLL, backward, per-member
clip, Adam) plus one validation pass. Variants, each for one member and for M = 5:

- fanlab numba / fanlab torch: `training.train` for one epoch on `MemberLSTM` (the network
  the forecaster uses) with its training kernel `numba` (`fanlab.models.lstm.kernel`, the
  default on CPU) or `torch` (``torch.lstm`` with autograd); the first table is their ratio;
- nn.LSTM: ``torch.nn.LSTM`` + ``nn.Linear`` with autograd, members one after the other
  (what darts runs; its per-epoch time is the proxy for darts' at these shapes);
- with ``--all``, two alternatives measured before: vmap cell: a Python LSTM cell loop, ``torch.func.vmap`` over ``stack_module_state`` +
  ``functional_call`` (``aten::lstm`` itself has no vmap batching rule);
- block-diag: one fused ``torch.lstm`` call over all members, weights block-diagonal
  (M^2 the recurrent FLOPs, M x the useful ones).

Variational dropout (a mask on h_{t-1} per sequence, which no fused kernel takes) is timed
for fanlab (a weight drop on W_hh per batch) and the vmap cell. Before timing, the script
prints the numba kernel's gradient error against torch's float64 autograd on one batch. Prediction: MC dropout over K = 50 origins x S = 200 samples
(10,000 rows) through `LSTMForecaster.predict`, and the bare fused kernel at several row
slices. GFLOP/s count the gate matrix products only (2 (I + Hd) 4 Hd per row and step,
backward twice that), against a plain matmul of the same shapes.

Variants alternate inside each round, so load on a shared machine hits all alike; medians of
`--rounds` rounds after a warm-up round. Quote the printed load average with the numbers.

``--processes N`` measures only the four epochs of the first table (torch and numba, one member
and five), each in N fresh processes one after the other, and prints every process's ratios
with their median and range: torch's training time varies between processes more than within
one (one member 0.50-0.61 s in most processes on a quiet machine here, 0.33 s in one), so one
process's ratio is one draw.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from fanlab.forecast import FINE_LEVELS, probs_for_levels
from fanlab.models.lstm.forecaster import LSTMForecaster
from fanlab.models.lstm.network import MemberLSTM
from fanlab.models.lstm.heads import GaussianHead
from fanlab.models.lstm.training import (TrainConfig, generators, scaled_windows, step_weights, train,
                                         window_origins)

N, TRAIN_END, CONTEXT, HIDDEN, H, BATCH, M, K, S = 2000, 1200, 200, 64, 100, 64, 5, 50, 200
P_IN, P_HEAD, P_REC = 0.1, 0.1, 0.1


def ar1(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y = np.zeros(n)
    for t in range(1, n):
        y[t] = 0.7 * y[t - 1] + rng.normal()
    return y


def data(y):
    """Training and validation windows (N, context + H), scaled as the default forecaster does."""
    scale = float(np.diff(y[:TRAIN_END]).std())
    tr, va = window_origins(TRAIN_END, CONTEXT, H, 0.2)
    ls = lambda raw: (raw[:, -1], np.full(raw.shape[0], scale))  # noqa: E731  (last_value scaling)
    return scaled_windows(y, tr, CONTEXT, H, ls), scaled_windows(y, va, CONTEXT, H, ls)


def gaussian_head() -> Head:
    head = GaussianHead()
    head.weights = step_weights(H, 1.0)
    return head


def clip_members(params, max_norm: float = 1.0) -> None:
    """Per-member gradient clip of stacked parameters (leading member axis)."""
    sq = sum(p.grad.pow(2).flatten(1).sum(1) for p in params)
    factor = (max_norm / (sq.sqrt() + 1e-6)).clamp(max=1.0)
    for p in params:
        p.grad.mul_(factor.view(-1, *([1] * (p.dim() - 1))))


def run_epoch(forward, params, opt, head, train_w, val_w, members, clip, gen):
    """One epoch of the common loop; forward(x (M, b, context), train) -> raw (M, b, H, 2)."""
    n = train_w.shape[0]
    perms = torch.stack([torch.randperm(n, generator=gen) for _ in range(members)])
    for start in range(0, n, BATCH):
        batch = train_w[perms[:, start : start + BATCH]]
        loss = head.loss(forward(batch[..., :CONTEXT], True), batch[..., -H:]).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        clip(params)
        opt.step()
    with torch.no_grad():
        x = val_w.unsqueeze(0).expand(members, -1, -1)
        head.loss(forward(x[..., :CONTEXT], False), x[..., -H:])


# ---- the variants ------------------------------------------------------------------------
class FanlabEpoch:
    def __init__(self, members, train_w, val_w, variational=False, kernel="numba"):
        self.args = (gaussian_head(), train_w, val_w)
        self.members, self.variational, self.kernel = members, variational, kernel

    def __call__(self):
        net = MemberLSTM(self.members, HIDDEN, 1, H, 2, P_IN, 0.0, P_HEAD, variational=self.variational,
                         dropout_recurrent=P_REC, kernel=self.kernel)
        cfg = TrainConfig(max_epochs=1, batch_size=BATCH, lr=3e-3, patience=1, grad_clip=1.0)
        head, train_w, val_w = self.args
        train(net, head, train_w, val_w, H, False, cfg, [generators(s) for s in range(self.members)])


class TorchLSTM(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(1, HIDDEN, batch_first=True)
        self.out = nn.Linear(HIDDEN, 2 * H)

    def forward(self, x, live):  # x (b, T)
        z = F.dropout(x.unsqueeze(-1), P_IN, live)
        top = self.lstm(z)[0][:, -1]
        return self.out(F.dropout(top, P_HEAD, live)).view(x.shape[0], H, 2)


class NNLSTMEpoch:
    """M independent nn.LSTM models trained one after the other."""

    def __init__(self, members, train_w, val_w):
        self.members, self.args = members, (gaussian_head(), train_w, val_w)

    def __call__(self):
        for m in range(self.members):
            torch.manual_seed(m)
            net = TorchLSTM()
            opt = torch.optim.Adam(net.parameters(), lr=3e-3)
            clip = lambda ps: torch.nn.utils.clip_grad_norm_(ps, 1.0)  # noqa: E731
            run_epoch(lambda x, live: net(x[0], live and net.training).unsqueeze(0), list(net.parameters()), opt,
                      *self.args, 1, clip, torch.Generator().manual_seed(m))


class Cell(nn.Module):
    """One member's LSTM as a Python cell loop (tanh form, gates [i, f, g, o])."""

    def __init__(self):
        super().__init__()
        b = 1.0 / HIDDEN**0.5
        u = lambda *s: nn.Parameter(torch.empty(*s).uniform_(-b, b))  # noqa: E731
        self.w_ih, self.w_hh, self.bias = u(1, 4 * HIDDEN), u(HIDDEN, 4 * HIDDEN), u(4 * HIDDEN)
        self.w_out, self.b_out = u(HIDDEN, 2 * H), u(2 * H)

    def forward(self, x, m_in, m_rec, m_head):  # x (b, T); masks (b, 1), (b, Hd), (b, Hd)
        z = x * m_in
        h = c = x.new_zeros(x.shape[0], HIDDEN)
        for t in range(x.shape[1]):
            g = torch.addmm(self.bias, z[:, t : t + 1], self.w_ih) + (h * m_rec) @ self.w_hh
            i, f, gg, o = g.chunk(4, -1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(gg)
            h = torch.sigmoid(o) * torch.tanh(c)
        return torch.addmm(self.b_out, h * m_head, self.w_out).view(x.shape[0], H, 2)


def tied_mask(shape, rate, live):
    if not live or rate <= 0:
        return torch.ones(shape)
    return torch.empty(shape).bernoulli_(1 - rate) / (1 - rate)


class VmapEpoch:
    """M stacked cell-loop members, vmap over functional_call (variational: a tied h mask)."""

    def __init__(self, members, train_w, val_w, variational=False):
        self.members, self.variational, self.args = members, variational, (gaussian_head(), train_w, val_w)

    def __call__(self):
        torch.manual_seed(0)
        params, _ = stack_module_state([Cell() for _ in range(self.members)])
        base = copy.deepcopy(Cell()).to("meta")
        one = lambda p, x, a, b, c: functional_call(base, p, (x, a, b, c))  # noqa: E731
        batched = vmap(one)

        def forward(x, live):
            mm, b = x.shape[:2]
            rate = P_REC if self.variational else 0.0
            masks = [tied_mask((mm, b, 1), P_IN, live), tied_mask((mm, b, HIDDEN), rate, live),
                     tied_mask((mm, b, HIDDEN), P_HEAD, live)]
            return batched(params, x, *masks)

        opt = torch.optim.Adam(params.values(), lr=3e-3)
        run_epoch(forward, list(params.values()), opt, *self.args, self.members, clip_members,
                  torch.Generator().manual_seed(0))


class BlockDiagEpoch:
    """All members in one fused torch.lstm call with block-diagonal weights."""

    def __init__(self, members, train_w, val_w):
        self.members, self.args = members, (gaussian_head(), train_w, val_w)

    def __call__(self):
        mm, hd = self.members, HIDDEN
        g = torch.Generator().manual_seed(0)
        u = lambda *s: ((torch.rand(*s, generator=g) * 2 - 1) / hd**0.5).requires_grad_()  # noqa: E731
        w_ih, w_hh, bias, w_out, b_out = u(mm, 4 * hd, 1), u(mm, 4 * hd, hd), u(mm, 4 * hd), u(mm, hd, 2 * H), u(
            mm, 1, 2 * H)
        eye = torch.eye(mm)

        def block(w):  # (M, 4Hd, I) -> (4 M Hd, M I), gate-major as torch.lstm wants
            return torch.einsum("mgki,mn->gmkni", w.view(mm, 4, hd, -1), eye).reshape(4 * mm * hd, -1)

        def forward(x, live):
            b = x.shape[1]
            z = F.dropout(x.permute(1, 2, 0), P_IN, live)  # (b, T, M)
            weights = [block(w_ih), block(w_hh), bias.view(mm, 4, hd).transpose(0, 1).reshape(-1),
                       torch.zeros(4 * mm * hd)]
            out = torch.lstm(z, (z.new_zeros(1, b, mm * hd),) * 2, weights, True, 1, 0.0, live, False, True)[0]
            top = F.dropout(out[:, -1].view(b, mm, hd).transpose(0, 1), P_HEAD, live)
            return torch.baddbmm(b_out, top, w_out).view(mm, b, H, 2)

        params = [w_ih, w_hh, bias, w_out, b_out]
        opt = torch.optim.Adam(params, lr=3e-3)
        run_epoch(forward, params, opt, *self.args, mm, clip_members, torch.Generator().manual_seed(0))


# ---- prediction --------------------------------------------------------------------------
class Predict:
    def __init__(self, y, variational=False):
        kw = dict(context=CONTEXT, hidden=HIDDEN, epochs=1, patience=1, uncertainty="mc_dropout", noise=False,
                  samples=S, dropout_kind="variational" if variational else "per_step")
        self.model = LSTMForecaster(horizon=H, **kw).fit(y, TRAIN_END, 0)
        self.y, self.origins = y, np.arange(TRAIN_END + 300, TRAIN_END + 300 + K)
        self.probs = probs_for_levels(FINE_LEVELS)

    def __call__(self):
        self.model.predict(self.y, self.origins, H, self.probs)


class Kernel:
    """Bare fused LSTM forward over K * S rows, in slices of `per` rows."""

    def __init__(self, per):
        self.per, self.lstm = per, nn.LSTM(1, HIDDEN)
        self.x = torch.randn(CONTEXT, K * S, 1)

    @torch.no_grad()
    def __call__(self):
        for r0 in range(0, K * S, self.per):
            self.lstm(self.x[:, r0 : r0 + self.per])


def matmul_gflops(rows, inner, cols, batch=1, reps=200):
    a, b = torch.randn(batch, rows, inner), torch.randn(batch, inner, cols)
    out = torch.empty(batch, rows, cols)
    for _ in range(10):
        torch.bmm(a, b, out=out)
    ts = []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(reps):
            torch.bmm(a, b, out=out)
        ts.append((time.perf_counter() - t0) / reps)
    return 2 * batch * rows * inner * cols / statistics.median(ts) / 1e9


def gradient_check(train_w) -> float:
    """Largest norm-wise relative gradient error of the numba kernel (float32, as trained)
    against torch's float64 autograd, over every parameter, on one batch of 64 windows."""
    batch = train_w[:BATCH].unsqueeze(0)
    head = gaussian_head()
    grads = {}
    for kernel, dtype in (("numba", torch.float32), ("torch", torch.float64)):
        net = MemberLSTM(1, HIDDEN, 1, H, 2, kernel=kernel).double()
        net.reset_parameters([torch.Generator().manual_seed(0)])
        net = net.float().to(dtype)  # both from the same float32 weights
        x = batch.to(dtype)
        head.weights = head.weights.to(dtype)
        head.loss(net(x[..., :CONTEXT]), x[..., -H:]).sum().backward()
        grads[kernel] = {n: p.grad.double() for n, p in net.named_parameters()}
    head.weights = head.weights.float()
    return max(float((grads["numba"][n] - g).norm() / g.norm()) for n, g in grads["torch"].items())


def epochs_only(rounds: int, train_w, val_w) -> dict:
    """Medians of `rounds` epochs (after a warm-up) of torch and numba, one member and M, in this process."""
    return medians({f"{kernel} M={mm}": FanlabEpoch(mm, train_w, val_w, kernel=kernel) for mm in (1, M)
                    for kernel in ("torch", "numba")}, rounds)


def medians(variants: dict, rounds: int) -> dict:
    """Each variant's median seconds over `rounds` rounds, after a warm-up round; the variants
    alternate inside each round, so load on a shared machine hits all alike."""
    times = {k: [] for k in variants}
    for r in range(rounds + 1):  # round 0 warms up
        for name, fn in variants.items():
            t0 = time.perf_counter()
            fn()
            if r:
                times[name].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def across_processes(n: int, rounds: int, threads: int) -> None:
    """The first table's epochs in `n` fresh processes: each one's ratios, their median and range."""
    print(f"torch {torch.__version__}, {threads} thread(s), load average {os.getloadavg()}; "
          f"{n} processes, medians of {rounds} rounds in each")
    ratios = {1: [], M: []}
    for i in range(n):
        out = subprocess.run([sys.executable, __file__, "--one-process", "--rounds", str(rounds),
                              "--threads", str(threads)], capture_output=True, text=True, check=True).stdout
        med = json.loads(out.strip().splitlines()[-1])
        line = []
        for mm in (1, M):
            tt, tn = med[f"torch M={mm}"], med[f"numba M={mm}"]
            ratios[mm].append(tt / tn)
            line.append(f"M={mm}: torch {tt:.3f} s, numba {tn:.3f} s, {tt / tn:.2f}x")
        print(f"process {i + 1}: " + "; ".join(line))
    for mm in (1, M):
        r = ratios[mm]
        print(f"torch / numba, M={mm}: median {statistics.median(r):.2f}x, range {min(r):.2f}-{max(r):.2f}x "
              f"over {n} processes")
    print(f"load average after: {os.getloadavg()}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--all", action="store_true", help="also the vmap-cell and block-diagonal alternatives")
    ap.add_argument("--processes", type=int, default=0,
                    help="only the torch / numba epochs, each in this many fresh processes (ratio per process)")
    ap.add_argument("--one-process", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.processes:
        across_processes(args.processes, args.rounds, args.threads)
        return
    y = ar1(N)
    train_w, val_w = data(y)
    if args.one_process:
        print(json.dumps(epochs_only(args.rounds, train_w, val_w)))
        return
    n_tr, n_va = train_w.shape[0], val_w.shape[0]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), load average {os.getloadavg()}")
    print(f"hidden {HIDDEN}, context {CONTEXT}, H {H}, batch {BATCH}: {n_tr} training, {n_va} validation windows")
    t0 = time.perf_counter()
    err = gradient_check(train_w)
    print(f"numba kernel (float32) against torch float64, one batch: max relative gradient error {err:.1e} "
          f"(first call {time.perf_counter() - t0:.1f} s, with numba's compile or cache load)")

    variants = {}
    for mm in (1, M):
        variants[f"fanlab numba M={mm}"] = FanlabEpoch(mm, train_w, val_w)
        variants[f"fanlab torch M={mm}"] = FanlabEpoch(mm, train_w, val_w, kernel="torch")
        variants[f"nn.LSTM M={mm}"] = NNLSTMEpoch(mm, train_w, val_w)
        if args.all:
            variants[f"vmap cell M={mm}"] = VmapEpoch(mm, train_w, val_w)
            variants[f"block-diag M={mm}"] = BlockDiagEpoch(mm, train_w, val_w)
            variants[f"vmap cell variational M={mm}"] = VmapEpoch(mm, train_w, val_w, variational=True)
        variants[f"fanlab numba variational M={mm}"] = FanlabEpoch(mm, train_w, val_w, variational=True)
        variants[f"fanlab torch variational M={mm}"] = FanlabEpoch(mm, train_w, val_w, variational=True,
                                                                   kernel="torch")
    variants["predict MC per_step"] = Predict(y)
    variants["predict MC variational"] = Predict(y, variational=True)
    for per in (81, 256, 1024, K * S):
        variants[f"kernel fwd, {per}-row slices"] = Kernel(per)

    med = medians(variants, args.rounds)
    print(f"load average after: {os.getloadavg()}")

    print(f"\n{'one epoch, medians of ' + str(args.rounds) + ' rounds':34s} {'torch s':>8s} {'numba s':>8s} "
          f"{'torch / numba':>14s}")
    for kind in ("", " variational"):
        for mm in (1, M):
            tt, tn = med[f"fanlab torch{kind} M={mm}"], med[f"fanlab numba{kind} M={mm}"]
            print(f"{'fanlab' + kind + ' M=' + str(mm):34s} {tt:8.3f} {tn:8.3f} {tt / tn:13.2f}x")

    fl_fwd = 2 * (1 + HIDDEN) * 4 * HIDDEN * CONTEXT  # per row, gate products only
    fl_epoch = 3 * fl_fwd * n_tr + fl_fwd * n_va  # training: forward + 2x backward; validation: forward
    peak_step = matmul_gflops(BATCH, HIDDEN, 4 * HIDDEN)
    peak_step5 = matmul_gflops(BATCH, HIDDEN, 4 * HIDDEN, batch=M)
    peak_big = matmul_gflops(1024, 1024, 1024, reps=5)
    print(f"\nmatmul GFLOP/s: step shape (64x64)@(64x256) {peak_step:.1f}; x5 batched {peak_step5:.1f}; "
          f"1024^3 {peak_big:.1f}")

    ref = med["nn.LSTM M=1"]
    print(f"\n{'epoch (train + validation)':34s} {'s/epoch':>8s} {'vs nn.LSTM M=1':>15s} {'M=5 / M=1':>10s} "
          f"{'GFLOP/s':>8s} {'of step peak':>12s}")
    for name in variants:
        if " M=" not in name:
            continue
        kind, mm = name.rsplit(" M=", 1)
        mm = int(mm)
        gf = mm * fl_epoch / med[name] / 1e9
        ratio = f"{med[name] / med[f'{kind} M=1']:10.2f}" if mm > 1 else f"{'':10s}"
        print(f"{name:34s} {med[name]:8.3f} {med[name] / ref:14.2f}x {ratio} {gf:8.1f} "
              f"{gf / (peak_step if mm == 1 else peak_step5):11.0%}")
    print(f"\n{'prediction, K=50 x S=200 rows':34s} {'s':>8s} {'GFLOP/s':>8s}")
    for name in variants:
        if " M=" in name:
            continue
        gf = fl_fwd * K * S / med[name] / 1e9
        print(f"{name:34s} {med[name]:8.3f} {gf:8.1f}")


if __name__ == "__main__":
    main()
