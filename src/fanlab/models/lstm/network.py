"""M independent LSTM networks with linear heads.

A single forecaster is the case M = 1; a deep ensemble trains its M members together. Every
weight carries a leading member axis (one Adam, one state dict, per-member best-epoch rows),
and each member runs through its own kernel call, one member after the other: member m of an
ensemble computes exactly what a single model trained from member m's seed computes, and its
gradient depends on its own loss only.

Kernels. Training passes (autograd) run through `kernel`: ``numba`` (the default on CPU,
`fanlab.models.lstm.kernel`: a compiled forward that stores the gates and an exact BPTT
backward, wrapped as a ``torch.autograd.Function``) or ``torch`` (``torch.lstm``, the kernel
``nn.LSTM`` calls, with autograd; the only one on a GPU). On CPU torch routes its training
pass to oneDNN's reference RNN implementation (14.7 ms forward + 21.2 ms backward for 64
windows x 200 steps at hidden 64, ONEDNN_VERBOSE=1), a quarter of the step-shaped matmul
rate, which the compiled kernel beats (``benchmarks/lstm_kernels.py`` prints the ratio per
epoch). Validation and prediction (no autograd) run torch's inference kernel (oneDNN's brgemm
implementation, 7.5 ms for the same pass), which is faster than either training path.
Earlier measurements: running five members one after the other beats batching them by hand,
by ``torch.func.vmap`` over a Python cell (``aten::lstm`` has no batching rule) or through
one block-diagonal kernel call (M^2 the recurrent work); per-step eager torch ops cost 20-60
us each at these shapes, so a hand-written backward in torch ops lost to oneDNN.

Dropout is explicit, in three places (``nn.LSTM(num_layers=1, dropout=p)`` would do nothing):
on the input values, between stacked layers, and on the hidden state before the head. Masks
are drawn from per-member ``torch.Generator`` objects handed to `forward` (training) or from a
`RowRandom` (prediction: per member and origin), never from the global RNG, so training and
MC-dropout prediction are reproducible and leave no global state. ``variational=False``: masks
are drawn afresh at every time step. ``variational=True`` (Gal and Ghahramani 2016): one mask
per sequence, tied across time, on the inputs, between layers and before the head, plus a
mask on the recurrent state h_{t-1} (rate `dropout_recurrent`), and a recursive rollout keeps
its masks through every fed-back step. The fused kernel cannot mask h_{t-1} per sequence, but
``(h * r) W_hh = h (diag(r) W_hh)``: training draws one recurrent mask per batch and member
and applies it to the columns of W_hh (weight drop, Merity et al. 2018), so every sequence
still sees the model's own per-sequence mask, shared with the rest of its batch (the loss's
expectation is unchanged; its estimate is noisier than with a mask per sequence, which a
Python cell loop would give at ~4.5x the time of an epoch). Prediction draws a mask per
(origin, sample) row and steps through the recurrence itself (`_kernel_masked`).

Shapes: M members, B sequences, T time steps, Hd hidden units, I inputs per step (1 or Hd),
D outputs per step (1 point, 2 Gaussian, Q quantiles). Internally time-major (T, M, B, .).
Weights are stored in ``torch.lstm``'s layout: gates [i, f, g, o], w_ih (M, 4Hd, I),
w_hh (M, 4Hd, Hd), bias (M, 4Hd).
"""

from __future__ import annotations

import math

import torch
from torch import nn


