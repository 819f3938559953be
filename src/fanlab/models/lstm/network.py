"""M independent LSTM networks evaluated as one batched computation.

A single forecaster is the case M = 1; a deep ensemble trains its M members together. Every
weight carries a leading member axis, so one batched matrix product per time step advances
all members, and a member's gradient depends on its own loss only (the training loss is the
sum of the member losses): member m of an ensemble is the same network as a single model
trained from member m's seed.

Training cannot use ``torch.nn.LSTM``: it has no member axis, and its CPU kernel cannot be
batched over distinct weights. The training recurrence here is written by hand with its
backward pass (BPTT) spelt out, which avoids the thousands of small autograd nodes a Python
cell would create. Prediction (no autograd) runs each member through torch's fused kernel
(``torch.lstm``, the one ``nn.LSTM`` calls), which is faster there; both compute the same
function (tests compare them).

Three CPU facts shaped the training path (measured, one thread): this build's ``tanh`` is
~9x slower than its ``sigmoid``, so ``tanh(a) = 2 sigmoid(2a) - 1`` with the factor 2 folded
into the g-gate weights (one sigmoid serves all four gates); fresh allocations of tens of MB
page-fault on every training step, so activation buffers are recycled through a `Workspace`;
and materialising input projections for all steps at once costs more memory traffic than
computing them inside the loop.

Dropout is explicit, in three places (``nn.LSTM(num_layers=1, dropout=p)`` would do nothing):
on the input values, between stacked layers, and on the hidden state before the head. Masks
are drawn from per-member ``torch.Generator`` objects handed to `forward` (training) or from a
`RowRandom` (prediction: per member and origin), never from the global RNG, so training and
MC-dropout prediction are reproducible and leave no global state. ``variational=False``: masks
are drawn afresh at every time step. ``variational=True`` (Gal and Ghahramani 2016): one mask
per sequence, tied across time, on the inputs, between layers, on the recurrent state h_{t-1}
(rate `dropout_recurrent`, inside the hand-written recurrence and its backward pass; at
prediction a step-by-step kernel replaces the fused one) and before the head; a recursive
rollout keeps its masks through every fed-back step.

Shapes: M members, B sequences, T time steps, Hd hidden units, I inputs per step (1 or Hd),
D outputs per step (1 point, 2 Gaussian, Q quantiles). Internally time-major (T, M, B, .).
"""

from __future__ import annotations

import math

import torch
from torch import nn


class Workspace:
    """Recycled activation buffers, keyed by shape (never part of the model's state)."""

    def __init__(self) -> None:
        self._free: dict[tuple, list[torch.Tensor]] = {}

    def take(self, like: torch.Tensor, *shape: int) -> torch.Tensor:
        """An uninitialised tensor of `shape` with the dtype of `like`."""
        stack = self._free.get((like.dtype, shape))
        return stack.pop() if stack else like.new_empty(shape)

    def give(self, *tensors: torch.Tensor) -> None:
        for t in tensors:
            self._free.setdefault((t.dtype, tuple(t.shape)), []).append(t)

    def clear(self) -> None:
        self._free.clear()


def _recur(z, w_ih, b, w_hh, keep, out, rmask=None):
    """Run one LSTM layer from zero state, storing what the backward pass needs.

    z : (T, M, B, I) inputs. w_ih : (M, I, 4Hd), b : (M, 1, 4Hd), w_hh : (M, Hd, 4Hd), gates
        ordered [i, f, o, g] with the g-gate columns already doubled (see module notes).
    keep : dict of (T, M, B, .) tensors receiving activated gates [i, f, o, tanh(g)],
        cells and tanh(cells).
    out : (T, M, B, Hd) tensor receiving every hidden state.
    rmask : (M, B, Hd) or None, a variational dropout mask on the recurrent state h_{t-1}
        (the same at every step).
    """
    hd = w_hh.shape[1]
    zero = h = z.new_zeros(z.shape[1], z.shape[2], hd)
    scalar_input = z.shape[-1] == 1
    for t in range(z.shape[0]):
        s = keep["gates"][t]
        if scalar_input:
            torch.addcmul(b, z[t], w_ih, out=s)
        else:
            torch.baddbmm(b, z[t], w_ih, out=s)
        s.baddbmm_(h if rmask is None else h * rmask, w_hh).sigmoid_()
        u = s[..., 3 * hd :].mul_(2.0).sub_(1.0)
        i, f, o = s[..., :hd], s[..., hd : 2 * hd], s[..., 2 * hd : 3 * hd]
        c = keep["cells"][t]
        torch.mul(f, keep["cells"][t - 1] if t else zero, out=c).addcmul_(i, u)
        th = keep["tanh"][t]
        torch.mul(c, 2.0, out=th).sigmoid_().mul_(2.0).sub_(1.0)
        h = out[t]
        torch.mul(o, th, out=h)


