"""An exact LSTM training kernel for the CPU, compiled by numba: one layer, one member.

Why. On CPU, ``torch.lstm`` with autograd runs oneDNN's reference RNN implementation for
training (about 17 ms forward and 19 ms backward for 64 windows of 200 steps at hidden 64,
one thread), a quarter of the rate the gate products need. Here the recurrence is a compiled
loop over time: each step's product h_{t-1} W_hh^T (B x Hd by Hd x 4Hd) is one BLAS call
(numba's ``np.dot``, held to one thread), the gates, the input projection and the cell update
are vectorised loops over the rows; the forward pass stores the activated gates, tanh(c_t)
and every (h_t, c_t), and the backward pass is exact backpropagation through time from them
(its step product dG_t W_hh is again one BLAS call; the bias gradient is summed in float64 on
the way). The weight gradients sum_t dG_t^T [x_t, h_{t-1}] are one large matrix product each
in torch, after the loop. `benchmarks/lstm_kernels.py` times it against torch;
`tests/models/test_lstm_kernel.py` checks its gradients against torch's float64 autograd.

How it compiles. The hidden size Hd and the dtype are compile-time constants (closure
constants of a per-(Hd, dtype) factory), so the loops over the 4 Hd gate columns have fixed
trip counts and LLVM vectorises them (with ``error_model="numpy"``: no zero-division checks
in the loop bodies). ``cache=True`` keeps the machine code next to this file (numba falls back
to its user-wide cache directory, or ``NUMBA_CACHE_DIR``, where that is not writable), so a
process pays the JIT (seconds per (Hd, dtype)) only the first time ever; the cache index is
keyed by the closure's constants, so every size has its own entry.

Gradients through ~200 forget gates shrink towards float32's denormal range, where every
arithmetic operation takes a microcode assist (several times slower). The backward pass
flushes the carried state (dh, dc) to zero below the smallest normal number, which is what a
flush-to-zero mode does, without touching the thread's floating-point state.

Layout: time-major, gates in ``torch.lstm``'s order [i, f, g, o]; x (T, B, I), w_ih (4Hd, I),
w_hh (4Hd, Hd), bias (4Hd,); zero initial state.
"""

from __future__ import annotations

import math
import threading

import numpy as np
import torch

_LOCK = threading.Lock()
_COMPILED: dict[tuple[int, str], tuple] = {}