def resolve_device(name: str) -> torch.device:
    """The torch device of a `device` setting: cpu, cuda, or auto (cuda where torch sees a GPU)."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda': torch sees no GPU here (use device cpu or auto)")
    return torch.device(name)


def resolve_kernel(name: str, device: torch.device) -> str:
    """The training kernel of a `kernel` setting on `device`: auto is numba on the CPU (the
    faster there, `benchmarks/lstm_kernels.py`), torch's elsewhere."""
    if name == "auto":
        return "numba" if device.type == "cpu" else "torch"
    if name == "numba" and device.type != "cpu":
        raise ValueError(f"kernel 'numba' runs on the CPU only, not on {device.type} (use kernel torch or auto)")
    return name


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
    kernel : "torch" or "numba"
        The training passes' LSTM kernel: ``torch.lstm`` with autograd, or the compiled exact
        forward and backward of `fanlab.models.lstm.kernel` (CPU only). Dropout and the
        recurrent weight drop are applied around the kernel, the same for both. Validation
        and prediction always run torch's inference kernel.
    skip_inputs : int
        With n > 0, a linear map from the last n input values of a window to each of the H
        steps (weights ``w_skip`` (M, n, steps), starting at zero) is added to the first
        `skip_outputs` outputs of every step (the location: a point or Gaussian mean, every
        quantile), direct strategy only.
    device : torch.device or str
        Where the parameters live (the generators handed in must be on it too).
    """

    kernel = "torch"  # networks pickled before the kernel choice existed
    skip_inputs, skip_outputs = 0, 1  # ... and before the linear skip did

    def __init__(self, members: int, hidden: int, layers: int, steps: int, outputs: int,
                 dropout_input: float = 0.0, dropout_between: float = 0.0, dropout_head: float = 0.0,
                 variational: bool = False, dropout_recurrent: float = 0.0, kernel: str = "torch",
                 skip_inputs: int = 0, skip_outputs: int = 1, device: torch.device | str = "cpu"):
        super().__init__()
        if kernel not in ("torch", "numba"):
            raise ValueError(f"kernel must be 'torch' or 'numba', got {kernel!r}")
        self.kernel = kernel
        self.members, self.hidden, self.layers = members, hidden, layers
        self.steps, self.outputs = steps, outputs
        self.rates = (dropout_input, dropout_between, dropout_head)
        self.variational = variational
        self.rate_recurrent = dropout_recurrent if variational else 0.0
        four = 4 * hidden
        empty = lambda *shape: nn.Parameter(torch.empty(*shape, device=device))  # noqa: E731
        self.w_ih = nn.ParameterList(empty(members, four, 1 if k == 0 else hidden) for k in range(layers))
        self.w_hh = nn.ParameterList(empty(members, four, hidden) for _ in range(layers))
        self.bias = nn.ParameterList(empty(members, four) for _ in range(layers))
        self.w_out = empty(members, hidden, steps * outputs)
        self.b_out = empty(members, 1, steps * outputs)
        self.skip_inputs, self.skip_outputs = skip_inputs, skip_outputs
        if skip_inputs:
            self.w_skip = nn.Parameter(torch.zeros(members, skip_inputs, steps, device=device))

    def reset_parameters(self, generators: list[torch.Generator]) -> None:
        """Uniform(-1/sqrt(Hd), 1/sqrt(Hd)) as torch does, each member from its own generator.

        The forget-gate bias starts at +1 so early training keeps memory of long contexts; the
        linear skip at zero.
        """
        bound = 1.0 / math.sqrt(self.hidden)
        with torch.no_grad():
            for m, g in enumerate(generators):
                for k in range(self.layers):
                    for p in (self.w_ih[k], self.w_hh[k], self.bias[k]):
                        p[m].uniform_(-bound, bound, generator=g)
                    self.bias[k][m, self.hidden : 2 * self.hidden] += 1.0
                self.w_out[m].uniform_(-bound, bound, generator=g)
                self.b_out[m].uniform_(-bound, bound, generator=g)
            if self.skip_inputs:  # the linear skip starts at zero: the network alone
                self.w_skip.zero_()

    @staticmethod
    def _mask(rate: float, generator: torch.Generator, shape, like: torch.Tensor) -> torch.Tensor:
        """An inverted-dropout mask (keep / (1 - rate)) of `shape`, drawn from `generator`."""
        keep = 1.0 - rate
        return like.new_empty(shape).bernoulli_(keep, generator=generator).mul_(1.0 / keep)

    def _masks(self, rate: float, generators, shape, like: torch.Tensor) -> torch.Tensor:
        """Masks (M, *shape), member m's from generators[m]."""
        return torch.stack([self._mask(rate, g, shape, like) for g in generators])

    def _drop(self, x: torch.Tensor, rate: float, generator) -> torch.Tensor:
        """Training-time dropout of one member's sequence x (T, B, .): with variational
        dropout one mask per sequence, tied across the steps t, else a fresh one per step."""
        if rate <= 0.0 or generator is None:
            return x
        shape = x.shape[1:] if self.variational else x.shape
        return x * self._mask(rate, generator, shape, x)

    def encode(self, x: torch.Tensor, generators=None, state=None, sequence: bool = False,
               weights=None, rand: "RowRandom | None" = None, members=None):
        """Run the stack over x (T, M, B) of standardised values.

        With autograd (training): dropout is live iff `generators` (one per member) is given;
        `members` (indices) runs only those members, x then holding their rows (T, len, B).
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
        tops = []
        for j, m in enumerate(range(self.members) if members is None else members):
            g = None if generators is None else generators[m]
            z = self._drop(x[:, j].unsqueeze(-1), self.rates[0], g)
            hx = (x.new_zeros(1, x.shape[2], self.hidden),) * 2
            for k in range(self.layers):
                w_hh = self.w_hh[k][m]
                if g is not None and self.rate_recurrent > 0:  # weight drop: see the module notes
                    w_hh = w_hh * self._mask(self.rate_recurrent, g, (self.hidden,), w_hh)
                if self.kernel == "numba":
                    from fanlab.models.lstm.kernel import lstm_layer

                    z = lstm_layer(z, self.w_ih[k][m], w_hh, self.bias[k][m])
                else:
                    weights = [self.w_ih[k][m], w_hh, self.bias[k][m], self.bias[k].new_zeros(4 * self.hidden)]
                    z = torch.lstm(z.contiguous(), hx, weights, True, 1, 0.0, True, False, False)[0]
                if k < self.layers - 1:
                    z = self._drop(z, self.rates[1], g)
            tops.append(z if sequence else z[-1])
        return torch.stack(tops, 1 if sequence else 0), None

    def inference_weights(self) -> list[list[list[torch.Tensor]]]:
        """Weights per layer and member as ``torch.lstm`` takes them, detached."""
        with torch.no_grad():
            return [[[self.w_ih[k][m].detach(), self.w_hh[k][m].detach(), self.bias[k][m].detach(),
                      self.bias[k].new_zeros(4 * self.hidden)]
                     for m in range(self.members)] for k in range(self.layers)]

    def _encode_infer(self, x, rand, state, sequence, weights):
        """`encode` without autograd, through torch's fused CPU LSTM kernel, one member at a
        time. Dropout masks are drawn for blocks of whole origins (see `RowRandom`); the
        kernel itself runs on row slices (see `_kernel`)."""
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

    def head(self, h: torch.Tensor, generators=None, members=None) -> torch.Tensor:
        """Linear head on hidden states (M, N, Hd) -> raw outputs (M, N, steps, outputs);
        with `members` (indices), h holds only those members' states."""
        b_out, w_out = self.b_out, self.w_out
        if members is not None:
            pick = torch.as_tensor(members, device=h.device)
            b_out, w_out = b_out[pick], w_out[pick]
            generators = None if generators is None else [generators[m] for m in members]
        if self.rates[2] > 0 and generators is not None:
            h = h * self._masks(self.rates[2], generators, h.shape[1:], h)
        y = torch.baddbmm(b_out, h, w_out)
        return y.view(h.shape[0], h.shape[1], self.steps, self.outputs)

    @torch.no_grad()
    def head_infer(self, h: torch.Tensor, rand: "RowRandom | None" = None, x: torch.Tensor | None = None
                   ) -> torch.Tensor:
        """`head` for prediction, in float64 (so BLAS blocking that varies with the batch size
        cannot move a row's result visibly): (M, N, Hd) -> (M, N, steps, outputs); `x` (N, T):
        the input window of each row, for the linear skip."""
        h = h.double()
        if rand is not None and self.rates[2] > 0:
            draw = (lambda m: rand.tied(m, "head", self.rates[2], tuple(h.shape[1:]), 0)) if self.variational else (
                lambda m: rand.mask(m, self.rates[2], tuple(h.shape[1:]), 0))
            h = h * torch.stack([draw(m) for m in range(h.shape[0])]).double()
        y = torch.baddbmm(self.b_out.double(), h, self.w_out.double())
        y = y.view(h.shape[0], h.shape[1], self.steps, self.outputs)
        if self.skip_inputs:
            if x is None:
                raise ValueError("a network with the linear skip needs each row's input window x to predict")
            y = self.add_skip(y, x.double().unsqueeze(0).expand(h.shape[0], -1, -1), self.w_skip.double())
        return y

    def add_skip(self, y: torch.Tensor, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """Raw outputs y (M, N, steps, outputs) plus the linear skip of windows x (M, N, T)
        (its last `skip_inputs` values) with weights w (M, n, steps), on the location outputs."""
        lin = torch.bmm(x[..., x.shape[-1] - self.skip_inputs:], w).unsqueeze(-1)  # (M, N, steps, 1)
        k = self.skip_outputs
        return torch.cat([y[..., :k] + lin, y[..., k:]], -1) if k < self.outputs else y + lin

    def forward(self, x: torch.Tensor, generators=None, last: int | None = None, members=None) -> torch.Tensor:
        """Raw head outputs for windows x (M, B, T); training and validation (dropout off
        without autograd). With `members` (indices, training), only those members run and x
        holds their windows (len(members), B, T).

        Direct (steps = H): (M, B, H, D) from the last hidden state. Recursive (steps = 1):
        (M, B, last, D), the one-step outputs at the last `last` positions of each window.
        """
        xt = x.permute(2, 0, 1).contiguous()
        if last is None:
            h, _ = self.encode(xt, generators, members=members)
            y = self.head(h, generators, members)
            if self.skip_inputs:
                w = self.w_skip if members is None else self.w_skip[torch.as_tensor(members, device=x.device)]
                y = self.add_skip(y, x, w)
            return y
        hs, _ = self.encode(xt, generators, sequence=True, members=members)
        _, m, bsz, hd = hs.shape
        tail = hs[-last:].permute(1, 2, 0, 3)  # (M, B, last, Hd)
        if self.variational:  # one head mask per sequence, tied across its positions
            if self.rates[2] > 0 and generators is not None:
                gens = generators if members is None else [generators[i] for i in members]
                tail = tail * self._masks(self.rates[2], gens, (bsz, hd), tail).unsqueeze(2)
            generators = None
        return self.head(tail.reshape(m, bsz * last, hd), generators, members).view(m, bsz, last, self.outputs)


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
        gens = self.gens[member]
        blocks = [fill(torch.empty(part, device=gens[j].device), gens[j]) for j in range(self.first, self.last)]
        return torch.cat(blocks, axis)

    def mask(self, member: int, rate: float, shape: tuple, axis: int) -> torch.Tensor:
        """Inverted-dropout mask (keep / (1 - rate)) of `shape`, rows along `axis`."""
        keep = 1.0 - rate
        return self._draw(member, shape, axis, lambda t, g: t.bernoulli_(keep, generator=g).mul_(1.0 / keep))

    def normal(self, member: int, shape: tuple, axis: int) -> torch.Tensor:
        return self._draw(member, shape, axis, lambda t, g: t.normal_(generator=g)).double()

    def uniform(self, member: int, shape: tuple, axis: int) -> torch.Tensor:
        return self._draw(member, shape, axis, lambda t, g: t.uniform_(generator=g)).double()