class _LayerSequence(torch.autograd.Function):
    """One LSTM layer from zero state: z (T, M, B, I) -> hidden states (T, M, B, Hd).

    Time-major storage keeps every per-step slice contiguous, so each batched product is one
    BLAS call (member-major slices made torch fall back to one call per member).
    """

    @staticmethod
    def forward(ctx, z, w_ih, b, w_hh, ws: Workspace, last_only: bool, rmask=None):
        steps, m, bsz, _ = z.shape
        hd = w_hh.shape[1]
        keep = {"gates": ws.take(z, steps, m, bsz, 4 * hd), "cells": ws.take(z, steps, m, bsz, hd),
                "tanh": ws.take(z, steps, m, bsz, hd)}
        hs = z.new_empty(steps, m, bsz, hd)
        _recur(z, w_ih, b, w_hh, keep, hs, rmask)
        ctx.ws, ctx.last_only, ctx.released, ctx.rmask = ws, last_only, False, rmask
        ctx.save_for_backward(z, w_ih, w_hh, hs, keep["gates"], keep["cells"], keep["tanh"])
        # last_only: the caller reads h_T alone, so no (T, M, B, Hd) gradient of zeros is built
        return hs[-1].clone() if last_only else hs

    @staticmethod
    def backward(ctx, dout):
        z, w_ih, w_hh, hs, gates, cells, tanh_c = ctx.saved_tensors
        # a second backward through a retained graph must not take buffers from the pool:
        # the first one gave the saved activations back to it
        ws = ctx.ws if not ctx.released else Workspace()
        steps, m, bsz, four = gates.shape
        hd = four // 4
        i, f, o, u = (gates[..., k * hd : (k + 1) * hd] for k in range(4))
        # gate derivatives do not depend on the recursion: all t at once, into one buffer that
        # then becomes dG in place. d tanh(a) / d(2a) = (1 - u^2) / 2.
        p = ws.take(gates, steps, m, bsz, four)
        pi, pf, po, pg = (p[..., k * hd : (k + 1) * hd] for k in range(4))
        torch.addcmul(i, i, i, value=-1.0, out=pi).mul_(u)
        torch.addcmul(f, f, f, value=-1.0, out=pf)
        pf[1:].mul_(cells[:-1])
        pf[0].zero_()
        torch.addcmul(o, o, o, value=-1.0, out=po).mul_(tanh_c)
        torch.mul(u, u, out=pg)
        torch.addcmul(i, i, pg, value=-1.0, out=pg).mul_(0.5)
        q_o = ws.take(gates, steps, m, bsz, hd)
        torch.mul(tanh_c, tanh_c, out=q_o)
        torch.addcmul(o, o, q_o, value=-1.0, out=q_o)
        pv = p.view(steps, m, bsz, 4, hd)
        w_t = w_hh.transpose(1, 2).contiguous()
        wi_t = w_ih.transpose(1, 2).contiguous()
        dz = z.new_empty(z.shape) if ctx.needs_input_grad[0] else None
        dw_hh, dw_ih = torch.zeros_like(w_hh), torch.zeros_like(w_ih)
        dh = dout.clone() if ctx.last_only else dout[-1].clone()
        dc = torch.empty_like(dh)
        dh_next, dc_next = torch.zeros_like(dh), torch.zeros_like(dh)
        for t in range(steps - 1, -1, -1):
            if t < steps - 1:
                if ctx.last_only:
                    dh, dh_next = dh_next, dh
                else:
                    torch.add(dout[t], dh_next, out=dh)
            torch.addcmul(dc_next, dh, q_o[t], out=dc)
            pv[t].mul_(torch.stack((dc, dc, dh, dc), 2))
            torch.mul(dc, f[t], out=dc_next)
            torch.bmm(p[t], w_t, out=dh_next)
            if ctx.rmask is not None:
                dh_next.mul_(ctx.rmask)
            if t > 0:  # h_{-1} = 0 contributes nothing
                h_prev = hs[t - 1] if ctx.rmask is None else hs[t - 1] * ctx.rmask
                dw_hh.baddbmm_(h_prev.transpose(1, 2), p[t])
            dw_ih.baddbmm_(z[t].transpose(1, 2), p[t])
            if dz is not None:
                torch.bmm(p[t], wi_t, out=dz[t])
        db = p.sum(2).sum(0).unsqueeze(1)
        ws.give(p, q_o)
        if not ctx.released:
            # if a new forward takes these before a second backward, autograd's version
            # check raises rather than computing with overwritten activations
            ws.give(gates, cells, tanh_c)
            ctx.released = True
        return dz, dw_ih, db, dw_hh, None, None, None