def _build(hidden: int, dtype: str):
    """Compiled (forward, backward) loops for one hidden size and dtype."""
    import numba
    import scipy.linalg.cython_blas  # noqa: F401  (the BLAS numba's np.dot calls: loaded before `one_blas_thread`)

    HD = hidden
    G = 4 * hidden
    f = np.dtype(dtype).type
    ONE, TWO, ZERO = f(1.0), f(2.0), f(0.0)
    TINY = f(np.finfo(dtype).tiny)
    EXACT = dtype == "float64"  # float64 (the tests' reference precision): libm's exp
    # float32: exp(x) = 2^n e^r, n = round(x / ln 2), |r| <= ln(2) / 2, e^r by its degree-7
    # Taylor polynomial (error < 1e-9 relative), 2^n written into the exponent bits; unlike
    # libm's expf it vectorises. Arguments are clamped to [-87, 88], where 2^n stays normal.
    INT = np.int32 if dtype == "float32" else np.int64
    BITS, BIAS = (23, 127) if dtype == "float32" else (52, 1023)
    LO, HI, MAGIC = f(-87.0), f(88.0), f(1.5 * 2.0**BITS)  # x + MAGIC - MAGIC rounds x
    LOG2E, LN2HI, LN2LO = f(1.4426950408889634), f(0.693145751953125), f(1.428606765330187e-06)
    C2, C3, C4, C5, C6, C7 = (f(1.0 / math.factorial(n)) for n in range(2, 8))
    # the gates' activations as sigmoid(scale x): tanh(x) = 2 sigmoid(2x) - 1 for g
    SCALE = np.ones(G, dtype=dtype)
    SCALE[2 * HD : 3 * HD] = 2.0
    opts = dict(cache=True, nogil=True, error_model="numpy", boundscheck=False, fastmath={"contract"})

    @numba.njit(**opts)
    def forward(x, w_ih_t, bias, w_hh_t, hs, cs, gates, tanhc):
        """x (T, B, I), w_ih_t (I, 4Hd), bias (4Hd,), w_hh_t (Hd, 4Hd). Fills hs, cs (T + 1,
        B, Hd) from row 1 (row 0 must hold the initial state), gates (T, B, 4Hd) activated,
        and tanhc (T, B, Hd) = tanh(c_t)."""
        steps, rows, inputs = x.shape
        acc = np.empty((rows, G), dtype=x.dtype)
        ibuf = np.empty(G, dtype=INT)
        fbuf = ibuf.view(x.dtype)
        for t in range(steps):
            np.dot(hs[t], w_hh_t, acc)
            for b in range(rows):
                a, xr, gr = acc[b], x[t, b], gates[t, b]
                for i in range(inputs):  # the input projection x_t W_ih^T
                    xi = xr[i]
                    wi = w_ih_t[i]
                    for j in range(G):
                        a[j] += xi * wi[j]
                for j in range(G):  # gates: sigmoid(SCALE v)
                    v = -SCALE[j] * (a[j] + bias[j])
                    if EXACT:
                        e = math.exp(v)
                    else:
                        v = min(max(v, LO), HI)
                        n = (v * LOG2E + MAGIC) - MAGIC
                        r = v - n * LN2HI - n * LN2LO
                        p = ONE + r * (ONE + r * (C2 + r * (C3 + r * (C4 + r * (C5 + r * (C6 + r * C7))))))
                        ibuf[j] = (INT(n) + BIAS) << BITS
                        e = p * fbuf[j]
                    gr[j] = ONE / (ONE + e)
                cr, cp, tr, hr = cs[t + 1, b], cs[t, b], tanhc[t, b], hs[t + 1, b]
                for k in range(HD):
                    g = TWO * gr[2 * HD + k] - ONE
                    gr[2 * HD + k] = g
                    c = gr[HD + k] * cp[k] + gr[k] * g
                    cr[k] = c
                    v = -TWO * c  # tanh(c) = 2 sigmoid(2c) - 1
                    if EXACT:
                        e = math.exp(v)
                    else:
                        v = min(max(v, LO), HI)
                        n = (v * LOG2E + MAGIC) - MAGIC
                        r = v - n * LN2HI - n * LN2LO
                        p = ONE + r * (ONE + r * (C2 + r * (C3 + r * (C4 + r * (C5 + r * (C6 + r * C7))))))
                        ibuf[k] = (INT(n) + BIAS) << BITS
                        e = p * fbuf[k]
                    tc = TWO / (ONE + e) - ONE
                    tr[k] = tc
                    hr[k] = gr[3 * HD + k] * tc

    @numba.njit(**opts)
    def backward(gout, w_hh, cs, gates, tanhc, dgates, dbias):
        """gout (T, B, Hd): the loss's gradient with respect to each h_t; w_hh (4Hd, Hd).
        Fills dgates (T, B, 4Hd), the gradient with respect to each step's gate
        pre-activations, and dbias (4Hd,) float64, their sum."""
        steps, rows = gout.shape[0], gout.shape[1]
        dbias[:] = 0.0
        dhn = np.zeros((rows, HD), dtype=gout.dtype)
        dcn = np.zeros((rows, HD), dtype=gout.dtype)
        for t in range(steps - 1, -1, -1):
            for b in range(rows):
                gr = gates[t, b]
                dg = dgates[t, b]
                go = gout[t, b]
                tr = tanhc[t, b]
                cp = cs[t, b]
                dh = dhn[b]
                dc_ = dcn[b]
                for k in range(HD):
                    i = gr[k]
                    fg = gr[HD + k]
                    g = gr[2 * HD + k]
                    o = gr[3 * HD + k]
                    tc = tr[k]
                    d_h = go[k] + dh[k]
                    dc = dc_[k] + d_h * o * (ONE - tc * tc)
                    dg[k] = dc * g * i * (ONE - i)
                    dg[HD + k] = dc * cp[k] * fg * (ONE - fg)
                    dg[2 * HD + k] = dc * i * (ONE - g * g)
                    dg[3 * HD + k] = d_h * tc * o * (ONE - o)
                    dbias[k] += dg[k]
                    dbias[HD + k] += dg[HD + k]
                    dbias[2 * HD + k] += dg[2 * HD + k]
                    dbias[3 * HD + k] += dg[3 * HD + k]
                    d = dc * fg
                    dc_[k] = d if abs(d) >= TINY else ZERO
            np.dot(dgates[t], w_hh, dhn)
            for b in range(rows):
                dh = dhn[b]
                for k in range(HD):
                    d = dh[k]
                    dh[k] = d if abs(d) >= TINY else ZERO

    return forward, backward


_CONTROLLER = None


def one_blas_thread():
    """A context in which BLAS libraries run one thread: the kernel's step products are small
    (B x Hd by Hd x 4Hd), and a multi-threaded BLAS on a busy machine was 20x slower on them.
    Entered around every kernel call (about 0.1 ms), as the libraries numba calls may be
    loaded after any limit a caller set."""
    global _CONTROLLER
    if _CONTROLLER is None:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER.limit(limits=1, user_api="blas")