class MemberLSTM(nn.Module):
    """M LSTM networks with a linear head.

    Parameters
    ----------
    members : int
        M.
    hidden, layers : int
        Hidden units per layer and number of stacked layers.
    steps, outputs : int
        The head emits (steps, outputs) values: steps = H read from the last hidden state
        (direct strategy), or steps = 1 read from each hidden state (recursive strategy).
    dropout_input, dropout_between, dropout_head : float
        Dropout rates on the input values, between stacked layers, and before the head.
    variational : bool
        Masks tied across time (one per sequence, Gal and Ghahramani 2016) instead of fresh
        at every step; adds `dropout_recurrent` on the recurrent state h_{t-1} of every layer.
    """

    def __init__(self, members: int, hidden: int, layers: int, steps: int, outputs: int,
                 dropout_input: float = 0.0, dropout_between: float = 0.0, dropout_head: float = 0.0,
                 variational: bool = False, dropout_recurrent: float = 0.0):
        super().__init__()
        self.members, self.hidden, self.layers = members, hidden, layers
        self.steps, self.outputs = steps, outputs
        self.rates = (dropout_input, dropout_between, dropout_head)
        self.variational = variational
        self.rate_recurrent = dropout_recurrent if variational else 0.0
        four = 4 * hidden
        self.w_ih = nn.ParameterList(
            nn.Parameter(torch.empty(members, 1 if k == 0 else hidden, four)) for k in range(layers))
        self.w_hh = nn.ParameterList(nn.Parameter(torch.empty(members, hidden, four)) for _ in range(layers))
        self.bias = nn.ParameterList(nn.Parameter(torch.empty(members, 1, four)) for _ in range(layers))
        self.w_out = nn.Parameter(torch.empty(members, hidden, steps * outputs))
        self.b_out = nn.Parameter(torch.empty(members, 1, steps * outputs))
        self.workspace = Workspace()

    def reset_parameters(self, generators: list[torch.Generator]) -> None:
        """Uniform(-1/sqrt(Hd), 1/sqrt(Hd)) as torch does, each member from its own generator.

        The forget-gate bias starts at +1 so early training keeps memory of long contexts.
        """
        bound = 1.0 / math.sqrt(self.hidden)
        with torch.no_grad():
            for m, g in enumerate(generators):
                for k in range(self.layers):
                    for p in (self.w_ih[k], self.w_hh[k], self.bias[k]):
                        p[m].uniform_(-bound, bound, generator=g)
                    self.bias[k][m, :, self.hidden : 2 * self.hidden] += 1.0
                self.w_out[m].uniform_(-bound, bound, generator=g)
                self.b_out[m].uniform_(-bound, bound, generator=g)

    def _drop(self, x: torch.Tensor, rate: float, generators, axis: int = 0, tied: bool = False) -> torch.Tensor:
        """Training-time inverted dropout on x; member m (index m along `axis`) masked from
        generators[m]. ``tied``: x is (T, M, ...) and one mask serves every step t."""
        if rate <= 0.0 or generators is None:
            return x
        if tied:
            return x * self._mask(rate, generators, x.shape[1:]).unsqueeze(0)
        shape = x.shape[:axis] + x.shape[axis + 1 :]
        masks = [x.new_empty(shape).bernoulli_(1.0 - rate, generator=g) for g in generators]
        return x * torch.stack(masks, axis).mul_(1.0 / (1.0 - rate))

    @staticmethod
    def _mask(rate: float, generators, shape) -> torch.Tensor:
        """Inverted-dropout masks of `shape` (M, ...), member m's from generators[m]."""
        masks = [torch.empty(shape[1:]).bernoulli_(1.0 - rate, generator=g) for g in generators]
        return torch.stack(masks).mul_(1.0 / (1.0 - rate))

    def _scaled(self, k: int):
        """Layer k's weights with the g-gate columns doubled (see module notes)."""
        scale = self.w_hh[k].new_ones(4 * self.hidden)
        scale[3 * self.hidden :] = 2.0
        return self.w_ih[k] * scale, self.bias[k] * scale, self.w_hh[k] * scale

    def encode(self, x: torch.Tensor, generators=None, state=None, sequence: bool = False,
               weights=None, rand: "RowRandom | None" = None):
        """Run the stack over x (T, M, B) of standardised values.

        With autograd (training): dropout is live iff `generators` (one per member) is given.
        Without (validation, prediction): dropout is live iff `rand` is given; `state`, a
        per-layer list of (h, c) each (M, B, Hd), continues a previous call (None = zeros);
        `weights` caches `inference_weights()`.
        Returns the top hidden states (T, M, B, Hd) if `sequence` else the last (M, B, Hd),
        and, without autograd, the final per-layer state.
        """
        if not torch.is_grad_enabled():
            return self._encode_infer(x, rand, state, sequence, weights)
        if state is not None:
            raise ValueError("continuing from a state is for prediction (no autograd)")
        tied = self.variational
        z = self._drop(x.unsqueeze(-1), self.rates[0], generators, axis=1, tied=tied)
        for k in range(self.layers):
            w_ih, b, w_hh = self._scaled(k)
            only = k == self.layers - 1 and not sequence
            rmask = None
            if tied and self.rate_recurrent > 0 and generators is not None:
                rmask = self._mask(self.rate_recurrent, generators, (self.members, z.shape[2], self.hidden))
            z = _LayerSequence.apply(z.contiguous(), w_ih, b, w_hh, self.workspace, only, rmask)
            if k < self.layers - 1:
                z = self._drop(z, self.rates[1], generators, axis=1, tied=tied)
        return z, None

    def inference_weights(self) -> list[list[list[torch.Tensor]]]:
        """Weights per layer and member in ``torch.lstm``'s layout (gates [i, f, g, o])."""
        hd = self.hidden
        order = torch.cat([torch.arange(0, 2 * hd), torch.arange(3 * hd, 4 * hd), torch.arange(2 * hd, 3 * hd)])
        with torch.no_grad():
            return [[[self.w_ih[k][m].t()[order].contiguous(), self.w_hh[k][m].t()[order].contiguous(),
                      self.bias[k][m, 0][order].contiguous(), self.bias[k].new_zeros(4 * hd)]
                     for m in range(self.members)] for k in range(self.layers)]

    def _encode_infer(self, x, rand, state, sequence, weights):
        """`encode` without autograd, through torch's fused CPU LSTM kernel, one member at a
        time. Dropout masks are drawn for blocks of whole origins (see `RowRandom`); the
        kernel itself runs on slices of `_kernel_rows` rows."""
        weights = weights if weights is not None else self.inference_weights()
        steps, members, rows = x.shape
        block = max(1024 // rand.reps, 1) * rand.reps if rand is not None else rows
        tops, finals = [], []
        for m in range(members):
            top_m, fin_m = [], []
            for r0 in range(0, rows, block):
                r1 = min(rows, r0 + block)
                rr = None if rand is None else rand.rows(r0, r1)
                z = self._drop_rows(x[:, m, r0:r1].unsqueeze(-1), self.rates[0], rr, m, 1, "input")
                fin = []
                for k in range(self.layers):
                    h0 = c0 = None
                    if state is not None:
                        h0, c0 = state[k][0][m, r0:r1], state[k][1][m, r0:r1]
                    keep_all = sequence or k < self.layers - 1
                    if rr is not None and self.rate_recurrent > 0:
                        rmask = rr.tied(m, ("recurrent", k), self.rate_recurrent, (r1 - r0, self.hidden), 0)
                        z, h, c = self._kernel_masked(z, h0, c0, weights[k][m], keep_all, rmask)
                    else:
                        z, h, c = self._kernel(z, h0, c0, weights[k][m], keep_all)
                    fin.append((h, c))
                    if k < self.layers - 1:
                        z = self._drop_rows(z, self.rates[1], rr, m, 1, ("between", k))
                top_m.append(z if sequence else z[-1])
                fin_m.append(fin)
            tops.append(torch.cat(top_m, -2))
            finals.append([(torch.cat([f[k][0] for f in fin_m]), torch.cat([f[k][1] for f in fin_m]))
                           for k in range(self.layers)])
        top = torch.stack(tops, 1 if sequence else 0)
        new_state = [(torch.stack([fm[k][0] for fm in finals]), torch.stack([fm[k][1] for fm in finals]))
                     for k in range(self.layers)]
        return top, new_state

    def _kernel(self, z, h0, c0, weights, keep_all: bool):
        """One layer over z (T, B, I) in row slices: the fused kernel materialises every input
        projection, so for long windows it is fastest per row near 64 rows (measured), while
        single steps want large slices. Returns outputs (T, B, Hd) (only the last step if
        not `keep_all`), and the final h, c (B, Hd)."""
        steps, rows, _ = z.shape
        per = max(64, 16384 // steps)
        outs, hs, cs = [], [], []
        for r0 in range(0, rows, per):
            r1 = min(rows, r0 + per)
            if h0 is None:
                hx = (z.new_zeros(1, r1 - r0, self.hidden),) * 2
            else:
                hx = (h0[r0:r1].unsqueeze(0), c0[r0:r1].unsqueeze(0))
            out, h, c = torch.lstm(z[:, r0:r1].contiguous(), hx, weights, True, 1, 0.0, False, False, False)
            outs.append(out if keep_all else out[-1:])
            hs.append(h[0])
            cs.append(c[0])
        return torch.cat(outs, 1), torch.cat(hs), torch.cat(cs)

    def _kernel_masked(self, z, h0, c0, weights, keep_all: bool, rmask):
        """`_kernel` with a variational mask rmask (B, Hd) on the recurrent state, step by step
        (the fused kernel cannot mask h_{t-1}). Gates in torch.lstm's order [i, f, g, o]."""
        w_ih, w_hh, b_ih, _ = weights
        steps, rows, _ = z.shape
        hd = self.hidden
        h = z.new_zeros(rows, hd) if h0 is None else h0
        c = z.new_zeros(rows, hd) if c0 is None else c0
        w_ih_t, w_hh_t = w_ih.t(), w_hh.t()
        outs = []
        for t in range(steps):
            g = torch.addmm(b_ih, z[t], w_ih_t).addmm_(h * rmask, w_hh_t)
            i, f, o = g[:, :hd].sigmoid(), g[:, hd : 2 * hd].sigmoid(), g[:, 3 * hd :].sigmoid()
            c = f * c + i * g[:, 2 * hd : 3 * hd].tanh()
            h = o * c.tanh()
            if keep_all or t == steps - 1:
                outs.append(h)
        return torch.stack(outs), h, c

    def _drop_rows(self, x: torch.Tensor, rate: float, rand, member: int, axis: int, key=None) -> torch.Tensor:
        """Inverted dropout of one member's tensor, masks drawn per origin by `rand`; with
        variational dropout one mask per row (tied across the time axis 0, and across calls
        that continue a rollout, under `key`)."""
        if rate <= 0.0 or rand is None:
            return x
        if self.variational:
            shape = tuple(x.shape[1:])
            return x * rand.tied(member, key, rate, shape, axis - 1).unsqueeze(0)
        return x * rand.mask(member, rate, tuple(x.shape), axis)

    def head(self, h: torch.Tensor, generators=None) -> torch.Tensor:
        """Linear head on hidden states (M, N, Hd) -> raw outputs (M, N, steps, outputs)."""
        h = self._drop(h, self.rates[2], generators)
        y = torch.baddbmm(self.b_out, h, self.w_out)
        return y.view(h.shape[0], h.shape[1], self.steps, self.outputs)

    @torch.no_grad()
    def head_infer(self, h: torch.Tensor, rand: "RowRandom | None" = None) -> torch.Tensor:
        """`head` for prediction, in float64 (so BLAS blocking that varies with the batch size
        cannot move a row's result visibly): (M, N, Hd) -> (M, N, steps, outputs)."""
        h = h.double()
        if rand is not None and self.rates[2] > 0:
            draw = (lambda m: rand.tied(m, "head", self.rates[2], tuple(h.shape[1:]), 0)) if self.variational else (
                lambda m: rand.mask(m, self.rates[2], tuple(h.shape[1:]), 0))
            h = h * torch.stack([draw(m) for m in range(h.shape[0])]).double()
        y = torch.baddbmm(self.b_out.double(), h, self.w_out.double())
        return y.view(h.shape[0], h.shape[1], self.steps, self.outputs)

    def forward(self, x: torch.Tensor, generators=None, last: int | None = None) -> torch.Tensor:
        """Raw head outputs for windows x (M, B, T); training and validation (dropout off
        without autograd).

        Direct (steps = H): (M, B, H, D) from the last hidden state. Recursive (steps = 1):
        (M, B, last, D), the one-step outputs at the last `last` positions of each window.
        """
        xt = x.permute(2, 0, 1).contiguous()
        if last is None:
            h, _ = self.encode(xt, generators)
            return self.head(h, generators)
        hs, _ = self.encode(xt, generators, sequence=True)
        _, m, bsz, hd = hs.shape
        tail = hs[-last:].permute(1, 2, 0, 3)  # (M, B, last, Hd)
        if self.variational:  # one head mask per sequence, tied across its positions
            if self.rates[2] > 0 and generators is not None:
                tail = tail * self._mask(self.rates[2], generators, (m, bsz, hd)).unsqueeze(2)
            generators = None
        return self.head(tail.reshape(m, bsz * last, hd), generators).view(m, bsz, last, self.outputs)


class RowRandom:
    """Prediction-time randomness drawn per (member, origin).

    Rows come in groups of `reps` consecutive rows, one group per origin (its S samples);
    group j of member m draws only from ``gens[m][j]``, in an order fixed by the network's
    structure, so an origin's forecast does not depend on which other origins share its batch.
    """

    def __init__(self, gens: list[list[torch.Generator]], reps: int, first: int = 0, last: int | None = None,
                 cache: dict | None = None):
        self.gens, self.reps = gens, reps
        self.first, self.last = first, len(gens[0]) if last is None else last
        self.cache = {} if cache is None else cache  # tied masks, shared with `rows` views

    def rows(self, r0: int, r1: int) -> "RowRandom":
        """The same source restricted to rows [r0, r1) (whole groups)."""
        if r0 % self.reps:
            raise ValueError("row ranges must start at an origin's first row")
        return RowRandom(self.gens, self.reps, self.first + r0 // self.reps,
                         self.first + -(-r1 // self.reps), self.cache)

    def tied(self, member: int, key, rate: float, shape: tuple, axis: int) -> torch.Tensor:
        """A `mask` drawn on first use under `key` and returned again on every later call for
        the same member and rows: variational masks, tied across time steps and rollout calls."""
        k = (member, key, self.first, self.last, shape)
        if k not in self.cache:
            self.cache[k] = self.mask(member, rate, shape, axis)
        return self.cache[k]

    def _draw(self, member: int, shape: tuple, axis: int, fill) -> torch.Tensor:
        part = list(shape)
        part[axis] = self.reps
        blocks = [fill(torch.empty(part), self.gens[member][j]) for j in range(self.first, self.last)]
        return torch.cat(blocks, axis)

    def mask(self, member: int, rate: float, shape: tuple, axis: int) -> torch.Tensor:
        """Inverted-dropout mask (keep / (1 - rate)) of `shape`, rows along `axis`."""
        keep = 1.0 - rate
        return self._draw(member, shape, axis, lambda t, g: t.bernoulli_(keep, generator=g).mul_(1.0 / keep))

    def normal(self, member: int, shape: tuple, axis: int) -> torch.Tensor:
        return self._draw(member, shape, axis, lambda t, g: t.normal_(generator=g)).double()

    def uniform(self, member: int, shape: tuple, axis: int) -> torch.Tensor:
        return self._draw(member, shape, axis, lambda t, g: t.uniform_(generator=g)).double()