def compiled(hidden: int, dtype: torch.dtype):
    """The (forward, backward) loops for `hidden` and `dtype` (float32 or float64), compiled
    (or loaded from numba's cache) on first use in this process."""
    name = {torch.float32: "float32", torch.float64: "float64"}[dtype]
    key = (int(hidden), name)
    with _LOCK:
        if key not in _COMPILED:
            _COMPILED[key] = _build(*key)
        return _COMPILED[key]


class _Workspace(threading.local):
    """Free buffers of the kernel, per thread, by (shape, dtype): a training pass needs ~60 MB
    of them at the article's shapes (gates and their gradients, cell states), and allocating
    fresh memory each batch (page faults, zeroing) cost as much as the forward pass itself."""

    def __init__(self):
        self.free: dict[tuple, list[torch.Tensor]] = {}

    def take(self, shape: tuple, dtype: torch.dtype) -> torch.Tensor:
        stack = self.free.get((shape, dtype))
        return stack.pop() if stack else torch.empty(shape, dtype=dtype)

    def give(self, *tensors: torch.Tensor) -> None:
        for t in tensors:
            stack = self.free.setdefault((tuple(t.shape), t.dtype), [])
            if len(stack) < 8:
                stack.append(t)

    def clear(self) -> None:
        self.free.clear()


_WORKSPACE = _Workspace()


def clear_workspace() -> None:
    """Drop this thread's free kernel buffers (training calls it when it ends)."""
    _WORKSPACE.clear()


class LSTMLayer(torch.autograd.Function):
    """One LSTM layer over x (T, B, I) from a zero state: hidden states (T, B, Hd).

    The buffers saved for the backward pass go back to a per-thread workspace once it has run,
    so a graph through this function can be differentiated once (no ``retain_graph``)."""

    @staticmethod
    def forward(ctx, x, w_ih, w_hh, bias):
        steps, rows, _ = x.shape
        hd = w_hh.shape[1]
        fwd, _ = compiled(hd, x.dtype)
        ws = _WORKSPACE
        hs = x.new_empty(steps + 1, rows, hd)  # returned (as hs[1:]): never recycled
        cs = ws.take((steps + 1, rows, hd), x.dtype)
        gates = ws.take((steps, rows, 4 * hd), x.dtype)
        tanhc = ws.take((steps, rows, hd), x.dtype)
        hs[0], cs[0] = 0.0, 0.0
        with torch.no_grad(), one_blas_thread():
            fwd(x.detach().numpy(), w_ih.detach().t().contiguous().numpy(), bias.detach().contiguous().numpy(),
                w_hh.detach().t().contiguous().numpy(), hs.numpy(), cs.numpy(), gates.numpy(), tanhc.numpy())
        ctx.save_for_backward(x, w_ih, w_hh, hs)
        ctx.buffers = (cs, gates, tanhc)
        return hs[1:]

    @staticmethod
    def backward(ctx, gout):
        x, w_ih, w_hh, hs = ctx.saved_tensors
        if ctx.buffers is None:
            raise RuntimeError("the numba LSTM kernel's backward pass runs once per forward pass (no retain_graph)")
        cs, gates, tanhc = ctx.buffers
        ctx.buffers = None
        steps, rows, _ = x.shape
        hd = w_hh.shape[1]
        _, bwd = compiled(hd, x.dtype)
        dg = _WORKSPACE.take(tuple(gates.shape), gates.dtype)
        db = torch.empty(4 * hd, dtype=torch.float64)
        with one_blas_thread():
            bwd(gout.contiguous().numpy(), w_hh.detach().contiguous().numpy(), cs.numpy(), gates.numpy(),
                tanhc.numpy(), dg.numpy(), db.numpy())
        flat = dg.view(steps * rows, 4 * hd)
        dx = dw_ih = dw_hh = None
        if ctx.needs_input_grad[0]:
            dx = (flat @ w_ih).view(steps, rows, -1)
        if ctx.needs_input_grad[1]:
            dw_ih = (x.reshape(steps * rows, -1).t() @ flat).t()
        if ctx.needs_input_grad[2]:  # this layout was 1.4x faster than flat^T @ h (MKL, one thread)
            dw_hh = (hs[:-1].reshape(steps * rows, hd).t() @ flat).t()
        db = db.to(gates.dtype) if ctx.needs_input_grad[3] else None
        _WORKSPACE.give(cs, gates, tanhc, dg)
        return dx, dw_ih, dw_hh, db


def lstm_layer(x: torch.Tensor, w_ih: torch.Tensor, w_hh: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """Hidden states (T, B, Hd) of one LSTM layer over x (T, B, I) from a zero state, with
    this module's kernel for the forward and backward passes (CPU tensors, float32 or float64)."""
    return LSTMLayer.apply(x.contiguous(), w_ih, w_hh, bias)
